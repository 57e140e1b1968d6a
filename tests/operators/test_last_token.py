"""The token kept is the last response's: after a drain, the store holds the ``X-Continuation`` that
Kontent sent with the last (empty) ``GET /sync`` response, read from the emulator's request log.

Comparing the stored token with the pull's summary cannot catch a pull that keeps the wrong token (the
summary would carry the same wrong one), so these tests compare with what went over the wire. Every
emulator token is distinct (it carries a nonce), so the token of the last page with changes and the
token of the empty page after it can be told apart.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.dag_runner import run_dag
from tests.operators.conftest import START, db_variable, set_db_variable

SUMMARIES: list[dict[str, Any]] = []


@pytest.fixture(autouse=True)
def _reset():
    SUMMARIES.clear()
    yield
    SUMMARIES.clear()


def _sync_responses(control: Any, env_id: str) -> list[dict[str, Any]]:
    return [r for r in control.requests(env_id) if r["method"] == "GET" and r["path"].endswith("/sync")]


@pytest.mark.parametrize("commit_token", [True, False], ids=["pull_commits", "commit_task_commits"])
def test_stored_token_is_the_x_continuation_of_the_last_empty_response(
    airflow_db, kontent_emulator, kontent_conn, commit_token
):
    from airflow.sdk import DAG, task

    from airflow_provider_kontent.client import ClientConfig, KontentClient
    from airflow_provider_kontent.operators.sync_commit import KontentSyncCommitOperator
    from airflow_provider_kontent.operators.sync_pull import KontentSyncPullOperator
    from airflow_provider_kontent.tokens import TokenRecord

    env_id = kontent_conn["id"]
    ctl = kontent_emulator.control
    ctl.update_environment(env_id, page_size=2)  # five changes: pages of 2, 2 and 1, then an empty one
    key = f"kontent_last_token_{commit_token}"
    with KontentClient(ClientConfig(env_id, base_url=kontent_emulator.base_url)) as client:
        token = client.init_sync()
    set_db_variable(
        key, TokenRecord.new(token, environment_id=env_id, mode="public", api_version=2).to_dict()
    )
    for i in range(5):
        ctl.upsert_item(env_id, f"item{i}", "article", "en-US", elements={"title": f"T{i}"})
    ctl.clear_requests()

    with DAG(f"kontent_last_token_{commit_token}", schedule=None, start_date=START) as dag:
        pull = KontentSyncPullOperator(task_id="pull", variable_key=key, commit_token=commit_token)

        @task
        def capture(summary: dict[str, Any]) -> None:
            SUMMARIES.append(summary)

        done = capture(pull.output)
        if not commit_token:
            done >> KontentSyncCommitOperator(task_id="commit", variable_key=key)

    dr = run_dag(dag)
    assert dr.state == "success"

    responses = _sync_responses(ctl, env_id)
    assert [r["status"] for r in responses] == [200, 200, 200, 200], responses
    assert responses[0]["headers"]["X-Continuation"] == token
    # each request continued from the previous response's token
    for before, after in zip(responses, responses[1:], strict=False):
        assert after["headers"]["X-Continuation"] == before["response_headers"]["X-Continuation"]
    last_token = responses[-1]["response_headers"]["X-Continuation"]
    before_last = responses[-2]["response_headers"]["X-Continuation"]
    assert last_token != before_last  # the empty page answered with a token of its own

    stored = db_variable(key)["token"]
    assert stored == last_token, (
        f"the store holds ...{stored[-12:]}, not the X-Continuation of the last (empty) response "
        f"...{last_token[-12:]} (the one before it was ...{before_last[-12:]})"
    )
    assert SUMMARIES[-1]["pages"] == 4 and SUMMARIES[-1]["kept"] == 5
    assert SUMMARIES[-1]["next_token"] == last_token
