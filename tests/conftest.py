"""Test-session wiring shared by every test package.

Airflow reads its configuration when it is first imported, so the environment is set here, at the
top of the root conftest, before any test module can import Airflow: a throw-away AIRFLOW_HOME with a
SQLite metadata database that the ``airflow_db`` fixture migrates once per session (only tests that
run DAGs ask for it; client and emulator tests stay DB-free).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

_HOME = tempfile.mkdtemp(prefix="kontent-airflow-home-")
os.environ.update(
    {
        "AIRFLOW_HOME": _HOME,
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_HOME}/airflow.db",
        "AIRFLOW__CORE__DAGS_FOLDER": str(Path(__file__).parent / "dags"),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
    }
)

import pytest  # noqa: E402

from tests.dag_runner import run_dag  # noqa: E402,F401  (re-exported for test modules)


@pytest.fixture(scope="session")
def airflow_db():
    """Create the metadata database once per session (about 3 s)."""
    from airflow.utils import db

    db.resetdb()
    yield
    shutil.rmtree(_HOME, ignore_errors=True)
