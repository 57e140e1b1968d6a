"""Apply a stream of records to the SQL mirror in one transaction (used by ``KontentToSqlOperator``).

Rules, and why:

* One transaction per load: a failure anywhere rolls everything back, so the token (which moves after
  the load, or inside this transaction with the SQL token store) and the rows never disagree, and the
  next run replays the same changes. Kontent reports the last change per entity, so upserting and
  deleting again is harmless: loads are idempotent. A retried load of one run replaces its log rows.
* Memory is bounded by a batch: records are consumed as a stream, rows go out in ``executemany``
  batches, and a snapshot's "rows it did not contain" are found in the database (each row carries the
  ``load_id`` of the load that wrote it), not in a set in memory.
* Languages are never deleted: Kontent's ``deleted`` means *deactivated*, so the row keeps its history
  with ``active`` false and the language's variants go. Variants of an inactive language never enter
  the mirror (a content-less change for one of them is skipped, not stored as an empty row).
* Unknown kinds and change types fail the load with the key: a loader that guesses loses data.
* Dependent refresh (``client/dependents.py``) re-reads the items behind changed types, taxonomy groups,
  languages and components inside the same transaction; deleting what a feed did not serve needs the
  independent count to agree first (never prune on a guess), and so does a snapshot's replacement.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from airflow_provider_kontent.client.dependents import (
    IncompleteExportError,
    RefreshPlan,
    check_served,
    normalize_kind,
)
from airflow_provider_kontent.client.models import ChangeType
from airflow_provider_kontent.transfers.sql_bulk import copy_insert, copy_upsert, supports_copy
from airflow_provider_kontent.transfers.sql_dialects import SqlLoadError, SqlSession, from_json
from airflow_provider_kontent.transfers.sql_refresh import refresh_dependents
from airflow_provider_kontent.transfers.sql_rows import KIND_TABLES, entity_row, item_row
from airflow_provider_kontent.transfers.sql_schema import PRIMARY_KEYS, TABLE_COLUMNS, MirrorTables

__all__ = ["Batches", "LoadResult", "SnapshotCheck", "SqlMirror"]

#: Columns that keep their stored value when a change brings none (content that could not be fetched).
_KEEP_WHEN_NULL = ("elements", "modular_content", "terms")


@dataclass
class LoadResult:
    """What one load did; returned to XCom, so it stays JSON-friendly."""

    upserts: Counter = field(default_factory=Counter)
    deletes: Counter = field(default_factory=Counter)
    skipped_inactive: int = 0
    refreshed: Counter = field(default_factory=Counter)
    applied: bool = True
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "applied": self.applied,
            "upserts": dict(self.upserts),
            "deletes": dict(self.deletes),
            "skipped_inactive": self.skipped_inactive,
        }
        if self.refreshed:
            out["refreshed"] = dict(self.refreshed)
        if self.reason:
            out["reason"] = self.reason
        return out


@dataclass
class SnapshotCheck:
    """The independent witness for a snapshot: per language, the Delivery filters the export used."""

    client: Any
    languages: list[str]
    params: list[tuple[str, str]]
    #: languages the export's filters exclude: they must hold nothing
    excluded: set[str] = field(default_factory=set)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


class Batches:
    """Pending upserts, deletes and log rows per table, flushed every ``size`` rows."""

    def __init__(self, mirror: SqlMirror, size: int) -> None:
        self.mirror, self.size = mirror, size
        self.upserts: dict[str, list[dict[str, Any]]] = {}
        self.deletes: dict[str, list[tuple]] = {}
        self.log: list[tuple] = []

    def upsert(self, table: str, row: dict[str, Any]) -> None:
        self.upserts.setdefault(table, []).append(row)
        if len(self.upserts[table]) >= self.size:
            self.mirror.upsert_rows(table, self.upserts.pop(table))

    def delete(self, table: str, key: tuple) -> None:
        self.deletes.setdefault(table, []).append(key)
        if len(self.deletes[table]) >= self.size:
            self.mirror.delete_keys(table, self.deletes.pop(table))

    def add_log(self, entry: tuple) -> None:
        self.log.append(entry)
        if len(self.log) >= self.size:
            self.mirror.write_log(self.log)
            self.log = []

    def flush(self) -> None:
        for table, rows in self.upserts.items():
            self.mirror.upsert_rows(table, rows)
        for table, keys in self.deletes.items():
            self.mirror.delete_keys(table, keys)
        self.mirror.write_log(self.log)
        self.upserts, self.deletes, self.log = {}, {}, []


class SqlMirror:
    """The mirror's tables on one ``SqlSession``."""

    def __init__(
        self, session: SqlSession, tables: MirrorTables, *, batch_size: int = 1000, typed: Any = None
    ) -> None:
        self.session = session
        self.tables = tables
        self.d = session.dialect
        self.batch_size = batch_size
        self.typed = typed  # TypedTables or None
        self.load_id = ""
        self.load_run = ""
        self.source = ""
        self.loaded_at = ""

    def batches(self) -> Batches:
        """Pending writes flushed every ``batch_size`` rows (used by the dependent refresh too)."""
        return Batches(self, self.batch_size)

    # --- row writing ---------------------------------------------------------------------------
    def _error(self, table: str, key_columns: tuple[str, ...]) -> Callable[[Any, Exception], str]:
        def describe(row: Any, exc: Exception) -> str:
            values = row if isinstance(row, tuple) else tuple(row)
            key = dict(zip(key_columns, values[: len(key_columns)], strict=False))
            return f"{self.session.label}, table {self.tables.raw(table)}, key {key}: {type(exc).__name__}: {exc}"

        return describe

    def upsert_rows(self, table: str, rows: list[dict[str, Any]]) -> None:
        """Upsert ``rows`` (dicts with every column of ``table``) in one batch, the dialect's way."""
        if not rows:
            return
        logical = TABLE_COLUMNS[table]
        keys = PRIMARY_KEYS[table]
        columns = [*keys, *(c for c in logical if c not in keys)]
        keep = [c for c in _KEEP_WHEN_NULL if c in logical]
        name = self.tables[table]
        values = [[self.d.param(logical[c], row.get(c)) for c in columns] for row in rows]
        on_error = self._error(table, keys)
        sql = self.d.upsert(name, columns, keys, logical=logical, keep_when_null=keep)
        if self.typed is not None and table == "items":
            self.typed.upsert_rows(rows)
        if sql is not None:
            bulk = len(values) > 1 and supports_copy(self.session)
            if bulk and copy_upsert(self.session, name, columns, keys, values, keep_when_null=keep):
                return
            self.session.executemany(sql, values, on_error=on_error)
            return
        # delete-then-insert: fill the kept columns from the stored rows first
        for row_values in values:
            if any(row_values[columns.index(c)] is None for c in keep):
                stored = self._select_by_key(table, keep, tuple(row_values[: len(keys)]))
                for column, value in zip(keep, stored or (), strict=False):
                    index = columns.index(column)
                    if row_values[index] is None:
                        row_values[index] = self.d.param("json", from_json(value))
        self.delete_keys(table, [tuple(v[: len(keys)]) for v in values], typed=False)
        self.session.executemany(self.d.insert(name, columns, logical=logical), values, on_error=on_error)

    def _select_by_key(self, table: str, columns: list[str], key: tuple) -> tuple | None:
        where = " AND ".join(f"{self.d.quote(k)} = ?" for k in PRIMARY_KEYS[table])
        cols = ", ".join(self.d.quote(c) for c in columns)
        rows = self.session.query(f"SELECT {cols} FROM {self.tables[table]} WHERE {where}", key)
        return rows[0] if rows else None

    def delete_keys(self, table: str, keys: list[tuple], *, typed: bool = True) -> None:
        key_columns = PRIMARY_KEYS[table]
        where = " AND ".join(f"{self.d.quote(k)} = ?" for k in key_columns)
        self.session.executemany(
            f"DELETE FROM {self.tables[table]} WHERE {where}", keys, on_error=self._error(table, key_columns)
        )
        if typed and table == "items" and self.typed is not None:
            self.typed.delete_keys(keys)

    def write_log(self, entries: list[tuple]) -> None:
        """``load_log`` rows: (source, kind, entity_id, language, codename, action, timestamp)."""
        if not entries:
            return
        columns = ["load_run", "source", "kind", "entity_id", "language", "codename", "action", "timestamp"]
        sql = self.d.insert(self.tables["load_log"], columns)
        rows = [(self.load_run, *entry) for entry in entries]
        if supports_copy(self.session) and copy_insert(self.session, self.tables["load_log"], columns, rows):
            return
        self.session.executemany(sql, rows, on_error=self._error("load_log", ("load_run", "source", "kind")))

    # --- MirrorState for the refresh plan -----------------------------------------------------
    def stored_codename(self, kind: str, entity_id: str) -> str | None:
        rows = self.session.query(
            f"SELECT {self.d.quote('codename')} FROM {self.tables[KIND_TABLES[kind]]} WHERE {self.d.quote('id')} = ?",
            (entity_id,),
        )
        return rows[0][0] if rows else None

    def language_active(self, language_id: str) -> bool | None:
        rows = self.session.query(
            f"SELECT {self.d.quote('active')} FROM {self.tables['languages']} WHERE {self.d.quote('id')} = ?",
            (language_id,),
        )
        return bool(rows[0][0]) if rows else None

    def languages(self, *, active: bool) -> list[str]:
        rows = self.session.query(
            f"SELECT {self.d.quote('codename')}, {self.d.quote('active')} FROM {self.tables['languages']}"
        )
        return sorted(r[0] for r in rows if r[0] and bool(r[1]) is active)

    # --- the load -------------------------------------------------------------------------------
    def load(
        self,
        records: Iterable[Mapping[str, Any]],
        *,
        source: str,
        load_run: str,
        token_step: Callable[[SqlSession], bool] | None = None,
        refresh: tuple[Any, RefreshPlan, list[Mapping[str, Any]]] | None = None,
        snapshot: SnapshotCheck | None = None,
        tokens: tuple[str | None, str | None] = (None, None),  # fingerprints, never the tokens
    ) -> LoadResult:
        """Apply ``records`` in one transaction.

        ``token_step(session)`` runs first inside the transaction (the SQL token store's compare-and-set);
        False means this load was applied before (its token is stored), so nothing is written again.
        ``refresh``: ``(client, plan, current type definitions)`` for the dependent refresh of a delta load.
        ``snapshot``: the load replaces the environment's rows; rows it does not hold are deleted once the
        independent counts agree.
        """
        result = LoadResult()
        self.load_id, self.load_run, self.source, self.loaded_at = uuid.uuid4().hex, load_run, source, _now()
        with self.session.transaction():
            if token_step is not None and not token_step(self.session):
                result.applied, result.reason = False, "already applied: the stored token is this load's"
                return result
            self._forget_run(refresh is not None)
            plan = refresh[1] if refresh is not None else None
            inactive = set(self.languages(active=False))
            batches = Batches(self, self.batch_size)
            served: Counter = Counter()
            purge: set[str] = set()
            for position, record in enumerate(records):
                self._apply(record, position, batches, result, plan, inactive, purge, served)
            batches.flush()
            if snapshot is not None:
                self._replace(snapshot, served, result)
            for language in sorted(purge):
                self.delete_where(result.deletes, "item", f"{self.d.quote('language')} = ?", (language,))
            if refresh is not None and plan is not None:
                refresh_dependents(self, refresh[0], plan, refresh[2], result)
            self._record_load(result, tokens)
        return result

    def _forget_run(self, with_refresh: bool) -> None:
        """A retried load of the same run replaces its log rows instead of doubling them."""
        sources = [self.source, "refresh"] if with_refresh else [self.source]
        for source in sources:
            self.session.execute(
                f"DELETE FROM {self.tables['load_log']} WHERE {self.d.quote('load_run')} = ? AND "
                f"{self.d.quote('source')} = ?",
                (self.load_run, source),
            )

    def _apply(
        self,
        record: Mapping[str, Any],
        position: int,
        batches: Batches,
        result: LoadResult,
        plan: RefreshPlan | None,
        inactive: set[str],
        purge: set[str],
        served: Counter,
    ) -> None:
        kind = normalize_kind(record.get("kind"))
        table = KIND_TABLES.get(kind or "")
        where = f"{self.session.label}, record {position} of this load"
        if table is None:
            raise SqlLoadError(
                f"{where}: unknown record kind {record.get('kind')!r} (key id={record.get('id')!r}); no table "
                f"of {self.tables.raw('items')!r} and its siblings takes it. Nothing was applied.",
                retryable=False,
            )
        change = ChangeType.parse(record.get("change_type"))
        if change is ChangeType.UNKNOWN:
            raise SqlLoadError(
                f"{where}, table {self.tables.raw(table)}: unknown change_type {record.get('change_type')!r} "
                f"(key id={record.get('id')!r}). Nothing was applied.",
                retryable=False,
            )
        if plan is not None and plan.observe(record, self):
            result.refreshed["components"] += 1
            return
        row = item_row(record) if kind == "item" else entity_row(kind, record)
        keys = PRIMARY_KEYS[table]
        if any(not row.get(k) for k in keys):
            raise SqlLoadError(
                f"{where}, table {self.tables.raw(table)}: the record has no {'/'.join(keys)} "
                f"(key { ({k: row.get(k) for k in keys}) }). Nothing was applied.",
                retryable=False,
            )
        meta = {
            "sync_timestamp": record.get("timestamp"),
            "loaded_at": self.loaded_at,
            "load_run": self.load_run,
            "load_id": self.load_id,
        }
        action = "upsert"
        if kind == "item" and row["language"] in inactive:
            result.skipped_inactive += 1
            return
        if kind == "language":
            active = change is ChangeType.CHANGED
            (inactive.discard if active else inactive.add)(row["codename"])
            if not active:
                purge.add(row["codename"])
                action = "deactivate"
            else:
                purge.discard(row["codename"])
            batches.upsert(table, {**row, "active": active, **meta})
            (result.upserts if active else result.deletes)[kind] += 1
        elif change is ChangeType.CHANGED:
            if kind == "type" and self.typed is not None:  # before the row changes: the old codename
                old = self.stored_codename("type", row["id"])
                if old and row.get("codename") and old != row["codename"]:
                    self.typed.rename_type(old, row["codename"])
            batches.upsert(table, {**row, **meta})
            result.upserts[kind] += 1
            if kind == "item":
                served[row["language"]] += 1
        else:
            batches.delete(table, tuple(row[k] for k in keys))
            result.deletes[kind] += 1
            action = "delete"
        batches.add_log(
            (
                self.source,
                kind,
                row["id"],
                row.get("language"),
                row.get("codename"),
                action,
                record.get("timestamp"),
            )
        )

    # --- deleting by absence, with a witness ------------------------------------------------------
    def delete_where(self, counts: Counter, kind: str, where: str, args: tuple, *, source: str = "") -> int:
        """Delete the rows of ``kind``'s table matching ``where``, logging each one.

        In batches (``LIMIT``; a deleted row no longer matches), so a snapshot that replaces most of a
        large mirror does not hold every key in memory. Databases without ``LIMIT`` take one pass.
        """
        table = KIND_TABLES[kind]
        q = self.d.quote
        language = q("language") if kind == "item" else "NULL"
        limit = f" LIMIT {int(self.batch_size)}" if self.d.name != "generic" else ""
        select = (
            f"SELECT {q('id')}, {language}, {q('codename')} FROM {self.tables[table]} WHERE {where}{limit}"
        )
        total = 0
        while True:
            rows = self.session.query(select, args)
            if not rows:
                return total
            keys = [(r[0], r[1]) if kind == "item" else (r[0],) for r in rows]
            self.delete_keys(table, keys)
            self.write_log([(source or self.source, kind, r[0], r[1], r[2], "delete", None) for r in rows])
            counts[kind] += len(rows)
            total += len(rows)
            if not limit:
                return total

    def _replace(self, snapshot: SnapshotCheck, served: Counter, result: LoadResult) -> None:
        """A snapshot is the whole truth: rows it did not write go, once ``/items`` agrees on the counts."""
        for language in snapshot.languages:
            if language in snapshot.excluded:
                continue
            try:
                check_served(snapshot.client, language, snapshot.params, served[language], "the snapshot")
            except IncompleteExportError as err:
                raise IncompleteExportError(
                    f"{self.session.label}, table {self.tables.raw('items')}: {err}"
                ) from None
        stale = f"({self.d.quote('load_id')} <> ? OR {self.d.quote('load_id')} IS NULL)"
        self.delete_where(result.deletes, "item", stale, (self.load_id,))
        if result.upserts["type"] or result.upserts["language"]:  # the content model came with it
            self.delete_where(result.deletes, "type", stale, (self.load_id,))
            self.delete_where(result.deletes, "taxonomy", stale, (self.load_id,))
            self.session.execute(
                f"UPDATE {self.tables['languages']} SET {self.d.quote('active')} = ? WHERE {stale}",
                (False, self.load_id),
            )

    def _record_load(self, result: LoadResult, tokens: tuple[str | None, str | None]) -> None:
        row = {
            "load_run": self.load_run,
            "source": self.source,
            "load_id": self.load_id,
            "upserts": sum(result.upserts.values()),
            "deletes": sum(result.deletes.values()),
            "ignored": result.skipped_inactive,
            "refreshed": result.refreshed.get("upserts", 0) + result.refreshed.get("deletes", 0),
            "previous_token": tokens[0],
            "next_token": tokens[1],
            "loaded_at": self.loaded_at,
        }
        keys = ("load_run", "source")
        self.session.execute(
            f"DELETE FROM {self.tables['loads']} WHERE {self.d.quote('load_run')} = ? AND {self.d.quote('source')} = ?",
            (self.load_run, self.source),
        )
        columns = list(row)
        self.session.executemany(
            self.d.insert(self.tables["loads"], columns),
            [[row[c] for c in columns]],
            on_error=self._error("loads", keys),
        )
