"""End to end: a pull with ``include_content`` under a URL limit of exactly the URL of 12 ids, or one
character less.

The emulator refuses (414) any URL over its limit, and the task's client gets the same limit through
``hook_params``: the content batches must hold exactly 12 ids (or 11: one more would be one character
over) and none may be refused. A fits-check off by one towards "longer" fails the task with the 414
Kontent.ai would send; one off towards "shorter" shows up as batches of 11 at the exact limit.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.dag_runner import run_dag
from tests.operators.conftest import FAILURES, START, db_variable, remember_failure, set_db_variable

SUMMARIES: list[dict[str, Any]] = []


@pytest.mark.parametrize(
    ("under", "expected"), [(0, [12, 12, 6]), (1, [11, 11, 8])], ids=["at_limit", "one_under"]
)
def test_pull_content_batches_fill_the_emulators_exact_url_limit(
    airflow_db, kontent_emulator, kontent_conn, under, expected
):
    from airflow.sdk import DAG, task

    from airflow_provider_kontent.client import ClientConfig, EntityKind, KontentClient
    from airflow_provider_kontent.client.content import prepared_url_length
    from airflow_provider_kontent.operators.sync_pull import KontentSyncPullOperator
    from airflow_provider_kontent.tokens import TokenRecord

    SUMMARIES.clear()
    FAILURES.clear()
    env_id = kontent_conn["id"]
    ctl = kontent_emulator.control
    key = f"kontent_url_limit_{env_id}"
    count = 30
    with KontentClient(ClientConfig(env_id, base_url=kontent_emulator.base_url)) as client:
        token = client.init_sync()
        ctl.generate_changes(env_id, count)
        ids = [d.id for page in client.iter_pages(token) for d in page.deltas if d.kind is EntityKind.ITEM]
        twelve = prepared_url_length(client.protocol.items_by_id_request("en-US", ids[:12]))
    limit = twelve - under
    ctl.update_environment(env_id, url_max_length=limit, url_too_long_status=414)
    set_db_variable(
        key, TokenRecord.new(token, environment_id=env_id, mode="public", api_version=2).to_dict()
    )

    with DAG(
        f"kontent_pull_url_limit_{under}",
        schedule=None,
        start_date=START,
        default_args={"retries": 0, "on_failure_callback": remember_failure},
    ) as dag:
        pull = KontentSyncPullOperator(
            task_id="pull", variable_key=key, include_content=True, hook_params={"url_max_length": limit}
        )

        @task
        def capture(summary: dict[str, Any]) -> None:
            SUMMARIES.append(summary)

        capture(pull.output)

    ctl.clear_requests()
    dr = run_dag(dag)
    assert dr.state == "success", FAILURES
    logged = [r for r in ctl.requests(env_id) if r["path"].endswith("/items")]
    assert [r["status"] for r in logged] == [200, 200, 200]
    sizes = sorted((len(r["query"]["system.id[in]"].split(",")) for r in logged), reverse=True)
    assert sizes == expected, f"URL limit {limit}; the URL of 12 ids has {twelve} characters"
    summary = SUMMARIES[-1]
    assert summary["content_requests"] == 3 and summary["content_missing"] == 0
    assert all(r["content"]["item"]["system"]["id"] == r["id"] for r in summary["records"])
    assert summary["committed"] is True and db_variable(key)["token"] == summary["next_token"]
