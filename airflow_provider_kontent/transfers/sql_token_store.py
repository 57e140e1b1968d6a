"""``token_store="sql"``: the continuation token kept in a state table of the SQL destination itself.

With the token outside the destination (a Variable, asset state), the rows and the token move in two
steps, and two runs on one token (a misconfigured ``max_active_runs``) can both load before either
commit objects: the older load overwrites newer rows and that change is lost. With the token in the
destination, ``KontentToSqlOperator`` locks the token row at the start of its load transaction,
compares it with the token its pull started from and writes the new one in the same transaction as the
rows. A stale or concurrent load fails its transaction and changes nothing: exactly once into SQL.

The state table (default ``kontent_sync_state``, ``schema.table`` accepted) has one row per sync, keyed by
the Kontent connection id, holding the JSON token record. The init, sensor and pull read and write it
through this store (short transactions of their own); a plain ``commit`` (``KontentSyncCommitOperator``)
is a real compare-and-set here too, under the row lock.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

from airflow_provider_kontent.tokens import TokenRecord, TokenStore
from airflow_provider_kontent.transfers.sql_dialects import SqlLoadError, SqlSession, dialect_for

__all__ = ["DEFAULT_STATE_TABLE", "SqlTokenStore", "open_sql_session"]

DEFAULT_STATE_TABLE = "kontent_sync_state"


def open_sql_session(sql_conn_id: str) -> SqlSession:
    """A ``SqlSession`` on the ``common.sql`` hook of ``sql_conn_id``; errors name the connection."""
    from airflow.providers.common.sql.hooks.sql import DbApiHook

    from airflow_provider_kontent._compat import BaseHook

    label = f"connection {sql_conn_id!r}"
    connection = BaseHook.get_connection(sql_conn_id)
    try:
        hook = connection.get_hook()
    except Exception as err:
        raise SqlLoadError(
            f"{label}: no hook for connection type {connection.conn_type!r} ({err}); install the Airflow "
            "provider of that database (e.g. apache-airflow-providers-sqlite or -postgres)",
            retryable=False,
        ) from err
    if not isinstance(hook, DbApiHook):
        raise SqlLoadError(
            f"{label}: connection type {connection.conn_type!r} has no common.sql DbApiHook "
            f"({type(hook).__name__}); KontentToSqlOperator needs a SQL database connection",
            retryable=False,
        )
    dialect = dialect_for(hook)
    try:
        conn = hook.get_conn()
    except Exception as err:
        raise SqlLoadError(f"{label}: cannot connect to the database: {type(err).__name__}: {err}") from err
    return SqlSession(conn, dialect, label=label)


def _split(table: str) -> tuple[str | None, str]:
    schema, _, name = table.rpartition(".")
    return (schema or None), name


class SqlTokenStore(TokenStore):
    """The token record in a row of a state table in the destination database."""

    kind = "sql"

    def __init__(self, sql_conn_id: str, *, key: str, table: str = DEFAULT_STATE_TABLE) -> None:
        if not sql_conn_id:
            raise ValueError("token_store='sql' needs sql_conn_id (the destination database's connection)")
        self.sql_conn_id = sql_conn_id
        self.key = key
        self.table = table
        self._session: SqlSession | None = None  # set while bound to a caller's transaction

    @property
    def location(self) -> str:
        return f"table {self.table!r} (row {self.key!r}) of connection {self.sql_conn_id!r}"

    # --- SQL ---------------------------------------------------------------------------------
    def _name(self, session: SqlSession) -> str:
        schema, name = _split(self.table)
        return session.dialect.qualified(name, schema)

    def create_table(self, session: SqlSession) -> None:
        """Create the state table when missing (its own transaction; safe to repeat)."""
        d = session.dialect
        schema, _ = _split(self.table)
        with session.transaction():
            if schema and d.name == "postgresql":
                session.execute(f"CREATE SCHEMA IF NOT EXISTS {d.quote(schema)}")
            session.execute(
                f"CREATE TABLE IF NOT EXISTS {self._name(session)} ("
                f"{d.quote('sync_key')} {d.column_type('key')} NOT NULL, "
                f"{d.quote('token')} {d.column_type('text')}, "
                f"{d.quote('record')} {d.column_type('text')}, "
                f"{d.quote('updated_at')} {d.column_type('timestamp')}, "
                f"PRIMARY KEY ({d.quote('sync_key')}))"
            )

    @contextmanager
    def _own_session(self) -> Iterator[SqlSession]:
        if self._session is not None:
            yield self._session
            return
        session = open_sql_session(self.sql_conn_id)
        try:
            self.create_table(session)
            yield session
        finally:
            session.close()

    def _select(self, session: SqlSession, *, lock: bool) -> Any:
        d = session.dialect
        rows = session.query(
            f"SELECT {d.quote('record')} FROM {self._name(session)} WHERE {d.quote('sync_key')} = ?"
            + (d.for_update() if lock else ""),
            (self.key,),
        )
        return json.loads(rows[0][0]) if rows and rows[0][0] else None

    def _upsert(self, session: SqlSession, value: dict[str, Any]) -> None:
        d = session.dialect
        params = (str(value.get("token") or ""), json.dumps(value, sort_keys=True), _now(), self.key)
        session.execute(
            f"UPDATE {self._name(session)} SET {d.quote('token')} = ?, {d.quote('record')} = ?, "
            f"{d.quote('updated_at')} = ? WHERE {d.quote('sync_key')} = ?",
            params,
        )
        if session.rowcount() == 0:
            session.execute(
                f"INSERT INTO {self._name(session)} ({d.quote('token')}, {d.quote('record')}, "
                f"{d.quote('updated_at')}, {d.quote('sync_key')}) VALUES (?, ?, ?, ?)",
                params,
            )

    # --- TokenStore ----------------------------------------------------------------------------
    def _read(self) -> Any:
        with self._own_session() as session:
            if self._session is not None:
                return self._select(session, lock=True)
            with session.transaction():
                return self._select(session, lock=False)

    def _write(self, value: dict[str, Any]) -> None:
        with self._own_session() as session:
            if self._session is not None:
                self._upsert(session, value)
                return
            with session.transaction():
                self._upsert(session, value)

    def commit(self, record: TokenRecord, *, expected_token: str) -> bool:
        """A real compare-and-set: read (locked) and write in one transaction."""
        if self._session is not None:
            return super().commit(record, expected_token=expected_token)
        with self._own_session() as session, session.transaction(), self.bound(session):
            return super().commit(record, expected_token=expected_token)

    @contextmanager
    def bound(self, session: SqlSession) -> Iterator[SqlTokenStore]:
        """Read (with a row lock) and write through ``session``'s open transaction instead of our own.

        ``KontentToSqlOperator`` binds the store to its load transaction, so the token and the rows
        commit or roll back together.
        """
        previous, self._session = self._session, session
        try:
            yield self
        finally:
            self._session = previous


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")
