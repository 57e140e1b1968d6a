"""Render stored (simple) element values into the Delivery API's element shapes.

The backend keeps element values in the simple form of ``docs/architecture.md`` so tests and the control
API can write them by hand; Delivery responses and Sync v1 deltas need the rich shapes of
https://kontent.ai/learn/docs/apis/delivery-api/elements. Everything here is a pure function of the model, so the Delivery side
and the Sync side render identical payloads.

Simple forms accepted besides the documented ones (compatible extensions):

* ``rich_text``: an HTML string, or ``{"value": html, "components": {uuid: {"type": codename,
  "elements": {...}}}, "images": {image_id: {"description", "url", "width", "height"}}}``. Components
  written inline live with the variant that owns them (as in Kontent.ai); a component can also be an
  ``Item`` with ``is_component=True`` whose codename is ``n<uuid with _>``.
* ``date_time``: an ISO string, or ``{"value": iso, "display_timezone": "Europe/Prague"}``; the type
  element may also carry a default ``display_timezone``.
* ``asset``: ``[{"name", "url", "description"?, "type"?, "size"?, "width"?, "height"?, "renditions"?}]``.
"""

from __future__ import annotations

import json
import mimetypes
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from airflow_provider_kontent.testing.backend.model import (
    ContentType,
    Environment,
    Item,
    VariantVersion,
    component_codename,
    item_system,
)
from airflow_provider_kontent.testing.backend.serving import resolve_language, version_in

__all__ = [
    "EMPTY_RICH_TEXT",
    "ElementRenderer",
    "Rendered",
    "component_codename",
    "render_elements",
    "render_item",
]

EMPTY_RICH_TEXT = "<p><br></p>"
OBJECT_TYPE = "application/kenticocloud"
ARRAY_ELEMENT_TYPES = frozenset({"multiple_choice", "taxonomy", "modular_content", "subpages"})
LINKED_ELEMENT_TYPES = frozenset({"modular_content", "subpages"})


def component_id_from_codename(codename: str) -> str | None:
    """Invert :func:`component_codename`; None when ``codename`` is not shaped like a component's."""
    if not codename.startswith("n") or len(codename) != 37:
        return None
    return codename[1:].replace("_", "-")


@dataclass
class Rendered:
    """One rendered item plus what it drags along: components (by the element that holds them)."""

    payload: dict[str, Any]
    components: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # element -> cn -> item

    def linked_codenames(self, element_codenames: set[str] | None = None) -> list[str]:
        """Codenames of linked (non-component) items this item points at, in element order."""
        found: list[str] = []
        for codename, element in self.payload["elements"].items():
            if element_codenames is not None and codename not in element_codenames:
                continue
            if element["type"] in LINKED_ELEMENT_TYPES:
                found.extend(v for v in element["value"] if isinstance(v, str))
            elif element["type"] == "rich_text":
                comps = self.components.get(codename, {})
                found.extend(cn for cn in element["modular_content"] if cn not in comps)
        return found


