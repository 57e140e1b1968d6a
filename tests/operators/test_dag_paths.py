"""``dag.test()`` runs for the less common paths: reinitialize/snapshot, mismatch and size-guard
failures, and dynamic task mapping over two environments."""

from __future__ import annotations

from typing import Any

import pytest

from tests.dag_runner import run_dag
from tests.operators.conftest import (
    FAILURES,
    START,
    connection_json,
    db_variable,
    remember_failure,
    set_db_variable,
)

CAPTURED: list[dict[str, Any]] = []


@pytest.fixture(autouse=True)
def _reset():
    CAPTURED.clear()
    FAILURES.clear()
    yield
    CAPTURED.clear()
    FAILURES.clear()


def test_reinitialize_and_snapshot(airflow_db, kontent_emulator, kontent_conn, tmp_path):
    from airflow.sdk import DAG, get_current_context, task

    from airflow_provider_kontent.handoff import iter_ndjson
    from airflow_provider_kontent.operators.sync_init import KontentSyncInitOperator

    env_id = kontent_conn["id"]
    ctl = kontent_emulator.control
    ctl.upsert_item(env_id, "old_article", "article", "en-US", elements={"title": "Old"})
    ctl.upsert_item(env_id, "old_blog", "blog", "en-US", elements={"title": "Blog"})
    ctl.upsert_item(env_id, "draft", "article", "en-US", elements={"title": "Draft"}, publish=False)

    with DAG("kontent_init_paths", schedule=None, start_date=START) as dag:
        snap = KontentSyncInitOperator(
            task_id="snap",
            variable_key="kontent_paths_a",
            snapshot=True,
            snapshot_path=f"file://{tmp_path}/snap/{{{{ run_id }}}}/",
        )
        snap_xcom = KontentSyncInitOperator(
            task_id="snap_xcom",
            variable_key="kontent_paths_b",
            snapshot=True,
            filters={"system.type": "article"},
        )
        reinit = KontentSyncInitOperator(task_id="reinit", variable_key="kontent_paths_a", reinitialize=True)

        @task
        def capture() -> None:
            ti = get_current_context()["ti"]
            CAPTURED.append({t: ti.xcom_pull(task_ids=t) for t in ("snap", "snap_xcom", "reinit")})

        snap >> reinit >> capture()
        snap_xcom >> reinit

    dr = run_dag(dag)
    assert dr.state == "success"
    first = CAPTURED[-1]
    assert first["snap"]["initialized"] is True
    files = first["snap"]["snapshot"]["files"]
    from airflow.sdk import ObjectStoragePath

    records = [r for f in files for r in iter_ndjson(ObjectStoragePath(f))]
    assert sorted(r["codename"] for r in records) == ["old_article", "old_blog"]  # published items only
    assert all(r["raw_change_type"] == "snapshot" and r["content"]["item"]["elements"] for r in records)
    assert (tmp_path / "snap").exists() and list((tmp_path / "snap").glob("*/_SUCCESS"))
    xcom_snapshot = first["snap_xcom"]["snapshot"]
    assert [r["codename"] for r in xcom_snapshot["records"]] == ["old_article"]  # filters apply
    assert first["reinit"]["initialized"] is True
    assert first["reinit"]["token"] != first["snap"]["token"]
    assert db_variable("kontent_paths_a")["token"] == first["reinit"]["token"]

    dr = run_dag(dag)
    assert dr.state == "success"
    second = CAPTURED[-1]
    assert second["snap"]["initialized"] is False and second["snap"]["snapshot"] is None
    assert second["snap"]["token"] == first["reinit"]["token"]  # kept, not re-initialized
    assert second["snap_xcom"]["token"] == first["snap_xcom"]["token"]
    # no commit confirmed that snapshot yet, so it is exported again with the kept token
    assert second["snap_xcom"]["initialized"] is False and second["snap_xcom"]["snapshot_pending"] is True
    assert [r["codename"] for r in second["snap_xcom"]["snapshot"]["records"]] == ["old_article"]
    assert second["reinit"]["initialized"] is True and second["reinit"]["token"] != first["reinit"]["token"]


