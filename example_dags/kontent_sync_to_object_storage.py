"""Kontent.ai sync delivered as NDJSON files to object storage, for teams that load with other tools.

Each run writes one folder under ``KONTENT_OUTPUT_URL``::

    <output>/<run>/snapshot/...   first run only: the whole environment (one record per line)
    <output>/<run>/changes/...    the run's deltas, with the full content of changed item variants

The pull writes ``part-NNNNN.ndjson`` files and, last, a ``_SUCCESS`` manifest (files, line counts,
counts per kind), so a folder is complete only once ``_SUCCESS`` exists: downstream tools (Spark,
DuckDB, Snowpipe, ...) should pick up only such folders. The token moves only after the files are
complete, so a failed run is delivered again next time (at-least-once); records carry
``id``/``language``/``timestamp`` so consumers can de-duplicate.

Configuration:

* connection ``kontent_default``;
* ``KONTENT_OUTPUT_URL`` (environment variable): any ``ObjectStoragePath`` URL, default
  ``file://$AIRFLOW_HOME/kontent/output``. For S3 use e.g. ``s3://aws_default@my-bucket/kontent``
  (needs ``apache-airflow-providers-amazon[s3fs]``; ``aws_default`` is the AWS connection id);
* the token lives in the Airflow Variable ``kontent_sync_cursor__kontent_default__files`` (a Variable,
  not the asset store, to show the other persistent choice; see the README for the trade-offs);
* ``KONTENT_SENSOR_TIMEOUT`` / ``KONTENT_SENSOR_POKE_INTERVAL`` (environment variables, seconds).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import DAG

from airflow_provider_kontent.operators.sync_init import KontentSyncInitOperator
from airflow_provider_kontent.operators.sync_pull import KontentSyncPullOperator
from airflow_provider_kontent.sensors.sync import KontentSyncSensor

CONN_ID = "kontent_default"
AIRFLOW_HOME = os.environ.get("AIRFLOW_HOME", str(Path.home() / "airflow"))
OUTPUT_URL = os.environ.get("KONTENT_OUTPUT_URL", f"file://{AIRFLOW_HOME}/kontent/output").rstrip("/")
SENSOR_TIMEOUT = float(os.environ.get("KONTENT_SENSOR_TIMEOUT", 10 * 60))
SENSOR_POKE_INTERVAL = float(os.environ.get("KONTENT_SENSOR_POKE_INTERVAL", 60))
TOKEN_LOCATION: dict[str, Any] = {
    "token_store": "variable",
    "variable_key": f"kontent_sync_cursor__{CONN_ID}__files",
}
RUN_FOLDER = "{{ run_id | replace(':', '') | replace('+', '_') }}"

with DAG(
    dag_id="kontent_sync_to_object_storage",
    description="Kontent.ai sync delivered as NDJSON files per run (Sync API v2, at-least-once)",
    schedule=timedelta(minutes=15),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=1)},
    tags=["kontent", "example"],
    doc_md=__doc__,
) as dag:
    init = KontentSyncInitOperator(
        task_id="init",
        kontent_conn_id=CONN_ID,
        **TOKEN_LOCATION,
        snapshot=True,
        snapshot_path=f"{OUTPUT_URL}/{RUN_FOLDER}/snapshot",
    )

    wait_for_changes = KontentSyncSensor(
        task_id="wait_for_changes",
        kontent_conn_id=CONN_ID,
        **TOKEN_LOCATION,
        poke_interval=SENSOR_POKE_INTERVAL,
        timeout=SENSOR_TIMEOUT,
        deferrable=True,  # waits in the triggerer, no worker slot (README: choosing how the sensor waits)
        soft_fail=True,  # skips only when nothing changed before the timeout; real errors fail
    )

    pull = KontentSyncPullOperator(
        task_id="pull",
        kontent_conn_id=CONN_ID,
        **TOKEN_LOCATION,
        include_content=True,
        output_path=f"{OUTPUT_URL}/{RUN_FOLDER}/changes",
        # The files (and their _SUCCESS manifest) are complete before the token moves, so committing in
        # the pull is already at-least-once: if the commit fails, the next run delivers them again.
        commit_token=True,
    )

    init >> wait_for_changes >> pull
