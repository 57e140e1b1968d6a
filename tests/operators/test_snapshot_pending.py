"""``dag.test()`` runs of the init snapshot's life cycle: a snapshot whose load failed is exported again
until a commit confirms it, and a snapshot too big for XCom fails the init without retrying."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.dag_runner import run_dag
from tests.operators.conftest import FAILURES, START, db_variable, remember_failure

KEY = "kontent_snapshot_pending"
LOADED: list[dict[str, Any]] = []
BREAK_LOAD = {"on": False}


@pytest.fixture(autouse=True)
def _reset():
    LOADED.clear()
    FAILURES.clear()
    BREAK_LOAD["on"] = False
    yield
    LOADED.clear()
    FAILURES.clear()
    BREAK_LOAD["on"] = False


def _snapshot_codenames(init_result: dict[str, Any]) -> set[str]:
    return {record["codename"] for record in init_result["snapshot"]["records"]}


def test_snapshot_is_exported_again_until_a_commit_confirms_it(airflow_db, kontent_emulator, kontent_conn):
    from airflow.sdk import DAG, task

    from airflow_provider_kontent.operators.sync_commit import KontentSyncCommitOperator
    from airflow_provider_kontent.operators.sync_init import KontentSyncInitOperator
    from airflow_provider_kontent.operators.sync_pull import KontentSyncPullOperator

    env_id = kontent_conn["id"]
    ctl = kontent_emulator.control
    ctl.upsert_item(env_id, "first", "article", "en-US", elements={"title": "First"})

    with DAG("kontent_snapshot_pending", schedule=None, start_date=START) as dag:
        init = KontentSyncInitOperator(task_id="init", variable_key=KEY, snapshot=True)
        pull = KontentSyncPullOperator(task_id="pull", variable_key=KEY, commit_token=False)

        @task(retries=0)
        def load(init_result: dict[str, Any], summary: dict[str, Any]) -> None:
            if BREAK_LOAD["on"]:
                raise RuntimeError("the destination is down")
            LOADED.append({"init": init_result, "pull": summary})

        commit = KontentSyncCommitOperator(task_id="commit", variable_key=KEY)
        init >> pull
        load(init.output, pull.output) >> commit

    # run 1: init snapshots and stores the token, then the load fails, so nothing commits
    BREAK_LOAD["on"] = True
    dr = run_dag(dag)
    assert dr.state == "failed"
    states = {ti.task_id: ti.state for ti in dr.get_task_instances()}
    assert states == {"init": "success", "pull": "success", "load": "failed", "commit": "upstream_failed"}
    first = dr.get_task_instance("init").xcom_pull(task_ids="init")
    assert first["initialized"] is True and first["snapshot_pending"] is True
    assert _snapshot_codenames(first) == {"first"}
    stored = db_variable(KEY)
    assert stored["token"] == first["token"] and stored["snapshot_pending"] is True

    # run 2: the snapshot was never confirmed, so init keeps the token and exports again; the export
    # includes an item created between the runs; the load and the commit succeed
    ctl.upsert_item(env_id, "between", "article", "en-US", elements={"title": "Between"})
    BREAK_LOAD["on"] = False
    dr = run_dag(dag)
    assert dr.state == "success"
    second = LOADED[-1]["init"]
    assert second["initialized"] is False and second["token"] == first["token"]
    assert _snapshot_codenames(second) == {"first", "between"}
    assert all(r["raw_change_type"] == "snapshot" for r in second["snapshot"]["records"])
    assert {r["codename"] for r in LOADED[-1]["pull"]["records"]} == {"between"}  # the delta since the token
    stored = db_variable(KEY)
    assert stored["token"] == LOADED[-1]["pull"]["next_token"] != first["token"]
    assert stored["snapshot_pending"] is False

    # run 3: the commit confirmed the snapshot; init neither re-initializes nor exports
    dr = run_dag(dag)
    assert dr.state == "success"
    third = LOADED[-1]["init"]
    assert third["initialized"] is False and third["snapshot"] is None
    assert third["token"] == stored["token"] and third["snapshot_pending"] is False


def test_pull_commit_confirms_the_snapshot_and_oversized_snapshot_fails_without_retry(
    airflow_db, kontent_emulator, kontent_conn
):
    from airflow.sdk import DAG

    from airflow_provider_kontent.operators.sync_init import KontentSyncInitOperator
    from airflow_provider_kontent.operators.sync_pull import KontentSyncPullOperator

    env_id = kontent_conn["id"]
    ctl = kontent_emulator.control
    for i in range(3):
        ctl.upsert_item(env_id, f"item{i}", "article", "en-US", elements={"title": "x" * 200})

    with DAG(
        "kontent_snapshot_commit_and_guard",
        schedule=None,
        start_date=START,
        default_args={"on_failure_callback": remember_failure},
    ) as dag:
        # the pull's own commit (commit_token=True) confirms the snapshot taken before it
        init = KontentSyncInitOperator(task_id="init", variable_key="kontent_snap_ok", snapshot=True)
        pull = KontentSyncPullOperator(task_id="pull", variable_key="kontent_snap_ok")
        init >> pull
        KontentSyncInitOperator(
            task_id="too_big",
            variable_key="kontent_snap_big",
            snapshot=True,
            max_xcom_bytes=300,
            retries=1,
            retry_delay=timedelta(0),
        )

    dr = run_dag(dag)
    assert dr.state == "failed"
    assert {ti.task_id: ti.state for ti in dr.get_task_instances()} == {
        "init": "success",
        "pull": "success",
        "too_big": "failed",
    }
    # one attempt only: a retry would export the same too-big snapshot again
    assert dr.get_task_instance("too_big").try_number == 1
    assert FAILURES["too_big"].startswith("KontentTaskFailure: connection 'kontent_default': ")
    assert "max_xcom_bytes=300" in FAILURES["too_big"] and "snapshot_path" in FAILURES["too_big"]
    assert db_variable("kontent_snap_big") is None  # a new init stores nothing when its snapshot fails

    init_result = dr.get_task_instance("init").xcom_pull(task_ids="init")
    assert init_result["snapshot_pending"] is True and init_result["snapshot"]["items"] == 3
    stored = db_variable("kontent_snap_ok")
    assert stored["snapshot_pending"] is False  # confirmed, even though the drain found nothing new
