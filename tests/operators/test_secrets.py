"""The Delivery API key never reaches XCom, task logs, rendered template fields or trigger kwargs.

One ``dag.test()`` run drives two chains, one on a secure-access connection and one on a preview
connection, through every task that touches the key: init (with a snapshot of full items), a deferrable
sensor (so a ``KontentSyncTrigger`` is serialized and run), a pull with ``include_content=True``, and
the commit. Afterwards the test reads what Airflow persisted for that run straight from the metadata
database and the log files and looks for the key strings. Each place is first checked to hold the
run's data (the token, task names), so an empty place cannot make the test pass by accident.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

from tests.dag_runner import run_dag
from tests.operators.conftest import START, connection_json


def _chain(prefix: str, conn_id: str) -> None:
    from airflow_provider_kontent.operators.sync_commit import KontentSyncCommitOperator
    from airflow_provider_kontent.operators.sync_init import KontentSyncInitOperator
    from airflow_provider_kontent.operators.sync_pull import KontentSyncPullOperator
    from airflow_provider_kontent.sensors.sync import KontentSyncSensor

    store = {"kontent_conn_id": conn_id, "variable_key": f"kontent_secret_test_{prefix}"}
    init = KontentSyncInitOperator(task_id=f"{prefix}_init", snapshot=True, reinitialize=True, **store)
    wait = KontentSyncSensor(
        task_id=f"{prefix}_wait",
        deferrable=True,
        poke_interval=1,
        timeout=60,
        token="{{ ti.xcom_pull(task_ids='" + prefix + "_init')['token'] }}",
        **store,
    )
    pull = KontentSyncPullOperator(
        task_id=f"{prefix}_pull", include_content=True, commit_token=False, **store
    )
    commit = KontentSyncCommitOperator(task_id=f"{prefix}_commit", pull_task_id=f"{prefix}_pull", **store)
    init >> wait >> pull >> commit


def _run_rows(model: Any, dag_id: str, run_id: str) -> list[Any]:
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(model).filter(model.dag_id == dag_id, model.run_id == run_id).all()
        session.expunge_all()
        return rows


def _trigger_kwargs() -> list[str]:
    """Every stored ``KontentSyncTrigger``: kwargs as Airflow decrypts them, and the stored column."""
    from airflow.models.trigger import Trigger
    from airflow.utils.session import create_session

    with create_session() as session:
        triggers = [t for t in session.query(Trigger).all() if t.classpath.endswith("KontentSyncTrigger")]
        return [json.dumps(t.kwargs, default=str) for t in triggers] + [
            str(t.encrypted_kwargs) for t in triggers
        ]


def _log_texts(dag_id: str) -> list[str]:
    home = Path(os.environ["AIRFLOW_HOME"]) / "logs"
    return [p.read_text(errors="replace") for p in home.rglob("*") if p.is_file() and dag_id in str(p)]


def test_api_key_never_leaks(airflow_db, monkeypatch, capfd, kontent_emulator, edit_on_first_poll):
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.models.xcom import XComModel
    from airflow.sdk import DAG

    ctl = kontent_emulator.control
    secure_key = f"secure-{uuid.uuid4().hex}"
    preview_key = f"preview-{uuid.uuid4().hex}"
    secure_env = ctl.create_environment(secure_access=True, secure_key=secure_key)
    preview_env = ctl.create_environment(preview_key=preview_key)
    for env in (secure_env, preview_env):
        ctl.upsert_type(env["id"], "article", elements={"title": {"type": "text", "name": "Title"}})
        ctl.upsert_item(env["id"], "before", "article", "en-US", elements={"title": "Before"})
    monkeypatch.setenv(
        "AIRFLOW_CONN_KONTENT_SECURE",
        connection_json(kontent_emulator.base_url, secure_env, mode="secure", key=secure_key),
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_KONTENT_PREVIEW",
        connection_json(kontent_emulator.preview_url, preview_env, mode="preview", key=preview_key),
    )
    dag_id = f"kontent_secret_{uuid.uuid4().hex[:8]}"
    with DAG(dag_id, schedule=None, start_date=START) as dag:
        _chain("secure", "kontent_secure")
        _chain("preview", "kontent_preview")

    def edits(control) -> None:  # after the first GET /sync of either chain: changes to wait for
        control.upsert_item(secure_env["id"], "after", "article", "en-US", elements={"title": "After"})
        control.upsert_item(
            preview_env["id"], "draft", "article", "en-US", elements={"title": "Draft"}, publish=False
        )

    with edit_on_first_poll(None, edits) as watcher:
        dr = run_dag(dag)
    assert watcher.done.is_set()
    states = {ti.task_id: ti.state for ti in dr.get_task_instances()}
    assert dr.state == "success", states
    keys = (secure_key, preview_key)
    # the keys were really in use: the secure and preview hosts answered this run's authorized calls
    for env in (secure_env, preview_env):
        assert any(r["status"] == 200 and r["method"] == "GET" for r in ctl.requests(env["id"]))

    def assert_clean(where: str, texts: list[str]) -> None:
        for text in texts:
            for key in keys:
                assert key not in text, f"the API key leaked into {where}"

    # XCom: every value the run stored (init records, snapshots with full items, sensor results,
    # pull summaries with content, commit results, the token XComs)
    xcoms = _run_rows(XComModel, dr.dag_id, dr.run_id)
    xcom_texts = [json.dumps(x.value, default=str) for x in xcoms]
    assert {x.task_id for x in xcoms} >= {f"{p}_{t}" for p in ("secure", "preview") for t in ("init", "pull")}
    assert any("After" in text for text in xcom_texts) and any("Draft" in text for text in xcom_texts)
    assert_clean("XCom", xcom_texts)

    # rendered template fields of all eight tasks
    rendered = _run_rows(RenderedTaskInstanceFields, dr.dag_id, dr.run_id)
    rendered_texts = [json.dumps(r.rendered_fields, default=str) for r in rendered]
    assert len(rendered) == 8
    sensor_tokens = [r.rendered_fields["token"] for r in rendered if r.task_id.endswith("_wait")]
    # rendered and stored (Airflow redacts a field named "token" to "***"; the key must not be there either)
    assert len(sensor_tokens) == 2 and not any("xcom_pull" in str(t) for t in sensor_tokens)
    assert_clean("rendered template fields", rendered_texts)

    # serialized trigger kwargs: at least one sensor deferred (the first poke saw nothing)
    trigger_texts = _trigger_kwargs()
    assert any("kontent_secure" in t or "kontent_preview" in t for t in trigger_texts), trigger_texts
    assert_clean("trigger kwargs", trigger_texts)

    # task logs: the files dag.test() wrote, and whatever went to stdout/stderr
    captured = capfd.readouterr()
    log_texts = [*_log_texts(dag_id), captured.out, captured.err]
    assert any("Pulled" in text for text in log_texts), "no task log was found to check"
    assert_clean("task logs", log_texts)
