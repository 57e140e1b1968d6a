"""``KontentChangesEventTrigger`` against the emulator: when it fires, when it must not, and its errors.

The stored token is a real Variable read through Airflow's secrets backends (``AIRFLOW_VAR_...``), so a
test "commits" by moving that Variable, exactly what the commit task does between two polls.
"""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from airflow_provider_kontent.client import (
    ClientConfig,
    KontentClient,
    KontentRateLimitError,
    KontentServerError,
)
from airflow_provider_kontent.tokens import TokenRecord
from airflow_provider_kontent.triggers.changes import (
    KontentChangesEventTrigger,
    kontent_changes_asset,
)
from tests.operators.conftest import connection_json

VAR_ENV = "AIRFLOW_VAR_KONTENT_SYNC_TOKEN__KONTENT_DEFAULT"


class Sync:
    """The pipeline's side: init, and "commit" (move the Variable) to a token after some changes."""

    def __init__(self, emu, env, monkeypatch, *, mode: str = "public", key: str | None = None):
        base = emu.preview_url if mode == "preview" else emu.base_url
        self.client = KontentClient(ClientConfig(env["id"], mode=mode, api_key=key, base_url=base))
        self.env, self.mode, self.monkeypatch = env, mode, monkeypatch
        self.token = self.client.init_sync()
        self.store(self.token)

    def store(self, token: str) -> None:
        record = TokenRecord.new(token, environment_id=self.env["id"], mode=self.mode, api_version=2)
        self.monkeypatch.setenv(VAR_ENV, json.dumps(record.to_dict()))

    def commit(self, pages: int | None = None) -> None:
        """Drain from the stored token (all pages, or only ``pages``) and store where it ended."""
        for page in self.client.iter_pages(self.token, max_pages=pages):
            self.token = page.next_token
        self.store(self.token)


@pytest.fixture
def sync(kontent_emulator, kontent_conn, monkeypatch):
    s = Sync(kontent_emulator, kontent_conn, monkeypatch)
    yield s
    s.client.close()


def _trigger(**kwargs) -> KontentChangesEventTrigger:
    return KontentChangesEventTrigger(kontent_conn_id="kontent_default", poll_interval=0.05, **kwargs)


async def _poll(trigger: KontentChangesEventTrigger) -> dict | None:
    client = await trigger._client()
    try:
        return await trigger.poll(client)
    finally:
        await client.aclose()


def test_serialize_round_trip_and_asset_helper():
    kwargs = {
        "kontent_conn_id": "kontent_x",
        "variable_key": "my_token",
        "api_version": 2,
        "filters": {"system.type[in]": "article,blog"},
        "poll_interval": 5.0,
        "max_backoff": 120.0,
        "max_lookahead_pages": 3,
        "hook_params": {"max_attempts": 2},
    }
    path, out = KontentChangesEventTrigger(**kwargs).serialize()
    assert path == "airflow_provider_kontent.triggers.changes.KontentChangesEventTrigger"
    assert out == kwargs
    from airflow.sdk.serde import deserialize, serialize

    assert KontentChangesEventTrigger(**deserialize(serialize(out))).serialize() == (path, kwargs)
    # defaults are spelled out, so the watcher's identity (BaseEventTrigger.hash) never drifts
    _, defaults = KontentChangesEventTrigger(poll_interval=5).serialize()
    assert defaults["variable_key"] == "kontent_sync_cursor__kontent_default"
    assert defaults["poll_interval"] == 5.0 and isinstance(defaults["poll_interval"], float)

    asset = kontent_changes_asset("kontent_x", filters={"language": "de"}, poll_interval=30)
    assert asset.name == "kontent_changes__kontent_x"
    (watcher,) = asset.watchers
    assert isinstance(watcher.trigger, KontentChangesEventTrigger)
    assert watcher.trigger.serialize()[1]["filters"] == {"language": "de"}
    with pytest.raises(ValueError, match="API key"):
        KontentChangesEventTrigger(hook_params={"api_key": "x"})


async def test_fires_once_per_new_change_and_again_after_a_commit(sync, kontent_emulator):
    ctl, env_id = kontent_emulator.control, sync.env["id"]
    trigger = _trigger()
    assert await _poll(trigger) is None  # nothing pending
    ctl.upsert_item(env_id, "a", "article", "en-US", elements={"title": "A"})
    ctl.upsert_item(env_id, "b", "article", "en-US", elements={"title": "B"})
    event = await _poll(trigger)
    assert event is not None
    assert event["pending"] == {"items": {"changed": 2}}
    assert (event["total"], event["new"], event["complete"]) == (2, 2, True)
    assert event["environment_id"] == env_id and event["newest_change"].startswith("20")
    # the run it woke has not committed: the same changes never fire again
    assert await _poll(trigger) is None
    assert await _poll(trigger) is None
    # a change made meanwhile fires (that queues one further run), then stays quiet too
    ctl.upsert_item(env_id, "c", "article", "en-US", elements={"title": "C"})
    event = await _poll(trigger)
    assert event is not None and event["new"] == 1
    assert await _poll(trigger) is None
    # the run commits past a and b only; c is pending but a run is already queued for it
    ctl.update_environment(env_id, page_size=2)
    sync.commit(pages=1)
    assert await _poll(trigger) is None
    sync.commit()  # the queued run loads c
    assert await _poll(trigger) is None
    # after that, a new change fires again
    ctl.upsert_item(env_id, "d", "article", "en-US", elements={"title": "D"})
    assert (await _poll(trigger))["new"] == 1
    # every request was a GET /sync: the trigger never initializes or writes
    assert {(r["method"], r["path"].rsplit("/", 1)[-1]) for r in ctl.requests(env_id)} >= {("GET", "sync")}
    trigger_calls = [r for r in ctl.requests(env_id) if r["method"] != "GET"]
    assert all(r["path"].endswith("/sync/init") for r in trigger_calls)  # only Sync.__init__'s init


