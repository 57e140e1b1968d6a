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
  keeps its history and gets ``active = 0``; Delivery stops serving its variants, so their
  ``content_items`` rows go (see :class:`DependentRefresh`).
* Sync reports only the object that changed, never what depends on it. Items store their type's
  codename and rendered elements (element names, taxonomy term names, components), so a changed type,
  taxonomy group, language or rich-text component would leave rows stale. :class:`DependentRefresh`
  re-reads the affected items from the Delivery API inside the same transaction.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from airflow_provider_kontent.client import ChangeType, item_content

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


@dataclass
class LoadResult:
    """What one call to :func:`apply_records` did; returned to XCom, so it stays JSON-friendly."""

    upserts: Counter = field(default_factory=Counter)
    deletes: Counter = field(default_factory=Counter)
    ignored: int = 0
    #: what :class:`DependentRefresh` did: ``components`` (deltas consumed), ``upserts``, ``deletes``
    refreshed: Counter = field(default_factory=Counter)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "upserts": dict(self.upserts),
            "deletes": dict(self.deletes),
            "ignored": self.ignored,
        }
        if self.refreshed:
            out["refreshed"] = dict(self.refreshed)
        return out


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


def _log_change(conn: sqlite3.Connection, change: tuple[Any, ...], timestamp: str | None) -> None:
    """One ``sync_changes`` row; ``change`` is (load_run, source, kind, entity_id, language, codename, action)."""
    conn.execute(
        "INSERT INTO sync_changes (load_run, source, kind, entity_id, language, codename, action, "
        "timestamp) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (*change, timestamp),
    )


def apply_records(
    conn: sqlite3.Connection,
    records: Iterable[Mapping[str, Any]],
    *,
    load_run: str,
    source: str = "delta",
    next_token: str | None = None,
    refresh: DependentRefresh | None = None,
    prune_items: bool = False,
) -> LoadResult:
    """Apply ``records`` in one transaction and log each change under ``(load_run, source)``.

    Unknown kinds or change types are counted as ``ignored`` rather than failing the load: Kontent
    may add new ones without notice, and a loader that crashes on them would stall the sync.

    ``refresh`` (deltas): after the records, re-read from Delivery the items that depend on what
    changed (logged under source ``'refresh'``). ``prune_items`` (a full snapshot): delete item rows
    the records do not contain, so a re-exported snapshot also drops what vanished since the last one.
    """
    result = LoadResult()
    loaded_at = _now()
    seen_items: set[tuple[str, str]] = set()
    with conn:  # one transaction: commit on success, roll back on any error
        conn.execute("DELETE FROM sync_changes WHERE load_run = ? AND source = ?", (load_run, source))
        if refresh is not None:
            conn.execute("DELETE FROM sync_changes WHERE load_run = ? AND source = 'refresh'", (load_run,))
        for record in records:
            if refresh is not None and refresh.observe(conn, record):
                result.refreshed["components"] += 1
                continue
            kind = normalize_kind(record.get("kind"))
            change = ChangeType.parse(record.get("change_type"))  # v1's ``changed_item`` too
            table = TABLES.get(kind or "")
            if table is None or change is ChangeType.UNKNOWN:
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
            if kind == "item":
                seen_items.add((row["id"], row["language"]))
            if change is ChangeType.CHANGED:
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
            _log_change(
                conn,
                (load_run, source, kind, row["id"], row.get("language"), row.get("codename"), action),
                record.get("timestamp"),
            )
        if prune_items:
            stale = [
                key
                for key in conn.execute("SELECT id, language FROM content_items").fetchall()
                if key not in seen_items
            ]
            conn.executemany("DELETE FROM content_items WHERE id = ? AND language = ?", stale)
            result.deletes["item"] += len(stale)
        if refresh is not None:
            refresh.run(conn, result, load_run=load_run, loaded_at=loaded_at)
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


#: Kontent names a rich-text component ``n`` + its id with underscores (it has no codename of its own).
COMPONENT_CODENAME = re.compile(r"^n[0-9a-f]{8}(?:_[0-9a-f]{4}){3}_[0-9a-f]{12}$")
#: Ids per ``system.id[in]`` items-feed request: 40 GUIDs keep the URL well under 2,000 characters.
ID_CHUNK = 40


def is_component_record(record: Mapping[str, Any]) -> bool:
    """Whether an item delta is a rich-text component rather than a content item.

    Sync reports a component edit as an item delta, but a component is no item of its own: Delivery
    serves it only inside its parent's ``modular_content`` (so the pull finds no content for it) and
    its ``system`` has no workflow. A real item always comes with workflow fields, so both signals
    are required; the codename shape or the missing content confirms it.
    """
    if normalize_kind(record.get("kind")) != "item":
        return False
    if ((record.get("content") or {}).get("item")) is not None:
        return False
    system = record.get("system") or {}
    if "workflow" in system or "workflow_step" in system:
        return False
    codename = system.get("codename") or record.get("codename") or ""
    return bool(COMPONENT_CODENAME.match(str(codename))) or bool(record.get("content_missing"))


