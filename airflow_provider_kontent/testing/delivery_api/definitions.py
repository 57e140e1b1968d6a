"""The content model over Delivery: ``/types`` (and one type, and one type element), ``/taxonomies``
and ``/languages`` (https://kontent.ai/learn/docs/apis/delivery-api/content-types).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from airflow_provider_kontent.testing.backend.model import ContentType, TaxonomyGroup, definition_system
from airflow_provider_kontent.testing.delivery_api.query_filters import (
    MISSING,
    Value,
    parse_filters,
    parse_order,
)
from airflow_provider_kontent.testing.delivery_api.request import (
    DeliveryError,
    DeliveryRequest,
    Response,
    csv_set,
    paged_list,
)
from airflow_provider_kontent.testing.kontent_errors import (
    ELEMENT_NOT_FOUND,
    TAXONOMY_NOT_FOUND,
    TYPE_NOT_FOUND,
)


def _render_element(definition: dict[str, Any]) -> dict[str, Any]:
    element = {"type": definition.get("type", ""), "name": definition.get("name", "")}
    if element["type"] == "multiple_choice":
        element["options"] = [
            {"name": o["name"], "codename": o["codename"]} for o in definition.get("options") or []
        ]
    if element["type"] == "taxonomy":
        element["taxonomy_group"] = definition.get("taxonomy_group")
    return element


def _render_type(content_type: ContentType, only: set[str] | None) -> dict[str, Any]:
    elements = {
        codename: _render_element(definition)
        for codename, definition in content_type.elements.items()
        if only is None or codename in only
    }
    return {"system": definition_system(content_type), "elements": elements}


def _find_type(request: DeliveryRequest, codename: str) -> ContentType:
    content_type = request.env.type_by_codename(codename)
    if content_type is None:
        raise DeliveryError(404, f"The requested content type '{codename}' was not found.", TYPE_NOT_FOUND)
    return content_type


def list_types(request: DeliveryRequest) -> Response:
    only = csv_set(request.param("elements"))
    types = sorted(request.env.types.values(), key=lambda t: t.codename)
    return paged_list(request, "types", [_render_type(t, only) for t in types])


def get_type(request: DeliveryRequest, codename: str) -> Response:
    content_type = _find_type(request, codename)
    return 200, _render_type(content_type, csv_set(request.param("elements"))), {}


def get_type_element(request: DeliveryRequest, type_codename: str, element_codename: str) -> Response:
    """One element of a type, with its ``codename`` (unknown type 404/101, unknown element 404/102)."""
    definition = _find_type(request, type_codename).elements.get(element_codename)
    if definition is None:
        message = f"The requested content element '{element_codename}' was not found in content type '{type_codename}'."
        raise DeliveryError(404, message, ELEMENT_NOT_FOUND)
    return 200, {"codename": element_codename, **_render_element(definition)}, {}


def _render_terms(terms: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "name": t.get("name", t["codename"]),
            "codename": t["codename"],
            "terms": _render_terms(t.get("terms") or []),
        }
        for t in terms
    ]


def _render_taxonomy(group: TaxonomyGroup) -> dict[str, Any]:
    return {"system": definition_system(group), "terms": _render_terms(group.terms)}


def list_taxonomies(request: DeliveryRequest) -> Response:
    groups = sorted(request.env.taxonomies.values(), key=lambda g: g.codename)
    return paged_list(request, "taxonomies", [_render_taxonomy(g) for g in groups])


def get_taxonomy(request: DeliveryRequest, codename: str) -> Response:
    group = request.env.taxonomy_by_codename(codename)
    if group is None:
        raise DeliveryError(
            404, f"The requested taxonomy group '{codename}' was not found.", TAXONOMY_NOT_FOUND
        )
    return 200, _render_taxonomy(group), {}


def list_languages(request: DeliveryRequest) -> Response:
    filters = parse_filters(request.query, allowed_scopes=("system",))
    order = parse_order(request.param("order"), allowed_scopes=("system",))
    systems = [
        {"id": lang.id, "name": lang.name, "codename": lang.codename}
        for lang in request.env.languages
        if lang.active
    ]

    def value(system: dict[str, Any], prop: str) -> Value:
        return Value("string", system[prop]) if prop in system else MISSING

    systems = [s for s in systems if all(f.matches(value(s, f.prop)) for f in filters)]
    systems.sort(key=lambda s: s["codename"])
    present = [s for s in systems if order.prop in s]
    missing = [s for s in systems if order.prop not in s]
    present.sort(key=lambda s: s[order.prop], reverse=order.descending)
    return paged_list(request, "languages", [{"system": s} for s in present + missing])
