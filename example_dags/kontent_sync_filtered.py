"""Sync v1-style filters on Sync API v2: only English articles and blog posts of the default collection.

Sync API v1 let ``POST /sync/init`` scope a sync with ``system.type``, ``system.collection`` and
``language``. v1 was shut down on 2026-01-05 and v2 takes no filters: it always reports every change
of the environment. The provider keeps the v1 filter syntax and applies it on the worker instead:

* ``filters`` uses the v1 query syntax: ``system.type`` / ``system.collection`` with ``=``, ``[eq]``,
  ``[neq]``, ``[in]`` and ``[nin]`` (comma-separated lists), and ``language`` with ``=`` only;
* with ``api_version=2`` every delta is still read (the token must move past all of them) but only
  matching item deltas are kept (type, taxonomy and language deltas always pass); the pull's summary
  says how many were ``kept`` and ``skipped``;
* with ``api_version=1`` (legacy environments, and the bundled emulator) the same dict is sent to
  ``/sync/init`` as query parameters and Kontent filters on the server;
* the filters are saved in the token record. On v2 you may change them later: the operators log a
  warning and the new filters apply from then on (changes the old filters skipped are not delivered
  again). On v1 they are part of the server-side token, so a change fails loudly: start over with
  ``KontentSyncInitOperator(reinitialize=True)``.

Matching uses each delta's own metadata: an item moved out of the collection simply stops appearing
(no delete is delivered for it, as in v1), so consumers that must see such moves should sync unfiltered.

This DAG keeps its token in the Variable ``kontent_sync_cursor__kontent_default__articles`` and hands the
(small) filtered result to the next task through XCom.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_kontent.operators.sync_init import KontentSyncInitOperator
from airflow_provider_kontent.operators.sync_pull import KontentSyncPullOperator

CONN_ID = "kontent_default"
FILTERS = {
    "system.type[in]": "article,blog_post",
    "system.collection": "default",
    "language": "en-US",
}
TOKEN_LOCATION: dict[str, Any] = {
    "token_store": "variable",
    "variable_key": f"kontent_sync_cursor__{CONN_ID}__articles",
}

with DAG(
    dag_id="kontent_sync_filtered",
    description="English articles and blog posts only: v1-style filters on Sync API v2",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["kontent", "example"],
    doc_md=__doc__,
) as dag:
    init = KontentSyncInitOperator(
        task_id="init",
        kontent_conn_id=CONN_ID,
        **TOKEN_LOCATION,
        api_version=2,
        filters=FILTERS,
    )

    pull = KontentSyncPullOperator(
        task_id="pull",
        kontent_conn_id=CONN_ID,
        **TOKEN_LOCATION,
        api_version=2,
        filters=FILTERS,
        include_content=True,
        commit_token=True,  # nothing downstream can fail and lose data: commit as part of the pull
    )

    @task
    def report(pull_summary: dict[str, Any]) -> list[dict[str, Any]]:
        """Stand-in for your consumer: list what the filter kept."""
        kept = [
            {
                "id": r.get("id"),
                "language": r.get("language"),
                "codename": r.get("codename"),
                "type": r.get("type"),
                "change_type": r.get("change_type"),
            }
            for r in pull_summary.get("records") or []
        ]
        print(f"kept {pull_summary.get('kept')} of {pull_summary.get('deltas')} deltas: {kept}")
        return kept

    init >> pull
    report(pull.output)