class _RichTextScanner(HTMLParser):
    """Collect the references a rich-text value makes: inserted objects, item links and images."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.objects: list[tuple[str, str]] = []  # (data-rel, data-codename)
        self.link_ids: list[str] = []
        self.images: list[dict[str, Any]] = []
        self._figure_ids: tuple[str | None, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        if tag == "object" and a.get("type") == OBJECT_TYPE and a.get("data-codename"):
            self.objects.append((a.get("data-rel", "link"), a["data-codename"]))
        elif tag == "a" and a.get("data-item-id"):
            self.link_ids.append(a["data-item-id"])
        elif tag == "figure":
            self._figure_ids = (a.get("data-asset-id"), a.get("data-image-id"))
        elif tag == "img":
            image_id = a.get("data-image-id") or (self._figure_ids or (None, None))[1]
            if image_id:
                self.images.append(
                    {
                        "image_id": image_id,
                        "description": a.get("alt") or None,
                        "url": a.get("src", ""),
                        "width": _int_or_none(a.get("width")),
                        "height": _int_or_none(a.get("height")),
                    }
                )

    def handle_endtag(self, tag: str) -> None:
        if tag == "figure":
            self._figure_ids = None


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class ElementRenderer:
    """Renders elements for one host (preview or production) and one requested language.

    ``link_language`` is the language rich-text link targets must exist in for their ``links`` entry
    (Kontent.ai's default mode omits untranslated targets); it defaults to the served language. With
    ``linked_fallbacks`` (Kontent.ai's opt-in "fallbacks for linked content") a target is looked up
    through the fallback chain of that language instead.
    """

    def __init__(
        self,
        env: Environment,
        preview: bool,
        link_language: str | None = None,
        linked_fallbacks: bool = False,
    ) -> None:
        self.env = env
        self.preview = preview
        self.link_language = link_language
        self.linked_fallbacks = linked_fallbacks

    def linked_version(self, item: Item, language: str) -> tuple[str | None, VariantVersion | None]:
        """How a linked item or link target is served in ``language`` (exact language unless opted in)."""
        if self.linked_fallbacks:
            return resolve_language(self.env, item, language, self.preview)
        version = version_in(item, language, self.preview)
        return (language, version) if version is not None else (None, None)

    # -- items -----------------------------------------------------------------------------------
    def render_item(self, item: Item, version: VariantVersion, served_language: str) -> Rendered:
        elements, components = self.render_elements(item.type_id, version, served_language)
        return Rendered(
            {"system": item_system(self.env, item, version, served_language), "elements": elements},
            components,
        )

    def render_elements(
        self, type_id: str, version: VariantVersion, language: str
    ) -> tuple[dict[str, Any], dict[str, dict[str, dict[str, Any]]]]:
        """Delivery-shaped elements of one version, with the components they hold (by element)."""
        return self._render_elements(type_id, version.elements, language, version.last_modified, depth=0)

    def _render_elements(
        self,
        type_id: str,
        values: dict[str, Any],
        language: str,
        last_modified: str,
        depth: int,
    ) -> tuple[dict[str, Any], dict[str, dict[str, dict[str, Any]]]]:
        content_type = self.env.types.get(type_id)
        if content_type is None:
            return {}, {}
        rendered: dict[str, Any] = {}
        components: dict[str, dict[str, dict[str, Any]]] = {}
        for codename, definition in content_type.elements.items():
            raw = values.get(codename)
            if definition.get("type") == "rich_text":
                element, found = self._rich_text(definition, raw, language, last_modified, depth)
                if found:
                    components[codename] = found
                rendered[codename] = element
            else:
                rendered[codename] = render_simple_element(self.env, definition, raw)
        return rendered, components

    # -- rich text -------------------------------------------------------------------------------
    def _rich_text(
        self, definition: dict[str, Any], raw: Any, language: str, last_modified: str, depth: int
    ) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        inline_components: dict[str, Any] = {}
        image_meta: dict[str, Any] = {}
        html = raw
        if isinstance(raw, dict):
            html = raw.get("value")
            inline_components = raw.get("components") or {}
            image_meta = raw.get("images") or {}
        if not html:
            html = EMPTY_RICH_TEXT
        scanner = _RichTextScanner()
        scanner.feed(html)
        scanner.close()

        modular: list[str] = []
        components: dict[str, dict[str, Any]] = {}
        for rel, codename in scanner.objects:
            if codename not in modular:
                modular.append(codename)
            if rel == "component" and depth < 6 and codename not in components:
                found = self._component(codename, inline_components, language, last_modified, depth)
                components.update(found)

        images: dict[str, Any] = {}
        for image in scanner.images:
            meta = {**image, **(image_meta.get(image["image_id"]) or {})}
            meta["image_id"] = image["image_id"]
            images[image["image_id"]] = meta

        links: dict[str, Any] = {}
        target_language = self.link_language or language
        for item_id in scanner.link_ids:
            target = self.env.items.get(item_id)
            if target is None or target.is_component or item_id in links:
                continue
            _, version = self.linked_version(target, target_language)
            if version is None:
                continue  # Kontent.ai drops the entry, the data-item-id stays in the HTML
            content_type = self.env.types.get(target.type_id)
            links[item_id] = {
                "codename": target.codename,
                "type": content_type.codename if content_type else "",
                "url_slug": _first_url_slug(content_type, version),
            }
        element = {
            "type": "rich_text",
            "name": definition.get("name", ""),
            "images": images,
            "links": links,
            "modular_content": modular,
            "value": html,
        }
        return element, components

    def _component(
        self,
        codename: str,
        inline: dict[str, Any],
        language: str,
        last_modified: str,
        depth: int,
    ) -> dict[str, dict[str, Any]]:
        """Render one component (and the components nested in it), keyed by codename."""
        component_id = component_id_from_codename(codename)
        if component_id is None:
            return {}
        spec = inline.get(component_id)
        if spec is not None:
            content_type = self.env.type_by_codename(spec.get("type", ""))
            if content_type is None:
                return {}
            elements, nested = self._render_elements(
                content_type.id, spec.get("elements") or {}, language, last_modified, depth + 1
            )
            system = {
                "id": component_id,
                "name": component_id,
                "codename": codename,
                "language": language,
                "type": content_type.codename,
                "collection": spec.get("collection", "default"),
                "sitemap_locations": [],
                "last_modified": last_modified,
            }
        else:
            item = self.env.items.get(component_id)
            if item is None or not item.is_component:
                return {}
            served, version = resolve_language(self.env, item, language, self.preview)
            if version is None:
                return {}
            elements, nested = self._render_elements(
                item.type_id, version.elements, served, version.last_modified, depth + 1
            )
            system = item_system(self.env, item, version, served)
        found = {codename: {"system": system, "elements": elements}}
        for by_codename in nested.values():
            found.update(by_codename)
        return found


def _first_url_slug(content_type: ContentType | None, version: VariantVersion) -> str:
    if content_type is None:
        return ""
    for codename, definition in content_type.elements.items():
        if definition.get("type") == "url_slug":
            return version.elements.get(codename) or ""
    return ""


def _guess_mime(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def render_simple_element(env: Environment, definition: dict[str, Any], raw: Any) -> dict[str, Any]:
    """Render one non-rich-text element from its simple value (unknown types pass the value through)."""
    kind = definition.get("type", "")
    element: dict[str, Any] = {"type": kind, "name": definition.get("name", "")}
    if kind in ("text", "custom"):
        element["value"] = raw if raw is None or isinstance(raw, str) else json.dumps(raw)
    elif kind == "url_slug":
        element["value"] = raw or ""
    elif kind == "number":
        element["value"] = raw if isinstance(raw, (int, float)) and not isinstance(raw, bool) else None
    elif kind == "date_time":
        timezone = definition.get("display_timezone")
        value = raw
        if isinstance(raw, dict):
            value = raw.get("value")
            timezone = raw.get("display_timezone", timezone)
        element["value"] = value or None
        element["display_timezone"] = timezone
    elif kind == "multiple_choice":
        selected = set(raw or [])
        options = definition.get("options") or []
        known = {o["codename"] for o in options}
        element["value"] = [
            {"name": o["name"], "codename": o["codename"]} for o in options if o["codename"] in selected
        ] + [{"name": c, "codename": c} for c in (raw or []) if c not in known]
    elif kind == "taxonomy":
        group_codename = definition.get("taxonomy_group")
        element["taxonomy_group"] = group_codename
        names = _taxonomy_names(env, group_codename)
        element["value"] = [{"name": names.get(c, c), "codename": c} for c in (raw or [])]
    elif kind in LINKED_ELEMENT_TYPES:
        element["value"] = list(raw or [])
    elif kind == "asset":
        element["value"] = [_render_asset(a) for a in (raw or []) if isinstance(a, dict)]
    else:
        element["value"] = raw
    return element


def _taxonomy_names(env: Environment, group_codename: str | None) -> dict[str, str]:
    group = env.taxonomy_by_codename(group_codename)
    names: dict[str, str] = {}
    stack = list(group.terms) if group else []
    while stack:
        term = stack.pop()
        names[term["codename"]] = term.get("name", term["codename"])
        stack.extend(term.get("terms") or [])
    return names


def _render_asset(asset: dict[str, Any]) -> dict[str, Any]:
    name = asset.get("name", "")
    mime = asset.get("type") or _guess_mime(name)
    is_image = mime.startswith("image/")
    return {
        "name": name,
        "description": asset.get("description"),
        "type": mime,
        "size": asset.get("size", 0),
        "url": asset.get("url", ""),
        "width": asset.get("width") if is_image else None,
        "height": asset.get("height") if is_image else None,
        "renditions": asset.get("renditions") or {},
    }


def _infer_preview(item: Item, version: VariantVersion, language: str) -> bool:
    """A version that is not the variant's published one can only be served by preview."""
    variant = item.variants.get(language)
    return not (variant is not None and variant.published is version)


def render_elements(
    env: Environment,
    item: Item,
    version: VariantVersion,
    language: str,
    *,
    preview: bool | None = None,
) -> dict[str, Any]:
    """Delivery-shaped ``elements`` of one variant version (used for items and Sync v1 deltas).

    ``preview`` decides which versions of link targets and components count as available; when None it
    is inferred (the published version of the variant means production).
    """
    if preview is None:
        preview = _infer_preview(item, version, language)
    elements, _ = ElementRenderer(env, preview).render_elements(item.type_id, version, language)
    return elements


def render_item(
    env: Environment,
    item: Item,
    version: VariantVersion,
    served_language: str,
    *,
    preview: bool | None = None,
) -> dict[str, Any]:
    """``{"system", "elements"}`` of one item as Delivery returns it (components not included)."""
    if preview is None:
        preview = _infer_preview(item, version, served_language)
    return ElementRenderer(env, preview).render_item(item, version, served_language).payload
