"""Sync API against the emulator over real HTTP: both versions, all modes, all v1 filters, paging."""

from __future__ import annotations

import pytest

from airflow_provider_kontent.client import (
    ChangeType,
    EntityKind,
    KontentAuthError,
    KontentClient,
    KontentConfigError,
    SyncFilters,
    compact,
)
from airflow_provider_kontent.client.protocol import SOURCE_HEADER
from tests.client.conftest import logged_headers, make_config


def drain(client: KontentClient, token: str, **kwargs):
    pages = list(client.iter_pages(token, **kwargs))
    deltas = [d for page in pages for d in page.deltas]
    return pages, deltas


def test_v2_pages_past_100_per_array_until_empty(kontent_emulator, secret_guard):
    ctl = kontent_emulator.control
    env = ctl.create_environment()
    with KontentClient(make_config(env, kontent_emulator.base_url)) as client:
        token = client.init_sync()
        ctl.generate_changes(env["id"], 130)
        pages, deltas = drain(client, token)
    assert [len(p.deltas) for p in pages] == [101, 30, 0]  # 100 items + 1 type, then the rest, then empty
    assert pages[-1].is_empty and not pages[0].is_empty
    assert all(p.next_token for p in pages)
    items = [d for d in deltas if d.kind is EntityKind.ITEM]
    assert len(items) == len({d.key for d in items}) == 130
    assert all(d.change_type is ChangeType.CHANGED and d.timestamp is not None for d in items)
    assert all("elements" not in d.raw.get("data", {}) and d.elements is None for d in items)
    assert [d.kind for d in deltas if d.kind is not EntityKind.ITEM] == [EntityKind.TYPE]
    logged = [
        r for r in ctl.requests(env["id"]) if r["path"].endswith("/sync") or r["path"].endswith("/init")
    ]
    assert [r["method"] for r in logged] == ["POST", "GET", "GET", "GET"]
    for request in logged:
        headers = logged_headers(request)
        assert headers["x-kc-source"] == SOURCE_HEADER
        assert "authorization" not in headers  # public mode sends no key


def test_checkpoint_after_every_page_and_resume(kontent_emulator):
    ctl = kontent_emulator.control
    env = ctl.create_environment(page_size=5)
    with KontentClient(make_config(env, kontent_emulator.base_url)) as client:
        token = client.init_sync()
        ctl.generate_changes(env["id"], 12)
        first = list(client.iter_pages(token, max_pages=2))
        assert len(first) == 2 and not first[-1].is_empty  # max_pages stopped the run early
        rest_pages, rest = drain(client, first[-1].next_token)
        _, everything = drain(client, token)
    seen = [d.key for p in first for d in p.deltas] + [d.key for d in rest]
    assert len(seen) == len(set(seen)) == len(everything) == 13  # 12 items + 1 type, none lost or repeated
    assert rest_pages[-1].is_empty
    with pytest.raises(KontentConfigError):
        next(client.iter_pages(token, max_pages=0))


def test_replaying_an_old_token_reports_newer_state_again(kontent_emulator):
    ctl = kontent_emulator.control
    env = ctl.create_environment()
    ctl.upsert_type(env["id"], "article", elements={"title": {"type": "text", "name": "Title"}})
    with KontentClient(make_config(env, kontent_emulator.base_url)) as client:
        token = client.init_sync()
        item_id = ctl.upsert_item(env["id"], "hello", "article", "en-US", elements={"title": "v1"})
        _, first = drain(client, token)
        ctl.upsert_item(env["id"], "hello", "article", "en-US", elements={"title": "v2"})
        _, replay = drain(client, token)  # the same (old) token again
    assert [d.id for d in first] == [item_id] == [d.id for d in replay]
    assert replay[0].timestamp > first[0].timestamp
    assert compact(first + replay) == replay


