"""The emulator's Delivery content endpoints: items, items-feed, types, taxonomies, languages.

``handle_delivery`` is a pure function of one environment and one request; the HTTP server has already
done auth and environment lookup and holds the store lock. Behaviour follows
``kontent-delivery-api.md`` §2-§8 (see its §11 checklist). Each request builds its own codename index
once, so a page costs O(items) to select plus O(page + linked items) to render. The server passes a
:class:`SelectionCache` and the store's change generation: the filtered, sorted selection of a query is then
reused by every later page (items-feed continuation, ``/items`` skip) until anything changes, so a
50,000-item export costs O(items) once plus O(page) per page instead of O(items) per page.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlencode

from airflow_provider_kontent.testing.elements import (
    ElementRenderer,
    Rendered,
    resolve_in_chain,
    resolve_language,
    serving_chain,
)
from airflow_provider_kontent.testing.errors import (
    BAD_QUERY,
    INVALID_CONTINUATION,
    ROUTE_NOT_FOUND,
    error_body,
)
from airflow_provider_kontent.testing.model import (
    ContentType,
    Environment,
    Item,
    TaxonomyGroup,
    VariantVersion,
    definition_system,
)
from airflow_provider_kontent.testing.query_filters import (
    MISSING,
    Filter,
    Order,
    QueryError,
    Value,
    element_value,
    parse_filters,
    parse_order,
    sort_key,
)

MAX_RESPONSE_ITEMS = 2000
RESPONSE_TOO_LARGE = 6
ITEM_NOT_FOUND = 100
TYPE_NOT_FOUND = 101
TAXONOMY_NOT_FOUND = 104
CONTINUATION_HEADER = "X-Continuation"
REQUEST_CHARGE_HEADER = "X-Request-Charge"

Response = tuple[int, dict[str, Any], dict[str, str]]


class _HttpError(Exception):
    """Ends a request with a Kontent.ai error body."""

    def __init__(self, status: int, message: str, error_code: int) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_code = error_code


class SelectionCache:
    """Filtered, sorted item selections per (environment, host, language, filters, order), LRU-bounded,
    plus each environment's codename index (single items, linked items, ``system.codename`` filters).

    An entry is valid only for the store generation it was built at; the store bumps its generation on
    every mutation (and when delayed changes become visible), so a stale selection is never served.
    Callers hold the store lock.
    """

    def __init__(self, max_entries: int = 32) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[Any, ...], tuple[int, Any]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def lookup(self, key: tuple[Any, ...], generation: int, build: Callable[[], Any]) -> Any:
        """The cached value for ``key`` at ``generation``, built (and cached) on a miss."""
        value = self.get(key, generation)
        if value is None:
            value = build()
            self.put(key, generation, value)
        return value

    def get(self, key: tuple[Any, ...], generation: int) -> Any:
        cached = self._entries.get(key)
        if cached is None or cached[0] != generation:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return cached[1]

    def put(self, key: tuple[Any, ...], generation: int, selection: Any) -> None:
        self._entries[key] = (generation, selection)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()


def handle_delivery(
    env: Environment,
    preview: bool,
    path: str,
    query: list[tuple[str, str]],
    headers: Mapping[str, str],
    *,
    selection_cache: SelectionCache | None = None,
    generation: int | None = None,
) -> Response:
    """Answer one Delivery request; ``path`` is what follows ``/{env_id}`` (e.g. ``/items/about_us``).

    With ``selection_cache`` and ``generation`` (the store's change counter) selections are reused
    across pages while nothing changed; without them every request selects afresh.
    """
    request = _Request(env, preview, list(query), headers, selection_cache, generation)
    parts = [unquote(p) for p in path.strip("/").split("/")] if path.strip("/") else []
    try:
        handler = _route(parts)
        if handler is None:
            raise _HttpError(
                404, f"No HTTP resource was found that matches the request path '{path}'.", ROUTE_NOT_FOUND
            )
        return handler(request)
    except QueryError as exc:
        return 400, error_body(str(exc), BAD_QUERY), {}
    except _HttpError as exc:
        return exc.status, error_body(exc.message, exc.error_code), {}


def _route(parts: list[str]) -> Callable[[_Request], Response] | None:
    if len(parts) == 1:
        return {
            "items": _list_items,
            "items-feed": _items_feed,
            "types": _list_types,
            "taxonomies": _list_taxonomies,
            "languages": _list_languages,
        }.get(parts[0])
    if len(parts) == 2 and parts[1]:
        codename = parts[1]
        single = {"items": _get_item, "types": _get_type, "taxonomies": _get_taxonomy}.get(parts[0])
        if single is not None:
            return lambda request: single(request, codename)
    return None


@dataclass
class _Request:
    env: Environment
    preview: bool
    query: list[tuple[str, str]]
    headers: Mapping[str, str]
    selection_cache: SelectionCache | None = field(default=None, repr=False)
    generation: int | None = None
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
        include = _csv(self.param("elements"))
        exclude = _csv(self.param("excludeElements"))

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


def _csv(raw: str | None) -> set[str] | None:
    if raw is None:
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


# -- items -------------------------------------------------------------------------------------------------


@dataclass
class _Served:
    item: Item
    language: str
    version: VariantVersion


def _subject(request: _Request, served: _Served, scope: str, prop: str) -> Value:
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


def _codename_key(served: _Served) -> tuple[str, str]:
    """The base order and tie-break (id only matters if two top-level items ever share a codename)."""
    return served.item.codename, served.item.id


def _candidates(request: _Request, filters: list[Filter]) -> Iterable[Item]:
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


def _select(request: _Request, filters: list[Filter], order: Order) -> list[_Served]:
    """``_select_now``, answered from the request's selection cache while the store is unchanged."""
    cache, generation = request.selection_cache, request.generation
    if cache is None or generation is None:
        return _select_now(request, filters, order)
    key = (request.env.id, request.preview, request.language, tuple(filters), order)
    return cache.lookup(key, generation, lambda: _select_now(request, filters, order))


def _select_now(request: _Request, filters: list[Filter], order: Order) -> list[_Served]:
    """Top-level items visible on this host in the requested language (with fallbacks), filtered, sorted."""
    chain = serving_chain(request.env, request.language)
    preview = request.preview
    selected: list[_Served] = []
    for item in _candidates(request, filters):
        if item.is_component:
            continue
        served_language, version = resolve_in_chain(item, chain, preview)
        if version is None:
            continue
        served = _Served(item, served_language, version)
        if not filters or all(f.matches(_subject(request, served, f.scope, f.prop)) for f in filters):
            selected.append(served)
    selected.sort(key=_codename_key)
    if order.scope != "system" or order.prop != "codename" or order.descending:
        keyed = [(sort_key(_subject(request, s, order.scope, order.prop)), s) for s in selected]
        present = [pair for pair in keyed if pair[0][0] == 0]
        missing = [s for key, s in keyed if key[0] != 0]
        present.sort(key=lambda pair: pair[0], reverse=order.descending)
        selected = [s for _, s in present] + missing
    return selected


class _Assembler:
    """Renders top-level items and gathers ``modular_content`` (linked items to a depth, all components)."""

    def __init__(self, request: _Request, depth: int, linked: bool) -> None:
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

    def items(self, served: list[_Served]) -> list[dict[str, Any]]:
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


def _depth(request: _Request) -> int:
    depth = request.int_param("depth", 1)
    return 1 if depth is None else depth


def _check_size(count: int) -> None:
    if count > MAX_RESPONSE_ITEMS:
        raise _HttpError(
            400,
            f"The response would contain {count} content items, more than the maximum response size of "
            f"{MAX_RESPONSE_ITEMS} content items. Filter the items, lower 'limit' or 'depth', or use the "
            "items-feed endpoint.",
            RESPONSE_TOO_LARGE,
        )


def _list_items(request: _Request) -> Response:
    filters = parse_filters(request.query)
    order = parse_order(request.param("order"))
    skip = request.int_param("skip", 0) or 0
    limit = request.int_param("limit", None)
    depth = _depth(request)
    selected = _select(request, filters, order)
    page = selected[skip : skip + limit] if limit else selected[skip:]
    assembler = _Assembler(request, depth, linked=True)
    items = assembler.items(page)
    charge = len(items) + len(assembler.modular_content)
    _check_size(charge)
    pagination = _pagination(request, "items", skip, limit, len(items), len(selected))
    body = {"items": items, "modular_content": assembler.modular_content, "pagination": pagination}
    return 200, body, {REQUEST_CHARGE_HEADER: str(charge)}


def _pagination(
    request: _Request, resource: str, skip: int, limit: int | None, count: int, total: int
) -> dict[str, Any]:
    """The ``pagination`` object of a listing (``total_count`` only when asked for)."""
    pagination: dict[str, Any] = {"skip": skip, "limit": limit or 0, "count": count}
    if (request.param("includeTotalCount") or "").lower() in ("true", "1"):
        pagination["total_count"] = total
    pagination["next_page"] = _next_page(request, resource, skip, limit, count, total)
    return pagination


def _next_page(request: _Request, resource: str, skip: int, limit: int | None, count: int, total: int) -> str:
    """A URL to the next page with the same query and a new ``skip``; "" on the last page."""
    if not limit or skip + count >= total:
        return ""
    query = [(k, v) for k, v in request.query if k != "skip"] + [("skip", str(skip + count))]
    return f"{request.base_url()}/{request.env.id}/{resource}?{urlencode(query, safe='[],')}"


def _get_item(request: _Request, codename: str) -> Response:
    depth = _depth(request)
    item = request.by_codename.get(codename)
    served_language, version = (None, None)
    if item is not None:
        served_language, version = resolve_language(request.env, item, request.language, request.preview)
    if item is None or version is None or served_language is None:
        raise _HttpError(404, f"The requested content item '{codename}' was not found.", ITEM_NOT_FOUND)
    assembler = _Assembler(request, depth, linked=True)
    (payload,) = assembler.items([_Served(item, served_language, version)])
    charge = 1 + len(assembler.modular_content)
    _check_size(charge)
    return (
        200,
        {"item": payload, "modular_content": assembler.modular_content},
        {REQUEST_CHARGE_HEADER: str(charge)},
    )


# -- items-feed --------------------------------------------------------------------------------------------


# Paging is keyset, not offset: a continuation token carries the sort position of the last item sent
# (order key, codename, id), and the next page starts at the first selected item after it. Kontent.ai
# guarantees that an items-feed export enumerates every item; with an offset, a delete before the
# position would shift later items back and skip one that never changed. An item whose position moves
# behind the cursor after it was sent is not sent again (the Sync API reports such changes).

Position = tuple[tuple[Any, ...], str, str]


def _position(request: _Request, served: _Served, order: Order) -> Position:
    """Where ``served`` sits in a selection sorted by ``order`` (see :func:`_select_now`)."""
    key = sort_key(_subject(request, served, order.scope, order.prop))
    return key, served.item.codename, served.item.id


def _compare(a: Position, b: Position, descending: bool) -> int:
    """-1/0/1 in selection order: present values first (ascending or descending), missing ones last,
    ties by codename then id ascending in both directions."""
    (key_a, *tie_a), (key_b, *tie_b) = a, b
    if key_a[0] != key_b[0]:
        return -1 if key_a[0] < key_b[0] else 1
    if key_a != key_b:
        result = -1 if key_a < key_b else 1
        return -result if descending else result
    return (tie_a > tie_b) - (tie_a < tie_b)


def _first_after(request: _Request, selected: list[_Served], order: Order, cursor: Position) -> int:
    """Index of the first selected item strictly after ``cursor`` (binary search: O(log n) positions)."""
    low, high = 0, len(selected)
    while low < high:
        middle = (low + high) // 2
        if _compare(_position(request, selected[middle], order), cursor, order.descending) <= 0:
            low = middle + 1
        else:
            high = middle
    return low


def _checksum(request: _Request, cursor: Any) -> str:
    """Binds a continuation token to its environment, host and exact query (clients resend it unchanged)
    and guards the cursor against edits."""
    canonical = json.dumps([request.env.id, request.preview, request.query, cursor], separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _encode_continuation(request: _Request, cursor: Position) -> str:
    key, codename, item_id = cursor
    body = [list(key), codename, item_id]
    raw = json.dumps({"k": body, "c": _checksum(request, body)}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _valid_key(key: Any) -> bool:
    """A sort key as :func:`query_filters.sort_key` builds it: ``[1]`` or ``[0, 0, number]`` / ``[0, 1, str]``."""
    if key == [1]:
        return True
    if not isinstance(key, list) or len(key) != 3 or key[0] != 0 or key[1] not in (0, 1):
        return False
    value = key[2]
    if key[1] == 0:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, str)


def _decode_continuation(request: _Request, token: str) -> Position:
    cursor: Position | None = None
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        body = data["k"]
        if (
            isinstance(body, list)
            and len(body) == 3
            and _valid_key(body[0])
            and all(isinstance(part, str) for part in body[1:])
            and data["c"] == _checksum(request, body)
        ):
            cursor = (tuple(body[0]), body[1], body[2])
    except (ValueError, TypeError, KeyError, binascii.Error, UnicodeError):
        cursor = None
    if cursor is None:
        raise _HttpError(
            400,
            "The continuation token specified in the 'X-Continuation' request header is malformed or "
            "belongs to a different query.",
            INVALID_CONTINUATION,
        )
    return cursor


def _items_feed(request: _Request) -> Response:
    filters = parse_filters(request.query)
    order = parse_order(request.param("order"))
    token = (request.header(CONTINUATION_HEADER) or "").strip()
    cursor = _decode_continuation(request, token) if token else None
    selected = _select(request, filters, order)
    start = 0 if cursor is None else _first_after(request, selected, order, cursor)
    page_size = max(1, request.env.feed_page_size)
    page = selected[start : start + page_size]
    assembler = _Assembler(request, depth=0, linked=False)
    items = assembler.items(page)
    headers = {REQUEST_CHARGE_HEADER: str(len(items) + len(assembler.modular_content))}
    if start + page_size < len(selected):
        headers[CONTINUATION_HEADER] = _encode_continuation(request, _position(request, page[-1], order))
    return 200, {"items": items, "modular_content": assembler.modular_content}, headers


# -- types, taxonomies, languages ----------------------------------------------------------------------------


def _paged_list(request: _Request, key: str, objects: list[dict[str, Any]]) -> Response:
    skip = request.int_param("skip", 0) or 0
    limit = request.int_param("limit", None)
    page = objects[skip : skip + limit] if limit else objects[skip:]
    pagination = _pagination(request, key, skip, limit, len(page), len(objects))
    return 200, {key: page, "pagination": pagination}, {}


def _render_type(content_type: ContentType, only: set[str] | None) -> dict[str, Any]:
    elements: dict[str, Any] = {}
    for codename, definition in content_type.elements.items():
        if only is not None and codename not in only:
            continue
        element = {"type": definition.get("type", ""), "name": definition.get("name", "")}
        if element["type"] == "multiple_choice":
            element["options"] = [
                {"name": o["name"], "codename": o["codename"]} for o in definition.get("options") or []
            ]
        if element["type"] == "taxonomy":
            element["taxonomy_group"] = definition.get("taxonomy_group")
        elements[codename] = element
    return {"system": definition_system(content_type), "elements": elements}


def _list_types(request: _Request) -> Response:
    only = _csv(request.param("elements"))
    types = sorted(request.env.types.values(), key=lambda t: t.codename)
    return _paged_list(request, "types", [_render_type(t, only) for t in types])


def _get_type(request: _Request, codename: str) -> Response:
    content_type = request.env.type_by_codename(codename)
    if content_type is None:
        raise _HttpError(404, f"The requested content type '{codename}' was not found.", TYPE_NOT_FOUND)
    return 200, _render_type(content_type, _csv(request.param("elements"))), {}


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


def _list_taxonomies(request: _Request) -> Response:
    groups = sorted(request.env.taxonomies.values(), key=lambda g: g.codename)
    return _paged_list(request, "taxonomies", [_render_taxonomy(g) for g in groups])


def _get_taxonomy(request: _Request, codename: str) -> Response:
    group = request.env.taxonomy_by_codename(codename)
    if group is None:
        raise _HttpError(404, f"The requested taxonomy group '{codename}' was not found.", TAXONOMY_NOT_FOUND)
    return 200, _render_taxonomy(group), {}


def _list_languages(request: _Request) -> Response:
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
    return _paged_list(request, "languages", [{"system": s} for s in present + missing])
