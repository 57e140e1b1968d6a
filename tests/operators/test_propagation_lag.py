"""The pull operator and the reference DAG under Kontent.ai's change processing lag (real ``dag.test()``).

A change reaches Sync only seconds after it was made (``propagation_delay_s``); when its delta arrives
the Delivery CDN still serves the older content marked ``X-Stale-Content`` (``stale_content_s``). The
emulator's clock is moved with ``advance_time``, so nothing here depends on wall-clock timing: a pull
before the change is processed delivers nothing and keeps the token; the pull after it delivers the
*new* content, never the stale one.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.dag_runner import run_dag
from tests.operators.conftest import START, db_variable

CAPTURED: list[dict[str, Any]] = []
DELAY_S = 300  # "seconds after": long enough that a slow run never sees the change by itself
STALE_S = 3600


@pytest.fixture(autouse=True)
def _reset():
    CAPTURED.clear()
    yield
    CAPTURED.clear()


def _pull_dag(key: str):
    from airflow.sdk import DAG, task

    from airflow_provider_kontent.operators.sync_init import KontentSyncInitOperator
    from airflow_provider_kontent.operators.sync_pull import KontentSyncPullOperator

    with DAG("kontent_pull_under_lag", schedule=None, start_date=START) as dag:
        init = KontentSyncInitOperator(task_id="init", variable_key=key)
        pull = KontentSyncPullOperator(task_id="pull", variable_key=key, include_content=True)

        @task
        def capture(summary: dict[str, Any]) -> None:
            CAPTURED.append(summary)

        init >> pull
        capture(pull.output)
    return dag


def task_states(dag_run: Any) -> dict[str, str]:
    return {ti.task_id: str(getattr(ti.state, "value", ti.state)) for ti in dag_run.get_task_instances()}


def xcom(dag_run: Any, task_id: str) -> Any:
    ti = next(t for t in dag_run.get_task_instances() if t.task_id == task_id)
    return ti.xcom_pull(task_ids=task_id)


def rows(db: Path, sql: str) -> list[tuple]:
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute(sql).fetchall()


def _title(record: dict[str, Any]) -> str:
    return record["content"]["item"]["elements"]["title"]["value"]


def test_pull_waits_for_processing_and_fetches_past_the_stale_cdn(airflow_db, kontent_emulator, kontent_conn):
    env_id, ctl = kontent_conn["id"], kontent_emulator.control
    key = "kontent_sync_token__lag_pull"
    item_id = ctl.upsert_item(env_id, "doc", "article", "en-US", elements={"title": "Old"})
    dag = _pull_dag(key)
    assert run_dag(dag).state == "success"  # init marks "now"; nothing to pull
    assert CAPTURED[-1]["counts"] == {}

    ctl.update_environment(env_id, propagation_delay_s=DELAY_S, stale_content_s=STALE_S)
    ctl.upsert_item(env_id, "doc", "article", "en-US", elements={"title": "New"})
    ctl.advance_time(DELAY_S / 2)
    assert run_dag(dag).state == "success"
    assert CAPTURED[-1]["counts"] == {}  # not processed yet: nothing delivered

    ctl.advance_time(DELAY_S)  # processed: Sync reports it, the CDN still has the old version
    plain = requests.get(f"{kontent_emulator.base_url}/{env_id}/items/doc", timeout=10)
    assert (
        plain.headers["X-Stale-Content"] == "1"
        and plain.json()["item"]["elements"]["title"]["value"] == "Old"
    )
    assert run_dag(dag).state == "success"
    summary = CAPTURED[-1]
    assert summary["counts"] == {"items": {"changed": 1}}
    [record] = summary["records"]
    assert record["id"] == item_id and record["change_type"] == "changed"
    assert _title(record) == "New" and not record.get("content_missing")
    assert db_variable(key)["token"] == summary["next_token"]

    assert run_dag(dag).state == "success"
    assert CAPTURED[-1]["counts"] == {}  # delivered once


def test_reference_dag_mirrors_new_content_only_once_it_is_processed(
    airflow_db, kontent_emulator, monkeypatch, tmp_path
):
    from tests.examples.conftest import load_dag, use_emulator_connection

    ctl = kontent_emulator.control
    env_id = ctl.create_environment()["id"]
    ctl.upsert_type(env_id, "article", elements={"title": {"type": "text", "name": "Title"}})
    ctl.upsert_item(env_id, "doc", "article", "en-US", elements={"title": "Old"})
    use_emulator_connection(monkeypatch, kontent_emulator.base_url, env_id)
    db = tmp_path / "mirror.sqlite"
    for name, value in {
        "KONTENT_ENVIRONMENT_ID": env_id,
        "KONTENT_SQLITE_PATH": str(db),
        "KONTENT_STAGING_URL": f"file://{tmp_path}/staging",
        "KONTENT_SENSOR_TIMEOUT": "2",
        "KONTENT_SENSOR_POKE_INTERVAL": "1",
    }.items():
        monkeypatch.setenv(name, value)
    dag = load_dag("kontent_sync_to_sqlite")

    def mirrored_title() -> str:
        (elements,) = rows(db, "SELECT elements FROM content_items WHERE codename = 'doc'")[0]
        return json.loads(elements)["title"]["value"]

    assert run_dag(dag).state == "success"  # the snapshot run
    assert mirrored_title() == "Old"

    ctl.update_environment(env_id, propagation_delay_s=DELAY_S, stale_content_s=STALE_S)
    ctl.upsert_item(env_id, "doc", "article", "en-US", elements={"title": "New"})
    ctl.advance_time(DELAY_S / 2)
    waiting = run_dag(dag)
    assert waiting.state == "success", task_states(waiting)
    assert task_states(waiting)["wait_for_changes"] == "skipped"  # the sensor saw nothing yet
    assert mirrored_title() == "Old"

    ctl.advance_time(DELAY_S)
    stale = requests.get(f"{kontent_emulator.base_url}/{env_id}/items/doc", timeout=10)
    assert stale.headers["X-Stale-Content"] == "1"
    processed = run_dag(dag)
    states = task_states(processed)
    assert processed.state == "success", states
    assert states["wait_for_changes"] == "success" and states["commit_token"] == "success"
    assert xcom(processed, "pull")["counts"]["items"] == {"changed": 1}
    assert mirrored_title() == "New"  # the delta's content, not what the stale CDN serves
