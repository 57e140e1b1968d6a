"""The stored token is readable and never silently replaced: Variable names, fingerprints, bad records.

Real ``dag.test()`` runs against the emulator, with the Variable in the test session's metadata DB.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.dag_runner import run_dag
from tests.operators.conftest import FAILURES, START, db_variable, remember_failure, set_db_variable


@pytest.fixture(autouse=True)
def _reset():
    FAILURES.clear()
    yield
    FAILURES.clear()


def _raw_variable(key: str) -> Any:
    from airflow.models import Variable

    return Variable.get(key, default_var=None)


def _set_raw_variable(key: str, text: str) -> None:
    from airflow.models import Variable

    Variable.set(key, text)


def _delete_variables(*keys: str) -> None:
    from airflow.models import Variable

    for key in keys:
        Variable.delete(key)


def _record(kontent_emulator: Any, env_id: str) -> Any:
    from airflow_provider_kontent.client import ClientConfig, KontentClient
    from airflow_provider_kontent.tokens import TokenRecord

    with KontentClient(ClientConfig(env_id, base_url=kontent_emulator.base_url)) as client:
        token = client.init_sync()
    return TokenRecord.new(token, environment_id=env_id, mode="public", api_version=2)


def test_the_default_variable_name_is_not_masked_by_airflow():
    """Airflow masks the value of a Variable whose name holds a sensitive word; ours must hold none."""
    from airflow.sdk._shared.secrets_masker.secrets_masker import should_hide_value_for_key

    from airflow_provider_kontent.tokens import default_variable_key, legacy_variable_key

    assert should_hide_value_for_key(legacy_variable_key("kontent_default"))  # why the name changed
    assert not should_hide_value_for_key(default_variable_key("kontent_default"))
    assert not should_hide_value_for_key(default_variable_key("kontent_prod"))


def test_fingerprints_tell_tokens_apart_and_reveal_nothing():
    from airflow_provider_kontent.tokens import token_fingerprint

    # two tokens that share a long prefix, as Kontent's base64-encoded JSON tokens do
    first, second = "eyJhbGciOiJIUzI1NiJ9." + "a" * 40, "eyJhbGciOiJIUzI1NiJ9." + "b" * 40
    assert token_fingerprint(first) != token_fingerprint(second)
    assert token_fingerprint(first) == token_fingerprint(first)  # stable across calls and processes
    assert first[:6] not in token_fingerprint(first) and "*" not in token_fingerprint(first)
    assert token_fingerprint(None) == "<none>"


def test_a_record_under_the_old_default_name_keeps_working(
    airflow_db, kontent_emulator, kontent_conn, caplog
):
    """Upgrading deployments keep their position: read the old name while the new one is empty."""
    from airflow.sdk import DAG

    from airflow_provider_kontent.operators.sync_pull import KontentSyncPullOperator
    from airflow_provider_kontent.tokens import default_variable_key, legacy_variable_key

    new, old = default_variable_key("kontent_default"), legacy_variable_key("kontent_default")
    _delete_variables(new, old)
    record = _record(kontent_emulator, kontent_conn["id"])
    set_db_variable(old, record.to_dict())
    kontent_emulator.control.upsert_item(kontent_conn["id"], "a", "article", "en-US", elements={"title": "A"})
    with DAG("kontent_legacy_variable", schedule=None, start_date=START) as dag:
        KontentSyncPullOperator(task_id="pull")
    try:
        dr = run_dag(dag)
        assert dr.state == "success"
        summary = dr.get_task_instance("pull").xcom_pull(task_ids="pull")
        assert summary["previous_token"] == record.token and summary["deltas"] == 1
        assert (
            db_variable(new)["token"] == summary["next_token"] != record.token
        )  # written under the new name
        assert db_variable(old)["token"] == record.token  # the old one is only read
        said = [
            r.getMessage() for r in caplog.records if "default name of earlier versions" in r.getMessage()
        ]
        assert len(said) == 1 and repr(old) in said[0] and repr(new) in said[0]
    finally:
        _delete_variables(new, old)


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        ("{not json", "not JSON"),
        (
            '{"format": 1, "token": "abc\\ndef", "environment_id": "ENV", "mode": "public", "api_version": 2}',
            "white space",
        ),
        ("[1, 2]", "list, not a Kontent token record"),
    ],
    ids=["not-json", "token-with-newline", "not-a-record"],
)
def test_a_corrupt_variable_fails_loudly_and_is_left_untouched(
    airflow_db, kontent_emulator, kontent_conn, text, expect
):
    """Not JSON, a token with a newline, a list: the init must not replace it with a fresh sync (that would
    drop every change since the lost token), and the pull must not send it."""
    from airflow.sdk import DAG

    from airflow_provider_kontent.operators.sync_init import KontentSyncInitOperator
    from airflow_provider_kontent.operators.sync_pull import KontentSyncPullOperator

    text = text.replace("ENV", kontent_conn["id"])
    key = "kontent_corrupt_record"
    _set_raw_variable(key, text)
    kontent_emulator.control.clear_requests()
    with DAG(
        "kontent_corrupt_record",
        schedule=None,
        start_date=START,
        default_args={"on_failure_callback": remember_failure},
    ) as dag:
        KontentSyncInitOperator(task_id="init", variable_key=key)
        KontentSyncPullOperator(task_id="pull", variable_key=key)
    try:
        dr = run_dag(dag)
        assert dr.state == "failed"
        for task_id in ("init", "pull"):
            assert FAILURES[task_id].startswith("TokenRecordCorruptError"), FAILURES[task_id]
            assert f"Variable {key!r}" in FAILURES[task_id] and expect in FAILURES[task_id]
        assert _raw_variable(key) == text
        assert not [r for r in kontent_emulator.control.requests(kontent_conn["id"]) if "/sync" in r["path"]]
    finally:
        _delete_variables(key)
