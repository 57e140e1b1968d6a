"""The six token arguments live in ``KontentBaseOperator`` only; these tests pin what that must keep.

Airflow validates ``.partial()``/``.expand()`` keyword arguments and fills ``default_args`` from the
``__init__`` signatures of the ``BaseOperatorMeta`` classes in the MRO, so moving the arguments into a
shared class could silently break mapping. The unit tests check every class; the ``dag.test()`` run
maps a sensor and a pull over ``filters`` for real (mapping over ``kontent_conn_id`` runs in
``test_dag_paths.py::test_mapped_over_two_environments``).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.dag_runner import run_dag
from tests.operators.conftest import START

CAPTURED: dict[str, Any] = {}
TOKEN_FIELDS = ("kontent_conn_id", "variable_key", "filters")


def _classes() -> dict[str, type]:
    from airflow_provider_kontent.operators.sync_commit import KontentSyncCommitOperator
    from airflow_provider_kontent.operators.sync_init import KontentSyncInitOperator
    from airflow_provider_kontent.operators.sync_pull import KontentSyncPullOperator
    from airflow_provider_kontent.sensors.sync import KontentSyncSensor

    return {
        "init": KontentSyncInitOperator,
        "pull": KontentSyncPullOperator,
        "commit": KontentSyncCommitOperator,
        "sensor": KontentSyncSensor,
    }


@pytest.mark.filterwarnings("ignore:Task '(unknown|not_mappable)' was never mapped")
@pytest.mark.parametrize("name", ["init", "pull", "commit", "sensor"])
def test_token_arguments_can_be_partial_and_expanded(name):
    from airflow.sdk import DAG

    cls = _classes()[name]
    with DAG(f"kontent_expand_{name}", schedule=None, start_date=START):
        cls.partial(task_id="by_conn", token_store="variable", asset=None).expand(
            kontent_conn_id=["kontent_a", "kontent_b"]
        )
        cls.partial(task_id="by_filters", kontent_conn_id="kontent_a").expand(
            filters=[{"system.type": "article"}, {"system.type": "blog"}]
        )
        cls.partial(task_id="by_key_and_version").expand(variable_key=["k1", "k2"], api_version=[1, 2])
        with pytest.raises(TypeError, match="unexpected keyword argument 'no_such_argument'"):
            cls.partial(task_id="unknown").expand(no_such_argument=[1])
        with pytest.raises(ValueError, match="unexpected type 'str' for keyword argument filters"):
            cls.partial(task_id="not_mappable").expand(filters="system.type=article")


@pytest.mark.parametrize("name", ["init", "pull", "commit", "sensor"])
def test_token_arguments_come_from_default_args(name):
    from airflow.sdk import DAG

    defaults = {"kontent_conn_id": "kontent_a", "variable_key": "shared_key", "api_version": 1}
    with DAG(f"kontent_defaults_{name}", schedule=None, start_date=START, default_args=defaults):
        task = _classes()[name](task_id="t")
    assert (task.kontent_conn_id, task.variable_key, task.api_version) == ("kontent_a", "shared_key", 1)


def test_template_fields_and_asset_side_per_class():
    from airflow_provider_kontent.tokens import kontent_sync_asset

    classes = _classes()
    assert classes["init"].template_fields == (*TOKEN_FIELDS, "snapshot_path", "snapshot_languages")
    assert classes["pull"].template_fields == (*TOKEN_FIELDS, "token", "output_path")
    assert classes["commit"].template_fields == (*TOKEN_FIELDS, "pull_task_id", "summary")
    assert classes["sensor"].template_fields == (*TOKEN_FIELDS, "token")
    asset = kontent_sync_asset("00000000-0000-0000-0000-000000000001")
    for name, cls in classes.items():
        task = cls(task_id=f"asset_{name}", token_store="asset", asset=asset, inlets=[])
        side, other = ("outlets", "inlets") if name == "pull" else ("inlets", "outlets")
        assert getattr(task, side) == [asset], name
        assert asset not in getattr(task, other), name
        with pytest.raises(ValueError, match="api_version must be 1 or 2"):
            cls(task_id=f"v3_{name}", api_version=3)


def test_sensor_and_pull_mapped_over_filters(airflow_db, kontent_emulator, kontent_conn):
    from airflow.models import Variable
    from airflow.sdk import DAG, task

    from airflow_provider_kontent.client import ClientConfig, KontentClient
    from airflow_provider_kontent.tokens import TokenRecord

    classes = _classes()
    env_id = kontent_conn["id"]
    ctl = kontent_emulator.control
    with KontentClient(ClientConfig(env_id, base_url=kontent_emulator.base_url)) as client:
        token = client.init_sync()
    record = TokenRecord.new(token, environment_id=env_id, mode="public", api_version=2)
    Variable.set("kontent_mapped_filters", record.to_dict(), serialize_json=True)
    ctl.upsert_item(env_id, "an_article", "article", "en-US", elements={"title": "A"})
    ctl.upsert_item(env_id, "a_blog", "blog", "en-US", elements={"title": "B"})
    ctl.upsert_item(env_id, "another_blog", "blog", "en-US", elements={"title": "B2"})
    by_type = [{"system.type": "article"}, {"system.type": "blog"}]
    common = {"variable_key": "kontent_mapped_filters"}

    with DAG("kontent_mapped_filters", schedule=None, start_date=START) as dag:
        wait = classes["sensor"].partial(task_id="wait", poke_interval=1, timeout=60, **common)
        pull = classes["pull"].partial(task_id="pull", commit_token=False, **common)
        waited = wait.expand(filters=by_type)
        pulled = pull.expand(filters=by_type)

        @task
        def capture(pending: Any, summaries: Any) -> None:
            CAPTURED["pending"] = list(pending)
            CAPTURED["summaries"] = list(summaries)

        waited >> pulled
        capture(waited.output, pulled.output)

    dr = run_dag(dag)
    assert dr.state == "success"
    assert [p["total"] for p in CAPTURED["pending"]] == [1, 2]
    article, blog = CAPTURED["summaries"]
    assert article["filters"] == {"system.type": "article"}
    assert {r["codename"] for r in article["records"]} == {"an_article"}
    assert {r["codename"] for r in blog["records"]} == {"a_blog", "another_blog"}
    stored = Variable.get("kontent_mapped_filters", deserialize_json=True)
    assert stored["token"] == token  # commit_token=False: nothing moved


@pytest.mark.parametrize("name", ["init", "pull", "commit", "sensor"])
def test_hook_params_reach_the_client_and_never_carry_the_key(name, kontent_conn):
    cls = _classes()[name]
    extra = {"pull_task_id": "pull"} if name == "commit" else {}
    op = cls(task_id=name, hook_params={"max_attempts": 1, "max_concurrency": 7}, **extra)
    config = op.get_hook().client_config
    assert (config.max_attempts, config.max_concurrency) == (1, 7)
    assert config.environment_id == kontent_conn["id"]  # everything else still comes from the connection

    with pytest.raises(ValueError, match="hook_params cannot carry api_key"):
        cls(task_id=f"{name}_key", hook_params={"api_key": "secret-key-0123456789"}, **extra)


@pytest.mark.parametrize("value", ["2", 0, True, 2.5])
def test_max_pages_must_be_a_whole_number(value):
    from airflow_provider_kontent.operators.sync_pull import KontentSyncPullOperator

    with pytest.raises(ValueError, match=r"connection 'kontent_default': max_pages must be a whole number"):
        KontentSyncPullOperator(task_id="pull", max_pages=value)
