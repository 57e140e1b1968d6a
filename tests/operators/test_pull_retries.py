"""Retries of a committing pull, closing the HTTP session, and errors that name the connection.

The retry tests run real ``dag.test()`` attempts against the emulator: attempts crash at chosen points
(right after the commit, right before it) through small subclasses, and the last attempt must still
deliver every change since the token the *first* attempt started from.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from airflow_provider_kontent.operators.sync_pull import PullCheckpoint
from tests.dag_runner import run_dag
from tests.operators.conftest import (
    FAILURES,
    START,
    connection_json,
    db_variable,
    remember_failure,
    set_db_variable,
)

SEEN: dict[str, Any] = {}
CLIENTS: list[tuple[str, Any]] = []


@pytest.fixture(autouse=True)
def _reset():
    for holder in (SEEN, CLIENTS, FAILURES):
        holder.clear()
    yield
    for holder in (SEEN, CLIENTS, FAILURES):
        holder.clear()


def _init_token(kontent_emulator: Any, env_id: str, key: str) -> str:
    from airflow_provider_kontent.client import ClientConfig, KontentClient
    from airflow_provider_kontent.tokens import TokenRecord

    with KontentClient(ClientConfig(env_id, base_url=kontent_emulator.base_url)) as client:
        token = client.init_sync()
    set_db_variable(
        key, TokenRecord.new(token, environment_id=env_id, mode="public", api_version=2).to_dict()
    )
    return token


# --- the checkpoint on its own: what each attempt records and where the next one starts ----------------


def test_checkpoint_keeps_the_first_drain_start_over_two_crashes():
    # attempt 1 drains T0 -> T1, records, commits T1, dies
    first = PullCheckpoint.next(None, "T0", "T1")
    assert first.to_state() == {"drain_from": "T0", "commit_candidates": ["T1"]}
    # attempt 2 sees the store at T1: a candidate, so it drains from T0 again (to T1b), records, dies
    assert first.holds("T1")
    second = PullCheckpoint.next(PullCheckpoint.from_state(first.to_state()), first.drain_from, "T1b")
    # attempt 3 still sees the store at T1 (attempt 2 never committed): it must start from T0 again
    third = PullCheckpoint.from_state(second.to_state())
    assert third is not None and third.drain_from == "T0"
    assert third.holds("T1") and third.holds("T1b") and not third.holds("T0")
    # the same token again adds nothing; a different start (the store was moved by someone else) resets
    assert PullCheckpoint.next(third, "T0", "T1") == third
    assert PullCheckpoint.next(third, "X", "Y").to_state() == {"drain_from": "X", "commit_candidates": ["Y"]}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"previous_token": "T0", "next_token": "T1"}, ("T0", ("T1",))),  # what earlier versions stored
        ({"drain_from": "T0", "commit_candidates": ["T1", None, "T2"]}, ("T0", ("T1", "T2"))),
        (None, None),
        ("T0", None),
        ({"drain_from": "T0", "commit_candidates": []}, None),
        ({"drain_from": "", "commit_candidates": ["T1"]}, None),
        ({"drain_from": "T0", "commit_candidates": "T1"}, None),
    ],
)
def test_checkpoint_reads_old_and_malformed_state(value, expected):
    checkpoint = PullCheckpoint.from_state(value)
    if expected is None:
        assert checkpoint is None
    else:
        assert checkpoint is not None and (checkpoint.drain_from, checkpoint.candidates) == expected


# --- the same sequence through real task attempts ------------------------------------------------------


def test_retry_after_two_crashes_delivers_the_first_attempts_changes(
    airflow_db, kontent_emulator, kontent_conn, tmp_path
):
    """Attempt 1 commits and dies; attempt 2 re-drains, records its commit and dies before it; attempt 3
    must still start from the original token, so the NDJSON output holds every change."""
    from airflow.sdk import DAG, ObjectStoragePath, get_current_context, task

    from airflow_provider_kontent.handoff import iter_ndjson
    from airflow_provider_kontent.operators.sync_pull import KontentSyncPullOperator

    env_id = kontent_conn["id"]
    ctl = kontent_emulator.control

    class PullCrashesTwice(KontentSyncPullOperator):
        def _emit_asset_event(self, context: Any, summary: dict[str, Any]) -> None:
            if context["ti"].try_number == 1:
                SEEN["first_commit"] = summary["next_token"]
                # a change between the attempts, so the re-drain ends at another token than attempt 1
                ctl.upsert_item(env_id, "c", "article", "en-US", elements={"title": "C"})
                raise RuntimeError("worker lost right after the commit")
            super()._emit_asset_event(context, summary)

        def commit_next_token(self, store: Any, *, previous_token: str, next_token: str) -> bool:
            if get_current_context()["ti"].try_number == 2:
                SEEN["second_store"] = store.load().token
                SEEN["second_next"] = next_token
                raise RuntimeError("worker lost between recording the commit and making it")
            return super().commit_next_token(store, previous_token=previous_token, next_token=next_token)

    token = _init_token(kontent_emulator, env_id, "kontent_two_crashes")
    ctl.upsert_item(env_id, "a", "article", "en-US", elements={"title": "A"})
    ctl.upsert_item(env_id, "b", "article", "en-US", elements={"title": "B"})

    with DAG("kontent_pull_two_crashes", schedule=None, start_date=START) as dag:
        pull = PullCrashesTwice(
            task_id="pull",
            variable_key="kontent_two_crashes",
            output_path=f"file://{tmp_path}/out/{{{{ run_id }}}}/",
            retries=2,
            retry_delay=timedelta(0),
        )

        @task
        def capture(summary: dict[str, Any]) -> None:
            SEEN["summary"] = summary

        capture(pull.output)

    dr = run_dag(dag)
    assert dr.state == "success"
    assert dr.get_task_instance("pull").try_number == 3
    # the scenario really happened: attempt 2 found attempt 1's token stored and was about to commit another
    assert SEEN["second_store"] == SEEN["first_commit"] != token
    assert SEEN["second_next"] != SEEN["first_commit"]

    summary = SEEN["summary"]
    assert summary["previous_token"] == token  # from where attempt 1 started, not from its commit
    records = [r for name in summary["files"] for r in iter_ndjson(ObjectStoragePath(name))]
    assert sorted(r["codename"] for r in records) == ["a", "b", "c"]
    assert summary["committed"] is True
    assert db_variable("kontent_two_crashes")["token"] == summary["next_token"]


# --- HTTP sessions are closed when a task ends ----------------------------------------------------------


def _recording(cls: type) -> type:
    """``cls`` whose hook records every client it hands out (to check that each one is closed)."""

    class Recording(cls):  # type: ignore[misc, valid-type]
        def get_hook(self) -> Any:
            hook = super().get_hook()
            if not getattr(hook, "_test_recording", False):
                get_conn = hook.get_conn

                def recording_get_conn() -> Any:
                    client = get_conn()
                    if all(client is not seen for _, seen in CLIENTS):
                        CLIENTS.append((self.task_id, client))
                    return client

                hook.get_conn = recording_get_conn
                hook._test_recording = True
            return hook

    Recording.__name__ = cls.__name__
    return Recording


def _open_pools(client: Any) -> int:
    """Connection pools (and so keep-alive sockets) the client's session still holds."""
    return sum(len(adapter.poolmanager.pools) for adapter in client.session.adapters.values())


