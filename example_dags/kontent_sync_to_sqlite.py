"""Reference incremental ETL: mirror a Kontent.ai environment into a local SQLite database.

Flow of one run (``max_active_runs=1``, so two runs never race for the same continuation token)::

                   ┌─> load_snapshot ────┐
    init ─> route ─┤                     ├─> pull ─> load_changes ─> commit_token ─> clean_staging
                   └─> wait_for_changes ─┘

* ``init`` is idempotent: it calls ``POST /sync/init`` only when no token is stored yet, and on that
  first run also writes a snapshot of every item variant (taken *after* init, so nothing changed in
  between is lost: those changes come again as deltas and are upserted idempotently). Until a commit
  confirms that snapshot (the stored token record says ``snapshot_pending``), every init exports it again.
* ``route`` picks one path: ``load_snapshot`` when init exported a snapshot, else ``wait_for_changes``.
* ``load_snapshot`` loads the snapshot plus every type, taxonomy group and language, then the run goes
  straight on to ``pull`` without waiting for changes: the pull may find none, but the run must reach
  ``commit_token``, which confirms the snapshot. Were a sensor timeout to skip the commit, every later
  run would re-export the whole environment until the first change arrives.
* ``wait_for_changes`` (runs without a snapshot) asks the Sync API (GET only, never stores a token)
  whether anything changed. Nothing within ``KONTENT_SENSOR_TIMEOUT`` seconds -> the sensor soft-fails
  and the rest of the run is skipped.
* ``pull`` (trigger rule ``none_failed_min_one_success``: it follows whichever path ran) pages the
  Sync API to the end, fetches the full content of every changed item variant and writes NDJSON
  files; it does NOT commit the new token (``commit_token=False``). A failed snapshot load fails it
  upstream, so nothing after it runs and nothing is committed.
* ``load_changes`` upserts changed variants and deletes deleted ones in one SQLite transaction. Sync
  reports only the object that changed, so in the same transaction it re-reads from the items-feed
  the variants that depend on it: every item of a changed type (renamed type or element), of a type
  bound to a changed taxonomy group (renamed term), every variant of a new or re-activated language,
  and the parents of a changed rich-text component (a component is never stored as an item). The
  rows of a deactivated language are deleted.
* ``commit_token`` stores the pull's new token only now (and clears ``snapshot_pending``; a pull that
  found nothing still confirms the snapshot). A failure before this point replays the same changes
  (and the snapshot) next run: at-least-once delivery, made harmless by idempotent upserts.
* ``clean_staging`` removes the run's NDJSON files (also on runs the sensor skipped; kept after a failure).

Configuration (all optional except the connection):

* connection ``kontent_default`` (see the README for the fields);
* ``KONTENT_ENVIRONMENT_ID`` (environment variable, read when the DAG is parsed): keeps the token in the
  Airflow asset state store of ``kontent://<environment id>/sync``; without it the token lives in the
  Variable ``kontent_sync_cursor__kontent_default``;
* ``KONTENT_SQLITE_PATH`` (Airflow Variable or environment variable): the database file, default
  ``$AIRFLOW_HOME/kontent/kontent.sqlite``;
* ``KONTENT_STAGING_URL`` (environment variable): where NDJSON files are staged, any ObjectStoragePath URL,
  default ``file://$AIRFLOW_HOME/kontent/staging``;
* ``KONTENT_SENSOR_TIMEOUT`` / ``KONTENT_SENSOR_POKE_INTERVAL`` (environment variables, seconds).
"""

from __future__ import annotations

import os
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_kontent.operators.sync_commit import KontentSyncCommitOperator
from airflow_provider_kontent.operators.sync_init import KontentSyncInitOperator
from airflow_provider_kontent.operators.sync_pull import KontentSyncPullOperator
from airflow_provider_kontent.sensors.sync import KontentSyncSensor
from airflow_provider_kontent.tokens import kontent_sync_asset

CONN_ID = "kontent_default"
AIRFLOW_HOME = os.environ.get("AIRFLOW_HOME", str(Path.home() / "airflow"))
ENVIRONMENT_ID = os.environ.get("KONTENT_ENVIRONMENT_ID", "").strip()
STAGING_URL = os.environ.get("KONTENT_STAGING_URL", f"file://{AIRFLOW_HOME}/kontent/staging").rstrip("/")
SENSOR_TIMEOUT = float(os.environ.get("KONTENT_SENSOR_TIMEOUT", 10 * 60))
SENSOR_POKE_INTERVAL = float(os.environ.get("KONTENT_SENSOR_POKE_INTERVAL", 60))

# Where the continuation token lives. The asset store is per environment and survives across runs;
# all four Kontent tasks must point at the same place.
if ENVIRONMENT_ID:
    TOKEN_LOCATION: dict[str, Any] = {"token_store": "asset", "asset": kontent_sync_asset(ENVIRONMENT_ID)}
else:
    TOKEN_LOCATION = {"token_store": "variable"}

# One staging folder per run; run ids contain ':' and '+', which some object stores dislike.
RUN_FOLDER = "{{ run_id | replace(':', '') | replace('+', '_') }}"


def sqlite_path() -> str:
    """Resolve the database path at run time (Variable first, then env, then the default)."""
    from airflow.sdk import Variable

    return (
        Variable.get("KONTENT_SQLITE_PATH", default=None)
        or os.environ.get("KONTENT_SQLITE_PATH")
        or f"{AIRFLOW_HOME}/kontent/kontent.sqlite"
    )


