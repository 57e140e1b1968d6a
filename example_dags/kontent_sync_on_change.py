"""Event-driven sync: run the moment Kontent.ai content changes, with a fallback timetable.

::

    [KontentChangesEventTrigger] --asset event--> init -> load_snapshot -> pull -> load_changes -> commit
    [fallback cron, every 6 h]   --------------->

* The DAG is scheduled on ``kontent_changes_asset(CONN_ID)``: an ``Asset`` whose ``AssetWatcher`` runs
  ``KontentChangesEventTrigger`` in the triggerer. The trigger reads the token record the tasks below
  keep in the Variable ``kontent_sync_cursor__kontent_default`` and looks ahead with ``GET /sync``; when
  changes are pending that it has not reported yet, it yields one event and Airflow starts a run. While
  that run is queued or running the same changes do not fire again; changes made meanwhile start at most
  one further run (``max_active_runs=1``). See the trigger's docstring for why this never misses a change.
* ``AssetOrTimeSchedule`` also runs the DAG on ``KONTENT_FALLBACK_CRON`` (default every 6 hours): the
  safety net for a run that failed (its changes were already reported) and the first initialization when
  nobody triggers the DAG by hand. A wake-up is only a hint: every run pulls from the stored token.
* ``init`` is idempotent; the first time it stores a token and exports a snapshot of every item variant
  (in XCom, no shared disk), which ``load_snapshot`` (a ``KontentToSqlOperator``) loads; without a
  snapshot that task does nothing. ``pull`` drains the Sync API from the stored token with full content
  (records in XCom) and does not commit; ``load_changes`` applies them (one transaction, idempotent).
  ``commit`` then moves the token and confirms the snapshot (compare-and-set): at-least-once delivery.
  The token stays in the Variable (``token_store="variable"``) because the trigger reads it there, so
  the loads do not advance it (the reference ``kontent_sync_to_sqlite`` keeps it in the destination).
* The tables are the operator's (``kontent_items``, ``kontent_load_log``, ...; README "Loading into SQL");
  add ``typed_tables=True`` for one table per content type.

Configuration (environment variables, read when the DAG is parsed):

* connections ``kontent_default`` (Kontent.ai) and ``kontent_mirror`` (the destination, e.g.
  ``sqlite:////abs/path/kontent.sqlite`` or ``postgresql://...``; another id with ``KONTENT_SQL_CONN_ID``);
* ``KONTENT_WATCH_POLL_INTERVAL``: seconds between the trigger's polls (default 60; Kontent rate-limits,
  keep it well above a second in production);
* ``KONTENT_FALLBACK_CRON``: the fallback schedule (default ``0 */6 * * *``, UTC);
* ``KONTENT_RETRY_DELAY``: seconds between task retries (default 60).
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import DAG, AssetOrTimeSchedule, CronTriggerTimetable

from airflow_provider_kontent.operators.sync_commit import KontentSyncCommitOperator
from airflow_provider_kontent.operators.sync_init import KontentSyncInitOperator
from airflow_provider_kontent.operators.sync_pull import KontentSyncPullOperator
from airflow_provider_kontent.transfers.kontent_to_sql import KontentToSqlOperator
from airflow_provider_kontent.triggers.changes import kontent_changes_asset

CONN_ID = "kontent_default"
SQL_CONN_ID = os.environ.get("KONTENT_SQL_CONN_ID", "kontent_mirror")
POLL_INTERVAL = float(os.environ.get("KONTENT_WATCH_POLL_INTERVAL", 60))
FALLBACK_CRON = os.environ.get("KONTENT_FALLBACK_CRON", "0 */6 * * *")
RETRY_DELAY = float(os.environ.get("KONTENT_RETRY_DELAY", 60))

kontent_changes = kontent_changes_asset(CONN_ID, poll_interval=POLL_INTERVAL)

with DAG(
    dag_id="kontent_sync_on_change",
    description="Kontent.ai -> SQL mirror, started by content changes (AssetWatcher) or a fallback timetable",
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
    load_snapshot = KontentToSqlOperator(
        task_id="load_snapshot", kontent_conn_id=CONN_ID, source=init.output, sql_conn_id=SQL_CONN_ID
    )
    pull = KontentSyncPullOperator(
        task_id="pull", kontent_conn_id=CONN_ID, include_content=True, commit_token=False
    )
    load_changes = KontentToSqlOperator(
        task_id="load_changes", kontent_conn_id=CONN_ID, source=pull.output, sql_conn_id=SQL_CONN_ID
    )
    commit = KontentSyncCommitOperator(task_id="commit", kontent_conn_id=CONN_ID, pull_task_id="pull")

    load_snapshot >> pull >> load_changes >> commit
