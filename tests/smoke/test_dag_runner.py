"""The dag.test() wiring itself works: a two-task DAG runs and passes an XCom."""

from __future__ import annotations

import pendulum

from tests.dag_runner import run_dag


def test_inline_dag_runs(airflow_db):
    from airflow.sdk import DAG, task

    with DAG("smoke_inline", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")) as dag:

        @task
        def produce() -> int:
            return 41

        @task
        def consume(value: int) -> int:
            return value + 1

        consume(produce())

    dr = run_dag(dag)
    assert dr.state == "success"
    ti = next(t for t in dr.get_task_instances() if t.task_id == "consume")
    assert ti.state == "success"
