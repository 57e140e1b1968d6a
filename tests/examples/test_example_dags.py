"""Every example DAG parses, and each one runs for real (``dag.test()``) against the emulator.

The DAGs read their settings from the environment when they are parsed, exactly as in a deployment,
so each test sets the variables first and then loads the DAG from ``example_dags/`` through a DagBag.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.dag_runner import run_dag
from tests.examples.conftest import EXAMPLE_DAGS, load_dag, use_emulator_connection

EXPECTED_DAGS = {
    "kontent_sync_to_sqlite",
    "kontent_sync_to_object_storage",
    "kontent_sync_filtered",
    "kontent_sync_on_change",
}


def task_states(dag_run: Any) -> dict[str, str]:
    return {ti.task_id: str(getattr(ti.state, "value", ti.state)) for ti in dag_run.get_task_instances()}


def xcom(dag_run: Any, task_id: str) -> Any:
    ti = next(t for t in dag_run.get_task_instances() if t.task_id == task_id)
    return ti.xcom_pull(task_ids=task_id)


@pytest.fixture
def example_env(kontent_emulator, monkeypatch, tmp_path) -> dict[str, Any]:
    """A small two-language environment, the connection to it, and the DAGs' settings under tmp_path."""
    ctl = kontent_emulator.control
    env = ctl.create_environment(
        languages=[{"codename": "en-US", "name": "English"}, {"codename": "de", "name": "German"}]
    )
    env_id = env["id"]
    text = {"title": {"type": "text", "name": "Title"}}
    ctl.upsert_type(env_id, "article", name="Article", elements=text)
    ctl.upsert_type(env_id, "blog_post", name="Blog post", elements=text)
    ctl.upsert_type(env_id, "page", name="Page", elements=text)
    ctl.upsert_taxonomy(env_id, "topics", name="Topics", terms=[{"codename": "coffee", "name": "Coffee"}])
    ctl.upsert_item(env_id, "first", "article", "en-US", elements={"title": "First"})
    ctl.upsert_item(env_id, "first", "article", "de", elements={"title": "Erste"})
    ctl.upsert_item(env_id, "second", "article", "en-US", elements={"title": "Second"})
    ctl.upsert_item(env_id, "about", "page", "en-US", elements={"title": "About"})
    use_emulator_connection(monkeypatch, kontent_emulator.base_url, env_id)
    monkeypatch.setenv("KONTENT_ENVIRONMENT_ID", env_id)
    mirror = {"conn_type": "sqlite", "host": str(tmp_path / "mirror.sqlite")}
    monkeypatch.setenv("AIRFLOW_CONN_KONTENT_MIRROR", json.dumps(mirror))
    monkeypatch.setenv("KONTENT_STAGING_URL", f"file://{tmp_path}/staging")
    monkeypatch.setenv("KONTENT_OUTPUT_URL", f"file://{tmp_path}/output")
    monkeypatch.setenv("KONTENT_SENSOR_TIMEOUT", "2")
    monkeypatch.setenv("KONTENT_SENSOR_POKE_INTERVAL", "1")
    return {"id": env_id, "ctl": ctl, "db": tmp_path / "mirror.sqlite", "tmp": tmp_path}


@pytest.fixture
def fresh_variables(airflow_db):
    """The file and filtered DAGs keep their token in fixed Variables: start each test without them."""
    from airflow.models import Variable

    keys = ("kontent_sync_cursor__kontent_default__files", "kontent_sync_cursor__kontent_default__articles")
    for key in keys:
        Variable.delete(key)
    yield
    for key in keys:
        Variable.delete(key)


def stored_token_record(db: Path) -> dict[str, Any] | None:
    """The token record the DAG keeps in the destination (``token_store="sql"``)."""
    found = rows(db, "SELECT record FROM kontent_sync_state WHERE sync_key = 'kontent_default'")
    return json.loads(found[0][0]) if found else None


def rows(db: Path, sql: str) -> list[tuple]:
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute(sql).fetchall()