def test_tasks_close_their_http_session(airflow_db, kontent_emulator, kontent_conn):
    from airflow.sdk import DAG

    from airflow_provider_kontent.operators.sync_commit import KontentSyncCommitOperator
    from airflow_provider_kontent.operators.sync_init import KontentSyncInitOperator
    from airflow_provider_kontent.operators.sync_pull import KontentSyncPullOperator
    from airflow_provider_kontent.sensors.sync import KontentSyncSensor

    env_id = kontent_conn["id"]
    kontent_emulator.control.upsert_item(env_id, "before", "article", "en-US", elements={"title": "x"})
    store = {"variable_key": "kontent_closing"}
    with DAG("kontent_closing", schedule=None, start_date=START) as dag:
        init = _recording(KontentSyncInitOperator)(
            task_id="init", variable_key="kontent_closing_init", snapshot=True
        )
        wait = _recording(KontentSyncSensor)(task_id="wait", poke_interval=1, timeout=60, **store)
        pull = _recording(KontentSyncPullOperator)(
            task_id="pull", commit_token=False, include_content=True, **store
        )
        commit = _recording(KontentSyncCommitOperator)(task_id="commit", **store)
        init >> pull >> commit
        init >> wait

    # the sensor and the pull start from a token stored before the change they must find
    _init_token(kontent_emulator, env_id, "kontent_closing")
    kontent_emulator.control.upsert_item(env_id, "after", "article", "en-US", elements={"title": "y"})
    dr = run_dag(dag)
    assert dr.state == "success"
    by_task: dict[str, int] = {}
    for task_id, _client in CLIENTS:
        by_task[task_id] = by_task.get(task_id, 0) + 1
    # one client per execute, reused for all its requests (the commit needs none)
    assert by_task == {"init": 1, "wait": 1, "pull": 1}
    assert all(_open_pools(client) == 0 for _, client in CLIENTS)


