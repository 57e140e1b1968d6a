"""Sync API v1 init filters and their documented quirks (v1 was retired on 2026-01-05).

Filters are bound into the token at init and evaluated against each entity's *current* state (type
codename via the type id, current collection), which reproduces the two documented pitfalls
(https://kontent.ai/learn/docs/apis/sync-api): a renamed type codename silences the sync, and an item
moved out of the filtered collection simply stops appearing.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from airflow_provider_kontent.testing.backend.changelog import PRODUCTION, ChangeEntry
from airflow_provider_kontent.testing.backend.model import Environment, Item
from airflow_provider_kontent.testing.backend.serving import version_in

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