def test_every_example_dag_parses_without_import_errors(monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    for configured in ("", "0f5b6e9a-1c2d-4e3f-8a9b-0c1d2e3f4a5b"):  # Variable store and asset store
        monkeypatch.setenv("KONTENT_ENVIRONMENT_ID", configured)
        bag = DagBag(dag_folder=str(EXAMPLE_DAGS))
        assert bag.import_errors == {}
        assert set(bag.dag_ids) == EXPECTED_DAGS
    sqlite_dag = bag.dags["kontent_sync_to_sqlite"]
    assert sqlite_dag.max_active_runs == 1 and sqlite_dag.timetable.can_be_scheduled
    # route picks load_snapshot (snapshot runs: no waiting) or wait_for_changes; pull follows either
    assert {t.task_id: sorted(t.downstream_task_ids) for t in sqlite_dag.tasks} == {
        "init": ["load_snapshot", "route"],
        "route": ["load_snapshot", "wait_for_changes"],
        "load_snapshot": ["pull"],
        "wait_for_changes": ["pull"],
        "pull": ["load_changes"],
        "load_changes": ["clean_staging"],
        "clean_staging": [],
    }
    assert sqlite_dag.get_task("pull").trigger_rule == "none_failed_min_one_success"
    assert sqlite_dag.get_task("pull").commit_token is False
    for task_id in ("init", "wait_for_changes", "pull", "load_snapshot", "load_changes"):
        task = sqlite_dag.get_task(task_id)
        assert (task.token_store, task.sql_conn_id) == ("sql", "kontent_mirror"), task_id
    assert sqlite_dag.get_task("load_changes").typed_tables is True
    source = Path(EXAMPLE_DAGS / "kontent_sync_to_sqlite.py").read_text()
    assert len(source.splitlines()) < 100  # a DAG a user copies, with no loader module beside it
    assert not (EXAMPLE_DAGS / "kontent_sqlite_loader.py").exists()


def test_sqlite_dag_mirrors_snapshot_then_changes(example_env, airflow_db):
    ctl, env_id, db = example_env["ctl"], example_env["id"], example_env["db"]
    dag = load_dag("kontent_sync_to_sqlite")

    first = run_dag(dag)
    states = task_states(first)
    assert first.state == "success", states
    # a snapshot run does not wait for changes: it pulls (finding none) and loads, which confirms it
    assert states == {
        "init": "success",
        "route": "success",
        "load_snapshot": "success",
        "wait_for_changes": "skipped",
        "pull": "success",
        "load_changes": "success",
        "clean_staging": "success",
    }
    init_result = xcom(first, "init")
    assert init_result["snapshot_pending"] is True and init_result["snapshot"]["items"] == 4
    assert xcom(first, "pull")["counts"] == {}  # nothing changed since init; the load still confirms it
    record = stored_token_record(db)
    assert record["snapshot_pending"] is False and record["token"] == xcom(first, "pull")["next_token"]
    assert rows(db, "SELECT codename, language FROM kontent_items ORDER BY codename, language") == [
        ("about", "en-US"),
        ("first", "de"),
        ("first", "en-US"),
        ("second", "en-US"),
    ]
    assert rows(db, "SELECT codename FROM kontent_types ORDER BY codename") == [
        ("article",),
        ("blog_post",),
        ("page",),
    ]
    assert rows(db, "SELECT codename FROM kontent_taxonomies") == [("topics",)]
    assert rows(db, "SELECT codename, active FROM kontent_languages ORDER BY codename") == [
        ("de", 1),
        ("en-US", 1),
    ]
    assert rows(db, "SELECT codename, language, title FROM kontent_type_article ORDER BY 1, 2") == [
        ("first", "de", "Erste"),
        ("first", "en-US", "First"),
        ("second", "en-US", "Second"),
    ]

    # no edits: no snapshot again, the sensor times out and skips the rest; the token stays put
    idle = run_dag(dag)
    states = task_states(idle)
    assert idle.state == "success", states
    assert xcom(idle, "init")["initialized"] is False and not xcom(idle, "init").get("snapshot")
    assert states["load_snapshot"] == "skipped" and states["wait_for_changes"] == "skipped"
    assert states["pull"] == states["load_changes"] == "skipped"
    assert states["clean_staging"] == "success"
    assert stored_token_record(db) == record

    ctl.upsert_item(env_id, "first", "article", "en-US", elements={"title": "First, edited"})
    ctl.delete_variant(env_id, "first", "de")
    ctl.upsert_item(env_id, "second", "article", "de", elements={"title": "Zweite"})
    ctl.upsert_item(env_id, "news", "blog_post", "en-US", elements={"title": "News"})
    about = rows(db, "SELECT id FROM kontent_items WHERE codename = 'about'")[0][0]
    ctl.unpublish(env_id, about, "en-US")
    ctl.upsert_type(env_id, "page", name="Landing page")

    second = run_dag(dag)
    states = task_states(second)
    assert second.state == "success", states
    assert states["wait_for_changes"] == "success" and states["load_snapshot"] == "skipped"
    assert states["load_changes"] == "success"
    assert xcom(second, "init")["initialized"] is False and not xcom(second, "init").get("snapshot")
    assert rows(db, "SELECT codename, language FROM kontent_items ORDER BY codename, language") == [
        ("first", "en-US"),
        ("news", "en-US"),
        ("second", "de"),
        ("second", "en-US"),
    ]
    (elements,) = rows(db, "SELECT elements FROM kontent_items WHERE codename = 'first'")[0]
    assert json.loads(elements)["title"]["value"] == "First, edited"
    assert rows(db, "SELECT name FROM kontent_types WHERE codename = 'page'") == [("Landing page",)]
    assert rows(db, "SELECT codename, title FROM kontent_type_article ORDER BY 1, 2") == [
        ("first", "First, edited"),
        ("second", "Second"),
        ("second", "Zweite"),
    ]
    pull = xcom(second, "pull")
    assert pull["counts"]["items"] == {"changed": 3, "deleted": 2}
    assert xcom(second, "load_changes")["applied"] is True
    assert stored_token_record(db)["token"] == pull["next_token"] != record["token"]
    # every run removed its staged NDJSON after loading it
    assert list((example_env["tmp"] / "staging").iterdir()) == []


@pytest.mark.parametrize("staging", ["", "xcom"])
def test_sqlite_dag_with_empty_staging_url_hands_records_over_in_xcom(
    example_env, airflow_db, monkeypatch, staging
):
    """``KONTENT_STAGING_URL`` empty or ``xcom``: no staging files, so workers need no shared disk."""
    ctl, env_id, db = example_env["ctl"], example_env["id"], example_env["db"]
    monkeypatch.setenv("KONTENT_STAGING_URL", staging)
    monkeypatch.setenv("KONTENT_SCHEDULE_MINUTES", "0.5")
    dag = load_dag("kontent_sync_to_sqlite")
    assert dag.schedule == timedelta(seconds=30)  # KONTENT_SCHEDULE_MINUTES, read at parse time
    first = run_dag(dag)
    assert first.state == "success", task_states(first)
    init = xcom(first, "init")["snapshot"]
    assert init["output_path"] is None and len(init["records"]) == 4
    ctl.upsert_item(env_id, "first", "article", "en-US", elements={"title": "First, via XCom"})
    second = run_dag(dag)
    states = task_states(second)
    assert second.state == "success", states
    assert states["load_changes"] == states["clean_staging"] == "success"
    pull = xcom(second, "pull")
    assert pull["output_path"] is None and pull["files"] == [] and len(pull["records"]) == 1
    (elements,) = rows(
        db, "SELECT elements FROM kontent_items WHERE codename = 'first' AND language = 'en-US'"
    )[0]
    assert json.loads(elements)["title"]["value"] == "First, via XCom"
    assert stored_token_record(db)["token"] == pull["next_token"]
    assert not (example_env["tmp"] / "staging").exists()


def test_sqlite_dag_failed_snapshot_load_changes_nothing_and_the_next_run_catches_up(example_env, airflow_db):
    """A table altered by hand makes the snapshot load fail: nothing loaded, the token not confirmed;
    once the table is repaired the next run exports the snapshot again and loads it."""
    db, tmp = example_env["db"], example_env["tmp"]
    with closing(sqlite3.connect(db)) as conn:  # an older mirror someone edited by hand
        conn.execute(
            "CREATE TABLE kontent_items (id TEXT, language TEXT, title TEXT, PRIMARY KEY (id, language))"
        )
        conn.commit()
    dag = load_dag("kontent_sync_to_sqlite")
    dag.get_task("load_snapshot").retries = 0  # fail at once instead of waiting out the retry delay

    failed = run_dag(dag)
    states = task_states(failed)
    assert failed.state == "failed", states
    assert states["load_snapshot"] == "failed" and states["wait_for_changes"] == "skipped"
    for task_id in ("pull", "load_changes", "clean_staging"):
        assert states[task_id] == "upstream_failed", states
    token = xcom(failed, "init")["token"]
    assert stored_token_record(db)["snapshot_pending"] is True
    assert rows(db, "SELECT COUNT(*) FROM kontent_items") == [(0,)]
    assert list((tmp / "staging").iterdir())  # the unloaded snapshot stays for inspection

    with closing(sqlite3.connect(db)) as conn:
        conn.execute("DROP TABLE kontent_items")
        conn.execute("DELETE FROM kontent_schema_version")  # let the next load create it again
        conn.commit()
    retried = run_dag(dag)
    states = task_states(retried)
    assert retried.state == "success", states
    init_result = xcom(retried, "init")
    # the same token, a fresh export of the snapshot that was never confirmed
    assert init_result["initialized"] is False and init_result["token"] == token
    assert init_result["snapshot"]["items"] == 4
    assert states["load_snapshot"] == states["load_changes"] == "success"
    assert rows(db, "SELECT COUNT(*) FROM kontent_items") == [(4,)]
    assert stored_token_record(db)["snapshot_pending"] is False


def test_object_storage_dag_writes_ndjson_per_run(example_env, fresh_variables):
    env_id, ctl, tmp = example_env["id"], example_env["ctl"], example_env["tmp"]
    dag = load_dag("kontent_sync_to_object_storage")

    first = run_dag(dag)
    assert first.state == "success", task_states(first)
    snapshot = xcom(first, "init")["snapshot"]
    assert snapshot["items"] == 4 and snapshot["output_path"].startswith(f"file://{tmp}/output/")
    snapshot_dir = Path(snapshot["output_path"].removeprefix("file://"))
    assert (snapshot_dir / "_SUCCESS").exists()
    lines = [json.loads(line) for f in sorted(snapshot_dir.glob("part-*.ndjson")) for line in f.open()]
    assert sorted((r["codename"], r["language"]) for r in lines) == [
        ("about", "en-US"),
        ("first", "de"),
        ("first", "en-US"),
        ("second", "en-US"),
    ]

    ctl.upsert_item(env_id, "news", "blog_post", "en-US", elements={"title": "News"})
    ctl.delete_item(env_id, "second")

    second = run_dag(dag)
    assert second.state == "success", task_states(second)
    pull = xcom(second, "pull")
    assert pull["committed"] is True and pull["output_path"].startswith(f"file://{tmp}/output/")
    changes_dir = Path(pull["output_path"].removeprefix("file://"))
    assert changes_dir.parent != snapshot_dir.parent  # one folder per run
    assert (changes_dir / "_SUCCESS").exists()
    lines = [json.loads(line) for f in sorted(changes_dir.glob("part-*.ndjson")) for line in f.open()]
    by_codename = {(r["codename"], r["change_type"]) for r in lines if r["kind"] == "item"}
    assert by_codename == {("news", "changed"), ("second", "deleted")}
    news = next(r for r in lines if r["codename"] == "news")
    assert news["content"]["item"]["elements"]["title"]["value"] == "News"


def test_filtered_dag_keeps_only_matching_items(example_env, fresh_variables):
    env_id, ctl = example_env["id"], example_env["ctl"]
    dag = load_dag("kontent_sync_filtered")

    first = run_dag(dag)
    assert first.state == "success", task_states(first)
    assert xcom(first, "init")["filters"] == {
        "system.type[in]": "article,blog_post",
        "system.collection": "default",
        "language": "en-US",
    }

    ctl.upsert_item(env_id, "first", "article", "en-US", elements={"title": "kept: article"})
    ctl.upsert_item(env_id, "news", "blog_post", "en-US", elements={"title": "kept: blog post"})
    ctl.upsert_item(env_id, "first", "article", "de", elements={"title": "dropped: German"})
    ctl.upsert_item(env_id, "contact", "page", "en-US", elements={"title": "dropped: page"})
    ctl.upsert_item(
        env_id, "promo", "article", "en-US", collection="marketing", elements={"title": "dropped"}
    )

    second = run_dag(dag)
    assert second.state == "success", task_states(second)
    kept = xcom(second, "report")
    assert sorted((r["codename"], r["language"]) for r in kept) == [("first", "en-US"), ("news", "en-US")]
    assert xcom(second, "pull")["skipped"] == 3


@pytest.fixture
def postgres_mirror(example_env, monkeypatch):
    """``kontent_mirror`` pointed at a PostgreSQL database of this test's own (after ``example_env``)."""
    from tests.transfers.conftest import _postgres_target

    yield from _postgres_target(monkeypatch)


def test_the_same_dag_mirrors_into_postgresql_when_the_connection_points_there(
    example_env, postgres_mirror, airflow_db
):
    env_id, ctl = example_env["id"], example_env["ctl"]
    dag = load_dag("kontent_sync_to_sqlite")
    first = run_dag(dag)
    assert first.state == "success", task_states(first)
    ctl.upsert_item(env_id, "first", "article", "en-US", elements={"title": "First, edited"})
    second = run_dag(dag)
    assert second.state == "success", task_states(second)
    assert postgres_mirror.query('SELECT codename, language FROM "kontent_items" ORDER BY 1, 2') == [
        ("about", "en-US"),
        ("first", "de"),
        ("first", "en-US"),
        ("second", "en-US"),
    ]
    titles = postgres_mirror.query(
        'SELECT codename, language, title FROM "kontent_type_article" ORDER BY 1, 2'
    )
    assert titles == [
        ("first", "de", "Erste"),
        ("first", "en-US", "First, edited"),
        ("second", "en-US", "Second"),
    ]
    ((token,),) = postgres_mirror.query('SELECT token FROM "kontent_sync_state"')
    assert token == xcom(second, "pull")["next_token"]
    ((elements,),) = postgres_mirror.query(
        "SELECT elements FROM \"kontent_items\" WHERE codename = 'first' AND language = 'en-US'"
    )
    assert elements["title"]["value"] == "First, edited"  # JSONB: a real JSON value
