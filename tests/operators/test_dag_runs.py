"""End-to-end: real ``dag.test()`` runs of init -> sensor -> pull -> load -> commit against the emulator.

Each token store is driven through several DAG runs with edits made in the emulator between runs (and,
where a sensor must first see nothing, during the run right after its first poll). The loading task
records what it received, so the tests check that every change arrives, in the right form, once per run.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.dag_runner import run_dag
from tests.operators.conftest import START, db_variable

LOADED: list[dict[str, Any]] = []
FAIL_LOAD = {"on": False}


@pytest.fixture(autouse=True)
def _reset_module_state():
    LOADED.clear()
    FAIL_LOAD["on"] = False
    yield
    LOADED.clear()


def _read_records(summary: dict[str, Any]) -> list[dict[str, Any]]:
    if summary.get("output_path") is None:
        return list(summary["records"])
    from airflow.sdk import ObjectStoragePath

    from airflow_provider_kontent.handoff import iter_ndjson

    records: list[dict[str, Any]] = []
    for name in summary["files"]:
        records.extend(iter_ndjson(ObjectStoragePath(name)))
    return records


def build_sync_dag(dag_id: str, store: dict[str, Any], *, sensor: dict[str, Any], pull: dict[str, Any]):
    """init -> wait -> pull(commit_token=False) -> load -> commit, all on the same token store."""
    from airflow.sdk import DAG, get_current_context, task

    from airflow_provider_kontent.operators.sync_commit import KontentSyncCommitOperator
    from airflow_provider_kontent.operators.sync_init import KontentSyncInitOperator
    from airflow_provider_kontent.operators.sync_pull import KontentSyncPullOperator
    from airflow_provider_kontent.sensors.sync import KontentSyncSensor

    with DAG(dag_id, schedule=None, start_date=START, max_active_runs=1, catchup=False) as dag:
        init = KontentSyncInitOperator(task_id="init", **store)
        wait = KontentSyncSensor(task_id="wait", poke_interval=1, timeout=120, **store, **sensor)
        pulled = KontentSyncPullOperator(
            task_id="pull", commit_token=False, include_content=True, **store, **pull
        )

        @task
        def load(summary: dict[str, Any]) -> int:
            ti = get_current_context()["ti"]
            if FAIL_LOAD["on"]:
                raise RuntimeError("the warehouse is down")
            records = _read_records(summary)
            LOADED.append(
                {
                    "init": ti.xcom_pull(task_ids="init"),
                    "wait": ti.xcom_pull(task_ids="wait"),
                    "summary": summary,
                    "records": records,
                }
            )
            return len(records)

        commit = KontentSyncCommitOperator(task_id="commit", **store)
        init >> wait >> pulled
        load(pulled.output) >> commit
    return dag


def _by_codename(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for record in records:
        assert record["codename"] not in out, f"{record['codename']} delivered twice in one run"
        out[record["codename"]] = record
    return out


def _title(record: dict[str, Any]) -> str:
    return record["content"]["item"]["elements"]["title"]["value"]


def _states(dr) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in dr.get_task_instances()}


def test_variable_store_across_runs_with_failed_load(
    airflow_db, kontent_emulator, kontent_conn, edit_on_first_poll
):
    """Poke-mode sensor, v2 filters, XCom delivery; a failed load re-delivers in the next run."""
    env_id = kontent_conn["id"]
    ctl = kontent_emulator.control
    key = "kontent_sync_cursor__variable_test"
    store = {"token_store": "variable", "variable_key": key, "filters": {"system.type[in]": "article"}}
    dag = build_sync_dag("kontent_variable_store", store, sensor={"mode": "poke"}, pull={})
    ids: dict[str, str] = {}

    def first_edits(control) -> None:
        for name, type_ in (("a", "article"), ("b", "article"), ("blog1", "blog")):
            ids[name] = control.upsert_item(env_id, name, type_, "en-US", elements={"title": name.upper()})

    # run 1: the sensor pokes once with nothing there, then the items appear
    with edit_on_first_poll(env_id, first_edits) as watcher:
        dr = run_dag(dag)
    assert watcher.done.is_set()
    assert dr.state == "success", _states(dr)
    run1 = LOADED[-1]
    assert run1["init"]["initialized"] is True
    got = _by_codename(run1["records"])
    assert set(got) == {"a", "b"}  # the blog item is filtered out
    assert {r["change_type"] for r in got.values()} == {"changed"}
    assert _title(got["a"]) == "A"
    assert run1["summary"]["counts"] == {"items": {"changed": 2}}
    assert run1["wait"]["total"] >= 1
    token_after_1 = db_variable(key)
    assert token_after_1["token"] == run1["summary"]["next_token"]
    assert token_after_1["filters"] == {"system.type[in]": "article"}

    # between runs: edit a, delete b, add c (article) and another blog post
    ctl.upsert_item(env_id, "a", "article", "en-US", elements={"title": "A2"})
    ctl.delete_variant(env_id, ids["b"], "en-US")
    ctl.upsert_item(env_id, "c", "article", "en-US", elements={"title": "C"})
    ctl.upsert_item(env_id, "blog2", "blog", "en-US", elements={"title": "B2"})

    # run 2: the load fails, so the commit does not run and the token stays put
    FAIL_LOAD["on"] = True
    dr = run_dag(dag)
    states = _states(dr)
    assert dr.state == "failed"
    assert states["load"] == "failed" and states["commit"] == "upstream_failed"
    assert db_variable(key)["token"] == token_after_1["token"]
    assert len(LOADED) == 1

    # run 3: one more edit; everything since run 1 arrives, each key once, in its latest form
    ctl.upsert_item(env_id, "c", "article", "en-US", elements={"title": "C2"})
    FAIL_LOAD["on"] = False
    dr = run_dag(dag)
    assert dr.state == "success", _states(dr)
    run3 = LOADED[-1]
    assert run3["init"]["initialized"] is False  # the stored token was kept
    assert run3["summary"]["previous_token"] == token_after_1["token"]
    got = _by_codename(run3["records"])
    assert set(got) == {"a", "b", "c"}
    assert got["b"]["change_type"] == "deleted" and got["b"]["content"] is None
    assert _title(got["a"]) == "A2" and _title(got["c"]) == "C2"
    assert run3["summary"]["skipped"] >= 1  # blog2
    assert db_variable(key)["token"] == run3["summary"]["next_token"]

    # run 4 would wait: nothing new is pending after the committed token
    from airflow_provider_kontent.client import ClientConfig, KontentClient

    with KontentClient(ClientConfig(env_id, base_url=kontent_emulator.base_url)) as client:
        assert client.sync_page(db_variable(key)["token"]).is_empty


def _user_agent(request: dict[str, Any]) -> str:
    headers = {k.lower(): v for k, v in request["headers"].items()}
    return headers.get("user-agent", "").lower()


def _reschedules(dr, task_id: str) -> int:
    from airflow.models.taskreschedule import TaskReschedule
    from airflow.utils.session import create_session

    ti = dr.get_task_instance(task_id)
    with create_session() as session:
        return session.query(TaskReschedule).filter(TaskReschedule.ti_id == ti.id).count()


def _asset_state(uri: str) -> Any:
    from airflow.models.asset import AssetModel
    from airflow.models.asset_state_store import AssetStateStoreModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = (
            session.query(AssetStateStoreModel)
            .join(AssetModel, AssetModel.id == AssetStateStoreModel.asset_id)
            .filter(AssetModel.uri == uri, AssetStateStoreModel.key == "kontent_sync_token")
            .one_or_none()
        )
        return None if row is None else json.loads(row.value)


def _asset_event_extras(uri: str) -> list[dict[str, Any]]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        events = (
            session.query(AssetEvent)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .filter(AssetModel.uri == uri)
            .order_by(AssetEvent.id)
            .all()
        )
        return [dict(e.extra or {}) for e in events]


def test_asset_store_deferrable_ndjson(
    airflow_db, kontent_emulator, kontent_conn, edit_on_first_poll, tmp_path
):
    """Asset state store, deferrable sensor (trigger runs inline), NDJSON delivery, asset event counts."""
    from airflow_provider_kontent.tokens import kontent_sync_asset

    env_id = kontent_conn["id"]
    ctl = kontent_emulator.control
    asset = kontent_sync_asset(env_id)
    store = {"token_store": "asset", "asset": asset}
    out = f"file://{tmp_path}/out/{{{{ run_id }}}}/"
    dag = build_sync_dag(
        "kontent_asset_store", store, sensor={"deferrable": True}, pull={"output_path": out, "max_pages": 50}
    )
    ids: dict[str, str] = {}

    def first_edits(control) -> None:
        ids["x"] = control.upsert_item(env_id, "x", "article", "en-US", elements={"title": "X"})
        ids["y"] = control.upsert_item(env_id, "y", "blog", "en-US", elements={"title": "Y"})

    with edit_on_first_poll(env_id, first_edits) as watcher:
        dr = run_dag(dag)
    assert watcher.done.is_set()
    assert dr.state == "success", _states(dr)
    # the sensor really deferred: the trigger's async client (httpx) polled GET /sync
    assert any(
        r["method"] == "GET" and r["path"].endswith("/sync") and "httpx" in _user_agent(r)
        for r in ctl.requests(env_id)
    )
    run1 = LOADED[-1]
    assert run1["summary"]["output_path"].startswith("file://")
    assert all("/out/" in f and f.endswith(".ndjson") for f in run1["summary"]["files"])
    got = _by_codename(run1["records"])
    assert {"x", "y"} <= set(got)
    assert _title(got["x"]) == "X"
    state = _asset_state(asset.uri)
    assert state["token"] == run1["summary"]["next_token"]
    assert state["environment_id"] == env_id
    extras = _asset_event_extras(asset.uri)
    assert extras and extras[-1]["counts"] == run1["summary"]["counts"]

    ctl.upsert_item(env_id, "x", "article", "en-US", elements={"title": "X2"})
    ctl.delete_variant(env_id, ids["y"], "en-US")
    dr = run_dag(dag)
    assert dr.state == "success", _states(dr)
    run2 = LOADED[-1]
    assert run2["init"]["initialized"] is False
    got = _by_codename(run2["records"])
    assert set(got) == {"x", "y"}
    assert _title(got["x"]) == "X2" and got["y"]["change_type"] == "deleted"
    assert _asset_state(asset.uri)["token"] == run2["summary"]["next_token"]
    assert _asset_event_extras(asset.uri)[-1]["counts"] == {"items": {"changed": 1, "deleted": 1}}


def test_xcom_store_reschedule_single_runs(airflow_db, kontent_emulator, kontent_conn, edit_on_first_poll):
    """XCom store: each run starts its own sync; reschedule-mode sensor; edits during each run."""
    env_id = kontent_conn["id"]
    ctl = kontent_emulator.control
    ctl.upsert_item(env_id, "before", "article", "en-US", elements={"title": "old"})  # before any init
    store = {"token_store": "xcom"}
    dag = build_sync_dag("kontent_xcom_store", store, sensor={"mode": "reschedule"}, pull={})

    for run, name in enumerate(("r1", "r2")):

        def edits(control, name=name) -> None:
            control.upsert_item(env_id, name, "article", "en-US", elements={"title": name.upper()})

        with edit_on_first_poll(env_id, edits) as watcher:
            dr = run_dag(dag)
        assert watcher.done.is_set()
        assert dr.state == "success", _states(dr)
        loaded = LOADED[-1]
        assert loaded["init"]["initialized"] is True  # XCom does not survive into the next run
        got = _by_codename(loaded["records"])
        assert set(got) == {name}, f"run {run}"
        assert _title(got[name]) == name.upper()
        assert _states(dr)["commit"] == "success"
        assert _reschedules(dr, "wait") >= 1  # the sensor gave its slot back at least once
    assert len(LOADED) == 2
