"""Test-session wiring shared by every test package.

Airflow reads its configuration when it is first imported, so the environment is set here, at the
top of the root conftest, before any test module can import Airflow: a throw-away AIRFLOW_HOME with a
SQLite metadata database that the ``airflow_db`` fixture migrates once per session (only tests that
run DAGs ask for it; client and emulator tests stay DB-free).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

_HOME = tempfile.mkdtemp(prefix="kontent-airflow-home-")
# also removed when no test asked for the database (the fixture below removes it otherwise)
atexit.register(shutil.rmtree, _HOME, ignore_errors=True)
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


@pytest.fixture(scope="session")
def airflow_db():
    """Create the metadata database once per session (about 3 s)."""
    from airflow.utils import db

    db.resetdb()
    yield
    shutil.rmtree(_HOME, ignore_errors=True)


def pytest_sessionfinish(session, exitstatus):
    """Fail the run if any test left a child process or a listening socket behind.

    Every emulator, subprocess and server a test starts must be stopped by the test (or its fixture);
    CI runs on a shared machine, so a leak here is a bug, not noise. Session fixtures are torn down
    before this hook runs, so whatever is still open now really leaked.
    """
    import psutil

    me = psutil.Process()
    children = [
        p for p in me.children(recursive=True) if p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    ]
    listening = [c.laddr for c in me.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN]
    if children or listening:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        reporter.write_line(
            f"LEAK: child processes {[p.cmdline() for p in children]}, listening sockets {listening}"
        )
        session.exitstatus = 1
