"""Make ``example_dags/`` importable the way Airflow does for its DAGs folder (it is on ``sys.path``),
and the setup every example test repeats: loading a DAG from there and pointing it at the emulator."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

EXAMPLE_DAGS = Path(__file__).resolve().parents[2] / "example_dags"

if str(EXAMPLE_DAGS) not in sys.path:
    sys.path.insert(0, str(EXAMPLE_DAGS))


def load_dag(dag_id: str) -> Any:
    """Parse ``example_dags/`` as the DAG processor would (settings come from the environment now)."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(EXAMPLE_DAGS))
    assert bag.import_errors == {}
    return bag.dags[dag_id]


def use_emulator_connection(monkeypatch: pytest.MonkeyPatch, base_url: str, env_id: str) -> None:
    """Point the examples' ``kontent_default`` connection at a public emulator environment."""
    connection = {"conn_type": "kontent", "host": base_url, "extra": {"environment_id": env_id}}
    monkeypatch.setenv("AIRFLOW_CONN_KONTENT_DEFAULT", json.dumps(connection))
