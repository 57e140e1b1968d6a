"""``KontentSyncTrigger``: serialization, and ``run()`` against the emulator (success and error events)."""

from __future__ import annotations

import time

import pytest

from airflow_provider_kontent.triggers.sync import KontentSyncTrigger
from tests.operators.conftest import connection_json


def _client(emu, env):
    from airflow_provider_kontent.client import ClientConfig, KontentClient

    return KontentClient(ClientConfig(env["id"], base_url=emu.base_url))


async def _first_event(trigger: KontentSyncTrigger) -> dict:
    events = [event.payload async for event in trigger.run()]
    assert len(events) == 1
    return events[0]


def test_serialize_round_trip():
    kwargs = {
        "kontent_conn_id": "kontent_x",
        "token": "tok-123",
        "api_version": 2,
        "filters": {"system.type[in]": "article,blog"},
        "poll_interval": 5.0,
        "end_time": 1_900_000_000.5,
        "max_errors": 4,
        "max_lookahead_pages": 7,
        "hook_params": {"max_attempts": 2, "read_timeout": 5.0},
    }
    path, out = KontentSyncTrigger(**kwargs).serialize()
    assert path == "airflow_provider_kontent.triggers.sync.KontentSyncTrigger"
    assert out == kwargs
    assert KontentSyncTrigger(**out).serialize() == (path, kwargs)
    # through Airflow's own encoding of trigger kwargs (what the DB stores and the triggerer reads)
    try:
        from airflow.sdk.serde import deserialize, serialize
    except ImportError:  # Airflow 3.0
        from airflow.serialization.serde import deserialize, serialize

    assert KontentSyncTrigger(**deserialize(serialize(out))).serialize() == (path, kwargs)


async def test_success_event_with_pending_counts(monkeypatch, kontent_emulator, kontent_conn):
    env = kontent_conn
    ctl = kontent_emulator.control
    with _client(kontent_emulator, env) as client:
        token = client.init_sync()
    item = ctl.upsert_item(env["id"], "a", "article", "en-US", elements={"title": "A"})
    ctl.upsert_item(env["id"], "b", "article", "en-US", elements={"title": "B"})
    ctl.delete_variant(env["id"], item, "en-US")
    ctl.clear_requests()
    event = await _first_event(
        KontentSyncTrigger(kontent_conn_id="kontent_default", token=token, poll_interval=0.1)
    )
    newest = event.pop("newest_timestamp")
    assert event == {
        "status": "success",
        "token": token,
        "pending": {"items": {"changed": 1, "deleted": 1}},
        "total": 2,
    }
    # the newest change time on the page, as Kontent spells it
    with _client(kontent_emulator, env) as client:
        page = client.sync_page(token)
    assert newest == max(d.timestamp_text for d in page.deltas)
    # read-only: the trigger made GET /sync calls only (no init, nothing else)
    calls = {(r["method"], r["path"].rsplit("/", 1)[-1]) for r in ctl.requests(env["id"])}
    assert calls == {("GET", "sync")}


async def test_filtered_out_pages_are_followed(kontent_emulator, kontent_conn, monkeypatch):
    env = kontent_conn
    ctl = kontent_emulator.control
    ctl.update_environment(env["id"], page_size=2)
    with _client(kontent_emulator, env) as client:
        token = client.init_sync()
    for i in range(5):  # three pages of blog posts the filter drops...
        ctl.upsert_item(env["id"], f"blog{i}", "blog", "en-US", elements={"title": "x"})
    ctl.upsert_item(env["id"], "wanted", "article", "en-US", elements={"title": "A"})  # ...then a match
    trigger = KontentSyncTrigger(
        kontent_conn_id="kontent_default", token=token, filters={"system.type": "article"}, poll_interval=0.1
    )
    event = await _first_event(trigger)
    assert event["status"] == "success" and event["token"] == token
    assert event["pending"] == {"items": {"changed": 1}}


async def test_timeout_event(kontent_emulator, kontent_conn):
    with _client(kontent_emulator, kontent_conn) as client:
        token = client.init_sync()
    trigger = KontentSyncTrigger(
        kontent_conn_id="kontent_default", token=token, poll_interval=0.05, end_time=time.time() + 0.3
    )
    event = await _first_event(trigger)
    assert event["status"] == "error" and event["timeout"] is True
    assert "timeout" in event["message"]


async def test_bad_token_error_event(kontent_emulator, kontent_conn):
    event = await _first_event(KontentSyncTrigger(kontent_conn_id="kontent_default", token="not-a-token"))
    assert event["status"] == "error" and event["timeout"] is False
    assert "KontentInvalidTokenError" in event["message"] or "400" in event["message"]