def test_mismatch_and_xcom_size_guard_fail_without_moving_tokens(airflow_db, kontent_emulator, kontent_conn):
    from airflow.sdk import DAG

    from airflow_provider_kontent.client import ClientConfig, KontentClient
    from airflow_provider_kontent.operators.sync_pull import KontentSyncPullOperator
    from airflow_provider_kontent.sensors.sync import KontentSyncSensor
    from airflow_provider_kontent.tokens import TokenRecord

    env_id = kontent_conn["id"]
    ctl = kontent_emulator.control
    with KontentClient(ClientConfig(env_id, base_url=kontent_emulator.base_url)) as client:
        token = client.init_sync()
    for i in range(5):
        ctl.upsert_item(env_id, f"item{i}", "article", "en-US", elements={"title": "x" * 100})
    good = TokenRecord.new(token, environment_id=env_id, mode="public", api_version=2).to_dict()
    other_env = TokenRecord.new(
        token, environment_id="11111111-2222-3333-4444-555555555555", mode="public", api_version=2
    ).to_dict()
    preview = TokenRecord.new(token, environment_id=env_id, mode="preview", api_version=2).to_dict()
    set_db_variable("kontent_guard", good)
    set_db_variable("kontent_other_env", other_env)
    set_db_variable("kontent_preview", preview)

    with DAG(
        "kontent_failures",
        schedule=None,
        start_date=START,
        default_args={"on_failure_callback": remember_failure},
    ) as dag:
        KontentSyncPullOperator(task_id="guard", variable_key="kontent_guard", max_xcom_bytes=500)
        KontentSyncPullOperator(task_id="other_env", variable_key="kontent_other_env")
        KontentSyncSensor(task_id="wrong_mode", variable_key="kontent_preview", timeout=5, poke_interval=1)
        KontentSyncPullOperator(task_id="missing", variable_key="kontent_nothing_here")

    dr = run_dag(dag)
    assert dr.state == "failed"
    assert {ti.task_id: ti.state for ti in dr.get_task_instances()} == {
        "guard": "failed",
        "other_env": "failed",
        "wrong_mode": "failed",
        "missing": "failed",
    }
    assert FAILURES["guard"].startswith("KontentTaskFailure") and "max_xcom_bytes=500" in FAILURES["guard"]
    assert "output_path" in FAILURES["guard"]
    assert FAILURES["other_env"].startswith("TokenMismatchError") and "environment" in FAILURES["other_env"]
    assert (
        FAILURES["wrong_mode"].startswith("TokenMismatchError") and "mode 'preview'" in FAILURES["wrong_mode"]
    )
    assert FAILURES["missing"].startswith("TokenNotFoundError")
    assert db_variable("kontent_guard")["token"] == token  # nothing committed


