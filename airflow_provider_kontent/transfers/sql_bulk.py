"""PostgreSQL bulk path: ``COPY`` a batch into a temporary table, then one ``INSERT .. SELECT``.

``executemany`` sends one statement per row (psycopg pipelines them, but each row still costs a round
of parsing and planning on the server); ``COPY`` streams the whole batch. The upsert then runs once per
batch as ``INSERT .. SELECT DISTINCT ON (key) .. ON CONFLICT DO UPDATE``, so its result is the same as
the row-by-row upsert (the last row of a key wins). Any failure rolls back to a savepoint and returns
False: the caller then takes the row-by-row path, which names the row the database refuses.

Used only with psycopg 3 (the driver ``apache-airflow-providers-postgres`` uses with SQLAlchemy 2), whose
cursors have ``copy()``; other drivers keep ``executemany``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from airflow_provider_kontent.transfers.sql_dialects import SqlSession

__all__ = ["copy_insert", "copy_upsert", "supports_copy"]

_ORDER = "kontent_row_order"


def supports_copy(session: SqlSession) -> bool:
    return session.dialect.name == "postgresql" and hasattr(session.cursor, "copy")


def _stage(session: SqlSession, table: str, columns: Sequence[str]) -> str:
    """A session-local temporary table shaped like ``columns`` of ``table``, emptied."""
    d = session.dialect
    digest = hashlib.sha1(f"{table}:{','.join(columns)}".encode()).hexdigest()[:12]
    stage = d.quote(f"kontent_stage_{digest}")
    cols = ", ".join(d.quote(c) for c in columns)
    session.cursor.execute(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage} AS SELECT {cols}, 0::bigint AS {_ORDER} "
        f"FROM {table} WITH NO DATA"
    )
    session.cursor.execute(f"TRUNCATE {stage}")
    return stage


def _copy(
    session: SqlSession, target: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], order: bool
) -> None:
    d = session.dialect
    cols = [d.quote(c) for c in columns] + ([_ORDER] if order else [])
    with session.cursor.copy(f"COPY {target} ({', '.join(cols)}) FROM STDIN") as copy:
        for n, row in enumerate(rows):
            copy.write_row((*row, n) if order else tuple(row))


def copy_upsert(
    session: SqlSession,
    table: str,
    columns: Sequence[str],
    keys: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    keep_when_null: Sequence[str] = (),
) -> bool:
    """Upsert ``rows`` into ``table`` in three statements; False (nothing changed) when it fails."""
    d = session.dialect
    savepoint = f"kontent_copy_{len(rows)}"
    session.cursor.execute(f"SAVEPOINT {savepoint}")
    try:
        stage = _stage(session, table, columns)
        _copy(session, stage, columns, rows, order=True)
        cols = ", ".join(d.quote(c) for c in columns)
        key_cols = ", ".join(d.quote(k) for k in keys)
        select = f"SELECT DISTINCT ON ({key_cols}) {cols} FROM {stage} ORDER BY {key_cols}, {_ORDER} DESC"
        sql = d.upsert_from(
            f"INSERT INTO {table} AS stored ({cols}) {select}",
            table,
            columns,
            keys,
            keep_when_null=keep_when_null,
        )
        session.cursor.execute(sql)
    except Exception:
        session.cursor.execute(f"ROLLBACK TO SAVEPOINT {savepoint}")
        return False
    session.cursor.execute(f"RELEASE SAVEPOINT {savepoint}")
    return True


def copy_insert(
    session: SqlSession, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> bool:
    """Plain inserts (the load log) straight through ``COPY``; False (nothing changed) when it fails."""
    savepoint = "kontent_copy_insert"
    session.cursor.execute(f"SAVEPOINT {savepoint}")
    try:
        _copy(session, table, columns, rows, order=False)
    except Exception:
        session.cursor.execute(f"ROLLBACK TO SAVEPOINT {savepoint}")
        return False
    session.cursor.execute(f"RELEASE SAVEPOINT {savepoint}")
    return True
