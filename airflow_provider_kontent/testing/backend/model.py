"""The emulator's content model: what a Kontent.ai environment holds, independent of HTTP.

Two readers share it: the Sync API (change logs, tokens) and the Delivery API (items, items-feed, types,
taxonomies, languages). Items reference their type by id, not codename, so a type
rename behaves as in Kontent.ai (v1 tokens stay bound to the old codename, v2 reports the new one).

Element values are stored in a simple form (see ``docs/architecture.md``) and rendered to Delivery shapes on
the way out (``delivery_api/element_rendering.py``); a variant keeps two versions because production serves the published one and
preview the latest one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# The element types of Kontent.ai content types (https://kontent.ai/learn/docs/apis/delivery-api/elements).
ELEMENT_TYPES = (
    "text",
    "rich_text",
    "number",
    "date_time",
    "multiple_choice",
    "asset",
    "modular_content",
    "taxonomy",
    "url_slug",
    "custom",
    "subpages",
)
# How Sync v1 spelled change types: "changed_item"/"deleted_item" or "changed"/"deleted".
V1_CHANGE_TYPE_STYLES = ("suffixed", "plain")


@dataclass
class Language:
    id: str
    codename: str
    name: str
    fallback: str | None = None  # codename of the fallback language; None for the default language
    active: bool = True


@dataclass
class ContentType:
    id: str
    codename: str
    name: str
    last_modified: str
    # codename -> {"type": ..., "name": ..., "options"?: [{"name","codename"}], "taxonomy_group"?: codename}
    elements: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class TaxonomyGroup:
    id: str
    codename: str
    name: str
    last_modified: str
    terms: list[dict[str, Any]] = field(default_factory=list)  # [{"name","codename","terms":[...]}]


def definition_system(definition: ContentType | TaxonomyGroup) -> dict[str, str]:
    """The ``system`` object of a type or taxonomy group: Delivery and Sync deltas report the same one."""
    return {
        "id": definition.id,
        "name": definition.name,
        "codename": definition.codename,
        "last_modified": definition.last_modified,
    }


@dataclass
class VariantVersion:
    """One version of a language variant: the latest (preview) or the published (production) one."""

    name: str
    elements: dict[str, Any]  # element codename -> simple value
    last_modified: str
    workflow: str = "default"
    workflow_step: str = "draft"


@dataclass
class Variant:
    language: str  # language codename at creation; languages are looked up by codename
    latest: VariantVersion | None = None  # what preview serves; None once deleted
    published: VariantVersion | None = None  # what production serves; None when not published


@dataclass
class Item:
    id: str
    codename: str
    type_id: str
    collection: str = "default"
    is_component: bool = False
    variants: dict[str, Variant] = field(default_factory=dict)  # language codename -> variant


@dataclass
class Environment:
    id: str
    secure_access: bool = False
    secure_key: str | None = None
    preview_key: str | None = None
    revoked_keys: set[str] = field(default_factory=set)
    languages: list[Language] = field(default_factory=list)  # first = default language
    types: dict[str, ContentType] = field(default_factory=dict)  # id -> type
    taxonomies: dict[str, TaxonomyGroup] = field(default_factory=dict)  # id -> group
    items: dict[str, Item] = field(default_factory=dict)  # id -> item
    page_size: int = 100  # Sync API: max entries per array per page
    feed_page_size: int = 100  # items-feed page size
    v1_change_types: str = "suffixed"  # "suffixed" (changed_item/deleted_item) or "plain" (changed/deleted)
    url_max_length: int = 2000
    url_too_long_status: int = 414
    # Kontent.ai's opt-in "fallbacks for linked content": linked items and rich-text link targets follow
    # their own fallback chain instead of being omitted when untranslated (Delivery side only)
    linked_content_fallbacks: bool = False
    # Knobs for behaviour Kontent.ai does not pin down, all off by default: sync tokens older than
    # token_ttl_s are rejected (400, error_code 107); changes become visible to Sync and Delivery only
    # propagation_delay_s after they were made (change processing lag); Delivery's CDN keeps serving the
    # older content, marked X-Stale-Content, for stale_content_s after that (see backend/propagation.py)
    token_ttl_s: float | None = None
    propagation_delay_s: float = 0.0
    stale_content_s: float = 0.0
    # Sync API v1 was retired on 2026-01-05 (its routes answer 404); True serves it again for replay tests
    legacy_v1: bool = False

    @property
    def default_language(self) -> Language:
        return self.languages[0]

    def language(self, codename: str) -> Language | None:
        return next((lang for lang in self.languages if lang.codename == codename), None)

    def type_by_codename(self, codename: str) -> ContentType | None:
        return next((t for t in self.types.values() if t.codename == codename), None)

    def taxonomy_by_codename(self, codename: str | None) -> TaxonomyGroup | None:
        return next((g for g in self.taxonomies.values() if g.codename == codename), None)

    def item_by_codename(self, codename: str) -> Item | None:
        return next((i for i in self.items.values() if i.codename == codename), None)

    def fallback_chain(self, codename: str) -> list[str]:
        """Languages to try for ``codename``: itself, its fallbacks, then the default (cycles end there)."""
        chain: list[str] = []
        current: str | None = codename
        while current is not None and current not in chain:
            chain.append(current)
            lang = self.language(current)
            current = lang.fallback if lang else None
        if self.default_language.codename not in chain:
            chain.append(self.default_language.codename)
        return chain


def component_codename(component_id: str) -> str:
    """Kontent.ai names components ``n`` + their id with underscores (they have no codename of their own)."""
    return "n" + component_id.replace("-", "_")


def item_system(
    env: Environment, item: Item, version: VariantVersion, served_language: str
) -> dict[str, Any]:
    """The ``system`` object of an item or component: Delivery responses and Sync deltas report the same one."""
    content_type = env.types.get(item.type_id)
    system: dict[str, Any] = {
        "id": item.id,
        "name": item.id if item.is_component else version.name,
        "codename": component_codename(item.id) if item.is_component else item.codename,
        "language": served_language,
        "type": content_type.codename if content_type else "",
        "collection": item.collection,
        "sitemap_locations": [],
        "last_modified": version.last_modified,
    }
    if not item.is_component:
        system["workflow"] = version.workflow
        system["workflow_step"] = version.workflow_step
    return system