async def test_refires_when_a_commit_left_reported_changes_behind(sync, kontent_emulator):
    """The run that should have loaded them committed a token before them (e.g. a ``max_pages`` pull)."""
    ctl, env_id = kontent_emulator.control, sync.env["id"]
    ctl.update_environment(env_id, page_size=1)
    trigger = _trigger()
    ctl.upsert_item(env_id, "a", "article", "en-US", elements={"title": "A"})
    ctl.upsert_item(env_id, "b", "article", "en-US", elements={"title": "B"})
    assert (await _poll(trigger))["new"] == 2
    sync.commit(pages=1)  # loaded a only
    event = await _poll(trigger)
    assert event is not None and event["pending"] == {"items": {"changed": 1}}


async def test_a_restarted_trigger_fires_at_most_once_for_what_was_pending(sync, kontent_emulator):
    ctl, env_id = kontent_emulator.control, sync.env["id"]
    ctl.upsert_item(env_id, "a", "article", "en-US", elements={"title": "A"})
    assert (await _poll(_trigger()))["new"] == 1
    restarted = _trigger()  # fresh state, as after a triggerer restart
    assert (await _poll(restarted))["new"] == 1  # the one extra wake-up
    assert await _poll(restarted) is None


async def test_filters_and_lookahead_bound(sync, kontent_emulator):
    ctl, env_id = kontent_emulator.control, sync.env["id"]
    ctl.update_environment(env_id, page_size=2)
    trigger = _trigger(filters={"system.type": "article"}, max_lookahead_pages=2)
    for i in range(3):
        ctl.upsert_item(env_id, f"blog{i}", "blog", "en-US", elements={"title": "x"})
    assert await _poll(trigger) is None  # only blog posts: filtered out
    ctl.upsert_item(env_id, "art", "article", "en-US", elements={"title": "A"})
    event = await _poll(trigger)  # the cursor moved past the blog posts already
    assert event is not None and event["pending"] == {"items": {"changed": 1}}


async def test_no_token_yet_and_a_foreign_token_do_not_fire(kontent_emulator, kontent_conn, monkeypatch):
    monkeypatch.delenv(VAR_ENV, raising=False)
    assert await _poll(_trigger()) is None
    other = TokenRecord.new("tok", environment_id="11111111-2222-3333-4444-555555555555", mode="public",
                            api_version=2)  # fmt: skip
    monkeypatch.setenv(VAR_ENV, json.dumps(other.to_dict()))
    from airflow_provider_kontent.tokens import TokenMismatchError

    with pytest.raises(TokenMismatchError, match="environment"):
        await _poll(_trigger())


async def test_run_survives_server_errors_without_firing_and_never_logs_the_key(
    kontent_emulator, kontent_env, monkeypatch, caplog, capsys
):
    env = kontent_emulator.control.create_environment(secure_access=True)
    key = env["secure_key"]
    monkeypatch.setenv(
        "AIRFLOW_CONN_KONTENT_DEFAULT",
        connection_json(kontent_emulator.base_url, env, mode="secure", key=key),
    )
    sync = Sync(kontent_emulator, env, monkeypatch, mode="secure", key=key)
    ctl = kontent_emulator.control
    ctl.upsert_type(env["id"], "article", elements={"title": {"type": "text", "name": "Title"}})
    ctl.upsert_item(env["id"], "a", "article", "en-US", elements={"title": "A"})
    ctl.inject_fault("status", status=503, path=r"/sync$", times=3)
    ctl.clear_requests()
    trigger = _trigger(max_backoff=0.2, hook_params={"max_attempts": 1})
    caplog.set_level(logging.INFO)
    events = trigger.run()
    try:
        event = await asyncio.wait_for(events.__anext__(), timeout=30)
    finally:
        await events.aclose()
        sync.client.close()
    assert event.payload["pending"]["items"] == {"changed": 1}
    statuses = [r["status"] for r in ctl.requests(env["id"]) if r["method"] == "GET"]
    assert statuses[:3] == [503, 503, 503] and statuses[3] == 200
    logged = caplog.text + capsys.readouterr().out  # Airflow's structlog writes to stdout
    assert "failed (3 in a row" in logged and "Kontent watch: stored token" in logged
    assert key not in logged and key not in json.dumps(event.payload)


def test_failure_delay_honours_retry_after_and_is_bounded():
    trigger = KontentChangesEventTrigger(poll_interval=2, max_backoff=60)
    assert trigger.failure_delay(1, KontentServerError("x", status=503)) == 4.0
    assert trigger.failure_delay(10, KontentServerError("x", status=503)) == 60.0
    assert trigger.failure_delay(1, KontentRateLimitError("x", status=429, retry_after=30)) == 30.0
    assert trigger.failure_delay(1, KontentRateLimitError("x", status=429, retry_after=3600)) == 60.0
