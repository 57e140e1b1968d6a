"""A real ``dag.test()`` pull with content: the request budget is visible in the summary and the log,
a 429 is honoured, and the connection's budget reaches the client."""

from __future__ import annotations

import json
from typing import Any

from tests.dag_runner import run_dag
from tests.operators.conftest import START

CAPTURED: dict[str, Any] = {}


def test_pull_reports_requests_and_limiter_wait(
    airflow_db, monkeypatch, kontent_emulator, kontent_conn, capfd
):
    from airflow.models import Variable
    from airflow.sdk import DAG, task

    from airflow_provider_kontent.client import ClientConfig, KontentClient
    from airflow_provider_kontent.operators.sync_pull import KontentSyncPullOperator
    from airflow_provider_kontent.tokens import TokenRecord

    env_id = kontent_conn["id"]
    ctl = kontent_emulator.control
    conn = {
        "conn_type": "kontent",
        "host": kontent_emulator.base_url,
        "extra": {"environment_id": env_id, "rate_limit_per_second": 40, "rate_limit_per_minute": 1500},
    }
    monkeypatch.setenv("AIRFLOW_CONN_KONTENT_BUDGETED", json.dumps(conn))
    with KontentClient(ClientConfig(env_id, base_url=kontent_emulator.base_url)) as client:
        token = client.init_sync()
    Variable.set(
        "kontent_budget_token",
        TokenRecord.new(token, environment_id=env_id, mode="public", api_version=2).to_dict(),
        serialize_json=True,
    )
    ctl.generate_changes(env_id, 120, type="article")
    ctl.clear_requests()
    # the first Sync page is answered 429: nothing else is in flight yet, so every later request
    # must arrive at least Retry-After (1 s) after it
    ctl.inject_fault("status", times=1, path=r"/sync$", status=429, retry_after=1)

    with DAG("kontent_pull_budget", schedule=None, start_date=START) as dag:
        pulled = KontentSyncPullOperator(
            task_id="pull",
            kontent_conn_id="kontent_budgeted",
            variable_key="kontent_budget_token",
            include_content=True,
            commit_token=False,
        )

        @task
        def capture(summary: Any) -> None:
            CAPTURED["summary"] = summary

        capture(pulled.output)

    assert run_dag(dag).state == "success"
    summary = CAPTURED["summary"]
    logged = ctl.requests(env_id)
    assert summary["requests"] == len(logged)  # every attempt, the 429 included
    assert summary["content_requests"] == 3 and summary["throttled"] == 1  # 120 ids: 3 URL-filled batches
    assert summary["requests"] == summary["pages"] + summary["content_requests"] + 1
    assert isinstance(summary["rate_limit_wait_seconds"], float) and summary["seconds"] >= 1.0
    assert summary["malformed_skipped"] == 0 and len(summary["records"]) == 120
    assert all(r["content"] is not None for r in summary["records"])
    after_429 = [r["time"] for r in logged if r["status"] == 429][0]
    assert [r["status"] for r in logged].count(429) == 1
    assert all(r["time"] - after_429 >= 0.95 for r in logged if r["status"] != 429)
    task_log = capfd.readouterr().out  # dag.test() prints the task's log
    assert "waiting on the rate limit (budget 40/s, 1500/min for this environment)" in task_log
    assert "1 answered 429 (rate lowered, Retry-After honoured)" in task_log
