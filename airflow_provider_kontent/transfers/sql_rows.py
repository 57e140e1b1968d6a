"""Records (the pull's and the snapshot's shape, see docs/operators.md) as rows of the mirror's tables.

A record is one compacted change::

    {"kind": "item", "change_type": "changed" | "deleted", "timestamp": "...", "id": "...",
     "language": "en-US", "codename": "...", "type": "article", "collection": "default",
     "system": {...}, "elements": {...} | None,
     "content": {"item": {"system", "elements"}, "modular_content": {...}} | None, "content_missing": bool}

Types and taxonomy groups carry their full definition in ``content`` when the loader fetched it (Sync v2
deltas carry only ``system``). Nothing here touches a database or imports Airflow.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from airflow_provider_kontent.client.dependents import normalize_kind
from airflow_provider_kontent.client.models import ChangeType

__all__ = ["KIND_TABLES", "entity_row", "item_row", "model_records", "with_model_content"]

#: Table (without prefix) per record kind.
KIND_TABLES = {"item": "items", "type": "types", "taxonomy": "taxonomies", "language": "languages"}


def item_row(record: Mapping[str, Any]) -> dict[str, Any]:
    """An ``items`` row; the fetched content's ``system`` wins over the delta's own."""
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
        "elements": elements,
        "modular_content": content.get("modular_content") if item else None,
        "content_missing": bool(record.get("content_missing")),
    }


def entity_row(kind: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """A ``types``, ``taxonomies`` or ``languages`` row."""
    content = record.get("content") or {}
    system = {**(record.get("system") or {}), **(content.get("system") or {})}
    row: dict[str, Any] = {
        "id": record.get("id") or system.get("id"),
        "codename": system.get("codename") or record.get("codename"),
        "name": system.get("name"),
    }
    if kind == "type":
        row["last_modified"] = system.get("last_modified")
        row["elements"] = content.get("elements") or record.get("elements")
    elif kind == "taxonomy":
        row["last_modified"] = system.get("last_modified")
        row["terms"] = content.get("terms") or record.get("terms")
    return row


def model_records(
    types: Iterable[Mapping[str, Any]] = (),
    taxonomies: Iterable[Mapping[str, Any]] = (),
    languages: Iterable[Mapping[str, Any]] = (),
) -> Iterator[dict[str, Any]]:
    """Delivery API objects (``{"system", "elements" | "terms"}``) as "changed" records.

    A snapshot holds item variants only; its load completes the content model from the Delivery API's
    list endpoints so the mirror starts with every table filled.
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
