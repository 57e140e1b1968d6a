"""A ``file://`` staging path is refused at task start under a distributed executor (no shared disk)."""

from __future__ import annotations

import pytest

from airflow_provider_kontent.operators.base import as_storage_path
from airflow_provider_kontent.staging import LocalStagingError, distributed_executors


@pytest.mark.parametrize("url", ["file:///tmp/kontent/staging/run1", "/tmp/kontent/staging/run1"])
def test_local_path_under_celery_is_refused_with_an_explanation(monkeypatch, url):
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor")
    with pytest.raises(LocalStagingError) as err:
        as_storage_path(url, what="output_path", where="connection 'kontent_default': ")
    text = str(err.value)
    assert text.startswith("connection 'kontent_default': output_path ")
    assert "local disk" in text and "CeleryExecutor" in text and "XCom" in text
    assert "shared_local_staging" in text


def test_what_passes(monkeypatch):
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "LocalExecutor")
    assert as_storage_path("file:///tmp/kontent/x", what="snapshot_path") is not None
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "LocalExecutor,my_company.executors.KubeExecutor")
    assert distributed_executors() == ["KubeExecutor"]
    with pytest.raises(LocalStagingError, match="snapshot_path"):
        as_storage_path("file:///tmp/kontent/x", what="snapshot_path")
    # storage every worker reaches, and a file system all workers mount (declared), are fine
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "celery:airflow.providers.celery.executors.CeleryExecutor")
    assert distributed_executors() == ["CeleryExecutor"]
    assert as_storage_path("memory://bucket/kontent/x") is not None
    monkeypatch.setenv("AIRFLOW__KONTENT__SHARED_LOCAL_STAGING", "True")
    assert as_storage_path("file:///mnt/nfs/kontent/x") is not None
    assert as_storage_path(None) is None


def test_a_pull_under_a_distributed_executor_fails_at_start_and_commits_nothing(
    airflow_db, kontent_emulator, kontent_conn, tmp_path, monkeypatch
):
    """The check as a task meets it: a real ``dag.test()`` run, the executor read from the config."""
    from airflow.sdk import DAG

    from airflow_provider_kontent.operators.sync_init import KontentSyncInitOperator
    from airflow_provider_kontent.operators.sync_pull import KontentSyncPullOperator
    from tests.dag_runner import run_dag
    from tests.operators.conftest import FAILURES, START, db_variable, remember_failure

    FAILURES.clear()
    with DAG("kontent_local_staging_refused", schedule=None, start_date=START) as dag:
        init = KontentSyncInitOperator(task_id="init", variable_key="kontent_staging_check")
        pull = KontentSyncPullOperator(
            task_id="pull",
            variable_key="kontent_staging_check",
            output_path=f"file://{tmp_path}/staging/",
            on_failure_callback=remember_failure,
        )
        init >> pull
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor")
    kontent_emulator.control.upsert_item(kontent_conn["id"], "a", "article", "en-US", elements={"title": "A"})
    dr = run_dag(dag)
    assert dr.get_task_instance("pull").state == "failed"
    assert FAILURES["pull"].startswith("LocalStagingError") and "CeleryExecutor" in FAILURES["pull"]
    assert not (tmp_path / "staging").exists()  # nothing staged, and the token did not move:
    assert (
        db_variable("kontent_staging_check")["token"]
        == dr.get_task_instance("init").xcom_pull("init")["token"]
    )
    FAILURES.clear()