def _placeholders(values: Sequence[Any]) -> str:
    return ", ".join("?" for _ in values)


class DependentRefresh:
    """Re-read from Delivery the item variants that depend on a changed type, taxonomy group,
    language or component, because Sync v2 reports only the changed object itself.

    ``client`` needs one method, ``iter_items_feed_pages(language, extra_params=[...])`` yielding pages
    with ``items`` and ``modular_content`` (the provider's ``KontentClient``); it sends
    ``language=L&system.language=L``, so fallbacks never land in the mirror. ``types``: the Delivery
    API's current type definitions (``client.list_types()``), used to find the types bound to a
    changed taxonomy group; the stored ``content_types`` rows are consulted as well.

    :meth:`observe` sees each record *before* it is applied (to remember e.g. a type's old codename)
    and consumes component deltas; :meth:`run` then refreshes inside the same transaction. For a
    refreshed scope (a type in a language, or a whole language) the items-feed answer is the truth:
    its items are upserted, stored rows of that scope it does not serve are deleted.
    """

    def __init__(self, client: Any, *, types: Iterable[Mapping[str, Any]] = ()) -> None:
        self.client = client
        self.types = list(types)
        self.type_codenames: dict[str, set[str]] = {}  # type id -> {old codename, new codename}
        self.taxonomy_codenames: set[str] = set()
        self.languages_to_purge: set[str] = set()
        self.languages_to_reload: set[str] = set()
        self.components: set[tuple[str, str | None]] = set()  # (codename, language)
        self.component_ids: set[str] = set()

    # --- before the records are applied ---------------------------------------------------------
    def observe(self, conn: sqlite3.Connection, record: Mapping[str, Any]) -> bool:
        """Note what ``record`` invalidates; True when it is consumed here (a component delta)."""
        kind = normalize_kind(record.get("kind"))
        change = ChangeType.parse(record.get("change_type"))
        if change is ChangeType.UNKNOWN:
            return False
        system = record.get("system") or {}
        entity_id = record.get("id") or system.get("id")
        codename = system.get("codename") or record.get("codename")
        if kind == "item":
            if not is_component_record(record):
                return False
            if codename:
                self.components.add((codename, record.get("language") or system.get("language")))
            if entity_id:
                self.component_ids.add(entity_id)
            return True
        if kind not in ("type", "taxonomy", "language") or not entity_id:
            return False
        stored = conn.execute(f"SELECT codename FROM {TABLES[kind]} WHERE id = ?", (entity_id,)).fetchone()
        names = {n for n in (codename, stored[0] if stored else None) if n}
        if kind == "type":
            self.type_codenames.setdefault(entity_id, set()).update(names)
        elif kind == "taxonomy":
            self.taxonomy_codenames.update(names)
        elif change is ChangeType.DELETED:  # a deactivated language: Delivery no longer serves its variants
            self.languages_to_purge.update(names)
        else:
            active = conn.execute("SELECT active FROM languages WHERE id = ?", (entity_id,)).fetchone()
            if stored is None or stored[0] != codename or not (active and active[0]):
                # new, renamed or re-activated: its variants were never reported as item deltas
                self.languages_to_purge.update(names - {codename})
                if codename:
                    self.languages_to_reload.add(codename)
        return False

    # --- after the records are applied, same transaction ----------------------------------------
    def run(self, conn: sqlite3.Connection, result: LoadResult, *, load_run: str, loaded_at: str) -> None:
        """Refresh everything :meth:`observe` noted; counts go to ``result.refreshed``."""
        self._result, self._load_run, self._loaded_at = result, load_run, loaded_at
        purge = self.languages_to_purge - self.languages_to_reload
        for language in sorted(purge):
            self._delete_where(conn, "language = ?", (language,))
        if self.component_ids:  # rows an earlier loader stored for components
            ids = sorted(self.component_ids)
            self._delete_where(conn, f"id IN ({_placeholders(ids)})", tuple(ids))
        active = self._active_languages(conn)
        for language in sorted(self.languages_to_reload & set(active)):
            self._refresh_scope(conn, language, [[]], "language = ?", (language,))
        stale_types = self._affected_types(conn)
        if stale_types:
            stale = sorted(stale_types)
            known = self._current_types()  # without definitions, ask for every codename
            current = [n for n in stale if not known or n in known]
            for language in active:
                if language in self.languages_to_reload:
                    continue
                where = f"language = ? AND type IN ({_placeholders(stale)})"
                queries = [[("system.type", name)] for name in current]
                self._refresh_scope(conn, language, queries, where, (language, *stale))
        self._refresh_parents(conn, active, stale_types)

    def _current_types(self) -> set[str]:
        return {(t.get("system") or {}).get("codename") for t in self.types} - {None}

    def _active_languages(self, conn: sqlite3.Connection) -> list[str]:
        rows = conn.execute("SELECT codename FROM languages WHERE active = 1 ORDER BY codename").fetchall()
        if not rows:  # no content model loaded: the languages the mirror holds
            rows = conn.execute("SELECT DISTINCT language FROM content_items ORDER BY language").fetchall()
        return [r[0] for r in rows if r[0]]

    def _affected_types(self, conn: sqlite3.Connection) -> set[str]:
        """Codenames (old and new) of changed types plus those of the types bound to a changed taxonomy group."""
        affected: set[str] = set().union(*self.type_codenames.values())
        if self.taxonomy_codenames:
            stored = [
                {"system": {"codename": codename}, "elements": json.loads(elements or "{}")}
                for codename, elements in conn.execute("SELECT codename, elements FROM content_types")
            ]
            for definition in [*self.types, *stored]:
                elements = definition.get("elements") or {}
                bound = any(
                    isinstance(e, dict)
                    and e.get("type") == "taxonomy"
                    and e.get("taxonomy_group") in self.taxonomy_codenames
                    for e in elements.values()
                )
                codename = (definition.get("system") or {}).get("codename")
                if bound and codename:
                    affected.add(codename)
        return affected

    def _feed(self, language: str, params: list[tuple[str, str]]) -> Iterator[dict[str, Any]]:
        for page in self.client.iter_items_feed_pages(language, extra_params=params or None):
            for item in page.items:
                yield item_content(item, page.modular_content or {})

    def _refresh_scope(
        self,
        conn: sqlite3.Connection,
        language: str,
        queries: list[list[tuple[str, str]]],
        where: str,
        args: tuple[Any, ...],
    ) -> None:
        """Upsert what the feed queries serve in ``language``; delete rows matching ``where`` it did not."""
        served: set[str] = set()
        for params in queries:
            for content in self._feed(language, params):
                served.add(self._upsert_content(conn, content))
        stored = conn.execute(f"SELECT id FROM content_items WHERE {where}", args).fetchall()
        gone = sorted({r[0] for r in stored} - served)
        if gone:
            self._delete_where(conn, f"language = ? AND id IN ({_placeholders(gone)})", (language, *gone))

    def _refresh_parents(self, conn: sqlite3.Connection, languages: list[str], types: set[str]) -> None:
        """Re-read the items whose stored ``modular_content`` holds a changed component, or an entry
        of a changed type (a component's rendering follows its type's definition too)."""
        parents: dict[str, set[str]] = {}
        needles = [(f'"{c}"', c, lang) for c, lang in self.components]
        needles += [(f'"type": "{t}"', None, None) for t in types]
        for needle, codename, language in needles:
            rows = conn.execute(
                "SELECT id, language, modular_content FROM content_items WHERE instr(modular_content, ?) > 0",
                (needle,),
            ).fetchall()
            for item_id, item_language, modular in rows:
                if language is not None and item_language != language:
                    continue
                used = json.loads(modular or "{}")
                if codename is not None:
                    hit = codename in used
                else:
                    hit = any(((c.get("system") or {}).get("type") in types) for c in used.values())
                if hit:
                    parents.setdefault(item_language, set()).add(item_id)
        for language in sorted(parents):
            if language not in languages:
                continue
            ids = sorted(parents[language])
            for start in range(0, len(ids), ID_CHUNK):
                chunk = ids[start : start + ID_CHUNK]
                queries = [[("system.id[in]", ",".join(chunk))]]
                where = f"language = ? AND id IN ({_placeholders(chunk)})"
                self._refresh_scope(conn, language, queries, where, (language, *chunk))

    def _upsert_content(self, conn: sqlite3.Connection, content: dict[str, Any]) -> str:
        system = content["item"].get("system") or {}
        record = {
            "kind": "item",
            "id": system.get("id"),
            "language": system.get("language"),
            "content": content,
        }
        row = _item_row(record)
        meta = {
            "sync_timestamp": system.get("last_modified"),
            "loaded_at": self._loaded_at,
            "load_run": self._load_run,
        }
        _upsert(conn, "content_items", {**row, **meta}, ("id", "language"))
        self._log(conn, row["id"], row["language"], row["codename"], "upsert")
        self._result.refreshed["upserts"] += 1
        return row["id"]

    def _delete_where(self, conn: sqlite3.Connection, where: str, args: tuple[Any, ...]) -> None:
        rows = conn.execute(
            f"SELECT id, language, codename FROM content_items WHERE {where}", args
        ).fetchall()
        conn.execute(f"DELETE FROM content_items WHERE {where}", args)
        for item_id, language, codename in rows:
            self._log(conn, item_id, language, codename, "delete")
        self._result.refreshed["deletes"] += len(rows)

    def _log(
        self, conn: sqlite3.Connection, item_id: str, language: str, codename: str | None, action: str
    ) -> None:
        _log_change(conn, (self._load_run, "refresh", "item", item_id, language, codename, action), None)


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
            and ChangeType.parse(record.get("change_type")) is ChangeType.CHANGED
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
