"""Deltas the client cannot use, a Sync API that does not advance, and the fast timestamp parser."""

from __future__ import annotations

import copy
import json
import logging
import pickle
import random

import pendulum
import pytest

from airflow_provider_kontent.client import (
    KontentClient,
    KontentMalformedDeltaError,
    KontentStalledSyncError,
)
from airflow_provider_kontent.client.models import (
    Delta,
    EntityKind,
    delta_problem,
    parse_instant,
    parse_timestamp,
)
from tests.client.conftest import make_config

TS = "2025-05-28T05:33:58.6348403Z"


def _item(item_id: str, ts: str = TS) -> dict:
    return {
        "change_type": "changed",
        "timestamp": ts,
        "data": {"system": {"id": item_id, "codename": item_id, "language": "en-US", "type": "t"}},
    }


BAD = [
    "just a string",
    {"change_type": "changed", "timestamp": TS, "data": {}},
    {"change_type": "changed", "timestamp": "yesterday-ish", "data": _item("x")["data"]},
    {"change_type": "changed", "timestamp": TS, "data": {"system": {"codename": "no_id", "language": "de"}}},
]


def _page(body: dict, token: str) -> tuple[int, dict[str, str], bytes]:
    headers = {"X-Continuation": token, "X-Request-Id": f"req-{token}", "Content-Type": "application/json"}
    return 200, headers, json.dumps(body).encode()


@pytest.fixture
def malformed_server(scripted_server):
    """Page 1: two good deltas and four malformed ones; page 2: one malformed; page 3: empty."""
    return scripted_server(
        [
            _page({"items": [_item("a"), *BAD, _item("b")], "types": []}, "t1"),
            _page({"items": [], "languages": [{"change_type": "deleted", "timestamp": TS}]}, "t2"),
            _page({"items": []}, "t3"),
        ]
    )


def test_malformed_deltas_fail_the_sync_naming_connection_request_and_url(malformed_server, caplog):
    config = make_config({"id": "8d20758c-d74c-4f59-ae04-ee928c0816b7"}, malformed_server.base_url)
    config = config.replace(context="connection 'kontent_default'")
    with KontentClient(config) as client, pytest.raises(KontentMalformedDeltaError) as err:
        list(client.iter_pages("t0"))
    text = str(err.value)
    assert text.startswith("connection 'kontent_default': the Sync page has 4 malformed delta(s)")
    assert "items[1]: the delta is a JSON string, not an object" in text and "'just a string'" not in text
    assert "request_id=req-t1" in text and f"[GET {malformed_server.base_url}/v2/" in text
    assert "skip_malformed=True" in text
    sent = [headers.get("X-Continuation") for _, _, headers in malformed_server.requests]
    assert err.value.retryable is False and sent.count("t0") == 1  # not retried
    warnings = [r.getMessage() for r in caplog.records if "malformed delta" in r.getMessage()]
    assert len(warnings) == 1 and '"just a string"' in warnings[0]


