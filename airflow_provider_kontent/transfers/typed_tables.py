"""Typed tables: one table per content type, a column per element, one row per item variant.

The JSON ``items`` table is complete but awkward to query; a typed table is what an analyst wants:
``SELECT title, price FROM kontent_type_product WHERE 'sale' = ANY(tags)``. Each item variant written to
``items`` is also written to the table of its type (``<prefix>type_<type codename>``), keyed by
``(id, language)``, with columns by element kind:

=================  ==========================================================================
element kind       column(s)
=================  ==========================================================================
text, url_slug,    text
custom
rich_text          ``<element>`` the HTML, ``<element>__linked`` the codenames of its components
                   and linked items (array / JSON)
number             double
date_time          timestamp with time zone (PostgreSQL), ISO text elsewhere
multiple_choice,   the selected option / term codenames: ``TEXT[]`` on PostgreSQL, a JSON array
taxonomy           elsewhere
modular_content,   the linked item codenames (array / JSON)
subpages
asset              JSON (the asset objects)
=================  ==========================================================================

Schema changes follow the content model, recorded in ``typed_tables`` / ``typed_columns``:

* a new element adds a column; a dropped element's column is kept (old rows keep their value, new rows
  get NULL), so nothing is lost by a model change;
* a renamed element codename is a new column (filled by the refresh of that type's items), the old
  column is kept like a dropped one; a renamed type keeps its table (the registry follows the codename);
* an element whose kind changed: its old column is renamed ``<column>_was_<old kind>`` (data kept) and
  a new column of the new kind is added: never a silent reinterpretation;
* an element kind the mapping does not know fails the load, naming the table, key and element;
* names: lower-cased, anything but ``[a-z0-9_]`` becomes ``_``, a leading digit gets ``e_``, at most 55
  characters; a name that collides (with a system column or another element once normalised) gets
  ``_2``, ``_3``, ...; the registry keeps every mapping stable across loads.

Typed tables need DDL inside the load's transaction, so they are supported where DDL is transactional
(SQLite, PostgreSQL); MySQL/MariaDB commit DDL implicitly and are refused with a clear error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from airflow_provider_kontent.transfers.sql_bulk import copy_upsert, supports_copy
from airflow_provider_kontent.transfers.sql_dialects import SqlLoadError, SqlSession
from airflow_provider_kontent.transfers.sql_schema import MirrorTables

__all__ = ["ELEMENT_COLUMNS", "TypedTables", "normalize_name"]

#: element kind -> (column suffix, logical type, value extractor)
ELEMENT_COLUMNS: dict[str, list[tuple[str, str]]] = {
    "text": [("", "text")],
    "url_slug": [("", "text")],
    "custom": [("", "text")],
    "rich_text": [("", "text"), ("__linked", "array")],
    "number": [("", "float")],
    "date_time": [("", "datetime")],
    "multiple_choice": [("", "array")],
    "taxonomy": [("", "array")],
    "modular_content": [("", "array")],
    "subpages": [("", "array")],
    "asset": [("", "json")],
}
SYSTEM_COLUMNS = {
    "id": "key",
    "language": "key",
    "codename": "key",
    "name": "text",
    "collection": "key",
    "workflow_step": "key",
    "last_modified": "timestamp",
}
_MAX_NAME = 55


def normalize_name(name: str, taken: set[str]) -> str:
    """A plain SQL identifier for ``name`` that is not in ``taken`` (see the module docstring)."""
    base = re.sub(r"[^a-z0-9_]", "_", str(name).lower()).strip("_") or "unnamed"
    base = re.sub(r"_+", "_", base)
    if base[0].isdigit():
        base = f"e_{base}"
    base = base[:_MAX_NAME]
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base[: _MAX_NAME - len(str(n)) - 1]}_{n}"
    return candidate


def _value(kind: str, suffix: str, element: Mapping[str, Any]) -> Any:
    value = element.get("value")
    if suffix == "__linked":
        return list(element.get("modular_content") or [])
    if kind in ("multiple_choice", "taxonomy"):
        return [v.get("codename") for v in value or [] if isinstance(v, Mapping)]
    if kind in ("modular_content", "subpages"):
        return list(value or [])
    if kind == "number":
        return None if value is None else float(value)
    return value if value != "" or kind != "date_time" else None


class TypedTables:
    """The typed tables of one mirror, written in the load's transaction."""

    def __init__(self, session: SqlSession, tables: MirrorTables) -> None:
        if session.dialect.name == "mysql":
            raise SqlLoadError(
                f"{session.label}: typed_tables=True needs transactional DDL (SQLite, PostgreSQL); MySQL and "
                "MariaDB commit DDL implicitly, which would break the one-transaction load. Use the JSON "
                f"table {tables.raw('items')} there.",
                retryable=False,
            )
        self.session, self.tables, self.d = session, tables, session.dialect
        q = self.d.quote
        self.table_of: dict[str, str] = dict(
            session.query(f"SELECT {q('type_codename')}, {q('table_name')} FROM {tables['typed_tables']}")
        )
        self.columns: dict[str, dict[str, tuple[str, str]]] = {}  # type -> element -> (column, kind)
        for type_codename, element, column, kind in session.query(
            f"SELECT {q('type_codename')}, {q('element_codename')}, {q('column_name')}, {q('element_kind')} "
            f"FROM {tables['typed_columns']}"
        ):
            self.columns.setdefault(type_codename, {})[element] = (column, kind)

    def table_name(self, type_codename: str) -> str | None:
        """The unqualified typed table of a type, if it has one."""
        return self.table_of.get(type_codename)

    # --- schema ---------------------------------------------------------------------------------
    def _ensure_table(self, type_codename: str) -> str:
        if type_codename in self.table_of:
            return self.table_of[type_codename]
        prefix = f"{self.tables.prefix}type_"
        taken = {name.removeprefix(prefix) for name in self.table_of.values()}
        name = prefix + normalize_name(type_codename, taken)
        q = self.d.quote
        cols = ", ".join(f"{q(c)} {self.d.column_type(t)}" for c, t in SYSTEM_COLUMNS.items())
        self.session.execute(
            f"CREATE TABLE IF NOT EXISTS {self._qualified(name)} ({cols}, PRIMARY KEY ({q('id')}, {q('language')}))"
        )
        self.session.execute(
            f"INSERT INTO {self.tables['typed_tables']} ({q('type_codename')}, {q('table_name')}) VALUES (?, ?)",
            (type_codename, name),
        )
        self.table_of[type_codename] = name
        self.columns.setdefault(type_codename, {})
        return name

    def _qualified(self, name: str) -> str:
        return self.d.qualified(name, self.tables.schema)

    def _ensure_element(self, type_codename: str, table: str, codename: str, kind: str, key: tuple) -> None:
        known = self.columns[type_codename]
        if codename in known and known[codename][1] == kind:
            return
        if kind not in ELEMENT_COLUMNS:
            raise SqlLoadError(
                f"{self.session.label}, table {self._raw(table)}, key {dict(zip(('id', 'language'), key, strict=False))}: "
                f"element {codename!r} has kind {kind!r}, which the typed-table mapping does not know "
                f"(known: {', '.join(sorted(ELEMENT_COLUMNS))}). Nothing was applied; upgrade the provider or "
                "load with typed_tables=False.",
                retryable=False,
            )
        q = self.d.quote
        taken = set(SYSTEM_COLUMNS) | {
            column + suffix
            for column, old_kind in known.values()
            for suffix, _ in ELEMENT_COLUMNS.get(old_kind, [("", "")])
        }
        if codename in known:  # the kind changed: keep the old data under a telling name
            column, old_kind = known[codename]
            for suffix, _ in ELEMENT_COLUMNS.get(old_kind, [("", "")]):
                kept = normalize_name(f"{column}{suffix}_was_{old_kind}", taken)
                self.session.execute(
                    f"ALTER TABLE {self._qualified(table)} RENAME COLUMN {q(column + suffix)} TO {q(kept)}"
                )
                taken.add(kept)
                taken.discard(column + suffix)
            self.session.execute(
                f"DELETE FROM {self.tables['typed_columns']} WHERE {q('type_codename')} = ? AND "
                f"{q('element_codename')} = ?",
                (type_codename, codename),
            )
        column = normalize_name(codename, taken)
        while any(column + suffix in taken for suffix, _ in ELEMENT_COLUMNS[kind]):
            taken.add(column)
            column = normalize_name(codename, taken)
        for suffix, logical in ELEMENT_COLUMNS[kind]:
            self.session.execute(
                f"ALTER TABLE {self._qualified(table)} ADD COLUMN {q(column + suffix)} {self.d.column_type(logical)}"
            )
        self.session.execute(
            f"INSERT INTO {self.tables['typed_columns']} ({q('type_codename')}, {q('element_codename')}, "
            f"{q('column_name')}, {q('element_kind')}) VALUES (?, ?, ?, ?)",
            (type_codename, codename, column, kind),
        )
        known[codename] = (column, kind)

    def _raw(self, table: str) -> str:
        return f"{self.tables.schema}.{table}" if self.tables.schema else table

    def rename_type(self, old: str, new: str) -> None:
        """A type's codename changed: its table and columns now belong to the new codename."""
        if old not in self.table_of or new in self.table_of:
            return
        q = self.d.quote
        for registry in ("typed_tables", "typed_columns"):
            self.session.execute(
                f"UPDATE {self.tables[registry]} SET {q('type_codename')} = ? WHERE {q('type_codename')} = ?",
                (new, old),
            )
        self.table_of[new] = self.table_of.pop(old)
        self.columns[new] = self.columns.pop(old, {})

    # --- rows -----------------------------------------------------------------------------------
    def upsert_rows(self, rows: list[Mapping[str, Any]]) -> None:
        """Write item rows (``sql_rows.item_row`` dicts) to their types' tables; rows without elements
        (content that could not be fetched) keep what the typed table holds."""
        by_type: dict[str, list[Mapping[str, Any]]] = {}
        for row in rows:
            if row.get("type") and isinstance(row.get("elements"), Mapping):
                by_type.setdefault(str(row["type"]), []).append(row)
        for type_codename, group in by_type.items():
            table = self._ensure_table(type_codename)
            for row in group:
                for codename, element in row["elements"].items():
                    if isinstance(element, Mapping):
                        key = (row["id"], row["language"])
                        self._ensure_element(type_codename, table, codename, str(element.get("type")), key)
            self._write(type_codename, table, group)

    def _write(self, type_codename: str, table: str, rows: list[Mapping[str, Any]]) -> None:
        columns = dict(SYSTEM_COLUMNS)
        extract: list[tuple[str, str, str, str]] = []  # (column, logical, element codename, suffix)
        for codename, (column, kind) in self.columns[type_codename].items():
            for suffix, logical in ELEMENT_COLUMNS[kind]:
                columns[column + suffix] = logical
                extract.append((column + suffix, logical, codename, suffix))
        names = list(columns)
        values = []
        for row in rows:
            element_values = {}
            for column, _, codename, suffix in extract:
                element = row["elements"].get(codename)
                kind = self.columns[type_codename][codename][1]
                element_values[column] = (
                    _value(kind, suffix, element) if isinstance(element, Mapping) else None
                )
            merged = {**{c: row.get(c) for c in SYSTEM_COLUMNS}, **element_values}
            values.append([self.d.param(columns[c], merged.get(c)) for c in names])
        sql = self.d.upsert(self._qualified(table), names, ("id", "language"), logical=columns)
        describe = self._describe(table)
        bulk = sql is not None and len(values) > 1 and supports_copy(self.session)
        if bulk and copy_upsert(self.session, self._qualified(table), names, ("id", "language"), values):
            return
        if sql is None:  # delete-then-insert
            keys = [tuple(v[:2]) for v in values]
            self._delete(table, keys)
            sql = self.d.insert(self._qualified(table), names, logical=columns)
        self.session.executemany(sql, values, on_error=describe)

    def _describe(self, table: str) -> Any:
        def describe(row: Any, exc: Exception) -> str:
            key = {"id": row[0], "language": row[1]}
            return f"{self.session.label}, table {self._raw(table)}, key {key}: {type(exc).__name__}: {exc}"

        return describe

    def _delete(self, table: str, keys: list[tuple]) -> None:
        q = self.d.quote
        self.session.executemany(
            f"DELETE FROM {self._qualified(table)} WHERE {q('id')} = ? AND {q('language')} = ?",
            keys,
            on_error=self._describe(table),
        )

    def delete_keys(self, keys: list[tuple]) -> None:
        """Item variants left the mirror: remove them from every typed table (a delete names no type)."""
        for table in sorted(set(self.table_of.values())):
            self._delete(table, keys)
