"""Start a real Airflow deployment for a test: its own PostgreSQL database, AIRFLOW_HOME and processes.

``dag.test()`` runs every task in the test process; the deployment tests need what it cannot show: a
scheduler, a dag-processor, a triggerer, an api-server (tasks talk to the Execution API) and executor
workers as separate processes that share only the metadata database, so that a process can be killed
and restarted mid-run. Used by the LocalExecutor tests (issue 11) and the CeleryExecutor ones.

* ``PostgresDatabase``: a uniquely named database on the machine's PostgreSQL (127.0.0.1:5432, trust
  auth), dropped afterwards (several Airflow processes cannot share one SQLite file safely).
* ``AirflowDeployment``: a temporary AIRFLOW_HOME, the environment every component gets (the test
  session's own ``AIRFLOW__*`` settings are removed: they point at its SQLite database), free ports,
  ``airflow db migrate``, start/stop/kill/restart of components (each in its own process group, output
  in ``logs/<name>.log``), waits on the metadata database, and ``diagnostics()`` (log tails) for
  assertion messages. ``close()`` stops everything it started; the database is the caller's to drop.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379


def free_port() -> int:
    """A TCP port that was free a moment ago on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresDatabase:
    """A throw-away database ``<prefix>_<random>`` on the local PostgreSQL server."""

    def __init__(self, prefix: str = "kontent_af") -> None:
        self.name = f"{prefix}_{uuid.uuid4().hex[:12]}"

    def _admin(self) -> Any:
        import psycopg2

        conn = psycopg2.connect(
            host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", connect_timeout=10
        )
        conn.autocommit = True
        return conn

    def create(self) -> PostgresDatabase:
        conn = self._admin()
        try:
            with conn.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{self.name}"')
        finally:
            conn.close()
        return self

    def drop(self) -> None:
        conn = self._admin()
        try:
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (self.name,)
                )
                cur.execute(f'DROP DATABASE IF EXISTS "{self.name}"')
        finally:
            conn.close()

    @property
    def sqlalchemy_url(self) -> str:
        return f"postgresql+psycopg2://{PG_USER}@{PG_HOST}:{PG_PORT}/{self.name}"

    def connect(self) -> Any:
        import psycopg2

        conn = psycopg2.connect(
            host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=self.name, connect_timeout=10
        )
        conn.autocommit = True
        return conn

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(sql, tuple(params))
                if cur.description is None:
                    return []
                names = [c.name for c in cur.description]
                return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        finally:
            conn.close()


class RedisBroker:
    """The machine's Redis as a Celery broker: a random database number and a unique queue name, so
    parallel runs (other engineers, CI) never take each other's tasks; ``cleanup`` deletes only the keys
    that name this queue."""

    def __init__(self) -> None:
        self.db_number = 1 + uuid.uuid4().int % 15
        self.queue = f"kontent_{uuid.uuid4().hex[:10]}"

    @property
    def url(self) -> str:
        return f"redis://{REDIS_HOST}:{REDIS_PORT}/{self.db_number}"

    def cleanup(self) -> None:
        import redis

        client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=self.db_number)
        try:
            for key in client.scan_iter(match=f"*{self.queue}*"):
                client.delete(key)
        finally:
            client.close()


