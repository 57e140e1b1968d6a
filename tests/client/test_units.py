"""Pure-logic tests: configuration checks, filters, delta parsing, compaction, retry waits.

No HTTP here; everything that talks to a server is tested against the emulator in the other modules.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from importlib.metadata import version

import pendulum
import pytest
import requests

from airflow_provider_kontent.client import (
    AsyncKontentClient,
    ChangeType,
    ClientConfig,
    Delta,
    EntityKind,
    FilterClause,
    KontentClient,
    KontentConfigError,
    KontentInvalidTokenError,
    SyncFilters,
    SyncPage,
    compact,
)
from airflow_provider_kontent.client.content import BatchSizer, split_evenly
from airflow_provider_kontent.client.protocol import (
    SOURCE_HEADER,
    ApiResponse,
    RequestBuilder,
    error_from_response,
    parse_retry_after,
)
from airflow_provider_kontent.client.retry import compute_wait

ENV = "8d20758c-d74c-4f59-ae04-ee928c0816b7"
KEY = "ey.secret-key-value-1234567890"


# --- configuration ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "bad", ["", "not-a-guid", "8d20758c-d74c-4f59-ae04", "00000000-0000-0000-0000-000000000000"]
)
def test_environment_id_must_be_a_guid(bad):
    with pytest.raises(KontentConfigError) as err:
        ClientConfig(bad)
    assert err.value.field == "environment_id"
    assert isinstance(err.value, ValueError)


@pytest.mark.parametrize("mode", ["secure", "preview"])
def test_key_required_for_secure_and_preview(mode):
    with pytest.raises(KontentConfigError, match="needs a") as err:
        ClientConfig(ENV, mode=mode)
    assert err.value.field == "api_key"


@pytest.mark.parametrize(
    "base",
    [
        "http://proxy.example.com",
        "HTTP://proxy.example.com",  # the scheme is case-insensitive
        "http://127.0.0.1.evil.com",  # a name that starts like a loopback IP
        "http://localhost.evil.com",
        "http://evil.localhost",  # resolved through DNS on many systems
        "http://0.0.0.0:8000",
        "http://10.0.0.1",
        "http://[::ffff:7f00:1]",  # IPv4-mapped: refused to stay on the safe side
    ],
)
def test_key_refused_over_plain_http_to_a_remote_host(base):
    with pytest.raises(KontentConfigError, match="unencrypted") as err:
        ClientConfig(ENV, mode="secure", api_key=KEY, base_url=base)
    assert err.value.field == "base_url"
    assert KEY not in str(err.value)


@pytest.mark.parametrize(
    ("base", "message"),
    [
        ("http://127.0.0.1@evil.com", "credentials"),  # userinfo: the host is evil.com
        ("https://user:pa55@proxy.example.com", "credentials"),  # would leak into logs and repr
        ("http://evil.com\\@127.0.0.1", "backslash"),  # parsers disagree on such URLs
        ("http://127.0.0.1 /x", "spaces"),
        ("http://127.0.0.1:99999", "port"),
        ("https://proxy.example.com/?x=1", "query"),
        ("ftp://proxy.example.com", "absolute http"),
        ("https://", "absolute http"),
    ],
)
def test_malformed_or_credential_bearing_base_urls_are_refused(base, message):
    for mode, key in (("public", None), ("secure", KEY)):
        with pytest.raises(KontentConfigError, match=message) as err:
            ClientConfig(ENV, mode=mode, api_key=key, base_url=base)
        assert err.value.field == "base_url"
        assert "pa55" not in str(err.value) or message != "credentials"


@pytest.mark.parametrize("key", ["with space", "line\nbreak", "tab\there", "caf\u00e9", "nul\x00"])
def test_keys_a_header_cannot_carry_are_refused_without_echoing_them(key):
    with pytest.raises(KontentConfigError) as err:
        ClientConfig(ENV, mode="secure", api_key=key)
    assert err.value.field == "api_key" and key not in str(err.value) and key not in repr(err.value)


def test_public_mode_over_plain_http_is_fine_and_sends_no_key():
    cfg = ClientConfig(ENV, api_key=KEY, base_url="http://kontent.internal")
    assert "Authorization" not in RequestBuilder(cfg).headers()


def test_default_hosts_and_headers():
    assert ClientConfig(ENV).effective_base_url == "https://deliver.kontent.ai"
    preview = ClientConfig(ENV, mode="preview", api_key=KEY)
    assert preview.effective_base_url == "https://preview-deliver.kontent.ai"
    headers = RequestBuilder(preview).headers()
    assert headers["Authorization"] == f"Bearer {KEY}"
    # the installed distribution's version, not a constant the code could get wrong the same way twice
    assert (
        headers["X-KC-SOURCE"]
        == SOURCE_HEADER
        == f"airflow-provider-kontent;{version('airflow-provider-kontent')}"
    )


async def test_reprs_hide_the_key():
    cfg = ClientConfig(ENV, mode="secure", api_key=KEY)
    with KontentClient(cfg) as client:
        shown = [repr(cfg), str(cfg), repr(client), repr(client.protocol.sync_request("tok"))]
    async with AsyncKontentClient(cfg) as async_client:
        shown.append(repr(async_client))
    assert all(KEY not in text for text in shown) and ENV in shown[0]


def test_a_session_without_tls_verification_is_refused():
    session = requests.Session()
    session.verify = False
    with pytest.raises(KontentConfigError, match="verify=False") as err:
        KontentClient(ClientConfig(ENV), session=session)
    assert err.value.field == "session"
    session.verify = "/etc/ssl/certs/ca-certificates.crt"  # a custom CA bundle still verifies
    assert KontentClient(ClientConfig(ENV), session=session).session is session


def test_the_client_never_imports_airflow():
    """Layering: the client must work (and be importable) where Airflow is not installed."""
    code = (
        "import sys, airflow_provider_kontent.client, airflow_provider_kontent.client.blocking_client;"
        "bad = sorted(m for m in sys.modules if m == 'airflow' or m.startswith('airflow.'));"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("token", ["", "  ", " tok", "tok\r\nX-Evil: 1", "tök", None, 42])
def test_bad_tokens_are_refused_before_any_request(token):
    with pytest.raises(KontentConfigError) as err:
        RequestBuilder(ClientConfig(ENV)).sync_request(token)
    assert err.value.field == "token"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("mode", "staging"),
        ("connect_timeout", 0),
        ("max_attempts", 0),
        ("max_attempts", 1.5),
        ("read_timeout", "x"),
        ("base_url", "ftp://x"),
    ],
)
def test_invalid_settings_name_the_field(name, value):
    with pytest.raises(KontentConfigError) as err:
        ClientConfig(ENV, **{name: value})
    assert err.value.field == name
    assert name in str(err.value)


def test_protocol_urls():
    proto = RequestBuilder(ClientConfig(ENV, base_url="http://127.0.0.1:9"))
    assert proto.init_request(2, [("language", "de")]).url == f"http://127.0.0.1:9/v2/{ENV}/sync/init"
    assert proto.init_request(2, [("language", "de")]).params == []  # v2 init takes no query
    v1 = proto.init_request(1, [("language", "de")])
    assert (v1.method, v1.url, v1.params) == (
        "POST",
        f"http://127.0.0.1:9/{ENV}/sync/init",
        [("language", "de")],
    )
    sync = proto.sync_request("tok", 2)
    assert (sync.method, sync.headers["X-Continuation"]) == ("GET", "tok")


# --- filters ---------------------------------------------------------------------------------
def test_filters_keep_the_spelling_for_the_v1_query():
    filters = SyncFilters.from_mapping(
        {
            "system.type": "article",
            "system.type[eq]": "article",
            "system.collection[neq]": "default",
            "system.type[in]": "article, blog",
            "system.collection[nin]": ["a", "b"],
            "language": "de",
            "system.language": "de",
        }
    )
    assert filters.to_query() == [
        ("system.type", "article"),
        ("system.type[eq]", "article"),
        ("system.collection[neq]", "default"),
        ("system.type[in]", "article,blog"),
        ("system.collection[nin]", "a,b"),
        ("language", "de"),
        ("system.language", "de"),
    ]
    assert not filters.is_empty and SyncFilters.from_mapping(None).is_empty


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("system.type[contains]", "a", "not allowed"),
        ("system.type[EQ]", "a", "not allowed"),
        ("language[eq]", "de", "not allowed"),
        ("language[in]", "de,en", "not allowed"),
        ("system.name", "x", "unknown filter"),
        ("system.type", "", "empty"),
        ("system.type[in]", "a,,b", "empty"),
        ("system.collection[in]", [], "empty"),
        ("system.type[eq]", "a,b", "exactly one"),
    ],
)
def test_bad_filters_are_refused(key, value, message):
    with pytest.raises(KontentConfigError, match=message) as err:
        SyncFilters.from_mapping({key: value})
    assert err.value.field


def _item(type_="article", collection="default", language="en-US", change="changed", **system):
    return Delta.from_api(
        EntityKind.ITEM,
        {
            "change_type": change,
            "timestamp": "2025-05-28T05:33:58.6348403Z",
            "data": {
                "system": {
                    "id": "i1",
                    "type": type_,
                    "collection": collection,
                    "language": language,
                    **system,
                }
            },
        },
    )


@pytest.mark.parametrize(
    ("mapping", "expected"),
    [
        ({"system.type": "article"}, True),
        ({"system.type[neq]": "article"}, False),
        ({"system.type[in]": "blog,article"}, True),
        ({"system.type[nin]": "blog,article"}, False),
        ({"system.collection[eq]": "default"}, True),
        ({"system.collection[nin]": "default"}, False),
        ({"language": "de"}, False),
        ({"system.language[eq]": "en-US"}, True),
        ({"system.type": "article", "language": "de"}, False),  # AND
    ],
)
def test_client_side_matching(mapping, expected):
    assert SyncFilters.from_mapping(mapping).matches(_item()) is expected


def test_filters_let_non_item_deltas_pass_and_count():
    filters = SyncFilters.from_mapping({"system.type": "blog"})
    type_delta = Delta.from_api(EntityKind.TYPE, {"change_type": "changed", "data": {"system": {"id": "t"}}})
    kept, stats = filters.apply([_item(), _item(type_="blog"), type_delta])
    assert [d.kind for d in kept] == [EntityKind.ITEM, EntityKind.TYPE]
    assert stats.to_dict() == {"kept": 2, "skipped": 1}
    assert FilterClause.parse("system.type[in]", "a,b").values == ("a", "b")


# --- models ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("changed", ChangeType.CHANGED),
        ("changed_item", ChangeType.CHANGED),
        ("deleted", ChangeType.DELETED),
        ("deleted_item", ChangeType.DELETED),
        ("archived_someday", ChangeType.UNKNOWN),
        (None, ChangeType.UNKNOWN),
    ],
)
def test_change_type_spellings(raw, expected):
    delta = _item(change=raw)
    assert delta.change_type is expected
    assert delta.raw_change_type == ("" if raw is None else raw)


def test_delta_is_tolerant_and_typed():
    delta = Delta.from_api(
        EntityKind.ITEM,
        {
            "change_type": "changed_item",
            "timestamp": "2025-05-28T05:33:58.6348403Z",
            "brand_new_field": 1,
            "data": {
                "system": {"id": "i1", "codename": "c", "language": "de", "type": "t", "collection": "x"},
                "elements": {"title": {"type": "text", "value": "Hi"}},
            },
        },
    )
    assert delta.timestamp == pendulum.datetime(2025, 5, 28, 5, 33, 58, 634840)
    assert delta.key == ("item", "i1", "de")
    assert (delta.id, delta.codename, delta.language, delta.type, delta.collection) == (
        "i1",
        "c",
        "de",
        "t",
        "x",
    )
    assert "sitemap_locations" not in delta.system and "workflow" not in delta.system
    assert delta.elements == {"title": {"type": "text", "value": "Hi"}}
    assert delta.raw["brand_new_field"] == 1
    restored = Delta.from_dict(delta.to_dict())
    assert restored == delta and restored.timestamp_text == "2025-05-28T05:33:58.6348403Z"
    assert Delta.from_dict(delta.to_dict(include_raw=True)).raw["brand_new_field"] == 1
    broken = Delta.from_api(
        EntityKind.LANGUAGE, {"change_type": "deleted", "timestamp": "garbage", "data": None}
    )
    assert broken.timestamp is None and broken.system == {} and broken.key == ("language", None)
    assert broken.language is None  # only items have a language


def test_compact_keeps_the_latest_per_key():
    def d(ts, change, lang="en-US", id_="a"):
        return Delta.from_api(
            EntityKind.ITEM,
            {"change_type": change, "timestamp": ts, "data": {"system": {"id": id_, "language": lang}}},
        )

    first = d("2025-01-01T00:00:02Z", "changed")
    older = d("2025-01-01T00:00:01Z", "deleted")
    other_lang = d("2025-01-01T00:00:00Z", "changed", lang="de")
    newest = d("2025-01-01T00:00:03Z", "deleted")
    assert compact([first, older, other_lang, newest]) == [other_lang, newest]


def test_sync_page_emptiness_follows_the_server():
    page = SyncPage(deltas=[], next_token="t", received=3, skipped=3)
    assert not page.is_empty
    assert SyncPage(deltas=[], next_token="t").is_empty
    assert set(page.by_kind()) == set(EntityKind)


# --- errors and retry waits --------------------------------------------------------------------
def _response(status, body=b"", **headers):
    return ApiResponse.build(status, headers, body, f"http://127.0.0.1:9/v2/{ENV}/sync", "GET")


def test_invalid_token_error_names_everything():
    body = b'{"message":"The continuation token is malformed.","request_id":"rq-1","error_code":107,"specific_code":0}'
    err = error_from_response(_response(400, body), sync_endpoint=True)
    assert isinstance(err, KontentInvalidTokenError)
    text = str(err)
    for part in ("HTTP 400", "malformed", "rq-1", "error_code=107", "/sync", "re-initialize", "snapshot"):
        assert part in text
    clone = pickle.loads(pickle.dumps(err))
    assert str(clone) == text and clone.request_id == "rq-1"


def test_error_text_leads_with_the_context_and_ends_with_the_url():
    body = b'{"message":"Key is invalid.","request_id":"rq-2","error_code":0}'
    err = error_from_response(_response(401, body))
    err.context = "connection 'kontent_default'"
    text = str(err)
    assert text.startswith(
        "connection 'kontent_default': HTTP 401: Key is invalid. (error_code=0, request_id=rq-2)"
    )
    assert text.endswith(f"[GET http://127.0.0.1:9/v2/{ENV}/sync]") and "Check the Delivery API key" in text
    clone = pickle.loads(pickle.dumps(err))
    assert str(clone) == text and clone.context == err.context
    config_error = KontentConfigError("must be 1 or 2", field="api_version", context="connection 'c'")
    assert str(config_error) == "connection 'c': Invalid 'api_version': must be 1 or 2"


def test_config_context_label():
    cfg = ClientConfig(ENV, mode="secure", api_key=KEY, context="  connection 'kontent_default' ")
    assert (
        cfg.context == "connection 'kontent_default'" and cfg.replace(read_timeout=1.0).context == cfg.context
    )
    assert "connection 'kontent_default'" in repr(cfg) and KEY not in repr(cfg)
    assert ClientConfig(ENV, context="").context is None and ClientConfig(ENV).context is None
    for bad in (42, "two\nlines"):
        with pytest.raises(KontentConfigError) as err:
            ClientConfig(ENV, context=bad)
        assert err.value.field == "context"


def test_split_evenly_and_batch_sizer():
    ids = [f"id{n}" for n in range(47)]
    assert [len(c) for c in split_evenly(ids, 34)] == [24, 23]
    assert [len(c) for c in split_evenly(ids, 10)] == [10, 10, 9, 9, 9]
    assert split_evenly(ids, 47) == [ids] and sum(split_evenly(ids, 5), []) == ids
    sizer = BatchSizer(target=1500)
    sizer.record(10, "440")  # 44 response items per id, before any refusal: batches stay URL-sized
    assert sizer.limit is None and sizer.chunks(ids) == [ids]
    sizer.refused(47)
    assert sizer.limit == 1500 * 10 // 440  # 34: from the average charge, not just the halving
    fresh = BatchSizer()
    fresh.refused(47)
    fresh.record(3, None)  # no X-Request-Charge header: the halved size stands
    fresh.record(3, "junk")
    assert fresh.limit == 24 and [len(c) for c in fresh.chunks(ids)] == [24, 23]


def test_non_json_error_body_is_kept_short():
    err = error_from_response(_response(502, b"<html>Bad gateway</html>" * 50))
    assert "Bad gateway" in str(err) and len(err.message) <= 200 and err.retryable


def test_retry_after_seconds_and_http_date():
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    future = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    assert 25 <= parse_retry_after(future) <= 30
    past = format_datetime(datetime.now(timezone.utc) - timedelta(days=1), usegmt=True)
    assert parse_retry_after(past) == 0.0


def test_wait_honours_retry_after_else_backs_off():
    cfg = ClientConfig(ENV, backoff_initial=1.0, backoff_max=4.0, max_retry_after=10.0)
    err = error_from_response(_response(429, b"{}", **{"Retry-After": "7"}))
    assert compute_wait(cfg, 1, err) == 7.0
    err = error_from_response(_response(429, b"{}", **{"Retry-After": "70"}))
    assert compute_wait(cfg, 1, err) == 70.0  # never shortened (the policy gives up instead)
    err = error_from_response(_response(503, b"{}", **{"Retry-After": "2"}))
    assert compute_wait(cfg, 1, err) == 2.0  # 5xx with Retry-After too
    samples = {n: [compute_wait(cfg, n, None) for _ in range(200)] for n in range(1, 8)}
    ceilings = {1: 1.0, 2: 2.0, 3: 4.0, 4: 4.0, 7: 4.0}  # initial * 2**(n-1), capped by backoff_max
    for attempt, ceiling in ceilings.items():
        waits = samples[attempt]
        assert all(0 <= w <= ceiling for w in waits)
        assert max(waits) > ceiling / 2  # exponential: the range really grows (P(miss) = 2**-200)
        assert len(set(waits)) > 100  # jitter: not one fixed delay


@pytest.mark.parametrize("value", [5, True, ["article", 7], 1.5])
def test_filter_values_must_be_codenames(value):
    """``{"system.type": 5}`` used to become the codename "5" and silently filter out every change."""
    from airflow_provider_kontent.client import SyncFilters

    key = "system.type[in]" if isinstance(value, list) else "system.type"
    with pytest.raises(KontentConfigError, match="filter values are codenames") as err:
        SyncFilters.from_mapping({key: value})
    assert err.value.field == key
