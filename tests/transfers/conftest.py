"""Real databases for the transfer tests: a SQLite file, and a PostgreSQL database of the test's own.

PostgreSQL is found at ``KONTENT_TEST_POSTGRES_URL`` (default ``postgresql://postgres@127.0.0.1:5432/postgres``,
the server of the development machine). Each test gets a fresh database named ``kontent_t_<random>``
and drops it afterwards, so parallel runs never collide. When the server is unreachable the PostgreSQL
tests are skipped with the reason, except under ``CI=true``, where they fail: CI must test PostgreSQL.
"""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

POSTGRES_URL = os.environ.get("KONTENT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
MARIADB_URL = os.environ.get("KONTENT_TEST_MARIADB_URL", "mysql://root@127.0.0.1:3306/test")
SQL_CONN_ID = "kontent_mirror"


def server_unavailable(server: str, reason: str, setting: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{server} is required under CI=true: {reason}")
    pytest.skip(f"{server} not available ({reason}); set {setting} or start the server")


def postgres_unavailable(reason: str) -> None:
    server_unavailable("PostgreSQL", reason, "KONTENT_TEST_POSTGRES_URL")


def _admin_connect() -> Any:
    try:
        import psycopg
    except ImportError as err:  # the postgres test extra is not installed
        postgres_unavailable(f"psycopg is not installed: {err}")
    try:
        return psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=3)
    except Exception as err:
        postgres_unavailable(f"{POSTGRES_URL}: {type(err).__name__}: {err}")


@dataclass
class SqlTarget:
    """One test database and the Airflow connection ``kontent_mirror`` pointing at it."""

    kind: str  # "sqlite", "postgres" or "mariadb" (the loader-level tests only: no Airflow hook for it)
    uri: str
    conn_id: str = SQL_CONN_ID

    def connect(self) -> Any:
        if self.kind == "sqlite":
            return sqlite3.connect(self.uri)
        if self.kind == "mariadb":
            return _mariadb_connect(self.uri, ansi_quotes=True)
        import psycopg

        return psycopg.connect(self.uri, autocommit=True)

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        """Run ``sql`` (``?`` placeholders, ``"`` quoting) outside any load; returns the rows."""
        if self.kind != "sqlite":
            sql = sql.replace("?", "%s")
        with closing(self.connect()) as conn:
            cursor = conn.cursor()
            cursor.execute(sql, params)
            rows = cursor.fetchall() if cursor.description else []
            if self.kind != "postgres":
                conn.commit()
            return [tuple(r) for r in rows]

    def execute(self, sql: str, params: tuple = ()) -> None:
        self.query(sql, params)

    def session(self, dialect_name: str | None = None) -> Any:
        """A ``SqlSession`` on a new raw connection (``dialect_name`` overrides, e.g. ``"generic"``)."""
        from airflow_provider_kontent.transfers.sql_dialects import SqlDialect, SqlSession

        name = dialect_name or {"sqlite": "sqlite", "postgres": "postgresql", "mariadb": "mysql"}[self.kind]
        placeholder = "?" if self.kind == "sqlite" else "%s"
        # the loader's own MariaDB connection quotes with backticks, not ANSI double quotes
        conn = _mariadb_connect(self.uri, ansi_quotes=False) if self.kind == "mariadb" else self.connect()
        if self.kind == "postgres":
            conn.autocommit = False
        return SqlSession(conn, SqlDialect(name, placeholder), label=f"connection {self.conn_id!r}")


def _sqlite_target(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> SqlTarget:
    path = tmp_path / "mirror.sqlite"
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{SQL_CONN_ID.upper()}", json.dumps({"conn_type": "sqlite", "host": str(path)})
    )
    return SqlTarget("sqlite", str(path))


def _postgres_target(monkeypatch: pytest.MonkeyPatch) -> Iterator[SqlTarget]:
    admin = _admin_connect()
    name = f"kontent_t_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        parts = urlsplit(POSTGRES_URL)
        uri = urlunsplit(parts._replace(path=f"/{name}"))
        monkeypatch.setenv(f"AIRFLOW_CONN_{SQL_CONN_ID.upper()}", uri)
        try:
            yield SqlTarget("postgres", uri)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _mariadb_connect(uri: str, *, ansi_quotes: bool) -> Any:
    import pymysql

    parts = urlsplit(uri)
    conn = pymysql.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 3306,
        user=parts.username or "root",
        password=parts.password or "",
        database=parts.path.lstrip("/") or None,
        connect_timeout=3,
        charset="utf8mb4",
    )
    if ansi_quotes:  # the tests' own SQL quotes identifiers with double quotes
        with conn.cursor() as cursor:
            cursor.execute("SET SESSION sql_mode = CONCAT(@@sql_mode, ',ANSI_QUOTES')")
    return conn


def _mariadb_target() -> Iterator[SqlTarget]:
    try:
        admin = _mariadb_connect(MARIADB_URL, ansi_quotes=False)
    except ImportError as err:
        server_unavailable("MariaDB", f"PyMySQL is not installed: {err}", "KONTENT_TEST_MARIADB_URL")
    except Exception as err:
        server_unavailable(
            "MariaDB", f"{MARIADB_URL}: {type(err).__name__}: {err}", "KONTENT_TEST_MARIADB_URL"
        )
    name = f"kontent_t_{uuid.uuid4().hex[:12]}"
    with closing(admin), admin.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        try:
            yield SqlTarget("mariadb", urlunsplit(urlsplit(MARIADB_URL)._replace(path=f"/{name}")))
        finally:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")


@pytest.fixture(params=["sqlite", "postgres", "mariadb"])
def loader_db(request, tmp_path, monkeypatch) -> Iterator[SqlTarget]:
    """For tests of the loader itself (raw DB-API connections): SQLite, PostgreSQL and MariaDB."""
    if request.param == "sqlite":
        yield _sqlite_target(tmp_path, monkeypatch)
    elif request.param == "postgres":
        yield from _postgres_target(monkeypatch)
    else:
        yield from _mariadb_target()


@pytest.fixture(params=["sqlite", "postgres"])
def sql_db(request, tmp_path, monkeypatch) -> Iterator[SqlTarget]:
    """The test runs once on SQLite and once on PostgreSQL (its own database, dropped afterwards)."""
    if request.param == "sqlite":
        yield _sqlite_target(tmp_path, monkeypatch)
    else:
        yield from _postgres_target(monkeypatch)


@pytest.fixture
def sqlite_db(tmp_path, monkeypatch) -> SqlTarget:
    return _sqlite_target(tmp_path, monkeypatch)
