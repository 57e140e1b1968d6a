"""The XCom size guard at the exact limit: records whose serialized size is S fit a budget of S and not
S - 1, in ``handoff.XComSink`` and through the pull's and the init snapshot's ``max_xcom_bytes``.

The serialized size is that of the records as one compact JSON list (``json.dumps(records,
separators=(",", ":"))``), what the guard promises to bound. Budgets far below the payload (the other
guard tests) cannot tell a correct guard from one off by a byte or by a factor of two; these can.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_kontent.client import Delta, EntityKind
from airflow_provider_kontent.handoff import HandoffTooLargeError, XComSink, delta_record
from tests.dag_runner import run_dag
from tests.operators.conftest import FAILURES, START, db_variable, remember_failure, set_db_variable

CAPTURED: dict[str, Any] = {}


@pytest.fixture(autouse=True)
def _reset():
    CAPTURED.clear()
    FAILURES.clear()
    yield
    CAPTURED.clear()
    FAILURES.clear()


def serialized_size(records: list[dict[str, Any]]) -> int:
    return len(json.dumps(records, separators=(",", ":"), default=str))


def _record(codename: str, timestamp: str, name: str) -> dict[str, Any]:
    system = {
        "id": f"00000000-0000-4000-8000-0000000000{codename}",
        "name": name,
        "codename": f"item_{codename}",
        "language": "en-US",
        "type": "article",
        "collection": "default",
        "last_modified": timestamp,
    }
    delta = Delta.from_api(
        EntityKind.ITEM, {"change_type": "changed", "timestamp": timestamp, "data": {"system": system}}
    )
    return delta_record(delta)


# two pages; the second brings a later change of "a1" (as long as "Caf\u00e9" once escaped), which
# replaces the first
PAGES = [
    [
        _record("a1", "2026-01-01T00:00:01.0000000Z", "Café"),
        _record("b2", "2026-01-01T00:00:02.0000000Z", "B"),
    ],
    [
        _record("c3", "2026-01-01T00:00:03.0000000Z", "C"),
        _record("a1", "2026-01-01T00:00:04.0000000Z", "Cafe 2026"),
    ],
]
COMPACTED = [PAGES[0][1], PAGES[1][0], PAGES[1][1]]


def test_xcom_sink_budget_of_exactly_the_serialized_size_accepts_one_less_refuses():
    size = serialized_size(COMPACTED)
    assert size == serialized_size([PAGES[0][0], PAGES[0][1], PAGES[1][0]])  # replacing a1 keeps the size

    exact = XComSink(size)
    for page in PAGES:
        exact.write_page(page)
    assert exact.finalize() == COMPACTED and serialized_size(exact.finalize()) == size

    under = XComSink(size - 1)
    under.write_page(PAGES[0])
    with pytest.raises(HandoffTooLargeError) as err:
        under.write_page(PAGES[1])
    assert f"max_xcom_bytes={size - 1:,}" in str(err.value)


def _init_token(kontent_emulator: Any, env_id: str, *keys: str) -> str:
    from airflow_provider_kontent.client import ClientConfig, KontentClient
    from airflow_provider_kontent.tokens import TokenRecord

    with KontentClient(ClientConfig(env_id, base_url=kontent_emulator.base_url)) as client:
        token = client.init_sync()
    record = TokenRecord.new(token, environment_id=env_id, mode="public", api_version=2).to_dict()
    for key in keys:
        set_db_variable(key, record)
    return token


def test_pull_with_max_xcom_bytes_one_under_its_output_fails_without_committing(
    airflow_db, kontent_emulator, kontent_conn
):
    from airflow.sdk import DAG, task

    from airflow_provider_kontent.operators.sync_pull import KontentSyncPullOperator

    env_id = kontent_conn["id"]
    ctl = kontent_emulator.control
    keys = {name: f"kontent_guard_limit_{name}" for name in ("probe", "exact", "under")}
    token = _init_token(kontent_emulator, env_id, *keys.values())
    for i in range(4):
        ctl.upsert_item(env_id, f"item{i}", "article", "en-US", elements={"title": f"Title {i}"})

    # run 1: measure the output (the guard off, nothing committed)
    with DAG("kontent_guard_limit_probe", schedule=None, start_date=START) as probe_dag:
        probe = KontentSyncPullOperator(
            task_id="probe", variable_key=keys["probe"], max_xcom_bytes=0, commit_token=False
        )

        @task
        def keep_probe(summary: dict[str, Any]) -> None:
            CAPTURED["probe"] = summary

        keep_probe(probe.output)

    assert run_dag(probe_dag).state == "success"
    records = CAPTURED["probe"]["records"]
    assert len(records) == 4
    size = serialized_size(records)

    # run 2: the same changes with a budget of exactly that size, and of one byte less
    with DAG(
        "kontent_guard_limit",
        schedule=None,
        start_date=START,
        default_args={"on_failure_callback": remember_failure, "retries": 0},
    ) as dag:
        exact = KontentSyncPullOperator(task_id="exact", variable_key=keys["exact"], max_xcom_bytes=size)
        KontentSyncPullOperator(task_id="under", variable_key=keys["under"], max_xcom_bytes=size - 1)

        @task
        def keep_exact(summary: dict[str, Any]) -> None:
            CAPTURED["exact"] = summary

        keep_exact(exact.output)

    dr = run_dag(dag)
    states = {ti.task_id: ti.state for ti in dr.get_task_instances()}
    assert states == {"exact": "success", "keep_exact": "success", "under": "failed"}, (
        f"output of {size} bytes: {states} ({FAILURES})"
    )
    assert "does not fit in XCom" in FAILURES["under"]
    assert f"max_xcom_bytes={size - 1:,}" in FAILURES["under"]
    assert db_variable(keys["under"])["token"] == token  # nothing committed
    summary = CAPTURED["exact"]
    assert summary["records"] == records and summary["committed"] is True
    assert db_variable(keys["exact"])["token"] == summary["next_token"] != token


def test_init_snapshot_with_max_xcom_bytes_one_under_its_size_fails_and_stores_no_token(
    airflow_db, kontent_emulator, kontent_conn
):
    from airflow.sdk import DAG, task

    from airflow_provider_kontent.operators.sync_init import KontentSyncInitOperator

    env_id = kontent_conn["id"]
    ctl = kontent_emulator.control
    for i in range(3):
        ctl.upsert_item(env_id, f"snap{i}", "article", "en-US", elements={"title": f"Snapshot {i}"})
    keys = {name: f"kontent_snapshot_limit_{env_id}_{name}" for name in ("probe", "exact", "under")}

    with DAG("kontent_snapshot_limit_probe", schedule=None, start_date=START) as probe_dag:
        probe = KontentSyncInitOperator(
            task_id="probe", variable_key=keys["probe"], snapshot=True, max_xcom_bytes=0
        )

        @task
        def keep_probe(result: dict[str, Any]) -> None:
            CAPTURED["probe"] = result

        keep_probe(probe.output)

    assert run_dag(probe_dag).state == "success"
    records = CAPTURED["probe"]["snapshot"]["records"]
    assert len(records) == 3
    size = serialized_size(records)

    with DAG(
        "kontent_snapshot_limit",
        schedule=None,
        start_date=START,
        default_args={"on_failure_callback": remember_failure, "retries": 0},
    ) as dag:
        exact = KontentSyncInitOperator(
            task_id="exact", variable_key=keys["exact"], snapshot=True, max_xcom_bytes=size
        )
        KontentSyncInitOperator(
            task_id="under", variable_key=keys["under"], snapshot=True, max_xcom_bytes=size - 1
        )

        @task
        def keep_exact(result: dict[str, Any]) -> None:
            CAPTURED["exact"] = result

        keep_exact(exact.output)

    dr = run_dag(dag)
    states = {ti.task_id: ti.state for ti in dr.get_task_instances()}
    assert states == {"exact": "success", "keep_exact": "success", "under": "failed"}, (
        f"snapshot of {size} bytes: {states} ({FAILURES})"
    )
    assert "does not fit in XCom" in FAILURES["under"]
    assert f"max_xcom_bytes={size - 1:,}" in FAILURES["under"]
    assert db_variable(keys["under"]) is None  # a new init whose snapshot failed stores nothing
    result = CAPTURED["exact"]
    assert result["snapshot"]["records"] == records and result["initialized"] is True
    assert db_variable(keys["exact"])["token"] == result["token"]
