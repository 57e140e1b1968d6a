"""One Delivery API request as the endpoints see it: parameters, headers, caches, paging and errors.

The server has already done auth and environment lookup and holds the store lock; ``env`` is the
content the reader may see (see ``backend/propagation.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from airflow_provider_kontent.testing.backend.model import Environment, Item
from airflow_provider_kontent.testing.backend.read_cache import GenerationCache
from airflow_provider_kontent.testing.delivery_api.query_filters import QueryError

CONTINUATION_HEADER = "X-Continuation"
REQUEST_CHARGE_HEADER = "X-Request-Charge"
Response = tuple[int, dict[str, Any], dict[str, str]]


class DeliveryError(Exception):
    """Ends a request with a Kontent.ai error body."""

    def __init__(self, status: int, message: str, error_code: int) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_code = error_code


@dataclass
class DeliveryRequest:
    env: Environment
    preview: bool
    query: list[tuple[str, str]]
    headers: Mapping[str, str]
    selection_cache: GenerationCache | None = field(default=None, repr=False)
    generation: Hashable | None = None
    _by_codename: dict[str, Item] | None = field(default=None, repr=False)

    def param(self, name: str) -> str | None:
        """The last value of a query parameter (later values win, like most web frameworks)."""
        value = None
        for key, v in self.query:
            if key == name:
                value = v
        return value

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return None

    def int_param(self, name: str, default: int | None) -> int | None:
        raw = self.param(name)
        if raw is None or raw == "":
            return default
        try:
            number = int(raw)
        except ValueError:
            raise QueryError(f"The query parameter '{name}' must be a non-negative integer.") from None
        if number < 0:
            raise QueryError(f"The query parameter '{name}' must be a non-negative integer.")
        return number

    @property
    def language(self) -> str:
        return self.param("language") or self.env.default_language.codename

    @property
    def by_codename(self) -> dict[str, Item]:
        """Non-component items by codename, built once per request (or once per store generation)."""
        if self._by_codename is None:
            env = self.env

            def build() -> dict[str, Item]:
                return {i.codename: i for i in env.items.values() if not i.is_component}

            cache, generation = self.selection_cache, self.generation
            if cache is None or generation is None:
                self._by_codename = build()
            else:
                self._by_codename = cache.lookup(("codenames", env.id), generation, build)
        return self._by_codename

    def projection(self) -> Callable[[dict[str, Any]], set[str]]:
        """Which element codenames of a rendered item survive ``elements`` / ``excludeElements``."""
        include = csv_set(self.param("elements"))
        exclude = csv_set(self.param("excludeElements"))

        def kept(elements: dict[str, Any]) -> set[str]:
            names = set(elements)
            if include is not None:
                names &= include
            if exclude is not None:
                names -= exclude
            return names

        return kept

    def base_url(self) -> str:
        host = self.header("Host")
        prefix = "/preview" if self.preview else ""
        return f"http://{host}{prefix}" if host else prefix


def csv_set(raw: str | None) -> set[str] | None:
    if raw is None:
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


def paging(
    request: DeliveryRequest, resource: str, skip: int, limit: int | None, count: int, total: int
) -> dict[str, Any]:
    """The ``pagination`` object of a listing (``total_count`` only when asked for)."""
    pagination: dict[str, Any] = {"skip": skip, "limit": limit or 0, "count": count}
    if (request.param("includeTotalCount") or "").lower() in ("true", "1"):
        pagination["total_count"] = total
    pagination["next_page"] = next_page(request, resource, skip, limit, count, total)
    return pagination


def next_page(
    request: DeliveryRequest, resource: str, skip: int, limit: int | None, count: int, total: int
) -> str:
    """A URL to the next page with the same query and a new ``skip``; "" on the last page."""
    if not limit or skip + count >= total:
        return ""
    query = [(k, v) for k, v in request.query if k != "skip"] + [("skip", str(skip + count))]
    return f"{request.base_url()}/{request.env.id}/{resource}?{urlencode(query, safe='[],')}"


def paged_list(request: DeliveryRequest, key: str, objects: list[dict[str, Any]]) -> Response:
    skip = request.int_param("skip", 0) or 0
    limit = request.int_param("limit", None)
    page = objects[skip : skip + limit] if limit else objects[skip:]
    page_info = paging(request, key, skip, limit, len(page), len(objects))
    return 200, {key: page, "pagination": page_info}, {}
