"""Which stored item variants a pull's changes make stale, and reading them again from Delivery.

Sync reports only the object that changed, never what depends on it. A mirror that stores items with
their rendered elements (element names, taxonomy term names, components, the type's codename) goes
stale silently unless the load re-reads the items behind these changes:

* a **content type** changed (renamed codename, renamed or re-ordered element): every variant of that
  type, under its old and its new codename, in every active language;
* a **taxonomy group** changed (renamed term): every variant of a type with a taxonomy element bound to
  that group;
* a **language** is new, renamed or re-activated: every variant of it (Sync reports none of them);
  a deactivated language (Sync's ``deleted`` for languages) takes its variants out of the mirror,
  because Delivery stops serving them;
* a **rich-text component** changed (Sync reports it as an item delta, but it is no item of its own):
  the parents whose stored ``modular_content`` holds it, and the component itself is never stored; a
  changed type also re-reads the parents holding a component of that type.

``RefreshPlan.observe`` sees each record *before* the loader applies it (so it can read the old codename
of a type from the mirror); the loader then asks the plan what to re-read and reads it with
``read_scope`` (``/items-feed``) and ``read_variants`` (the client's batched content fetch).

Never prune on a guess: ``/items-feed`` marks its last page only by the absence of ``X-Continuation``,
so a proxy that strips the header makes a partial answer look complete. Before rows are deleted because
a feed answer did not contain them, ``check_served`` compares it with an independent count
(``/items?includeTotalCount=true`` with the same filters) and refuses when the two disagree.

Plain Python: no Airflow import (the loader that uses it lives in ``airflow_provider_kontent.transfers``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from airflow_provider_kontent.client.content import item_content
from airflow_provider_kontent.client.models import ChangeType, Delta, EntityKind

__all__ = [
    "COMPONENT_CODENAME",
    "IncompleteExportError",
    "MirrorState",
    "RefreshPlan",
    "check_served",
    "is_component_record",
    "normalize_kind",
    "plan_refresh",
    "read_scope",
    "read_variants",
    "type_filter",
]

#: Kontent names a rich-text component ``n`` + its id with underscores (it has no codename of its own).
COMPONENT_CODENAME = re.compile(r"^n[0-9a-f]{8}(?:_[0-9a-f]{4}){3}_[0-9a-f]{12}$")

_KIND_ALIASES = {
    "items": "item",
    "content_item": "item",
    "types": "type",
    "content_type": "type",
    "taxonomies": "taxonomy",
    "taxonomy_group": "taxonomy",
    "languages": "language",
}


class IncompleteExportError(RuntimeError):
    """An export or a refresh served a different number of items than an independent count says exist.

    Raised before anything is deleted: the load fails and the next run tries again.
    """


def normalize_kind(kind: Any) -> str | None:
    """The provider's singular kind (``item``, ``type``, ``taxonomy``, ``language``) for any spelling."""
    if kind is None:
        return None
    text = str(kind).lower()
    return _KIND_ALIASES.get(text, text)


