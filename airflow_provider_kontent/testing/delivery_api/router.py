"""The Delivery API: which endpoint answers a path under ``/{env_id}``, and its errors.

``handle_delivery`` is a pure function of one environment (the content the reader may see) and one
request; the server has done auth and environment lookup and holds the store lock. The endpoints live
in ``items.py`` (items), ``feed.py`` (items-feed) and ``definitions.py`` (types, taxonomies,
languages); ``ROUTES`` maps path shapes to them. Behaviour follows
https://kontent.ai/learn/docs/apis/delivery-api.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from urllib.parse import unquote

from airflow_provider_kontent.testing.backend.model import Environment
from airflow_provider_kontent.testing.backend.read_cache import GenerationCache
from airflow_provider_kontent.testing.delivery_api.definitions import (
    get_taxonomy,
    get_type,
    get_type_element,
    list_languages,
    list_taxonomies,
    list_types,
)
from airflow_provider_kontent.testing.delivery_api.feed import items_feed
from airflow_provider_kontent.testing.delivery_api.items import get_item, list_items
from airflow_provider_kontent.testing.delivery_api.query_filters import QueryError
from airflow_provider_kontent.testing.delivery_api.request import DeliveryError, DeliveryRequest, Response
from airflow_provider_kontent.testing.kontent_errors import BAD_QUERY, ROUTE_NOT_FOUND, error_body

Endpoint = Callable[..., Response]
# Path shape (``*`` = a codename) -> endpoint; codenames are passed on in order.
ROUTES: dict[tuple[str, ...], Endpoint] = {
    ("items",): list_items,
    ("items", "*"): get_item,
    ("items-feed",): items_feed,
    ("types",): list_types,
    ("types", "*"): get_type,
    ("types", "*", "elements", "*"): get_type_element,
    ("taxonomies",): list_taxonomies,
    ("taxonomies", "*"): get_taxonomy,
    ("languages",): list_languages,
}
RESOURCES = frozenset(shape[0] for shape in ROUTES)  # first path segments the Delivery API owns


def match(parts: list[str]) -> tuple[Endpoint, list[str]] | None:
    """The endpoint for ``parts`` and the codenames it takes, or None."""
    for shape, endpoint in ROUTES.items():
        if len(shape) == len(parts) and all(
            s == "*" and p or s == p for s, p in zip(shape, parts, strict=True)
        ):
            return endpoint, [p for s, p in zip(shape, parts, strict=True) if s == "*"]
    return None


def handle_delivery(
    env: Environment,
    preview: bool,
    path: str,
    query: list[tuple[str, str]],
    headers: Mapping[str, str],
    *,
    selection_cache: GenerationCache | None = None,
    generation: Hashable | None = None,
) -> Response:
    """Answer one Delivery request; ``path`` is what follows ``/{env_id}`` (e.g. ``/items/about_us``).

    With ``selection_cache`` and ``generation`` (the store's change counter) selections are reused
    across pages while nothing changed; without them every request selects afresh.
    """
    request = DeliveryRequest(env, preview, list(query), headers, selection_cache, generation)
    parts = [unquote(p) for p in path.strip("/").split("/")] if path.strip("/") else []
    try:
        found = match(parts)
        if found is None:
            raise DeliveryError(
                404, f"No HTTP resource was found that matches the request path '{path}'.", ROUTE_NOT_FOUND
            )
        endpoint, codenames = found
        return endpoint(request, *codenames)
    except QueryError as exc:
        return 400, error_body(str(exc), BAD_QUERY), {}
    except DeliveryError as exc:
        return exc.status, error_body(exc.message, exc.error_code), {}