def test_secure_and_preview_modes(kontent_emulator, secret_guard):
    ctl = kontent_emulator.control
    env = ctl.create_environment(secure_access=True, legacy_v1=True)
    secret_guard.watch(env["secure_key"], env["preview_key"])
    ctl.upsert_type(env["id"], "article", elements={"title": {"type": "text", "name": "Title"}})
    base = kontent_emulator.base_url
    with (
        KontentClient(make_config(env, base, "secure")) as secure,
        KontentClient(make_config(env, base, "preview")) as preview,
    ):
        secure_token, preview_token = secure.init_sync(), preview.init_sync()
        v1_secure, v1_preview = secure.init_sync(api_version=1), preview.init_sync(api_version=1)
        ctl.upsert_item(env["id"], "draft", "article", "en-US", publish=False)
        ctl.upsert_item(env["id"], "live", "article", "en-US", publish=True)
        _, prod = drain(secure, secure_token)
        _, prev = drain(preview, preview_token)
        _, prod_v1 = drain(secure, v1_secure, api_version=1)
        _, prev_v1 = drain(preview, v1_preview, api_version=1)
    assert {d.codename for d in prod} == {d.codename for d in prod_v1} == {"live"}
    assert {d.codename for d in prev} == {d.codename for d in prev_v1} == {"draft", "live"}
    paths = {r["path"].replace(env["id"], "ENV") for r in ctl.requests(env["id"])}
    assert paths == {
        f"{p}/{v}ENV/{e}" for p in ("", "/preview") for v in ("", "v2/") for e in ("sync", "sync/init")
    }
    for request in ctl.requests(env["id"]):
        assert request["headers"].get("Authorization") == "Bearer ***"  # sent (and redacted by the log)
    with KontentClient(make_config(env, base, "public")) as public, pytest.raises(KontentAuthError) as err:
        public.init_sync()
    assert secret_guard.record(err.value).status == 401
    wrong_kind = make_config(env, base, "secure").replace(api_key=env["preview_key"])
    with KontentClient(wrong_kind) as client, pytest.raises(KontentAuthError) as err:
        client.init_sync()
    assert secret_guard.record(err.value).status == 403


# --- v1 and the filters ----------------------------------------------------------------------------
ITEMS = {  # codename: (type, collection, languages)
    "a1": ("article", "default", ("en-US", "de")),
    "a2": ("article", "marketing", ("en-US",)),
    "b1": ("blog", "default", ("de",)),
    "b2": ("blog", "marketing", ("en-US", "de")),
}
ALL = {(c, lang) for c, (_, _, langs) in ITEMS.items() for lang in langs}


def _where(type_=None, not_type=(), collection=None, not_collection=(), language=None):
    return {
        (c, lang)
        for c, lang in ALL
        if (type_ is None or ITEMS[c][0] in type_)
        and ITEMS[c][0] not in not_type
        and (collection is None or ITEMS[c][1] in collection)
        and ITEMS[c][1] not in not_collection
        and (language is None or lang == language)
    }


FILTER_CASES = [
    ({"system.type": "article"}, _where(type_=("article",))),
    ({"system.type[eq]": "blog"}, _where(type_=("blog",))),
    ({"system.type[neq]": "article"}, _where(not_type=("article",))),
    ({"system.type[in]": "article,blog"}, ALL),
    ({"system.type[nin]": "blog"}, _where(not_type=("blog",))),
    ({"system.collection": "marketing"}, _where(collection=("marketing",))),
    ({"system.collection[eq]": "default"}, _where(collection=("default",))),
    ({"system.collection[neq]": "marketing"}, _where(not_collection=("marketing",))),
    ({"system.collection[in]": "default,marketing"}, ALL),
    ({"system.collection[nin]": "marketing"}, _where(not_collection=("marketing",))),
    ({"system.language": "de"}, _where(language="de")),
    ({"system.language[eq]": "en-US"}, _where(language="en-US")),
    ({"system.type": "article", "system.collection[neq]": "marketing"}, {("a1", "en-US"), ("a1", "de")}),
    # ``language`` follows fallbacks on v1 (a2 has no German variant, so its English one is served for
    # "de"); client-side on v2 only the delta's own language is known, so a2 is not there.
    ({"language": "de"}, _where(language="de") | {("a2", "en-US")}),
]


