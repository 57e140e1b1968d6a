"""Sync API endpoints (v2 and legacy v1): init, one page, v1 filters and their quirks.

Callers hold the store lock. v1 filters are bound into the token at init and evaluated against each
entity's *current* state (type codename via the type id, current collection), which reproduces the two
documented pitfalls: a renamed type codename silences the sync, and an item moved out of the filtered
collection simply stops appearing.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from airflow_provider_kontent.testing import tokens
from airflow_provider_kontent.testing.changelog import (
    CHANGED,
    ITEM,
    LANGUAGE,
    PRODUCTION,
    TAXONOMY,
    TYPE,
    ChangeEntry,
    read_page,
)
from airflow_provider_kontent.testing.elements import render_elements, version_in
from airflow_provider_kontent.testing.errors import (
    BAD_QUERY,
    EXPIRED_TOKEN_MESSAGE,
    INVALID_CONTINUATION,
    MALFORMED_TOKEN_MESSAGE,
    error_body,
)
from airflow_provider_kontent.testing.model import Environment, Item
from airflow_provider_kontent.testing.state import EmulatorStore

Response = tuple[int, dict[str, Any], dict[str, str]]
V2_KINDS = (ITEM, TYPE, LANGUAGE, TAXONOMY)
_FILTER_KEY = re.compile(r"^(?P<name>[A-Za-z_.]+)(?:\[(?P<op>[^\]]*)\])?$")
_FILTER_OPERATORS = {
    "system.type": ("eq", "neq", "in", "nin"),
    "system.collection": ("eq", "neq", "in", "nin"),
    "system.language": ("eq",),
    "language": (),  # "=" only
}


class FilterError(ValueError):
    """An invalid v1 init filter (unknown parameter, operator or empty value)."""


def parse_v1_filters(query: list[tuple[str, str]]) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    """Turn v1 init query pairs into ``(name, op, values)`` clauses (operators are case-sensitive)."""
    clauses = []
    for key, value in query:
        match = _FILTER_KEY.match(key)
        name = match.group("name") if match else key
        if not match or name not in _FILTER_OPERATORS:
            raise FilterError(
                f"Invalid query parameter '{key}'. Sync init accepts system.type, system.collection, "
                "language and system.language."
            )
        op = match.group("op")
        if op is not None and op not in _FILTER_OPERATORS[name]:
            allowed = ", ".join(f"[{o}]" for o in _FILTER_OPERATORS[name]) or "none (use '=')"
            raise FilterError(
                f"Invalid operator '[{op}]' for parameter '{name}'. Allowed operators: {allowed}."
            )
        op = op or "eq"
        values = tuple(v.strip() for v in value.split(",")) if op in ("in", "nin") else (value.strip(),)
        if not values or any(not v for v in values):
            raise FilterError(f"The value of query parameter '{key}' must not be empty.")
        clauses.append((name, op, values))
    return tuple(clauses)


def _passes_language(env: Environment, item: Item | None, language: str, host: str, wanted: str) -> bool:
    """``language=wanted`` follows fallbacks: ``language`` passes if it is what Delivery would serve."""
    if language == wanted:
        return True
    preview = host != PRODUCTION
    present = {lang for lang in (item.variants if item else {}) if version_in(item, lang, preview)}
    present.add(language)
    if wanted in present:
        return False
    served = next((lang for lang in env.fallback_chain(wanted) if lang in present), None)
    return served == language


def v1_acceptor(
    env: Environment, host: str, filters: tuple[tuple[str, str, tuple[str, ...]], ...]
) -> Callable[[ChangeEntry], bool] | None:
    """A predicate for item entries, evaluated against the entity's current state."""
    if not filters:
        return None

    def accept(entry: ChangeEntry) -> bool:
        item = env.items.get(entry.item_id or "")
        ctype = env.types.get(entry.type_id or "")
        language = entry.key[1]
        for name, op, values in filters:
            if name == "language":
                if not _passes_language(env, item, language, host, values[0]):
                    return False
                continue
            if name == "system.type":
                actual = ctype.codename if ctype else entry.system.get("type")
            elif name == "system.collection":
                actual = item.collection if item else entry.system.get("collection")
            else:
                actual = language
            hit = actual in values
            if hit != (op in ("eq", "in")):
                return False
        return True

    return accept


def render_v1_elements(env: Environment, item: Item | None, language: str, host: str) -> dict[str, Any]:
    """Delivery-shaped elements of the version ``host`` serves (``{}`` when it serves none)."""
    if item is None:
        return {}
    preview = host != PRODUCTION
    version = version_in(item, language, preview)
    return {} if version is None else render_elements(env, item, version, language, preview=preview)


def sync_init(
    store: EmulatorStore, env: Environment, host: str, version: int, query: list[tuple[str, str]]
) -> Response:
    """Init marks "now": the token's cursor is the current head, so there is never a backlog."""
    filters: tuple = ()
    if version == 1:
        try:
            filters = parse_v1_filters(query)
        except FilterError as exc:
            return 400, error_body(str(exc), BAD_QUERY), {}
    cursor = store.visible_head(env.id, host)
    token = tokens.encode(tokens.SyncToken(env.id, host, version, cursor, filters), store.token_secret)
    body: dict[str, Any] = {"items": []}
    if version == 2:
        body.update(types=[], languages=[], taxonomies=[])
    return 200, body, {"X-Continuation": token}


def _v2_system(env: Environment, entry: ChangeEntry) -> dict[str, Any]:
    system = dict(entry.system)
    if entry.kind == ITEM:
        ctype = env.types.get(entry.type_id or "")
        if ctype is not None:
            system["type"] = ctype.codename  # v2 reports the current codename of a renamed type
    return system


def sync_page(
    store: EmulatorStore, env: Environment, host: str, version: int, headers: Mapping[str, str]
) -> Response:
    """One page after the token's cursor: last change per key, at most ``env.page_size`` per array."""
    raw = headers.get("X-Continuation")
    if raw is None or not raw.strip():
        message = (
            "The 'X-Continuation' request header is missing. Send the token from sync init or the last sync."
        )
        return 400, error_body(message, INVALID_CONTINUATION), {}
    try:
        token = tokens.decode(raw, env.id, host, version, store.token_secret)
    except tokens.InvalidToken:
        return 400, error_body(MALFORMED_TOKEN_MESSAGE, INVALID_CONTINUATION), {}
    if env.token_ttl_s is not None and token.age() > env.token_ttl_s:
        return 400, error_body(EXPIRED_TOKEN_MESSAGE, INVALID_CONTINUATION), {}
    log = store.log(env.id, host)
    env = store.visible_env(env)
    now = time.monotonic()
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
    next_token = tokens.SyncToken(env.id, host, version, page.cursor, token.filters)
    return 200, body, {"X-Continuation": tokens.encode(next_token, store.token_secret)}
