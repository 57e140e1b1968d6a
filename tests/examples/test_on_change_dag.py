"""``kontent_sync_on_change``: its schedule and watcher as parsed, and two runs with ``dag.test()``.

The event-driven part (triggerer, scheduler) is proven in ``tests/deployment/test_on_change_deployment.py``;
this checks quickly what the DAG itself does with each run: snapshot first, then changes, then commit,
in the tables ``KontentToSqlOperator`` keeps (``kontent_items``, ``kontent_load_log``).
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing

from tests.dag_runner import run_dag
from tests.examples.conftest import load_dag, use_emulator_connection

VARIABLE = "kontent_sync_cursor__kontent_default"


def test_schedule_watcher_and_tasks(monkeypatch):
    from airflow.sdk import AssetOrTimeSchedule

    monkeypatch.setenv("KONTENT_WATCH_POLL_INTERVAL", "15")
    dag = load_dag("kontent_sync_on_change")
    assert dag.max_active_runs == 1
    assert isinstance(dag.timetable, AssetOrTimeSchedule)
    asset = dag.timetable.asset_condition
    assert asset.name == "kontent_changes__kontent_default"
    (watcher,) = asset.watchers
    path, kwargs = watcher.trigger.serialize()
    assert path.endswith("KontentChangesEventTrigger")
    assert kwargs["poll_interval"] == 15.0 and kwargs["variable_key"] == VARIABLE
    assert {t.task_id: sorted(t.downstream_task_ids) for t in dag.tasks} == {
        "init": ["load_snapshot"],
        "load_snapshot": ["pull"],
        "pull": ["load_changes"],
        "load_changes": ["commit"],
        "commit": [],
    }
    assert dag.get_task("pull").commit_token is False and dag.get_task("pull").output_path is None
    assert dag.get_task("init").snapshot_path is None  # the snapshot goes through XCom: no shared disk
    for task_id in ("load_snapshot", "load_changes"):  # the trigger reads the token from the Variable
        load = dag.get_task(task_id)
        assert load.token_store == "variable" and load.sql_conn_id == "kontent_mirror"


def test_snapshot_then_changes_land_in_sqlite(airflow_db, kontent_emulator, monkeypatch, tmp_path):
    from airflow.models import Variable

    Variable.delete(VARIABLE)
    ctl = kontent_emulator.control
    env_id = ctl.create_environment()["id"]
    ctl.upsert_type(env_id, "article", elements={"title": {"type": "text", "name": "Title"}})
    keep = ctl.upsert_item(env_id, "keep", "article", "en-US", elements={"title": "Keep"})
    gone = ctl.upsert_item(env_id, "gone", "article", "en-US", elements={"title": "Gone"})
    use_emulator_connection(monkeypatch, kontent_emulator.base_url, env_id)
    db = tmp_path / "mirror.sqlite"
    monkeypatch.setenv("AIRFLOW_CONN_KONTENT_MIRROR", json.dumps({"conn_type": "sqlite", "host": str(db)}))
    dag = load_dag("kontent_sync_on_change")

    first = run_dag(dag)  # init + snapshot, an empty pull, the commit confirms the snapshot
    assert first.state == "success"
    ctl.upsert_item(env_id, "keep", "article", "en-US", elements={"title": "Kept, edited"})
    ctl.delete_item(env_id, gone)
    new = ctl.upsert_item(env_id, "new", "article", "en-US", elements={"title": "New"})
    second = run_dag(dag)
    assert second.state == "success"
    with closing(sqlite3.connect(db)) as conn:
        items = conn.execute("SELECT id, codename, elements FROM kontent_items").fetchall()
        log = conn.execute(
            "SELECT load_run, source, entity_id, action FROM kontent_load_log WHERE kind = 'item' ORDER BY seq"
        ).fetchall()
    assert {id_: (codename, json.loads(elements)["title"]["value"]) for id_, codename, elements in items} == {
        keep: ("keep", "Kept, edited"),
        new: ("new", "New"),
    }
    by_run = {run: sorted(entry[1:] for entry in log if entry[0] == run) for run in {e[0] for e in log}}
    assert by_run == {
        first.run_id: sorted([("snapshot", keep, "upsert"), ("snapshot", gone, "upsert")]),
        second.run_id: sorted(
            [("delta", keep, "upsert"), ("delta", gone, "delete"), ("delta", new, "upsert")]
        ),
    }
    assert Variable.get(VARIABLE, deserialize_json=True)["snapshot_pending"] is False
    Variable.delete(VARIABLE)
