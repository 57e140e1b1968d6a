"""Dependent refresh inside the load's transaction: re-read what a pull's changes make stale.

The rules (which variants) are the client's (``client/dependents.py``: ``RefreshPlan``); this module
applies them to the SQL mirror: upserts what ``/items-feed`` or the content fetch serves, and deletes a
scope's rows the feed did not serve only after ``check_served`` confirmed the feed's count (never prune
on a guess). Everything it writes is logged with source ``refresh``.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from airflow_provider_kontent.client.dependents import (
    IncompleteExportError,
    RefreshPlan,
    check_served,
    read_scope,
    read_variants,
    type_filter,
)
from airflow_provider_kontent.transfers.sql_dialects import from_json
from airflow_provider_kontent.transfers.sql_rows import item_row

if TYPE_CHECKING:
    from airflow_provider_kontent.transfers.sql_loader import LoadResult, SqlMirror

__all__ = ["refresh_dependents"]


def refresh_dependents(
    mirror: SqlMirror, client: Any, plan: RefreshPlan, types: list[Mapping[str, Any]], result: LoadResult
) -> None:
    """Apply ``plan`` after the records: purge, reload languages, re-read stale types and parents.

    ``types``: the Delivery API's current type definitions (the stored ones are read here too).
    """
    q = mirror.d.quote
    counts = result.refreshed
    if plan.component_ids:  # rows an earlier loader stored for components
        ids = sorted(plan.component_ids)
        mirror.delete_where(counts, "item", f"{q('id')} IN ({', '.join('?' * len(ids))})", tuple(ids))
    for language in sorted(plan.purge_languages - plan.reload_languages):
        mirror.delete_where(counts, "item", f"{q('language')} = ?", (language,), source="refresh")
    active = mirror.languages(active=True)
    for language in sorted(plan.reload_languages & set(active)):
        _refresh_scope(mirror, client, language, [], f"{q('language')} = ?", (language,), counts)
    stored_types = [
        {"system": {"codename": c}, "elements": from_json(e) or {}}
        for c, e in mirror.session.query(
            f"SELECT {q('codename')}, {q('elements')} FROM {mirror.tables['types']}"
        )
    ]
    stale = plan.stale_types([*types, *stored_types])
    if stale:
        names = sorted(stale)
        where = f"{q('language')} = ? AND {q('type')} IN ({', '.join('?' * len(names))})"
        for language in active:
            if language not in plan.reload_languages:
                _refresh_scope(
                    mirror, client, language, type_filter(names), where, (language, *names), counts
                )
    _refresh_parents(mirror, client, plan, stale, active, counts)


def _upsert_contents(
    mirror: SqlMirror, contents: Iterable[dict[str, Any]], scope_id: str, counts: Counter
) -> int:
    batches = mirror.batches()
    n = 0
    for content in contents:
        system = content["item"].get("system") or {}
        record = {
            "kind": "item",
            "id": system.get("id"),
            "language": system.get("language"),
            "content": content,
        }
        row = item_row(record)
        meta = {"sync_timestamp": system.get("last_modified"), "loaded_at": mirror.loaded_at}
        batches.upsert("items", {**row, **meta, "load_run": mirror.load_run, "load_id": scope_id})
        batches.add_log(("refresh", "item", row["id"], row["language"], row["codename"], "upsert", None))
        n += 1
    batches.flush()
    counts["upserts"] += n
    return n


def _refresh_scope(
    mirror: SqlMirror,
    client: Any,
    language: str,
    params: list[tuple[str, str]],
    where: str,
    args: tuple,
    counts: Counter,
) -> None:
    """Upsert what the feed serves for a scope; delete the scope's rows it did not serve, once
    ``/items`` confirms the feed's count."""
    scope_id = uuid.uuid4().hex
    served = _upsert_contents(mirror, read_scope(client, language, params), scope_id, counts)
    q = mirror.d.quote
    gone = mirror.session.query(
        f"SELECT COUNT(*) FROM {mirror.tables['items']} WHERE {where} AND ({q('load_id')} <> ? OR {q('load_id')} IS NULL)",
        (*args, scope_id),
    )
    if gone and gone[0][0]:
        try:
            check_served(client, language, params, served, "the dependent refresh")
        except IncompleteExportError as err:
            raise IncompleteExportError(
                f"{mirror.session.label}, table {mirror.tables.raw('items')}: {err}"
            ) from None
        mirror.delete_where(
            counts,
            "item",
            f"{where} AND ({q('load_id')} <> ? OR {q('load_id')} IS NULL)",
            (*args, scope_id),
            source="refresh",
        )


def _refresh_parents(
    mirror: SqlMirror, client: Any, plan: RefreshPlan, types: set[str], languages: list[str], counts: Counter
) -> None:
    """Re-read the items whose stored ``modular_content`` holds a changed component, or a component
    of a changed type (its rendering follows its type's definition)."""
    q = mirror.d.quote
    parents: dict[str, set[str]] = {}
    needles = [(c, c, lang) for c, lang in plan.components] + [(t, None, None) for t in sorted(types)]
    column = mirror.d.json_text(q("modular_content"))
    for needle, codename, language in needles:
        rows = mirror.session.query(
            f"SELECT {q('id')}, {q('language')}, {q('modular_content')} FROM {mirror.tables['items']} "
            f"WHERE {column} LIKE ?",
            (f'%"{needle}"%',),
        )
        for item_id, item_language, modular in rows:
            if language is not None and item_language != language:
                continue
            used = from_json(modular) or {}
            if codename is not None:
                hit = codename in used
            else:
                hit = any((c.get("system") or {}).get("type") in types for c in used.values())
            if hit:
                parents.setdefault(item_language, set()).add(item_id)
    for language in sorted(parents):
        if language in languages:
            _upsert_contents(
                mirror, read_variants(client, language, parents[language]), mirror.load_id, counts
            )