@pytest.fixture(scope="module")
def filtered_runs(kontent_emulator_session):
    """Init one v1 token per filter and one v2 token, then write the content, then drain all.

    Module-scoped (the two tests below read the same runs); it only returns plain results, so the
    per-test emulator reset afterwards cannot affect them.
    """
    kontent_emulator = kontent_emulator_session
    ctl = kontent_emulator.control
    env = ctl.create_environment(
        legacy_v1=True,
        languages=[
            {"codename": "en-US", "name": "English"},
            {"codename": "de", "name": "German", "fallback": "en-US"},
        ],
    )
    for type_ in ("article", "blog"):
        ctl.upsert_type(env["id"], type_, elements={"title": {"type": "text", "name": "Title"}})
    with KontentClient(make_config(env, kontent_emulator.base_url)) as client:
        v1_tokens = [client.init_sync(api_version=1, filters=f) for f, _ in FILTER_CASES]
        unfiltered_v1 = client.init_sync(api_version=1)
        v2_token = client.init_sync(api_version=2, filters=FILTER_CASES[0][0])  # v2 init ignores filters
        init_queries = [r["query"] for r in ctl.requests(env["id"]) if r["path"].endswith("/sync/init")]
        for codename, (type_, collection, languages) in ITEMS.items():
            for language in languages:
                ctl.upsert_item(
                    env["id"], codename, type_, language, collection=collection, elements={"title": codename}
                )
        v1_results = [drain(client, t, api_version=1)[1] for t in v1_tokens]
        v1_all = drain(client, unfiltered_v1, api_version=1)[1]
        v2_results = []
        for filters, _ in FILTER_CASES:
            client.filter_stats.kept = client.filter_stats.skipped = 0
            pages, deltas = drain(client, v2_token, filters=filters)
            v2_results.append((deltas, client.filter_stats.to_dict(), sum(p.skipped for p in pages)))
    return init_queries, v1_results, v1_all, v2_results


def test_v1_sends_filters_exactly_and_server_applies_them(filtered_runs):
    init_queries, v1_results, v1_all, _ = filtered_runs
    for (filters, expected), query, deltas in zip(
        FILTER_CASES, init_queries[: len(FILTER_CASES)], v1_results, strict=True
    ):
        assert query == SyncFilters.from_mapping(filters).to_dict()
        assert {(d.codename, d.language) for d in deltas} == expected, filters
    assert init_queries[-1] == {}  # the v2 init sent no query
    assert {(d.codename, d.language) for d in v1_all} == ALL
    assert all(d.raw_change_type == "changed_item" and d.change_type is ChangeType.CHANGED for d in v1_all)
    assert all(d.elements["title"]["value"] == d.codename for d in v1_all)


def test_v2_client_side_filters_match_v1_except_language_fallbacks(filtered_runs):
    _, _, _, v2_results = filtered_runs
    for (filters, expected), (deltas, stats, page_skipped) in zip(FILTER_CASES, v2_results, strict=True):
        got = {(d.codename, d.language) for d in deltas}
        if "language" in filters:
            assert got == expected - {("a2", "en-US")}  # no fallbacks client-side (docs/client.md)
        else:
            assert got == expected, filters
        assert stats == {"kept": len(got), "skipped": len(ALL) - len(got)}
        assert page_skipped == stats["skipped"]


def test_bad_filters_are_refused_before_any_request(kontent_emulator):
    ctl = kontent_emulator.control
    env = ctl.create_environment()
    with KontentClient(make_config(env, kontent_emulator.base_url)) as client:
        for bad in (
            {"system.type[like]": "a"},
            {"system.collection": ""},
            {"language[in]": "de,en"},
            {"x": "1"},
        ):
            with pytest.raises(KontentConfigError):
                client.init_sync(api_version=1, filters=bad)
        with pytest.raises(KontentConfigError):
            client.sync_page("")
        with pytest.raises(KontentConfigError):
            client.init_sync(api_version=3)
    assert ctl.requests(env["id"]) == []


def test_v1_plain_spelling_and_deleted_items(kontent_emulator):
    ctl = kontent_emulator.control
    env = ctl.create_environment(v1_change_types="plain", legacy_v1=True)
    ctl.upsert_type(env["id"], "article", elements={"title": {"type": "text", "name": "Title"}})
    keep = ctl.upsert_item(env["id"], "keep", "article", "en-US", elements={"title": "k"})
    gone = ctl.upsert_item(env["id"], "gone", "article", "en-US", elements={"title": "g"})
    with KontentClient(make_config(env, kontent_emulator.base_url)) as client:
        token = client.init_sync(api_version=1)
        ctl.upsert_item(env["id"], "keep", "article", "en-US", elements={"title": "k2"})
        ctl.delete_variant(env["id"], gone, "en-US")
        _, deltas = drain(client, token, api_version=1)
    by_id = {d.id: d for d in deltas}
    assert by_id[keep].raw_change_type == "changed" and by_id[keep].change_type is ChangeType.CHANGED
    assert by_id[gone].raw_change_type == "deleted" and by_id[gone].change_type is ChangeType.DELETED
    assert by_id[gone].codename == "gone"  # a deleted delta still names what to delete
