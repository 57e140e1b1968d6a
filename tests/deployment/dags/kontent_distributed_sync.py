"""The reference sync shaped for workers that share no disk: Kontent.ai -> PostgreSQL.

::

    init -> wait_for_changes (deferrable) -> pull (records in XCom) -> load (PostgreSQL) -> commit (pool)

Every hand-off between tasks goes through the metadata database (XCom) or the destination database,
so consecutive tasks may run on different Celery workers. ``commit`` runs in the pool
``KONTENT_COMMIT_POOL`` (one slot) so no two commits of a sync interleave their read-compare-write.

Two DAGs: ``kontent_distributed_sync`` (on a schedule, ``max_active_runs=1``, the recommended setup) and
``kontent_distributed_sync_overlapping`` (manual, ``max_active_runs=2``, a misconfiguration the tests use
to release two runs against one token; its own Variable). Settings (environment, read at parse time):
``KONTENT_SCHEDULE_SECONDS``, ``KONTENT_SENSOR_TIMEOUT``, ``KONTENT_RETRY_DELAY``, ``KONTENT_COMMIT_POOL``;
the destination is the connection ``kontent_mirror`` (a PostgreSQL database with ``content_items``).
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_kontent.operators.sync_commit import KontentSyncCommitOperator
from airflow_provider_kontent.operators.sync_init import KontentSyncInitOperator
from airflow_provider_kontent.operators.sync_pull import KontentSyncPullOperator
from airflow_provider_kontent.sensors.sync import KontentSyncSensor

CONN_ID = "kontent_default"
MIRROR_CONN_ID = "kontent_mirror"
SCHEDULE = timedelta(seconds=float(os.environ.get("KONTENT_SCHEDULE_SECONDS", 300)))
SENSOR_TIMEOUT = float(os.environ.get("KONTENT_SENSOR_TIMEOUT", 600))
RETRY_DELAY = timedelta(seconds=float(os.environ.get("KONTENT_RETRY_DELAY", 60)))
COMMIT_POOL = os.environ.get("KONTENT_COMMIT_POOL", "default_pool")


def load_into_postgres(pull_summary: dict[str, Any], run_id: str) -> dict[str, int]:
    """Upsert changed item variants and delete deleted ones in one transaction (idempotent)."""
    import json

    from airflow.providers.postgres.hooks.postgres import PostgresHook

    counts = {"upserted": 0, "deleted": 0, "missing": 0}
    conn = PostgresHook(postgres_conn_id=MIRROR_CONN_ID).get_conn()
    try:
        cur = conn.cursor()
        cur.execute("SELECT set_config('application_name', %s, false)", (f"kontent_load {run_id}"[:63],))
        for record in pull_summary.get("records") or []:
            if record.get("kind") != "item":
                continue
            key = (record["id"], record["language"])
            if record.get("change_type") == "deleted":
                cur.execute("DELETE FROM content_items WHERE id = %s AND language = %s", key)
                counts["deleted"] += 1
            elif record.get("content"):
                item = record["content"]["item"]
                cur.execute("DELETE FROM content_items WHERE id = %s AND language = %s", key)
                cur.execute(
                    "INSERT INTO content_items (id, language, codename, elements, loaded_by)"
                    " VALUES (%s, %s, %s, %s, %s)",
                    (*key, item["system"]["codename"], json.dumps(item["elements"], sort_keys=True), run_id),
                )
                counts["upserted"] += 1
            else:
                counts["missing"] += 1
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        conn.close()
    return counts


def build(dag_id: str, *, schedule: Any, max_active_runs: int, variable_key: str | None) -> DAG:
    token = {"token_store": "variable", "variable_key": variable_key} if variable_key else {}
    with DAG(
        dag_id=dag_id,
        schedule=schedule,
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        catchup=False,
        max_active_runs=max_active_runs,
        default_args={"retries": 3, "retry_delay": RETRY_DELAY},
        tags=["kontent", "test"],
    ) as dag:
        init = KontentSyncInitOperator(task_id="init", kontent_conn_id=CONN_ID, **token)
        wait = KontentSyncSensor(
            task_id="wait_for_changes",
            kontent_conn_id=CONN_ID,
            **token,
            deferrable=True,
            poke_interval=1,
            timeout=SENSOR_TIMEOUT,
            soft_fail=True,
        )
        pull = KontentSyncPullOperator(
            task_id="pull", kontent_conn_id=CONN_ID, **token, include_content=True, commit_token=False
        )

        @task
        def load(pull_summary: dict[str, Any], run_id: str | None = None) -> dict[str, int]:
            return load_into_postgres(pull_summary, run_id or "")

        commit = KontentSyncCommitOperator(
            task_id="commit", kontent_conn_id=CONN_ID, **token, pull_task_id="pull", pool=COMMIT_POOL
        )
        init >> wait >> pull
        load(pull.output) >> commit
    return dag


scheduled = build("kontent_distributed_sync", schedule=SCHEDULE, max_active_runs=1, variable_key=None)
overlapping = build(
    "kontent_distributed_sync_overlapping",
    schedule=None,
    max_active_runs=2,
    variable_key="kontent_sync_cursor__overlapping",
)
