"""Which items a Delivery listing returns: filtered on stored values, in the requested language (with
fallbacks), sorted by ``order``; cached per store generation so later pages only slice.

Filters and ordering follow https://kontent.ai/learn/docs/apis/delivery-api/filtering-parameters;
evaluating them on the stored simple values means a listing renders only the page it returns.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from airflow_provider_kontent.testing.backend.model import Item, VariantVersion
from airflow_provider_kontent.testing.backend.serving import resolve_in_chain, serving_chain
from airflow_provider_kontent.testing.delivery_api.query_filters import (
    MISSING,
    Filter,
    Order,
    Value,
    element_value,
    sort_key,
)
from airflow_provider_kontent.testing.delivery_api.request import DeliveryRequest


@dataclass
class Served:
    item: Item
    language: str
    version: VariantVersion


def subject(request: DeliveryRequest, served: Served, scope: str, prop: str) -> Value:
    """The value a filter or an ``order`` compares for one served item."""
    item, version = served.item, served.version
    if scope == "system":
        if prop == "type":
            content_type = request.env.types.get(item.type_id)
            return Value("string", content_type.codename if content_type else "")
        system = {
            "id": item.id,
            "codename": item.codename,
            "name": version.name,
            "collection": item.collection,
            "language": served.language,
            "last_modified": version.last_modified,
            "workflow": version.workflow,
            "workflow_step": version.workflow_step,
        }
        return Value("string", system[prop]) if prop in system else MISSING
    content_type = request.env.types.get(item.type_id)
    definition = content_type.elements.get(prop) if content_type else None
    if definition is None:
        return MISSING
    return element_value(definition.get("type", ""), version.elements.get(prop))


def _codename_key(served: Served) -> tuple[str, str]:
    """The base order and tie-break (id only matters if two top-level items ever share a codename)."""
    return served.item.codename, served.item.id


def _candidates(request: DeliveryRequest, filters: list[Filter]) -> Iterable[Item]:
    """Narrow the scan with an id/codename ``[eq]``/``[in]`` filter (the client's delta fetch) when there is one.

    The filters are still applied afterwards, so this only saves work; it keeps a batch fetch from a
    50,000-item environment at O(batch) instead of O(items).
    """
    env = request.env
    for f in filters:
        if f.scope != "system" or f.op not in ("eq", "in"):
            continue
        if f.prop == "id":
            found = (env.items.get(v) or env.items.get(v.lower()) for v in dict.fromkeys(f.values))
            return [item for item in found if item is not None]
        if f.prop == "codename":
            by_codename = request.by_codename
            return [by_codename[v] for v in dict.fromkeys(f.values) if v in by_codename]
    return env.items.values()


def select(request: DeliveryRequest, filters: list[Filter], order: Order) -> list[Served]:
    """``select_now``, answered from the request's selection cache while the store is unchanged."""
    cache, generation = request.selection_cache, request.generation
    if cache is None or generation is None:
        return select_now(request, filters, order)
    key = (request.env.id, request.preview, request.language, tuple(filters), order)
    return cache.lookup(key, generation, lambda: select_now(request, filters, order))


def select_now(request: DeliveryRequest, filters: list[Filter], order: Order) -> list[Served]:
    """Top-level items visible on this host in the requested language (with fallbacks), filtered, sorted."""
    chain = serving_chain(request.env, request.language)
    preview = request.preview
    selected: list[Served] = []
    for item in _candidates(request, filters):
        if item.is_component:
            continue
        served_language, version = resolve_in_chain(item, chain, preview)
        if version is None:
            continue
        served = Served(item, served_language, version)
        if not filters or all(f.matches(subject(request, served, f.scope, f.prop)) for f in filters):
            selected.append(served)
    selected.sort(key=_codename_key)
    if order.scope != "system" or order.prop != "codename" or order.descending:
        keyed = [(sort_key(subject(request, s, order.scope, order.prop)), s) for s in selected]
        present = [pair for pair in keyed if pair[0][0] == 0]
        missing = [s for key, s in keyed if key[0] != 0]
        present.sort(key=lambda pair: pair[0], reverse=order.descending)
        selected = [s for _, s in present] + missing
    return selected
