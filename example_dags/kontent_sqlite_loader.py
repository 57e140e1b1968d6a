"""Apply Kontent.ai sync records to a local SQLite database (used by ``kontent_sync_to_sqlite``).

Kept free of Airflow imports so the schema and the upsert rules can be unit-tested on their own and
copied into any other loader. The input is the provider's record shape (one dict per compacted delta,
the same dict found in the pull's NDJSON files and XCom ``records``)::

    {"kind": "item", "change_type": "changed" | "deleted" | ..., "timestamp": "...", "id": "...",
     "language": "en-US", "codename": "...", "type": "article", "collection": "default",
     "system": {...}, "elements": {...} | None,
     "content": {"item": {"system": ..., "elements": ...}, "modular_content": {...}} | None,
     "content_missing": bool}

Why the rules are what they are:

* Items are keyed by ``(id, language)``: a Kontent item exists once per language variant and its
  codename can change, so neither the codename nor the id alone identifies a row.
* Every load runs in ONE transaction. The token is committed only after the load succeeded, so a
  failure anywhere replays the same deltas next run; because Kontent reports only the last change per
  entity, upserting and deleting again is harmless (at-least-once delivery, idempotent apply).
* A retried load of the same run first removes that run's change-log rows, so the log stays exact.
* Languages are never deleted: for languages Kontent's ``deleted`` means *deactivated*, so the row
  keeps its history and gets ``active = 0``.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS content_items (
    id               TEXT NOT NULL,
    language         TEXT NOT NULL,
    codename         TEXT,
    name             TEXT,
    type             TEXT,
    collection       TEXT,
    workflow         TEXT,
    workflow_step    TEXT,
    last_modified    TEXT,
    elements         TEXT,            -- JSON: the Delivery API elements object
    modular_content  TEXT,            -- JSON: components/linked items delivered with the item
    content_missing  INTEGER NOT NULL DEFAULT 0,
    sync_timestamp   TEXT,            -- when the change happened in the Delivery API
    loaded_at        TEXT NOT NULL,
    load_run         TEXT,
    PRIMARY KEY (id, language)
);
CREATE TABLE IF NOT EXISTS content_types (
    id             TEXT PRIMARY KEY,
    codename       TEXT,
    name           TEXT,
    last_modified  TEXT,
    elements       TEXT,
    sync_timestamp TEXT,
    loaded_at      TEXT NOT NULL,
    load_run       TEXT
);
CREATE TABLE IF NOT EXISTS taxonomy_groups (
    id             TEXT PRIMARY KEY,
    codename       TEXT,
    name           TEXT,
    last_modified  TEXT,
    terms          TEXT,
    sync_timestamp TEXT,
    loaded_at      TEXT NOT NULL,
    load_run       TEXT
);
CREATE TABLE IF NOT EXISTS languages (
    id             TEXT PRIMARY KEY,
    codename       TEXT,
    name           TEXT,
    active         INTEGER NOT NULL DEFAULT 1,
    sync_timestamp TEXT,
    loaded_at      TEXT NOT NULL,
    load_run       TEXT
);
CREATE TABLE IF NOT EXISTS sync_changes (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    load_run   TEXT NOT NULL,
    source     TEXT NOT NULL,           -- 'snapshot' or 'delta'
    kind       TEXT NOT NULL,
    entity_id  TEXT NOT NULL,
    language   TEXT,
    codename   TEXT,
    action     TEXT NOT NULL,           -- 'upsert', 'delete' or 'deactivate'
    timestamp  TEXT
);
CREATE TABLE IF NOT EXISTS sync_loads (
    load_run     TEXT NOT NULL,
    source       TEXT NOT NULL,
    upserts      INTEGER NOT NULL,
    deletes      INTEGER NOT NULL,
    ignored      INTEGER NOT NULL,
    next_token_prefix TEXT,
    loaded_at    TEXT NOT NULL,
    PRIMARY KEY (load_run, source)
);
"""