async def test_auth_failure_error_event_without_key_leak(monkeypatch, kontent_emulator):
    ctl = kontent_emulator.control
    env = ctl.create_environment(secure_access=True)
    monkeypatch.setenv(
        "AIRFLOW_CONN_KONTENT_SECURE",
        connection_json(kontent_emulator.base_url, env, mode="secure", key="wrong-key-0123456789"),
    )
    event = await _first_event(KontentSyncTrigger(kontent_conn_id="kontent_secure", token="anything-at-all"))
    assert event["status"] == "error"
    assert "Auth" in event["message"] or "401" in event["message"]
    assert "wrong-key-0123456789" not in event["message"]


@pytest.mark.parametrize("status", [429, 503])
async def test_transient_faults_eventually_succeed(kontent_emulator, kontent_conn, status):
    env = kontent_conn
    ctl = kontent_emulator.control
    with _client(kontent_emulator, env) as client:
        token = client.init_sync()
    ctl.upsert_item(env["id"], "a", "article", "en-US", elements={"title": "A"})
    ctl.clear_requests()
    ctl.inject_fault("status", times=2, method="GET", path=r"/sync$", status=status, retry_after=0)
    event = await _first_event(
        KontentSyncTrigger(kontent_conn_id="kontent_default", token=token, poll_interval=0.1)
    )
    assert event["status"] == "success" and event["total"] == 1
    statuses = [r["status"] for r in ctl.requests(env["id"]) if r["method"] == "GET"]
    assert statuses.count(status) == 2 and statuses[-1] == 200


async def test_persistent_faults_end_with_error(monkeypatch, kontent_emulator, kontent_conn):
    env = kontent_conn
    monkeypatch.setenv(
        "AIRFLOW_CONN_KONTENT_DEFAULT", connection_json(kontent_emulator.base_url, env, max_attempts=1)
    )
    with _client(kontent_emulator, env) as client:
        token = client.init_sync()
    kontent_emulator.control.inject_fault("status", times=10, method="GET", path=r"/sync$", status=500)
    trigger = KontentSyncTrigger(
        kontent_conn_id="kontent_default", token=token, poll_interval=0.05, max_errors=2
    )
    event = await _first_event(trigger)
    assert event["status"] == "error" and "500" in event["message"]


async def test_error_event_fails_a_soft_fail_sensor_instead_of_skipping(kontent_emulator, kontent_conn):
    """soft_fail means "no changes in time -> skip"; a real failure must still fail the task."""
    from airflow_provider_kontent._compat import AirflowSkipException
    from airflow_provider_kontent.outcomes import KontentTaskFailure
    from airflow_provider_kontent.sensors.sync import KontentSyncSensor, KontentSyncSensorError

    sensor = KontentSyncSensor(task_id="wait", token="not-a-token", deferrable=True, soft_fail=True)
    error = await _first_event(KontentSyncTrigger(kontent_conn_id="kontent_default", token="not-a-token"))
    assert error["status"] == "error" and error["retryable"] is False  # an invalid token never heals
    with pytest.raises(KontentTaskFailure, match="Kontent sync sensor failed"):
        sensor.resume_execution("execute_complete", {"event": error}, context={})
    # a failure that may heal (5xx after the client's retries) stays retryable, and is not skipped either
    transient = {**error, "retryable": True}
    with pytest.raises(KontentSyncSensorError, match="Kontent sync sensor failed"):
        sensor.resume_execution("execute_complete", {"event": transient}, context={})

    with _client(kontent_emulator, kontent_conn) as client:
        token = client.init_sync()
    timed_out = await _first_event(
        KontentSyncTrigger(kontent_conn_id="kontent_default", token=token, end_time=time.time())
    )
    assert timed_out["timeout"] is True
    with pytest.raises(AirflowSkipException):
        sensor.resume_execution("execute_complete", {"event": timed_out}, context={})


async def test_hook_params_reach_the_triggers_client(kontent_emulator, kontent_conn):
    """One 503: the default client retries it away; with max_attempts=1 and max_errors=1 it ends the wait."""
    with _client(kontent_emulator, kontent_conn) as client:
        token = client.init_sync()
    ctl = kontent_emulator.control
    kwargs = {"kontent_conn_id": "kontent_default", "token": token, "poll_interval": 0.05, "max_errors": 1}
    ctl.inject_fault("status", status=503, path=r"/sync$", times=1)
    strict = await _first_event(
        KontentSyncTrigger(**kwargs, hook_params={"max_attempts": 1}, end_time=time.time() + 5)
    )
    assert strict["status"] == "error" and strict["timeout"] is False and "503" in strict["message"]

    ctl.inject_fault("status", status=503, path=r"/sync$", times=1)
    default = await _first_event(KontentSyncTrigger(**kwargs, end_time=time.time() + 0.5))
    assert default["timeout"] is True  # the 503 was retried inside the client; then simply no changes
