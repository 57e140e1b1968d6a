"""What a failure does to a task: fail at once when no retry can help, retry when one can, never skip.

Real ``dag.test()`` runs against the emulator: the number of task attempts comes from Airflow's own
task instance (``try_number``) and the number of HTTP requests from the emulator's request log.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from tests.dag_runner import run_dag
from tests.operators.conftest import FAILURES, START, connection_json, remember_failure, set_db_variable


@pytest.fixture(autouse=True)
def _reset():
    FAILURES.clear()
    yield
    FAILURES.clear()


def _store_token(env_id: str, base_url: str, key: str, *, mode: str = "public", api_key: str | None = None):
    from airflow_provider_kontent.client import ClientConfig, KontentClient
    from airflow_provider_kontent.tokens import TokenRecord

    with KontentClient(ClientConfig(env_id, mode=mode, api_key=api_key, base_url=base_url)) as client:
        token = client.init_sync()
    set_db_variable(key, TokenRecord.new(token, environment_id=env_id, mode=mode, api_version=2).to_dict())
    return token


def _sync_requests(ctl: Any, env_id: str) -> list[dict[str, Any]]:
    return [r for r in ctl.requests(env_id) if r["path"].endswith("/sync")]


def _run_task(dag_id: str, make_task: Callable[[], Any]) -> Any:
    """Run a one-task DAG (failures remembered in ``FAILURES``); its task instance afterwards."""
    from airflow.sdk import DAG

    with DAG(
        dag_id, schedule=None, start_date=START, default_args={"on_failure_callback": remember_failure}
    ) as dag:
        task = make_task()
    return run_dag(dag).get_task_instance(task.task_id)


def _secure_connection(monkeypatch: Any, kontent_emulator: Any, name: str, key: str | None = None) -> dict:
    """A secure-access environment, its token in Variable ``name`` and connection ``name`` using ``key``
    (default: the right key)."""
    env = kontent_emulator.control.create_environment(secure_access=True)
    _store_token(env["id"], kontent_emulator.base_url, name, mode="secure", api_key=env["secure_key"])
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{name.upper()}",
        connection_json(kontent_emulator.base_url, env, mode="secure", key=key or env["secure_key"]),
    )
    return env


RETRIES = {"retries": 3, "retry_delay": timedelta(0)}


def test_a_wrong_key_fails_once_without_retries(airflow_db, monkeypatch, kontent_emulator):
    from airflow_provider_kontent.operators.sync_pull import KontentSyncPullOperator

    ctl = kontent_emulator.control
    env = _secure_connection(monkeypatch, kontent_emulator, "kontent_wrong_key", key="not-the-key")
    ctl.clear_requests()
    ti = _run_task(
        "kontent_wrong_key",
        lambda: KontentSyncPullOperator(
            task_id="pull", kontent_conn_id="kontent_wrong_key", variable_key="kontent_wrong_key", **RETRIES
        ),
    )
    assert ti.state == "failed"
    assert ti.try_number == 1  # no task retries
    assert len(_sync_requests(ctl, env["id"])) == 1  # and no client retries of a 401
    assert FAILURES["pull"].startswith("KontentTaskFailure")
    assert "HTTP 401" in FAILURES["pull"] and "connection 'kontent_wrong_key'" in FAILURES["pull"]
    assert "not-the-key" not in FAILURES["pull"]


def test_a_persisting_503_is_retried_by_airflow(airflow_db, monkeypatch, kontent_emulator, kontent_env):
    from airflow_provider_kontent.operators.sync_pull import KontentSyncPullOperator

    ctl = kontent_emulator.control
    env_id = kontent_env["id"]
    _store_token(env_id, kontent_emulator.base_url, "kontent_503")
    # one client attempt per task attempt, so every request in the log is one Airflow attempt
    monkeypatch.setenv(
        "AIRFLOW_CONN_KONTENT_DEFAULT",
        connection_json(kontent_emulator.base_url, kontent_env, max_attempts=1),
    )
    ctl.clear_requests()
    ctl.inject_fault("status", times=100, status=503, path=r"/sync$", env_id=env_id)
    try:
        ti = _run_task(
            "kontent_persisting_503",
            lambda: KontentSyncPullOperator(task_id="pull", variable_key="kontent_503", **RETRIES),
        )
    finally:
        ctl.clear_faults()
    assert ti.state == "failed"
    assert ti.try_number == 4  # the first attempt and three retries
    assert len(_sync_requests(ctl, env_id)) == 4
    assert FAILURES["pull"].startswith("KontentServerError") and "HTTP 503" in FAILURES["pull"]


@pytest.mark.parametrize(
    "sensor_args",
    [{"mode": "poke"}, {"mode": "reschedule"}, {"deferrable": True}],
    ids=["poke", "reschedule", "deferrable"],
)
def test_a_token_problem_fails_the_sensor_even_with_soft_fail(
    airflow_db, kontent_emulator, kontent_conn, sensor_args
):
    """A record of another environment must fail the run, not end it green with nothing synced."""
    from airflow_provider_kontent.sensors.sync import KontentSyncSensor
    from airflow_provider_kontent.tokens import TokenRecord

    other = TokenRecord.new(
        "tok", environment_id="11111111-2222-3333-4444-555555555555", mode="public", api_version=2
    )
    set_db_variable("kontent_sensor_other_env", other.to_dict())
    ti = _run_task(
        f"kontent_sensor_mismatch_{next(iter(sensor_args.values()))}",
        lambda: KontentSyncSensor(
            task_id="wait",
            variable_key="kontent_sensor_other_env",
            soft_fail=True,
            poke_interval=1,
            timeout=30,
            **RETRIES,
            **sensor_args,
        ),
    )
    assert ti.state == "failed", ti.state
    assert ti.try_number == 1
    assert FAILURES["wait"].startswith("TokenMismatchError")
    assert "Variable 'kontent_sensor_other_env'" in FAILURES["wait"]


def test_a_key_revoked_while_deferred_fails_the_sensor_even_with_soft_fail(
    airflow_db, monkeypatch, kontent_emulator, edit_on_first_poll
):
    """The trigger's error event for a revoked key fails the task when it resumes; soft_fail does not
    hide it."""
    from airflow_provider_kontent.sensors.sync import KontentSyncSensor

    env = _secure_connection(monkeypatch, kontent_emulator, "kontent_revoked")
    sensor = {"kontent_conn_id": "kontent_revoked", "variable_key": "kontent_revoked", "poke_interval": 0.2}
    # the sensor's own first look finds nothing and defers; then the key is revoked under the trigger
    with edit_on_first_poll(env["id"], lambda control: control.revoke_key(env["id"], "secure")):
        ti = _run_task(
            "kontent_sensor_revoked",
            lambda: KontentSyncSensor(
                task_id="wait", deferrable=True, soft_fail=True, timeout=60, **sensor, **RETRIES
            ),
        )
    assert ti.state == "failed", ti.state
    assert ti.try_number == 1
    assert FAILURES["wait"].startswith("KontentTaskFailure"), FAILURES["wait"]
    assert "HTTP 403" in FAILURES["wait"] and "revoked" in FAILURES["wait"]
    assert env["secure_key"] not in FAILURES["wait"]


def test_only_the_timeout_soft_fails(airflow_db, kontent_emulator, kontent_conn):
    """The control case: nothing changes before the timeout, and soft_fail skips as documented."""
    from airflow.sdk import DAG

    from airflow_provider_kontent.sensors.sync import KontentSyncSensor

    _store_token(kontent_conn["id"], kontent_emulator.base_url, "kontent_sensor_quiet")
    with DAG("kontent_sensor_quiet", schedule=None, start_date=START) as dag:
        KontentSyncSensor(
            task_id="wait",
            variable_key="kontent_sensor_quiet",
            soft_fail=True,
            poke_interval=0.2,
            timeout=0.5,
        )
    dr = run_dag(dag)
    assert dr.get_task_instance("wait").state == "skipped"


def test_a_v1_init_fails_once_saying_v1_was_retired(airflow_db, kontent_emulator, kontent_conn):
    from airflow_provider_kontent.operators.sync_init import KontentSyncInitOperator

    ctl = kontent_emulator.control
    ctl.clear_requests()
    ti = _run_task(
        "kontent_v1_retired",
        lambda: KontentSyncInitOperator(
            task_id="init", variable_key="kontent_v1_retired", api_version=1, **RETRIES
        ),
    )
    assert ti.state == "failed" and ti.try_number == 1
    assert FAILURES["init"].startswith("KontentTaskFailure")
    assert "retired by Kontent.ai on 2026-01-05" in FAILURES["init"] and "api_version=2" in FAILURES["init"]
    assert len([r for r in ctl.requests(kontent_conn["id"]) if "/sync" in r["path"]]) == 1