# --- errors for bad input name the connection; token errors name the store ----------------------------


def test_constructor_errors_name_the_connection():
    from airflow_provider_kontent.operators.sync_pull import KontentSyncPullOperator
    from airflow_provider_kontent.sensors.sync import KontentSyncSensor

    with pytest.raises(ValueError, match=r"connection 'kontent_named'.*max_pages"):
        KontentSyncPullOperator(task_id="p", kontent_conn_id="kontent_named", max_pages=0)
    with pytest.raises(ValueError, match=r"connection 'kontent_named'.*api_version"):
        KontentSyncSensor(task_id="s", kontent_conn_id="kontent_named", api_version=3)
    with pytest.raises(ValueError, match=r"connection 'kontent_named'.*token_store"):
        KontentSyncPullOperator(task_id="p", kontent_conn_id="kontent_named", token_store="file")
    with pytest.raises(ValueError, match=r"connection 'kontent_named'.*asset="):
        KontentSyncPullOperator(task_id="p", kontent_conn_id="kontent_named", token_store="asset")


def test_task_errors_name_the_connection_and_the_store(
    airflow_db, monkeypatch, kontent_emulator, kontent_env
):
    from airflow.sdk import DAG

    from airflow_provider_kontent.operators.sync_commit import KontentSyncCommitOperator
    from airflow_provider_kontent.operators.sync_pull import KontentSyncPullOperator
    from airflow_provider_kontent.tokens import TokenRecord

    monkeypatch.setenv("AIRFLOW_CONN_KONTENT_NAMED", connection_json(kontent_emulator.base_url, kontent_env))
    _init_token(kontent_emulator, kontent_env["id"], "kontent_named_ok")
    other = TokenRecord.new(
        "tok", environment_id="11111111-2222-3333-4444-555555555555", mode="public", api_version=2
    )
    set_db_variable("kontent_named_other", other.to_dict())
    named = {"kontent_conn_id": "kontent_named"}
    with DAG(
        "kontent_named_errors",
        schedule=None,
        start_date=START,
        default_args={"on_failure_callback": remember_failure},
    ) as dag:
        KontentSyncPullOperator(
            task_id="bad_filter", variable_key="kontent_named_ok", filters={"system.type[near]": "x"}, **named
        )
        KontentSyncPullOperator(
            task_id="bad_output", variable_key="kontent_named_ok", output_path="nosuchfs://bucket/x/", **named
        )
        KontentSyncPullOperator(task_id="other_env", variable_key="kontent_named_other", **named)
        KontentSyncPullOperator(task_id="no_token", variable_key="kontent_named_nothing", **named)
        KontentSyncCommitOperator(
            task_id="no_summary", variable_key="kontent_named_ok", pull_task_id="nope", **named
        )

    dr = run_dag(dag)
    assert dr.state == "failed"
    assert set(FAILURES) == {"bad_filter", "bad_output", "other_env", "no_token", "no_summary"}
    for task_id in ("bad_filter", "bad_output", "other_env", "no_summary"):
        assert "connection 'kontent_named'" in FAILURES[task_id], FAILURES[task_id]
    assert FAILURES["bad_filter"].startswith("KontentTaskFailure") and "near" in FAILURES["bad_filter"]
    assert FAILURES["bad_output"].startswith("KontentTaskFailure")
    assert "output_path 'nosuchfs://bucket/x/'" in FAILURES["bad_output"]
    assert FAILURES["other_env"].startswith("TokenMismatchError")
    assert "Variable 'kontent_named_other'" in FAILURES["other_env"]
    assert FAILURES["no_token"].startswith("TokenNotFoundError")
    assert "Variable 'kontent_named_nothing'" in FAILURES["no_token"]
    assert db_variable("kontent_named_ok")["environment_id"] == kontent_env["id"]  # nothing moved it
