"""The mirror's tables, and their migrations by a recorded schema version.

Every table lives under a configurable prefix (default ``kontent_``) and, optionally, a schema:

* ``items``: one row per item variant, keyed by ``(id, language)`` (an item exists once per language and
  its codename can change, so neither alone identifies a row): system fields, ``elements`` and the
  ``modular_content`` (components and linked items delivered with it) as JSON (JSONB on PostgreSQL);
* ``types``, ``taxonomies``: the content model, keyed by id, definitions as JSON;
* ``languages``: keyed by id; a deactivated language keeps its row with ``active`` false;
* ``load_log``: what each load applied (run id, source, kind, key, action), replaced when the same run's
  load is retried so it stays exact; ``loads``: one summary row per load;
* ``typed_tables``, ``typed_columns``: the registry of the optional typed tables (one per content type,
  see ``typed_tables.py``), added by schema version 2;
* ``schema_version``: the versions applied. A database written by a newer provider version is refused
  rather than guessed at.

The token store's state table (``sql_token_store.py``) is created by the store itself, because the init
task writes it before any load ran.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from airflow_provider_kontent.transfers.sql_dialects import SqlDialect, SqlLoadError, SqlSession

__all__ = ["LATEST_VERSION", "TABLE_COLUMNS", "MirrorTables", "ensure_schema"]

_META = {"sync_timestamp": "timestamp", "loaded_at": "timestamp", "load_run": "key"}

#: logical column types per table (see ``SqlDialect.column_type``); the first key columns are the primary key
TABLE_COLUMNS: dict[str, dict[str, str]] = {
    "items": {
        "id": "key",
        "language": "key",
        "codename": "key",
        "name": "text",
        "type": "key",
        "collection": "key",
        "workflow": "key",
        "workflow_step": "key",
        "last_modified": "timestamp",
        "elements": "json",
        "modular_content": "json",
        "content_missing": "bool",
        **_META,
        "load_id": "key",
    },
    "types": {
        "id": "key",
        "codename": "key",
        "name": "text",
        "last_modified": "timestamp",
        "elements": "json",
        **_META,
        "load_id": "key",
    },
    "taxonomies": {
        "id": "key",
        "codename": "key",
        "name": "text",
        "last_modified": "timestamp",
        "terms": "json",
        **_META,
        "load_id": "key",
    },
    "languages": {
        "id": "key",
        "codename": "key",
        "name": "text",
        "active": "bool",
        **_META,
        "load_id": "key",
    },
}
PRIMARY_KEYS = {"items": ("id", "language"), "types": ("id",), "taxonomies": ("id",), "languages": ("id",)}


@dataclass(frozen=True)
class MirrorTables:
    """Qualified, quoted names of one mirror's tables."""

    dialect: SqlDialect
    prefix: str = "kontent_"
    schema: str | None = None

    def raw(self, name: str) -> str:
        """The unquoted table name (for messages)."""
        table = f"{self.prefix}{name}"
        return f"{self.schema}.{table}" if self.schema else table

    def __getitem__(self, name: str) -> str:
        return self.dialect.qualified(f"{self.prefix}{name}", self.schema)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def _create(tables: MirrorTables, name: str, columns: dict[str, str], keys: tuple[str, ...]) -> str:
    d = tables.dialect
    cols = [f"{d.quote(c)} {d.column_type(t)}{' NOT NULL' if c in keys else ''}" for c, t in columns.items()]
    cols.append(f"PRIMARY KEY ({', '.join(d.quote(k) for k in keys)})")
    return f"CREATE TABLE IF NOT EXISTS {tables[name]} ({', '.join(cols)})"


def _version_1(session: SqlSession, tables: MirrorTables) -> None:
    d = tables.dialect
    for name, columns in TABLE_COLUMNS.items():
        session.execute(_create(tables, name, columns, PRIMARY_KEYS[name]))
    log_columns = ", ".join(
        f"{d.quote(c)} {d.column_type(t)}"
        for c, t in {
            "load_run": "key",
            "source": "key",
            "kind": "key",
            "entity_id": "key",
            "language": "key",
            "codename": "key",
            "action": "key",
            "timestamp": "timestamp",
        }.items()
    )
    session.execute(
        f"CREATE TABLE IF NOT EXISTS {tables['load_log']} ({d.quote('seq')} {d.serial_primary_key()}, {log_columns})"
    )
    if_not_exists = "" if d.name == "mysql" else "IF NOT EXISTS "  # the migration may be repeated
    session.execute(
        f"CREATE INDEX {if_not_exists}{d.quote(tables.prefix + 'load_log_run')} ON {tables['load_log']} "
        f"({d.quote('load_run')}, {d.quote('source')})"
    )
    loads = {
        "load_run": "key",
        "source": "key",
        "load_id": "key",
        "upserts": "int",
        "deletes": "int",
        "ignored": "int",
        "refreshed": "int",
        "previous_token": "key",  # fingerprints (tokens.token_fingerprint), as in the logs
        "next_token": "key",
        "loaded_at": "timestamp",
    }
    session.execute(_create(tables, "loads", loads, ("load_run", "source")))


def _version_2(session: SqlSession, tables: MirrorTables) -> None:
    """The registry of the typed tables: which table and column hold which type and element."""
    session.execute(
        _create(tables, "typed_tables", {"type_codename": "key", "table_name": "key"}, ("type_codename",))
    )
    columns = {"type_codename": "key", "element_codename": "key", "column_name": "key", "element_kind": "key"}
    session.execute(_create(tables, "typed_columns", columns, ("type_codename", "element_codename")))


MIGRATIONS: list[tuple[int, Callable[[SqlSession, MirrorTables], None]]] = [(1, _version_1), (2, _version_2)]
LATEST_VERSION = MIGRATIONS[-1][0]


def ensure_schema(session: SqlSession, tables: MirrorTables, *, target: int = LATEST_VERSION) -> int:
    """Create the tables when missing and apply the migrations not yet recorded; returns the version.

    Each migration runs in its own transaction (MySQL commits DDL implicitly anyway), before the load's
    transaction starts, so a failed load never leaves half a migration behind.
    """
    d = tables.dialect
    version_table = tables["schema_version"]
    with session.transaction():
        if d.name == "postgresql" and tables.schema:
            session.execute(f"CREATE SCHEMA IF NOT EXISTS {d.quote(tables.schema)}")
        session.execute(
            f"CREATE TABLE IF NOT EXISTS {version_table} ({d.quote('version')} {d.column_type('int')} "
            f"NOT NULL, {d.quote('applied_at')} {d.column_type('timestamp')}, PRIMARY KEY ({d.quote('version')}))"
        )
    with session.transaction():
        rows = session.query(f"SELECT MAX({d.quote('version')}) FROM {version_table}")
    current = int(rows[0][0] or 0) if rows else 0
    if current > LATEST_VERSION:
        raise SqlLoadError(
            f"{session.label}: table {tables.raw('schema_version')} records schema version {current}, newer "
            f"than this provider's {LATEST_VERSION}. Upgrade airflow-provider-kontent, or load into another "
            "table_prefix/schema.",
            retryable=False,
        )
    for version, migrate in MIGRATIONS:
        if current < version <= target:
            with session.transaction():
                migrate(session, tables)
                session.execute(
                    f"INSERT INTO {version_table} ({d.quote('version')}, {d.quote('applied_at')}) VALUES (?, ?)",
                    (version, _now()),
                )
            current = version
    return current
