"""``GET /{env}/items`` and ``GET /{env}/items/{codename}``: rendering, linked items, the size limit.

Linked items are gathered breadth-first to ``depth`` (default 1); components always come along
(https://kontent.ai/learn/docs/apis/delivery-api/linked-content). A response over 2,000 items
(items + modular_content) is 400 with error_code 6.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_kontent.testing.backend.limits import MAX_RESPONSE_ITEMS
from airflow_provider_kontent.testing.backend.serving import resolve_language
from airflow_provider_kontent.testing.delivery_api.element_rendering import ElementRenderer, Rendered
from airflow_provider_kontent.testing.delivery_api.query_filters import parse_filters, parse_order
from airflow_provider_kontent.testing.delivery_api.request import (
    REQUEST_CHARGE_HEADER,
    DeliveryError,
    DeliveryRequest,
    Response,
    paging,
)
from airflow_provider_kontent.testing.delivery_api.selection import Served, select
from airflow_provider_kontent.testing.kontent_errors import ITEM_NOT_FOUND, RESPONSE_TOO_LARGE


class Assembler:
    """Renders top-level items and gathers ``modular_content`` (linked items to a depth, all components)."""

    def __init__(self, request: DeliveryRequest, depth: int, linked: bool) -> None:
        self.request = request
        self.depth = depth if linked else 0
        self.renderer = ElementRenderer(
            request.env,
            request.preview,
            link_language=request.language,
            linked_fallbacks=request.env.linked_content_fallbacks,
        )
        self.kept = request.projection()
        self.modular_content: dict[str, dict[str, Any]] = {}

    def _project(self, rendered: Rendered) -> set[str]:
        kept = self.kept(rendered.payload["elements"])
        rendered.payload["elements"] = {k: v for k, v in rendered.payload["elements"].items() if k in kept}
        for element_codename, components in rendered.components.items():
            if element_codename in kept:
                self.modular_content.update(components)
        return kept

    def items(self, served: list[Served]) -> list[dict[str, Any]]:
        frontier: list[tuple[Rendered, set[str]]] = []
        payloads = []
        for s in served:
            rendered = self.renderer.render_item(s.item, s.version, s.language)
            frontier.append((rendered, self._project(rendered)))
            payloads.append(rendered.payload)
        self._linked(frontier)
        return payloads

    def _linked(self, frontier: list[tuple[Rendered, set[str]]]) -> None:
        """Breadth-first over linked items; Kontent.ai's default mode omits untranslated ones."""
        language = self.request.language
        for _ in range(self.depth):
            next_frontier: list[tuple[Rendered, set[str]]] = []
            for rendered, kept in frontier:
                for codename in rendered.linked_codenames(kept):
                    if codename in self.modular_content:
                        continue
                    item = self.request.by_codename.get(codename)
                    if item is None:
                        continue
                    served_language, version = self.renderer.linked_version(item, language)
                    if version is None or served_language is None:
                        continue
                    linked = self.renderer.render_item(item, version, served_language)
                    linked_kept = self._project(linked)
                    self.modular_content[codename] = linked.payload
                    next_frontier.append((linked, linked_kept))
            if not next_frontier:
                break
            frontier = next_frontier


def depth_param(request: DeliveryRequest) -> int:
    depth = request.int_param("depth", 1)
    return 1 if depth is None else depth


def check_size(count: int) -> None:
    if count > MAX_RESPONSE_ITEMS:
        raise DeliveryError(
            400,
            f"The response would contain {count} content items, more than the maximum response size of "
            f"{MAX_RESPONSE_ITEMS} content items. Filter the items, lower 'limit' or 'depth', or use the "
            "items-feed endpoint.",
            RESPONSE_TOO_LARGE,
        )


def list_items(request: DeliveryRequest) -> Response:
    filters = parse_filters(request.query)
    order = parse_order(request.param("order"))
    skip = request.int_param("skip", 0) or 0
    limit = request.int_param("limit", None)
    depth = depth_param(request)
    selected = select(request, filters, order)
    page = selected[skip : skip + limit] if limit else selected[skip:]
    assembler = Assembler(request, depth, linked=True)
    items = assembler.items(page)
    charge = len(items) + len(assembler.modular_content)
    check_size(charge)
    page_info = paging(request, "items", skip, limit, len(items), len(selected))
    body = {"items": items, "modular_content": assembler.modular_content, "pagination": page_info}
    return 200, body, {REQUEST_CHARGE_HEADER: str(charge)}


def get_item(request: DeliveryRequest, codename: str) -> Response:
    depth = depth_param(request)
    item = request.by_codename.get(codename)
    served_language, version = (None, None)
    if item is not None:
        served_language, version = resolve_language(request.env, item, request.language, request.preview)
    if item is None or version is None or served_language is None:
        raise DeliveryError(404, f"The requested content item '{codename}' was not found.", ITEM_NOT_FOUND)
    assembler = Assembler(request, depth, linked=True)
    (payload,) = assembler.items([Served(item, served_language, version)])
    charge = 1 + len(assembler.modular_content)
    check_size(charge)
    return (
        200,
        {"item": payload, "modular_content": assembler.modular_content},
        {REQUEST_CHARGE_HEADER: str(charge)},
    )