@dataclass
class Component:
    name: str
    args: list[str]
    env: dict[str, str]
    cwd: Path
    log_path: Path
    proc: subprocess.Popen | None = None
    starts: int = 0

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@dataclass
class AirflowDeployment:
    """One Airflow installation on a PostgreSQL metadata database, its components started on demand."""

    root: Path
    db: PostgresDatabase
    executor: str = "LocalExecutor"
    settings: Mapping[str, str] = field(default_factory=dict)  # extra AIRFLOW__* / KONTENT_* variables
    components: dict[str, Component] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.home = self.root / "home"
        self.dags_folder = self.root / "dags"
        self.logs = self.root / "logs"
        for path in (self.home, self.dags_folder, self.logs):
            path.mkdir(parents=True, exist_ok=True)
        self.api_port = free_port()
        self.env = self._environment()
        self._cli_runs = 0

    # --- configuration --------------------------------------------------------------------------
    def _environment(self) -> dict[str, str]:
        # the test session's AIRFLOW_* settings point at its own SQLite home: start from a clean slate
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTEST"))}
        from cryptography.fernet import Fernet

        env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.db.sqlalchemy_url,
                "AIRFLOW__CORE__EXECUTOR": self.executor,
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
                "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
                "AIRFLOW__CORE__PARALLELISM": "4",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.api_port}/execution/",
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(self.api_port),
                "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{self.api_port}",
                "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__API__SECRET_KEY": base64.b64encode(os.urandom(16)).decode(),
                "AIRFLOW__API_AUTH__JWT_SECRET": base64.b64encode(os.urandom(48)).decode(),
                "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.root / "task-logs"),
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
                "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
                "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
                # a small deployment that reacts within seconds (defaults are tuned for big ones)
                "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
                "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
                "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD": "15",
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "30",
                "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
                "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "2",
                "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "6",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.settings)
        return env

    def add_dag(self, source: Path) -> None:
        (self.dags_folder / source.name).write_text(source.read_text())

    # --- commands and components -----------------------------------------------------------------
    def cli(self, *args: str, timeout: float = 180, env: Mapping[str, str] | None = None) -> str:
        """Run ``airflow <args>`` to completion; its output is kept in ``logs/cli-N.log``."""
        self._cli_runs += 1
        log = self.logs / f"cli-{self._cli_runs}-{args[0]}.log"
        result = subprocess.run(
            [sys.executable, "-m", "airflow", *args],
            env={**self.env, **(env or {})},
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        log.write_text(f"$ airflow {' '.join(args)}\n{result.stdout}\n--- stderr ---\n{result.stderr}")
        if result.returncode != 0:
            raise AssertionError(f"airflow {' '.join(args)} failed ({result.returncode}); see {log}:\n"
                                 f"{result.stderr[-3000:]}")  # fmt: skip
        return result.stdout

    def migrate(self) -> None:
        self.cli("db", "migrate", timeout=300)

    def start(
        self,
        name: str,
        *args: str,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> Component:
        """Start ``airflow <args>`` as component ``name`` (in its own process group)."""
        component = self.components.get(name)
        if component is None:
            component = Component(
                name=name,
                args=list(args),
                env={**self.env, **(env or {})},
                cwd=cwd or self.root,
                log_path=self.logs / f"{name}.log",
            )
            self.components[name] = component
        if component.alive:
            raise RuntimeError(f"{name} is already running")
        component.cwd.mkdir(parents=True, exist_ok=True)
        with component.log_path.open("ab") as out:
            out.write(f"\n===== start {component.starts + 1} at {time.time():.3f} =====\n".encode())
            out.flush()
            component.proc = subprocess.Popen(
                [sys.executable, "-m", "airflow", *component.args],
                env=component.env,
                cwd=component.cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        component.starts += 1
        return component

    def start_celery_worker(self, name: str, queue: str) -> Component:
        """A Celery worker in its own directory: its own AIRFLOW_HOME, copy of the DAGs, task logs and
        temp dir, so nothing one worker writes to disk is visible to the other (as on two machines)."""
        workdir = self.root / name
        dags = workdir / "dags"
        dags.mkdir(parents=True, exist_ok=True)
        for source in self.dags_folder.glob("*.py"):
            (dags / source.name).write_text(source.read_text())
        (workdir / "tmp").mkdir(exist_ok=True)
        env = {
            "AIRFLOW_HOME": str(workdir / "home"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(workdir / "logs"),
            "TMPDIR": str(workdir / "tmp"),
        }
        return self.start(
            name,
            "celery", "worker", "--queues", queue, "--concurrency", "1", "--celery-hostname", f"{name}@%h",
            "--skip-serve-logs", "--without-gossip", "--without-mingle",
            env=env,
            cwd=workdir,
        )  # fmt: skip

    def component_of_pid(self, pid: int) -> str | None:
        """Which component's process tree holds ``pid`` (e.g. the worker running a task)."""
        import psutil

        for name, component in self.components.items():
            if not component.alive:
                continue
            try:
                root = psutil.Process(component.proc.pid)
                if pid == root.pid or pid in {p.pid for p in root.children(recursive=True)}:
                    return name
            except psutil.NoSuchProcess:
                continue
        return None

    def signal(self, name: str, sig: int) -> None:
        component = self.components[name]
        if component.proc is not None and component.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(component.proc.pid, sig)

    def kill(self, name: str) -> None:
        """SIGKILL the component's whole process group (no shutdown code runs) and reap it."""
        self.signal(name, signal.SIGKILL)
        proc = self.components[name].proc
        if proc is not None:
            proc.wait(timeout=30)

    def stop(self, name: str, timeout: float = 30) -> None:
        """SIGTERM (graceful shutdown), then SIGKILL whatever of its group is left."""
        component = self.components.get(name)
        if component is None or component.proc is None:
            return
        if component.proc.poll() is None:
            self.signal(name, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                component.proc.wait(timeout=timeout)
        # children of the component (task supervisors, the trigger runner) die with the group
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(component.proc.pid, signal.SIGKILL)
        if component.proc.poll() is None:
            component.proc.wait(timeout=30)

    def restart(self, name: str) -> Component:
        self.stop(name)
        return self.start(name)

    def close(self) -> None:
        for name in reversed(list(self.components)):
            self.stop(name, timeout=20)

    # --- waiting on the metadata database ---------------------------------------------------------
    def wait_for(
        self, what: str, probe: Callable[[], T], *, timeout: float = 120, interval: float = 0.5
    ) -> T:
        """Call ``probe`` until it returns something truthy; on timeout fail with the logs' tails."""
        deadline = time.monotonic() + timeout
        while True:
            value = probe()
            if value:
                return value
            for component in self.components.values():
                code = component.proc.poll() if component.proc is not None else None
                if code is not None and code not in (0, -signal.SIGTERM, -signal.SIGKILL):
                    raise AssertionError(f"{component.name} exited ({code}) while waiting for {what}\n"
                                         f"{self.diagnostics()}")  # fmt: skip
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out after {timeout:.0f}s waiting for {what}\n{self.diagnostics()}"
                )
            time.sleep(interval)

    def wait_for_api(self, timeout: float = 120) -> None:
        import urllib.request

        def up() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.api_port}/api/v2/version", timeout=2):
                    return True
            except OSError:
                return False

        self.wait_for("the api-server", up, timeout=timeout)

    def wait_for_dag(self, dag_id: str, timeout: float = 180) -> None:
        def parsed() -> bool:
            rows = self.db.query(
                "SELECT d.is_paused FROM dag d JOIN serialized_dag s ON s.dag_id = d.dag_id "
                "WHERE d.dag_id = %s AND NOT d.is_stale",
                (dag_id,),
            )
            return bool(rows)

        self.wait_for(f"DAG {dag_id} to be parsed", parsed, timeout=timeout)

    def wait_for_watchers(
        self, count: int = 1, timeout: float = 120, *, triggerer_alive: bool = False
    ) -> list[dict[str, Any]]:
        """Asset-watcher triggers assigned to a triggerer (with ``triggerer_alive``: to one whose job is
        running and heartbeating, i.e. not the one just killed)."""
        alive = (
            " AND t.triggerer_id IN (SELECT id FROM job WHERE job_type = 'TriggererJob' AND state = 'running'"
            " AND latest_heartbeat > now() - interval '5 seconds' AND start_date > now() - interval '10 minutes'"
            " AND id = (SELECT max(id) FROM job WHERE job_type = 'TriggererJob'))"
            if triggerer_alive
            else ""
        )

        def assigned() -> list[dict[str, Any]]:
            rows = self.db.query(
                "SELECT t.id, t.classpath, t.triggerer_id FROM trigger t "
                "JOIN asset_watcher w ON w.trigger_id = t.id WHERE t.triggerer_id IS NOT NULL" + alive
            )
            return rows if len(rows) >= count else []

        return self.wait_for(f"{count} asset watcher(s) running in a triggerer", assigned, timeout=timeout)

    def dag_runs(self, dag_id: str) -> list[dict[str, Any]]:
        return self.db.query(
            "SELECT run_id, run_type, state, queued_at, start_date, end_date, conf FROM dag_run "
            "WHERE dag_id = %s ORDER BY id",
            (dag_id,),
        )

    def task_instances(self, dag_id: str, run_id: str) -> dict[str, dict[str, Any]]:
        rows = self.db.query(
            "SELECT task_id, state, try_number, hostname, pid, start_date, end_date FROM task_instance "
            "WHERE dag_id = %s AND run_id = %s",
            (dag_id, run_id),
        )
        return {row["task_id"]: row for row in rows}

    def variable(self, key: str) -> Any:
        """A Variable's JSON value straight from the metadata database (decrypted)."""
        rows = self.db.query("SELECT val, is_encrypted FROM variable WHERE key = %s", (key,))
        if not rows:
            return None
        value = rows[0]["val"]
        if rows[0]["is_encrypted"]:
            from cryptography.fernet import Fernet

            value = Fernet(self.env["AIRFLOW__CORE__FERNET_KEY"].encode()).decrypt(value.encode()).decode()
        return json.loads(value)

    def diagnostics(self, lines: int = 60) -> str:
        """The tail of every component log and of failed task logs, for an assertion message."""
        parts = []
        for component in self.components.values():
            text = component.log_path.read_text(errors="replace") if component.log_path.exists() else ""
            state = "running" if component.alive else f"exited {component.proc and component.proc.returncode}"
            parts.append(
                f"--- {component.name} ({state}), last lines ---\n" + "\n".join(text.splitlines()[-lines:])
            )
        for log in sorted(self.root.rglob("task-logs/**/*.log"))[-6:]:
            text = log.read_text(errors="replace")
            if "ERROR" in text or "Traceback" in text:
                parts.append(
                    f"--- {log.relative_to(self.root)} ---\n" + "\n".join(text.splitlines()[-lines:])
                )
        return "\n".join(parts)