def is_component_record(record: Mapping[str, Any]) -> bool:
    """Whether an item record is a rich-text component rather than a content item.

    Sync reports a component edit as an item delta, but Delivery serves a component only inside its
    parent's ``modular_content`` (so the pull finds no content for it) and its ``system`` has no
    workflow. A real item always comes with workflow fields, so both signals are required; the codename
    shape or the missing content confirms it.
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


class MirrorState(Protocol):
    """What the plan needs to know about the mirror before a record is applied."""

    def stored_codename(self, kind: str, entity_id: str) -> str | None:
        """The codename the mirror holds for a type, taxonomy group or language (None: not stored)."""

    def language_active(self, language_id: str) -> bool | None:
        """Whether the mirror holds the language as active (None: not stored)."""


@dataclass
class RefreshPlan:
    """What a pull's changes make stale; filled by :meth:`observe`, one record at a time."""

    #: type id -> codenames it had (old and new): their items are re-read in every active language
    type_codenames: dict[str, set[str]] = field(default_factory=dict)
    taxonomy_codenames: set[str] = field(default_factory=set)
    #: new, renamed or re-activated languages: every variant is re-read
    reload_languages: set[str] = field(default_factory=set)
    #: deactivated languages (and the old codename of a renamed one): their variants leave the mirror
    purge_languages: set[str] = field(default_factory=set)
    #: changed components as (codename, language): their parents are re-read
    components: set[tuple[str, str | None]] = field(default_factory=set)
    component_ids: set[str] = field(default_factory=set)

    @property
    def is_empty(self) -> bool:
        return not (
            self.type_codenames
            or self.taxonomy_codenames
            or self.reload_languages
            or self.purge_languages
            or self.components
        )

    def observe(self, record: Mapping[str, Any], state: MirrorState) -> bool:
        """Note what ``record`` makes stale; True when the record is consumed here (a component)."""
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
        stored = state.stored_codename(kind, entity_id)
        names = {n for n in (codename, stored) if n}
        if kind == "type":
            self.type_codenames.setdefault(entity_id, set()).update(names)
        elif kind == "taxonomy":
            self.taxonomy_codenames.update(names)
        elif change is ChangeType.DELETED:
            self.purge_languages.update(names)
            self.reload_languages.difference_update(names)
        elif stored is None or stored != codename or not state.language_active(entity_id):
            # new, renamed or re-activated: its variants were never reported as item deltas
            self.purge_languages.update(names - {codename})
            if codename:
                self.reload_languages.add(codename)
                self.purge_languages.discard(codename)
        return False

    def stale_types(self, definitions: Iterable[Mapping[str, Any]]) -> set[str]:
        """Codenames of changed types plus those of types bound to a changed taxonomy group.

        ``definitions``: type definitions (``{"system": {"codename"}, "elements": {...}}``), the Delivery
        API's current ones and the mirror's stored ones, so a binding removed by the change still counts.
        """
        stale: set[str] = set().union(*self.type_codenames.values()) if self.type_codenames else set()
        if self.taxonomy_codenames:
            for definition in definitions:
                elements = definition.get("elements") or {}
                bound = any(
                    isinstance(element, Mapping)
                    and element.get("type") == "taxonomy"
                    and element.get("taxonomy_group") in self.taxonomy_codenames
                    for element in elements.values()
                )
                codename = (definition.get("system") or {}).get("codename")
                if bound and codename:
                    stale.add(codename)
        return stale


def plan_refresh(records: Iterable[Mapping[str, Any]], state: MirrorState) -> RefreshPlan:
    """The plan for a whole batch of records (the loader calls :meth:`RefreshPlan.observe` itself)."""
    plan = RefreshPlan()
    for record in records:
        plan.observe(record, state)
    return plan


def type_filter(type_codenames: Iterable[str]) -> list[tuple[str, str]]:
    """The Delivery filter for items of these types (old codenames simply match nothing)."""
    names = sorted(set(type_codenames))
    return [("system.type[in]", ",".join(names))] if names else []


def read_scope(client: Any, language: str, params: list[tuple[str, str]] | None = None) -> Iterator[dict]:
    """Every item ``/items-feed`` serves in ``language`` (no fallbacks) with ``params``, as
    ``{"item", "modular_content"}`` (the record shape of ``content``)."""
    for page in client.iter_items_feed_pages(language, extra_params=params or None):
        for item in page.items:
            yield item_content(item, page.modular_content or {})


def read_variants(client: Any, language: str, ids: Iterable[str]) -> Iterator[dict]:
    """The given items in ``language`` through the client's content fetch (batched by URL length).

    Items Delivery does not serve are simply absent: a parent that was unpublished or deleted is
    reported by Sync on its own, so its absence here is never a reason to delete it.
    """
    deltas = [
        Delta.from_api(
            EntityKind.ITEM, {"change_type": "changed", "data": {"system": {"id": i, "language": language}}}
        )
        for i in sorted(set(ids))
    ]
    if not deltas:
        return
    batch = client.fetch_items(deltas, language=language)
    pool = batch.modular_content.get(language, {})
    for (_, item_language), item in sorted(batch.items.items()):
        if item_language == language:
            yield item_content(item, pool)


def check_served(
    client: Any, language: str, params: list[tuple[str, str]] | None, served: int, what: str
) -> int:
    """Compare ``served`` (what an export or refresh read) with ``/items``' own count; raise on a mismatch.

    ``what`` names the export in the error (e.g. ``"the snapshot"``). Returns the count.
    """
    expected = client.count_items(language, extra_params=params or None)
    if expected != served:
        shown = "&".join(f"{k}={v}" for k, v in params or []) or "no filters"
        raise IncompleteExportError(
            f"refusing to delete by absence: {what} holds {served} item(s) in language {language!r} but "
            f"/items counts {expected} ({shown}). An /items-feed page may have lost its X-Continuation "
            "header (a proxy), or content changed during the export. Nothing was deleted and nothing "
            "was loaded; the next run reads it again."
        )
    return expected
