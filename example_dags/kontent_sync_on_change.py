"""Event-driven sync: run the moment Kontent.ai content changes, with a fallback timetable.

::

    [KontentChangesEventTrigger in the triggerer] --asset event--> init -> pull -> load -> commit
    [fallback cron, e.g. every 6 hours]           --------------->

* The DAG is scheduled on ``kontent_changes_asset(CONN_ID)``: an ``Asset`` whose ``AssetWatcher`` runs
  ``KontentChangesEventTrigger`` in the triggerer. The trigger reads the token record the tasks below
  keep in the Variable ``kontent_sync_cursor__kontent_default`` and looks ahead with ``GET /sync``; when
  changes are pending that it has not reported yet, it yields one event and Airflow starts a run. While
  that run is queued or running the same changes do not fire again; changes made meanwhile start at most
  one further run (``max_active_runs=1``). See the trigger's docstring for why this never misses a change.
* ``AssetOrTimeSchedule`` also runs the DAG on ``KONTENT_FALLBACK_CRON`` (default every 6 hours): the
  safety net for a run that failed (its changes were already reported) and the first initialization when
  nobody triggers the DAG by hand. A wake-up is only a hint: every run pulls from the stored token.
* ``init`` is idempotent; the first time it stores a token and exports a snapshot of every item variant.
* ``pull`` drains the Sync API from the stored token with full content (records in XCom, no shared disk)
  and does not commit. ``load`` upserts changed item variants and deletes deleted ones in SQLite (one
  transaction, idempotent). ``commit`` then moves the token (compare-and-set): at-least-once delivery.
* ``load`` is one self-contained task on purpose: swap it for any loader (a SQL transfer operator, a
  warehouse load) without touching the rest.

Configuration (environment variables, read when the DAG is parsed, except the database path):

* connection ``kontent_default``;
* ``KONTENT_WATCH_POLL_INTERVAL``: seconds between the trigger's polls (default 60; Kontent rate-limits,
  keep it well above a second in production);
* ``KONTENT_FALLBACK_CRON``: the fallback schedule (default ``0 */6 * * *``, UTC);
* ``KONTENT_RETRY_DELAY``: seconds between task retries (default 60);
* ``KONTENT_SQLITE_PATH`` (read at run time): the database, default ``$AIRFLOW_HOME/kontent/on_change.sqlite``.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import DAG, AssetOrTimeSchedule, CronTriggerTimetable, task

from airflow_provider_kontent.operators.sync_commit import KontentSyncCommitOperator
from airflow_provider_kontent.operators.sync_init import KontentSyncInitOperator
from airflow_provider_kontent.operators.sync_pull import KontentSyncPullOperator
from airflow_provider_kontent.triggers.changes import kontent_changes_asset

CONN_ID = "kontent_default"
POLL_INTERVAL = float(os.environ.get("KONTENT_WATCH_POLL_INTERVAL", 60))
FALLBACK_CRON = os.environ.get("KONTENT_FALLBACK_CRON", "0 */6 * * *")
RETRY_DELAY = float(os.environ.get("KONTENT_RETRY_DELAY", 60))

kontent_changes = kontent_changes_asset(CONN_ID, poll_interval=POLL_INTERVAL)


def sqlite_path() -> str:
    home = os.environ.get("AIRFLOW_HOME", str(Path.home() / "airflow"))
    return os.environ.get("KONTENT_SQLITE_PATH") or f"{home}/kontent/on_change.sqlite"


with DAG(
    dag_id="kontent_sync_on_change",
    description="Kontent.ai -> SQLite, started by content changes (AssetWatcher) or a fallback timetable",
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable(FALLBACK_CRON, timezone="UTC"), assets=kontent_changes
    ),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(seconds=RETRY_DELAY)},
    tags=["kontent", "example"],
    doc_md=__doc__,
) as dag:
    init = KontentSyncInitOperator(task_id="init", kontent_conn_id=CONN_ID, snapshot=True)
    pull = KontentSyncPullOperator(
        task_id="pull", kontent_conn_id=CONN_ID, include_content=True, commit_token=False
    )

    @task
    def load(init_result: dict[str, Any], pull_summary: dict[str, Any], run_id: str | None = None) -> dict:
        """The load step: the init's snapshot (first run) and the pulled changes into SQLite, idempotently."""
        import json
        import sqlite3
        from contextlib import closing

        snapshot = (init_result or {}).get("snapshot") or {}
        records = [*(snapshot.get("records") or []), *((pull_summary or {}).get("records") or [])]
        path = Path(sqlite_path())
        path.parent.mkdir(parents=True, exist_ok=True)
        counts = {"upserted": 0, "deleted": 0, "missing": 0, "other": 0}
        with closing(sqlite3.connect(path, timeout=30)) as conn, conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS content_items (id TEXT, language TEXT, codename TEXT, type TEXT,"
                " elements TEXT, last_modified TEXT, loaded_by TEXT, PRIMARY KEY (id, language))"
            )
            conn.execute(
                "CREATE TABLE IF NOT EXISTS sync_loads (run_id TEXT, kind TEXT, id TEXT, language TEXT,"
                " change_type TEXT, timestamp TEXT, loaded_at TEXT DEFAULT CURRENT_TIMESTAMP)"
            )
            for record in records:
                conn.execute(
                    "INSERT INTO sync_loads (run_id, kind, id, language, change_type, timestamp)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (run_id, record.get("kind"), record.get("id"), record.get("language"),
                     record.get("change_type"), record.get("timestamp")),
                )  # fmt: skip
                if record.get("kind") != "item":
                    counts["other"] += 1
                elif record.get("change_type") == "deleted":
                    conn.execute(
                        "DELETE FROM content_items WHERE id = ? AND language = ?",
                        (record["id"], record["language"]),
                    )
                    counts["deleted"] += 1
                elif record.get("content"):
                    item = record["content"]["item"]
                    conn.execute(
                        "INSERT OR REPLACE INTO content_items VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (record["id"], record["language"], item["system"].get("codename"),
                         item["system"].get("type"), json.dumps(item.get("elements"), sort_keys=True),
                         item["system"].get("last_modified"), run_id),
                    )  # fmt: skip
                    counts["upserted"] += 1
                else:  # not fetchable now (unpublished meanwhile): its next change or deletion follows
                    counts["missing"] += 1
        return {"records": len(records), **counts}

    commit = KontentSyncCommitOperator(task_id="commit", kontent_conn_id=CONN_ID, pull_task_id="pull")

    loaded = load(init.output, pull.output)
    init >> pull >> loaded >> commit