def test_skip_malformed_counts_and_logs_once(malformed_server, caplog):
    config = make_config({"id": "8d20758c-d74c-4f59-ae04-ee928c0816b7"}, malformed_server.base_url)
    with KontentClient(config) as client:
        pages = list(client.iter_pages("t0", skip_malformed=True))
        assert [[d.id for d in page.deltas] for page in pages] == [["a", "b"], [], []]
        assert [page.received for page in pages] == [6, 1, 0]  # the server's count: paging goes on
        assert [len(page.malformed) for page in pages] == [4, 1, 0]
        assert (client.malformed_stats.seen, client.malformed_stats.skipped) == (5, 5)
    assert [m.reason for m in pages[0].malformed] == [
        "the delta is a JSON string, not an object",
        "the delta has no data.system object",
        "timestamp 'yesterday-ish' is not an ISO-8601 date and time",
        "data.system.id is missing or not a string",
    ]
    warnings = [r for r in caplog.records if "malformed delta" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING


@pytest.mark.parametrize(
    ("kind", "entry", "problem"),
    [
        (EntityKind.ITEM, _item("a"), None),
        (EntityKind.ITEM, {**_item("a"), "timestamp": "2025-02-30T00:00:00Z"}, "is not an ISO-8601"),
        (EntityKind.ITEM, {**_item("a"), "timestamp": None}, "no timestamp"),
        (EntityKind.ITEM, {**_item("a"), "timestamp": 17}, "timestamp is a int"),
        (EntityKind.ITEM, {**_item("a"), "timestamp": "2025-05-28T07:33:58+02:00"}, None),  # other ISO form
        (EntityKind.ITEM, {**_item("a"), "data": {"system": {"id": "a"}}}, "data.system.language"),
        (EntityKind.TYPE, {"change_type": "changed", "timestamp": TS, "data": {"system": {"id": "t"}}}, None),
        (EntityKind.TAXONOMY, [1, 2], "JSON array"),
        (EntityKind.LANGUAGE, {"timestamp": TS, "data": {"system": {"id": 5}}}, "system.id"),
    ],
)
def test_delta_problem(kind, entry, problem):
    found = delta_problem(kind, entry)
    assert (found is None) if problem is None else (problem in (found or "")), found


def test_a_sync_that_does_not_advance_stops(kontent_emulator):
    ctl = kontent_emulator.control
    env = ctl.create_environment()
    config = make_config(env, kontent_emulator.base_url).replace(context="connection 'c'")
    with KontentClient(config) as client:
        token = client.init_sync()
        ctl.generate_changes(env["id"], 1)
        # two echoed tokens in a row are tolerated (a glitch), and the sync then goes on
        ctl.inject_fault("repeat_token", times=2, path=r"/sync$")
        pages = list(client.iter_pages(token))
        assert [len(p.deltas) for p in pages] == [2, 2, 2, 0]  # the new type and its item
        ctl.clear_requests()
        ctl.inject_fault("repeat_token", times=100, path=r"/sync$")
        with pytest.raises(KontentStalledSyncError) as err:
            list(client.iter_pages(token))
    ctl.clear_faults()
    sent = [r for r in ctl.requests(env["id"]) if r["path"].endswith("/sync")]
    assert len(sent) == 4  # the first answer plus three tolerated repeats, then a clear error
    text = str(err.value)
    assert text.startswith("connection 'c': the Sync API answered 4 non-empty pages in a row with the same")
    assert f"/v2/{env['id']}/sync]" in text  # (the emulator sends no request id)
    assert err.value.retryable is True  # for a task retry later: the client itself does not loop


def _random_timestamps(count: int) -> list[str]:
    rng = random.Random(42)
    out = []
    for _ in range(count):
        base = (
            f"{rng.randint(1970, 2099):04d}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            f"T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
        )
        digits = rng.choice([0, 1, 3, 6, 7, 7, 7, 9])
        fraction = "." + "".join(rng.choice("0123456789") for _ in range(digits)) if digits else ""
        out.append(base + fraction + "Z")
    return out


@pytest.mark.parametrize(
    "text",
    [
        *_random_timestamps(300),
        "2024-02-29T23:59:59.9999999Z",
        "2025-12-31T00:00:00.0000000Z",
        "2025-05-28T05:33:58Z",
        "2025-05-28T07:33:58.6348403+02:00",  # not Kontent's shape: the pendulum path
        "2025-05-28",
    ],
)
def test_fast_timestamps_equal_pendulum(text):
    expected = pendulum.parse(text)
    parsed = parse_timestamp(text)
    assert parsed == expected and repr(parsed) == repr(expected) and type(parsed) is type(expected)
    assert parse_instant(text) == expected
    delta = Delta.from_api(EntityKind.ITEM, _item("a", text))
    assert delta.timestamp == expected and delta.timestamp_text == text


def test_deltas_pickle_and_copy_with_their_timestamp():
    delta = Delta.from_api(EntityKind.ITEM, _item("a"))
    assert delta.instant is not None  # cached before pickling
    for clone in (pickle.loads(pickle.dumps(delta)), copy.deepcopy(delta), copy.copy(delta)):
        assert clone == delta and clone.instant == delta.instant and clone.timestamp == delta.timestamp


@pytest.mark.parametrize("text", ["2025-02-30T00:00:00Z", "2025-13-01T00:00:00Z", "garbage", "", None, 5])
def test_unparseable_timestamps_are_none(text):
    assert parse_timestamp(text) is None and parse_instant(text) is None