def staged_records(output: dict[str, Any] | None):
    """Records written by init (snapshot) or pull: from its NDJSON files, else from its XCom list."""
    from airflow.sdk import ObjectStoragePath
    from kontent_sqlite_loader import read_ndjson

    if not output:
        return iter(())
    files = output.get("files") or []
    if files:
        return read_ndjson(ObjectStoragePath(f) for f in files)
    return iter(output.get("records") or [])


with DAG(
    dag_id="kontent_sync_to_sqlite",
    description="Incremental Kontent.ai -> SQLite mirror (Sync API v2, at-least-once)",
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
        snapshot_path=f"{STAGING_URL}/{RUN_FOLDER}/snapshot",
    )

    wait_for_changes = KontentSyncSensor(
        task_id="wait_for_changes",
        kontent_conn_id=CONN_ID,
        **TOKEN_LOCATION,
        poke_interval=SENSOR_POKE_INTERVAL,
        timeout=SENSOR_TIMEOUT,
        mode="reschedule",
        soft_fail=True,  # no changes before the timeout = nothing to do this run, not an error
    )

    pull = KontentSyncPullOperator(
        task_id="pull",
        kontent_conn_id=CONN_ID,
        **TOKEN_LOCATION,
        include_content=True,
        output_path=f"{STAGING_URL}/{RUN_FOLDER}/changes",
        commit_token=False,
        # Runs after load_snapshot or after wait_for_changes, whichever path route chose; skipped when
        # the sensor timed out (every upstream skipped), upstream_failed when the snapshot load failed.
        trigger_rule="none_failed_min_one_success",
    )

    @task.branch
    def route(init_result: dict[str, Any]) -> str:
        """Load a snapshot and pull at once, or wait for changes when there is no snapshot this run.

        A snapshot run must not wait: without changes the sensor would time out and skip the commit,
        leaving the snapshot unconfirmed, so the next run would export the whole environment again.
        """
        if (init_result or {}).get("snapshot"):
            return "load_snapshot"
        return "wait_for_changes"

    @task
    def load_snapshot(init_result: dict[str, Any], run_id: str | None = None) -> dict[str, Any]:
        """Load the snapshot's items plus the content model (init exports one until a commit confirms it)."""
        from itertools import chain

        from kontent_sqlite_loader import apply_records, connect, model_records

        from airflow_provider_kontent.hooks.kontent import KontentHook

        snapshot = (init_result or {}).get("snapshot")
        if not snapshot:  # route only picks this task when there is a snapshot; kept as a safety net
            return {"loaded": False, "reason": "token already stored; no snapshot this run"}
        # The snapshot holds item variants only; types, taxonomies and languages come from the
        # Delivery API list endpoints (later changes to them arrive as deltas).
        with KontentHook(CONN_ID).get_conn() as client:
            model = model_records(client.list_types(), client.list_taxonomies(), client.list_languages())
        with closing(connect(sqlite_path())) as conn:
            # prune_items: a re-exported snapshot (init retries until the first commit) is the whole
            # truth, so rows it no longer holds go.
            result = apply_records(
                conn,
                chain(staged_records(snapshot), model),
                load_run=run_id or "",
                source="snapshot",
                prune_items=True,
            )
        return {"loaded": True, **result.to_dict()}

    @task
    def load_changes(pull_summary: dict[str, Any], run_id: str | None = None) -> dict[str, Any]:
        """Upsert changed item variants, delete deleted ones, mirror types/taxonomies/languages, and
        re-read the items that depend on a changed type, taxonomy group, language or component."""
        from kontent_sqlite_loader import DependentRefresh, apply_records, connect, with_model_content

        from airflow_provider_kontent.hooks.kontent import KontentHook

        records = staged_records(pull_summary)
        counts = pull_summary.get("counts") or {}
        with KontentHook(CONN_ID).get_conn() as client, closing(connect(sqlite_path())) as conn:
            types: list[dict[str, Any]] = []
            if (counts.get("types") or {}).get("changed") or (counts.get("taxonomies") or {}).get("changed"):
                # Sync v2 type/taxonomy deltas carry only their system block: fetch the full definitions.
                types = client.list_types()
                records = with_model_content(records, types, client.list_taxonomies())
            result = apply_records(
                conn,
                records,
                load_run=run_id or "",
                source="delta",
                next_token=pull_summary.get("next_token"),
                refresh=DependentRefresh(client, types=types),
            )
        return result.to_dict()

    commit_token = KontentSyncCommitOperator(
        task_id="commit_token",
        kontent_conn_id=CONN_ID,
        **TOKEN_LOCATION,
        pull_task_id="pull",
    )

    @task(trigger_rule="none_failed")
    def clean_staging(folder: str) -> None:
        """Delete this run's staged NDJSON once loaded; after a failure it stays for inspection."""
        from airflow.sdk import ObjectStoragePath

        path = ObjectStoragePath(folder)
        if path.exists():
            path.fs.rm(path.path, recursive=True)

    # Exactly one of load_snapshot / wait_for_changes runs, so the first run never pulls deltas into an
    # empty mirror and the load tasks never write the database concurrently.
    route(init.output) >> [load_snapshot(init.output), wait_for_changes] >> pull
    changes_loaded = load_changes(pull.output)
    changes_loaded >> commit_token >> clean_staging(f"{STAGING_URL}/{RUN_FOLDER}")
