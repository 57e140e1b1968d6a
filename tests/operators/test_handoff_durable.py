"""The hand-off is durable before the token moves: when handing the changes on fails, the task fails and
the stored token is still the old one, for every token store and with ``retries=0``.

Retries re-drain from the task-state checkpoint, so with retries a token moved too early can go unseen;
with ``retries=0`` (or an Airflow without the task state store) that run's changes would be lost. Each
case runs init -> edit -> pull -> check for real (``dag.test()``): the edit makes three changes between
the init and the pull, the pull's hand-off is made to fail, and the check task (``all_done``) reads the
token through the store classes the way the next task would. The failures are real refusals of the
storage the pull writes to:

* ``manifest_refused``: NDJSON output; the object store denies writing the ``_SUCCESS`` manifest, the
  last step of finalizing the output.
* ``last_part_refused``: NDJSON output in two parts (the first one closed during the drain); the object
  store refuses the upload of the last part, which completes when the output is finalized.
* ``xcom_refused``: XCom delivery; the XCom backend refuses the pull's summary (which carries the
  records), so nothing was handed on.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.dag_runner import run_dag
from tests.operators.conftest import FAILURES, START, remember_failure
from tests.operators.refusing_backends import (
    SCHEME,
    RefusingObjectStore,
    install_xcom_backend,
    make_refusing_xcom,
    register_object_store,
)

CHECKED: dict[str, Any] = {}
#: NDJSON parts close once they hold this many bytes: the first page (two records of about 550 bytes)
#: closes part-00000 during the drain, the second page (one record) stays open in part-00001 until the
#: output is finalized.
PART_MAX_BYTES = 800
FAILURE_MODES = ("manifest_refused", "last_part_refused", "xcom_refused")
STORES = ("variable", "asset", "xcom")


@pytest.fixture(autouse=True)
def _reset():
    register_object_store()
    for holder in (CHECKED, FAILURES):
        holder.clear()
    RefusingObjectStore.reset()
    yield
    for holder in (CHECKED, FAILURES):
        holder.clear()
    RefusingObjectStore.reset()


def _store_args(store: str, env_id: str, case: str) -> dict[str, Any]:
    from airflow_provider_kontent.tokens import kontent_sync_asset

    if store == "variable":
        return {"token_store": "variable", "variable_key": f"kontent_durable__{env_id}__{case}"}
    if store == "asset":
        return {"token_store": "asset", "asset": kontent_sync_asset(env_id, name=f"durable-{case}")}
    return {"token_store": "xcom"}


def _stored_token(store: str, context: Any, store_args: dict[str, Any]) -> str | None:
    """The token as the next reader of this store would see it (through the store classes)."""
    from airflow_provider_kontent.tokens import AssetTokenStore, VariableTokenStore, XComTokenStore

    if store == "variable":
        token_store: Any = VariableTokenStore(store_args["variable_key"])
    elif store == "asset":
        token_store = AssetTokenStore(context, store_args["asset"])
    else:
        token_store = XComTokenStore(context["ti"], ["init", "edit", "pull"])
    record = token_store.load()
    return None if record is None else record.token


@pytest.mark.parametrize("failure", FAILURE_MODES)
@pytest.mark.parametrize("store", STORES)
def test_a_failed_hand_off_leaves_the_old_token(
    airflow_db, monkeypatch, kontent_emulator, kontent_conn, store, failure
):
    from airflow.sdk import DAG, get_current_context, task

    from airflow_provider_kontent.operators.sync_init import KontentSyncInitOperator
    from airflow_provider_kontent.operators.sync_pull import KontentSyncPullOperator

    env_id = kontent_conn["id"]
    ctl = kontent_emulator.control
    ctl.update_environment(env_id, page_size=2)  # three changes: a page of two, a page of one, an empty one
    case = f"{store}_{failure}"
    store_args = _store_args(store, env_id, case)
    output_path = None
    xcom_backend = make_refusing_xcom()
    install_xcom_backend(monkeypatch, xcom_backend)
    if failure == "xcom_refused":
        xcom_backend.refuse.add(("pull", "return_value"))
    else:
        output_path = f"{SCHEME}://bucket/{case}/{{{{ run_id }}}}/"
        if failure == "manifest_refused":
            RefusingObjectStore.refuse_open.add("_SUCCESS")
        else:
            RefusingObjectStore.refuse_upload.add("part-00001.ndjson")

    with DAG(
        f"kontent_durable_{case}",
        schedule=None,
        start_date=START,
        default_args={"retries": 0, "on_failure_callback": remember_failure},
    ) as dag:
        init = KontentSyncInitOperator(task_id="init", **store_args)

        @task
        def edit() -> None:
            for i in range(3):
                ctl.upsert_item(env_id, f"durable{i}", "article", "en-US", elements={"title": f"D{i}"})

        pull = KontentSyncPullOperator(
            task_id="pull", output_path=output_path, part_max_bytes=PART_MAX_BYTES, **store_args
        )

        @task(trigger_rule="all_done", inlets=[store_args["asset"]] if store == "asset" else [])
        def check() -> None:
            context = get_current_context()
            CHECKED["init_token"] = context["ti"].xcom_pull(task_ids="init")["token"]
            CHECKED["stored_token"] = _stored_token(store, context, store_args)

        init >> edit() >> pull >> check()

    dr = run_dag(dag)
    states = {ti.task_id: ti.state for ti in dr.get_task_instances()}
    assert states == {"init": "success", "edit": "success", "pull": "failed", "check": "success"}, states
    assert "(injected)" in FAILURES["pull"], FAILURES["pull"]  # it failed where the test made it fail

    assert CHECKED["stored_token"] == CHECKED["init_token"], (
        f"the hand-off failed ({FAILURES['pull']}) but the token in the {store} store moved on"
    )
    manifests = [name for name in RefusingObjectStore.names() if name.endswith("/_SUCCESS")]
    assert manifests == [], "a failed hand-off left a success manifest"

    # the failure happened where each case says (not earlier): the drain got through to the hand-off
    parts = [name.rsplit("/", 1)[-1] for name in RefusingObjectStore.names()]
    if failure == "manifest_refused":
        assert RefusingObjectStore.refused == ["_SUCCESS"]
        assert parts == ["part-00000.ndjson", "part-00001.ndjson"]
    elif failure == "last_part_refused":
        assert RefusingObjectStore.refused == ["part-00001.ndjson"]
        assert parts == ["part-00000.ndjson"]
    else:
        assert parts == []
        [summary] = xcom_backend.refused
        assert sorted(r["codename"] for r in summary["records"]) == ["durable0", "durable1", "durable2"]