#: Table per entity kind; the provider spells kinds in the singular, Sync v2 payloads in the plural.
TABLES: dict[str, str] = {
    "item": "content_items",
    "type": "content_types",
    "taxonomy": "taxonomy_groups",
    "language": "languages",
}
_KIND_ALIASES = {
    "items": "item",
    "content_item": "item",
    "types": "type",
    "content_type": "type",
    "taxonomies": "taxonomy",
    "taxonomy_group": "taxonomy",
    "languages": "language",
}
_CHANGED = {"changed", "changed_item"}
_DELETED = {"deleted", "deleted_item"}


@dataclass
class LoadResult:
    """What one call to :func:`apply_records` did; returned to XCom, so it stays JSON-friendly."""

    upserts: Counter = field(default_factory=Counter)
    deletes: Counter = field(default_factory=Counter)
    ignored: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"upserts": dict(self.upserts), "deletes": dict(self.deletes), "ignored": self.ignored}


def connect(db_path: str | Path) -> sqlite3.Connection:
    """Open (and create if needed) the target database with the schema in place."""
    path = Path(db_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA)
    return conn


def normalize_kind(kind: str | None) -> str | None:
    if kind is None:
        return None
    kind = str(kind).lower()
    return _KIND_ALIASES.get(kind, kind)


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, ensure_ascii=False)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _item_row(record: Mapping[str, Any]) -> dict[str, Any]:
    """Build an item row; full content (when fetched) wins over the delta's own system block."""
    content = record.get("content") or {}
    item = content.get("item") or {}
    system = {**(record.get("system") or {}), **(item.get("system") or {})}
    elements = item.get("elements") if item else record.get("elements")
    return {
        "id": record.get("id") or system.get("id"),
        "language": record.get("language") or system.get("language"),
        "codename": system.get("codename") or record.get("codename"),
        "name": system.get("name"),
        "type": system.get("type") or record.get("type"),
        "collection": system.get("collection") or record.get("collection"),
        "workflow": system.get("workflow"),
        "workflow_step": system.get("workflow_step"),
        "last_modified": system.get("last_modified"),
        "elements": _json(elements),
        "modular_content": _json(content.get("modular_content") or None),
        "content_missing": 1 if record.get("content_missing") else 0,
    }


def _entity_row(kind: str, record: Mapping[str, Any]) -> dict[str, Any]:
    content = record.get("content") or {}
    system = {**(record.get("system") or {}), **(content.get("system") or {})}
    row: dict[str, Any] = {
        "id": record.get("id") or system.get("id"),
        "codename": system.get("codename") or record.get("codename"),
        "name": system.get("name"),
    }
    if kind == "type":
        row["last_modified"] = system.get("last_modified")
        row["elements"] = _json(content.get("elements") or record.get("elements"))
    elif kind == "taxonomy":
        row["last_modified"] = system.get("last_modified")
        row["terms"] = _json(content.get("terms") or record.get("terms"))
    elif kind == "language":
        row["active"] = 1
    return row


def _upsert(conn: sqlite3.Connection, table: str, row: dict[str, Any], keys: tuple[str, ...]) -> None:
    """INSERT .. ON CONFLICT DO UPDATE; columns left None keep their stored value (e.g. elements)."""
    columns = list(row)
    placeholders = ", ".join(f":{c}" for c in columns)
    updates = ", ".join(
        f"{c} = COALESCE(excluded.{c}, {table}.{c})"
        if c in ("elements", "terms", "modular_content")
        else f"{c} = excluded.{c}"
        for c in columns
        if c not in keys
    )
    conn.execute(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders}) "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}",
        row,
    )