def test_mapped_over_two_environments(airflow_db, monkeypatch, kontent_emulator, kontent_conn):
    from airflow.sdk import DAG, get_current_context, task

    from airflow_provider_kontent.operators.sync_commit import KontentSyncCommitOperator
    from airflow_provider_kontent.operators.sync_init import KontentSyncInitOperator
    from airflow_provider_kontent.operators.sync_pull import KontentSyncPullOperator

    ctl = kontent_emulator.control
    env_a = kontent_conn
    env_b = ctl.create_environment()
    ctl.upsert_type(env_b["id"], "article", elements={"title": {"type": "text", "name": "Title"}})
    monkeypatch.setenv("AIRFLOW_CONN_KONTENT_A", connection_json(kontent_emulator.base_url, env_a))
    monkeypatch.setenv("AIRFLOW_CONN_KONTENT_B", connection_json(kontent_emulator.base_url, env_b))
    conns = ["kontent_a", "kontent_b"]

    with DAG("kontent_mapped", schedule=None, start_date=START) as dag:
        init = KontentSyncInitOperator.partial(task_id="init").expand(kontent_conn_id=conns)
        pulled = KontentSyncPullOperator.partial(task_id="pull", commit_token=False).expand(
            kontent_conn_id=conns
        )
        commit = KontentSyncCommitOperator.partial(task_id="commit").expand(kontent_conn_id=conns)

        @task
        def capture(summaries: Any) -> None:
            CAPTURED.append({"summaries": list(summaries), "ti": get_current_context()["ti"].task_id})

        init >> pulled >> commit
        capture(pulled.output)

    dr = run_dag(dag)
    assert dr.state == "success"
    assert all(s["kept"] == 0 for s in CAPTURED[-1]["summaries"])
    ctl.upsert_item(env_a["id"], "only_in_a", "article", "en-US", elements={"title": "A"})
    ctl.upsert_item(env_b["id"], "only_in_b", "article", "en-US", elements={"title": "B"})
    ctl.upsert_item(env_b["id"], "also_b", "article", "en-US", elements={"title": "B2"})

    dr = run_dag(dag)
    assert dr.state == "success"
    summaries = CAPTURED[-1]["summaries"]
    by_env = {s["environment_id"]: s for s in summaries}
    assert {r["codename"] for r in by_env[env_a["id"]]["records"]} == {"only_in_a"}
    assert {r["codename"] for r in by_env[env_b["id"]]["records"]} == {"only_in_b", "also_b"}
    for conn, env in zip(conns, (env_a, env_b), strict=True):
        stored = db_variable(f"kontent_sync_cursor__{conn}")
        assert stored["environment_id"] == env["id"]
        assert stored["token"] == by_env[env["id"]]["next_token"]  # each mapped commit took its own pull


def test_retry_after_a_commit_that_did_not_finish_redelivers(airflow_db, kontent_emulator, kontent_conn):
    """A pull attempt that committed and then died is retried from the token it started from.

    Its output never reached anyone (the task failed), so the retry must deliver those changes again
    instead of pulling from the token the dead attempt stored.
    """
    from datetime import timedelta

    from airflow.sdk import DAG, get_current_context, task

    from airflow_provider_kontent.client import ClientConfig, KontentClient
    from airflow_provider_kontent.operators.sync_pull import KontentSyncPullOperator
    from airflow_provider_kontent.tokens import TokenRecord

    class PullDiesAfterCommit(KontentSyncPullOperator):
        def _emit_asset_event(self, context: Any, summary: dict[str, Any]) -> None:
            if context["ti"].try_number == 1:
                FAILURES["pull"] = summary["next_token"]
                raise RuntimeError("worker lost right after the commit")
            super()._emit_asset_event(context, summary)

    env_id = kontent_conn["id"]
    ctl = kontent_emulator.control
    with KontentClient(ClientConfig(env_id, base_url=kontent_emulator.base_url)) as client:
        token = client.init_sync()
    set_db_variable(
        "kontent_retry", TokenRecord.new(token, environment_id=env_id, mode="public", api_version=2).to_dict()
    )
    ctl.upsert_item(env_id, "a", "article", "en-US", elements={"title": "A"})
    ctl.upsert_item(env_id, "b", "article", "en-US", elements={"title": "B"})

    with DAG("kontent_retry_after_commit", schedule=None, start_date=START) as dag:
        pull = PullDiesAfterCommit(
            task_id="pull", variable_key="kontent_retry", retries=1, retry_delay=timedelta(0)
        )

        @task
        def capture(summary: dict[str, Any]) -> None:
            CAPTURED.append({"summary": summary, "try": get_current_context()["ti"].try_number})

        capture(pull.output)

    dr = run_dag(dag)
    assert dr.state == "success"
    assert dr.get_task_instance("pull").try_number == 2
    first_commit = FAILURES["pull"]  # what the dead attempt stored
    summary = CAPTURED[-1]["summary"]
    assert summary["previous_token"] == token  # not first_commit: nothing is skipped
    assert {r["codename"] for r in summary["records"]} == {"a", "b"}
    assert summary["committed"] is True
    stored = db_variable("kontent_retry")["token"]
    assert stored == summary["next_token"] and stored != token
    assert first_commit != token
