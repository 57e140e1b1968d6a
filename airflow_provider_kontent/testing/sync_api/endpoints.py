"""Sync API endpoints: ``POST .../sync/init`` and ``GET .../sync`` for v2 and, when an environment's
``legacy_v1`` knob is on, the retired v1 (https://kontent.ai/learn/docs/apis/sync-api-v2).

Callers hold the store lock. Init marks "now" (no backlog); a page returns, per key, the latest change
after the token's cursor, at most ``page_size`` per array. Without ``legacy_v1`` a v1 route answers
404 as the retired service does (:func:`v1_retired`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_kontent.testing.backend.changelog import (
    CHANGED,
    ITEM,
    LANGUAGE,
    PRODUCTION,
    TAXONOMY,
    TYPE,
    ChangeEntry,
    read_page,
)
from airflow_provider_kontent.testing.backend.model import Environment, Item
from airflow_provider_kontent.testing.backend.serving import version_in
from airflow_provider_kontent.testing.backend.store import Backend
from airflow_provider_kontent.testing.delivery_api.element_rendering import render_elements
from airflow_provider_kontent.testing.kontent_errors import (
    BAD_QUERY,
    EXPIRED_TOKEN_MESSAGE,
    INVALID_CONTINUATION,
    MALFORMED_TOKEN_MESSAGE,
    ROUTE_NOT_FOUND,
    V1_RETIRED_MESSAGE,
    error_body,
)
from airflow_provider_kontent.testing.sync_api import sync_tokens
from airflow_provider_kontent.testing.sync_api.v1_filters import FilterError, parse_v1_filters, v1_acceptor

Response = tuple[int, dict[str, Any], dict[str, str]]
V2_KINDS = (ITEM, TYPE, LANGUAGE, TAXONOMY)


def v1_retired() -> Response:
    """What a v1 sync route answers since Kontent.ai shut Sync API v1 down (2026-01-05)."""
    return 404, error_body(V1_RETIRED_MESSAGE, ROUTE_NOT_FOUND), {}


def render_v1_elements(env: Environment, item: Item | None, language: str, host: str) -> dict[str, Any]:
    """Delivery-shaped elements of the version ``host`` serves (``{}`` when it serves none)."""
    if item is None:
        return {}
    preview = host != PRODUCTION
    version = version_in(item, language, preview)
    return {} if version is None else render_elements(env, item, version, language, preview=preview)


def sync_init(
    store: Backend, env: Environment, host: str, version: int, query: list[tuple[str, str]]
) -> Response:
    """Init marks "now": the token's cursor is the current head, so there is never a backlog."""
    filters: tuple = ()
    if version == 1:
        try:
            filters = parse_v1_filters(query)
        except FilterError as exc:
            return 400, error_body(str(exc), BAD_QUERY), {}
    cursor = store.visible_head(env.id, host)
    token = sync_tokens.SyncToken(env.id, host, version, cursor, filters, store.time.wall())
    token_text = sync_tokens.encode(token, store.token_secret)
    body: dict[str, Any] = {"items": []}
    if version == 2:
        body.update(types=[], languages=[], taxonomies=[])
    return 200, body, {"X-Continuation": token_text}


def _v2_system(env: Environment, entry: ChangeEntry) -> dict[str, Any]:
    system = dict(entry.system)
    if entry.kind == ITEM:
        ctype = env.types.get(entry.type_id or "")
        if ctype is not None:
            system["type"] = ctype.codename  # v2 reports the current codename of a renamed type
    return system


def sync_page(
    store: Backend, env: Environment, host: str, version: int, headers: Mapping[str, str]
) -> Response:
    """One page after the token's cursor: last change per key, at most ``env.page_size`` per array."""
    raw = headers.get("X-Continuation")
    if raw is None or not raw.strip():
        message = (
            "The 'X-Continuation' request header is missing. Send the token from sync init or the last sync."
        )
        return 400, error_body(message, INVALID_CONTINUATION), {}
    try:
        token = sync_tokens.decode(raw, env.id, host, version, store.token_secret)
    except sync_tokens.InvalidToken:
        return 400, error_body(MALFORMED_TOKEN_MESSAGE, INVALID_CONTINUATION), {}
    if env.token_ttl_s is not None and token.age(store.time.wall()) > env.token_ttl_s:
        return 400, error_body(EXPIRED_TOKEN_MESSAGE, INVALID_CONTINUATION), {}
    log = store.log(env.id, host)
    env = store.visible_env(env)
    now = store.time.monotonic()
    if version == 2:
        page = read_page(log, token.cursor, store.head, env.page_size, V2_KINDS, now=now)
        body: dict[str, Any] = {}
        for array, entries in page.entries.items():
            body[array] = [
                {
                    "change_type": e.change_type,
                    "timestamp": e.timestamp,
                    "data": {"system": _v2_system(env, e)},
                }
                for e in entries
            ]
    else:
        accept = v1_acceptor(env, host, token.filters)
        page = read_page(log, token.cursor, store.head, env.page_size, (ITEM,), accept, now=now)
        suffix = "_item" if env.v1_change_types == "suffixed" else ""
        items = []
        for e in page.entries["items"]:
            data: dict[str, Any] = {"system": dict(e.system)}
            if e.change_type == CHANGED:
                data["elements"] = render_v1_elements(env, env.items.get(e.item_id or ""), e.key[1], host)
            items.append({"change_type": e.change_type + suffix, "timestamp": e.timestamp, "data": data})
        body = {"items": items}
    next_token = sync_tokens.SyncToken(env.id, host, version, page.cursor, token.filters, store.time.wall())
    return 200, body, {"X-Continuation": sync_tokens.encode(next_token, store.token_secret)}