def apply_records(
    conn: sqlite3.Connection,
    records: Iterable[Mapping[str, Any]],
    *,
    load_run: str,
    source: str = "delta",
    next_token: str | None = None,
) -> LoadResult:
    """Apply ``records`` in one transaction and log each change under ``(load_run, source)``.

    Unknown kinds or change types are counted as ``ignored`` rather than failing the load: Kontent
    may add new ones without notice, and a loader that crashes on them would stall the sync.
    """
    result = LoadResult()
    loaded_at = _now()
    with conn:  # one transaction: commit on success, roll back on any error
        conn.execute("DELETE FROM sync_changes WHERE load_run = ? AND source = ?", (load_run, source))
        for record in records:
            kind = normalize_kind(record.get("kind"))
            change = str(record.get("change_type") or "").lower()
            table = TABLES.get(kind or "")
            if table is None or change not in _CHANGED | _DELETED:
                result.ignored += 1
                continue
            meta = {"sync_timestamp": record.get("timestamp"), "loaded_at": loaded_at, "load_run": load_run}
            if kind == "item":
                row = _item_row(record)
                keys: tuple[str, ...] = ("id", "language")
            else:
                row = _entity_row(kind, record)
                keys = ("id",)
            if any(row.get(k) is None for k in keys):
                result.ignored += 1
                continue
            if change in _CHANGED:
                _upsert(conn, table, {**row, **meta}, keys)
                action = "upsert"
                result.upserts[kind] += 1
            elif kind == "language":
                _upsert(conn, table, {**row, "active": 0, **meta}, keys)
                action = "deactivate"
                result.deletes[kind] += 1
            else:
                where = " AND ".join(f"{k} = ?" for k in keys)
                conn.execute(f"DELETE FROM {table} WHERE {where}", tuple(row[k] for k in keys))
                action = "delete"
                result.deletes[kind] += 1
            conn.execute(
                "INSERT INTO sync_changes (load_run, source, kind, entity_id, language, codename, action, "
                "timestamp) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    load_run,
                    source,
                    kind,
                    row["id"],
                    row.get("language"),
                    row.get("codename"),
                    action,
                    record.get("timestamp"),
                ),
            )
        conn.execute(
            "INSERT OR REPLACE INTO sync_loads (load_run, source, upserts, deletes, ignored, "
            "next_token_prefix, loaded_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                load_run,
                source,
                sum(result.upserts.values()),
                sum(result.deletes.values()),
                result.ignored,
                (next_token or "")[:12] or None,
                loaded_at,
            ),
        )
    return result


def model_records(
    types: Iterable[Mapping[str, Any]] = (),
    taxonomies: Iterable[Mapping[str, Any]] = (),
    languages: Iterable[Mapping[str, Any]] = (),
) -> Iterator[dict[str, Any]]:
    """Delivery API objects (``{"system": ..., "elements" | "terms": ...}``) as "changed" records.

    The init snapshot exports items only; the first load completes the content model from the
    Delivery API's list endpoints so the mirror starts with every table filled.
    """
    for kind, objects in (("type", types), ("taxonomy", taxonomies), ("language", languages)):
        for obj in objects:
            system = obj.get("system") or {}
            yield {
                "kind": kind,
                "change_type": "changed",
                "timestamp": None,
                "id": system.get("id"),
                "codename": system.get("codename"),
                "system": dict(system),
                "content": dict(obj),
            }


def with_model_content(
    records: Iterable[Mapping[str, Any]],
    types: Iterable[Mapping[str, Any]] = (),
    taxonomies: Iterable[Mapping[str, Any]] = (),
) -> Iterator[dict[str, Any]]:
    """Attach full definitions to changed type/taxonomy records (Sync v2 deltas carry only ``system``)."""
    by_id = {
        (kind, (obj.get("system") or {}).get("id")): obj
        for kind, objects in (("type", types), ("taxonomy", taxonomies))
        for obj in objects
    }
    for record in records:
        kind = normalize_kind(record.get("kind"))
        full = by_id.get((kind, record.get("id")))
        if (
            full is not None
            and str(record.get("change_type")).lower() in _CHANGED
            and not record.get("content")
        ):
            record = {**record, "content": dict(full)}
        yield dict(record)


def read_ndjson(paths: Iterable[Any]) -> Iterator[dict[str, Any]]:
    """Stream records from NDJSON files given as ``str``, ``Path`` or ``ObjectStoragePath``.

    Streaming (instead of loading the files into memory) keeps a 50k-delta backlog cheap.
    """
    for path in paths:
        opener = path.open if hasattr(path, "open") else Path(path).open
        with opener("r") as handle:
            for line in handle:
                line = line.strip()
                if line:
                    yield json.loads(line)


def table_counts(db_path: str | Path) -> dict[str, int]:
    """Rows per entity table (the demo's before/after summary)."""
    with closing(sqlite3.connect(db_path)) as conn:
        return {
            table: conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] for table in TABLES.values()
        }
