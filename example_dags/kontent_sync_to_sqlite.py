"""Reference incremental ETL: mirror a Kontent.ai environment into SQLite, or PostgreSQL, exactly once.

    init ─> route ─┬─> load_snapshot ─────┬─> pull ─> load_changes ─> clean_staging
                   └─> wait_for_changes ──┘

* ``init`` starts the sync once and exports a snapshot until a load confirms it; ``route`` loads that
  snapshot (and goes straight on, so the run confirms it) or, without one, waits for changes.
* ``pull`` stages the changes (full content) as NDJSON, or in XCom; ``load_changes`` applies them, re-reads what
  they make stale, and advances the token in the same transaction: the token lives in the destination
  (``token_store="sql"``), so a failed or concurrent load changes nothing and the next run catches up.
* ``load_*`` also keep one typed table per content type (``kontent_type_<codename>``).

Configuration: connections ``kontent_default`` (Kontent.ai) and ``kontent_mirror`` (the destination:
``sqlite:////abs/path/kontent.sqlite`` or ``postgresql://user:password@host:5432/db``; another id with
``KONTENT_SQL_CONN_ID``); ``KONTENT_STAGING_URL`` (NDJSON staging, any ObjectStoragePath URL, default
``file://$AIRFLOW_HOME/kontent/staging``; empty or ``xcom``: records in XCom, for workers sharing no disk);
``KONTENT_SCHEDULE_MINUTES`` (15); ``KONTENT_SENSOR_TIMEOUT`` / ``KONTENT_SENSOR_POKE_INTERVAL``.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import DAG, ObjectStoragePath, task

from airflow_provider_kontent.operators.sync_init import KontentSyncInitOperator
from airflow_provider_kontent.operators.sync_pull import KontentSyncPullOperator
from airflow_provider_kontent.sensors.sync import KontentSyncSensor
from airflow_provider_kontent.transfers.kontent_to_sql import KontentToSqlOperator

SQL_CONN_ID = os.environ.get("KONTENT_SQL_CONN_ID", "kontent_mirror")
AIRFLOW_HOME = os.environ.get("AIRFLOW_HOME", str(Path.home() / "airflow"))
STAGING_URL = os.environ.get("KONTENT_STAGING_URL", f"file://{AIRFLOW_HOME}/kontent/staging").rstrip("/")
# One staging folder per run (run ids contain ':' and '+', which some object stores dislike); none: XCom.
RUN_FOLDER = (
    f"{STAGING_URL}/{{{{ run_id | replace(':', '') | replace('+', '_') }}}}"
    if STAGING_URL.lower() not in ("", "xcom")
    else None
)
# Every Kontent task reads and writes the token in the destination's kontent_sync_state table.
SYNC = {"kontent_conn_id": "kontent_default", "token_store": "sql", "sql_conn_id": SQL_CONN_ID}
LOAD = {**SYNC, "typed_tables": True}

with DAG(
    dag_id="kontent_sync_to_sqlite",
    description="Incremental Kontent.ai -> SQL mirror (Sync API v2, token in the destination)",
    schedule=timedelta(minutes=float(os.environ.get("KONTENT_SCHEDULE_MINUTES", 15))),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=1)},
    tags=["kontent", "example"],
    doc_md=__doc__,
) as dag:
    init = KontentSyncInitOperator(
        task_id="init", **SYNC, snapshot=True, snapshot_path=RUN_FOLDER and f"{RUN_FOLDER}/snapshot"
    )

    @task.branch
    def route(init_result: dict[str, Any]) -> str:
        """A snapshot run loads it and pulls at once: waiting could time out and leave it unconfirmed."""
        return "load_snapshot" if (init_result or {}).get("snapshot") else "wait_for_changes"

    load_snapshot = KontentToSqlOperator(task_id="load_snapshot", source=init.output, **LOAD)
    wait_for_changes = KontentSyncSensor(
        task_id="wait_for_changes",
        **SYNC,
        poke_interval=float(os.environ.get("KONTENT_SENSOR_POKE_INTERVAL", 60)),
        timeout=float(os.environ.get("KONTENT_SENSOR_TIMEOUT", 10 * 60)),
        deferrable=True,  # waits in the triggerer, no worker slot (README: choosing how the sensor waits)
        soft_fail=True,  # no changes before the timeout: nothing to do this run
    )
    pull = KontentSyncPullOperator(
        task_id="pull",
        **SYNC,
        include_content=True,
        output_path=RUN_FOLDER and f"{RUN_FOLDER}/changes",
        commit_token=False,  # load_changes advances the token in its own transaction
        trigger_rule="none_failed_min_one_success",  # after whichever branch ran
    )
    load_changes = KontentToSqlOperator(task_id="load_changes", source=pull.output, **LOAD)

    @task(trigger_rule="none_failed")
    def clean_staging(folder: str | None) -> None:
        """Delete this run's staged NDJSON once loaded; after a failure it stays for inspection."""
        path = ObjectStoragePath(folder) if folder else None  # None: staged in XCom, nothing to delete
        if path is not None and path.exists():
            path.fs.rm(path.path, recursive=True)

    route(init.output) >> [load_snapshot, wait_for_changes] >> pull >> load_changes
    load_changes >> clean_staging(RUN_FOLDER)
