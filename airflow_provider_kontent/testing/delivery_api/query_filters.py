"""Delivery API filtering and ordering (https://kontent.ai/learn/docs/apis/delivery-api/filtering-parameters), on the
emulator's simple values.

Filters are evaluated on the stored simple values rather than on rendered payloads, so a list request
renders only the items of the page it returns. Semantics follow the documented operator table; where
Kontent.ai is silent the emulator's choice is stated on the function that makes it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from airflow_provider_kontent.testing.delivery_api.element_rendering import (
    ARRAY_ELEMENT_TYPES,
    EMPTY_RICH_TEXT,
)

OPERATORS = frozenset(
    {"eq", "neq", "empty", "nempty", "lt", "lte", "gt", "gte", "range", "in", "nin", "contains", "any", "all"}
)
LIST_OPERATORS = frozenset({"range", "in", "nin", "any", "all"})
ARRAY_ONLY = frozenset({"contains", "any", "all"})
SYSTEM_PROPERTIES = frozenset(
    {"id", "codename", "name", "type", "collection", "language", "last_modified", "workflow", "workflow_step"}
)
# Query parameters that are not filters; everything else under system./elements. is a filter.
RESERVED_PARAMETERS = frozenset(
    {"language", "elements", "excludeElements", "order", "depth", "skip", "limit", "includeTotalCount"}
)


class QueryError(ValueError):
    """A query parameter the Delivery API would reject with 400."""


@dataclass(frozen=True)
class Value:
    """A filterable value: ``kind`` is "string", "number", "array" or "asset"; ``scalar`` is the simple
    value (str/float/None); ``array`` the codenames of array values (custom JSON arrays count too)."""

    kind: str
    scalar: Any = None
    array: tuple[str, ...] | None = None
    present: bool = True
    custom: bool = False  # custom elements accept array operators but match only JSON string arrays


MISSING = Value("string", None, None, present=False)


def element_value(element_type: str, raw: Any) -> Value:
    """Turn one stored simple value into a :class:`Value` for filtering and ordering."""
    if element_type == "number":
        number = raw if isinstance(raw, (int, float)) and not isinstance(raw, bool) else None
        return Value("number", None if number is None else float(number))
    if element_type in ARRAY_ELEMENT_TYPES:
        return Value("array", None, tuple(str(v) for v in (raw or [])))
    if element_type == "asset":
        return Value("asset", None, tuple(str(a.get("name", "")) for a in (raw or []) if isinstance(a, dict)))
    if element_type == "rich_text":
        html = raw.get("value") if isinstance(raw, dict) else raw
        return Value("string", html or EMPTY_RICH_TEXT)
    if element_type == "date_time" and isinstance(raw, dict):
        return Value("string", raw.get("value") or None)
    if element_type == "custom":
        return Value("string", raw, _json_string_array(raw), custom=True)
    return Value("string", raw if raw is None or isinstance(raw, str) else str(raw))


def _json_string_array(raw: Any) -> tuple[str, ...] | None:
    """Custom elements support array operators only when they hold a JSON array of strings."""
    if not isinstance(raw, str) or not raw.lstrip().startswith("["):
        return None
    try:
        parsed = json.loads(raw)
    except ValueError:
        return None
    if isinstance(parsed, list) and all(isinstance(v, str) for v in parsed):
        return tuple(parsed)
    return None


@dataclass(frozen=True)
class Filter:
    """One ``system.<prop>[op]=value`` / ``elements.<codename>[op]=value`` clause."""

    scope: str  # "system" or "elements"
    prop: str
    op: str
    values: tuple[str, ...]
    raw_key: str

    def matches(self, value: Value) -> bool:
        op = self.op
        if op == "empty":
            return _is_empty(value)
        if op == "nempty":
            return not _is_empty(value)
        if value.kind == "asset":
            raise QueryError(f"The operator '[{op}]' cannot be used on the asset element '{self.prop}'.")
        if op in ARRAY_ONLY:
            return self._array_op(value)
        if op == "neq":
            return not self._equals(value, self.values[0])
        if op == "nin":
            return not any(self._equals(value, v) for v in self.values)
        if not value.present:
            return False
        if op == "eq":
            return self._equals(value, self.values[0])
        if op == "in":
            return any(self._equals(value, v) for v in self.values)
        if value.kind == "array" and value.scalar is None:
            raise QueryError(f"The operator '[{op}]' cannot be used on the array element '{self.prop}'.")
        if value.scalar is None:
            return False
        low = self._coerce(value, self.values[0])
        if op == "lt":
            return value.scalar < low
        if op == "lte":
            return value.scalar <= low
        if op == "gt":
            return value.scalar > low
        if op == "gte":
            return value.scalar >= low
        high = self._coerce(value, self.values[1])  # range: both ends inclusive
        return low <= value.scalar <= high

    def _array_op(self, value: Value) -> bool:
        if value.array is None:
            if value.present and not value.custom:
                raise QueryError(
                    f"The operator '[{self.op}]' can only be used on array values ('{self.raw_key}')."
                )
            return False
        held = set(value.array)
        if self.op == "contains":
            return self.values[0] in held
        if self.op == "any":
            return any(v in held for v in self.values)
        return all(v in held for v in self.values)

    def _equals(self, value: Value, wanted: str) -> bool:
        """[eq]/[in] on an array value means "holds the value" (the emulator's choice)."""
        if not value.present:
            return False
        if value.array is not None and wanted in value.array:
            return True
        if value.kind == "array":
            return False
        if value.scalar is None:
            return False
        return value.scalar == self._coerce(value, wanted)

    def _coerce(self, value: Value, wanted: str) -> Any:
        if value.kind != "number":
            return wanted
        try:
            return float(wanted)
        except ValueError:
            raise QueryError(
                f"The value '{wanted}' of the filter '{self.raw_key}' is not a number."
            ) from None


def _is_empty(value: Value) -> bool:
    if not value.present:
        return True
    if value.kind in ("array", "asset"):
        return not value.array
    return value.scalar in (None, "", EMPTY_RICH_TEXT)


def parse_key(key: str) -> tuple[str, str]:
    """Split ``path[op]`` into ``(path, op)``; a key without ``[op]`` means ``[eq]``."""
    if key.endswith("]") and "[" in key:
        path, _, op = key[:-1].rpartition("[")
        return path, op
    return key, "eq"


def parse_filters(
    query: Iterable[tuple[str, str]], allowed_scopes: Iterable[str] = ("system", "elements")
) -> list[Filter]:
    """Every ``system.*`` / ``elements.*`` pair of ``query`` as a :class:`Filter`; bad ones raise 400s."""
    scopes = tuple(allowed_scopes)
    filters: list[Filter] = []
    for key, raw_value in query:
        if key in RESERVED_PARAMETERS or not key.startswith(("system.", "elements.")):
            continue
        path, op = parse_key(key)
        scope, _, prop = path.partition(".")
        if scope not in scopes:
            raise QueryError(f"Filtering on '{key}' is not supported by this endpoint.")
        if op not in OPERATORS:
            raise QueryError(f"The filter '{key}' uses the unknown operator '[{op}]'.")
        if not prop:
            raise QueryError(f"The filter '{key}' does not name a property.")
        if scope == "system" and prop not in SYSTEM_PROPERTIES:
            raise QueryError(f"The system property '{prop}' cannot be used in a filter.")
        if op in ("empty", "nempty"):
            values: tuple[str, ...] = ()
        elif op in LIST_OPERATORS:
            values = tuple(v for v in raw_value.split(","))
            if op == "range" and len(values) != 2:
                raise QueryError(f"The filter '{key}' needs exactly two comma-separated values.")
            if not raw_value:
                raise QueryError(f"The filter '{key}' needs at least one value.")
        else:
            values = (raw_value,)
        filters.append(Filter(scope, prop, op, values, key))
    return filters


@dataclass(frozen=True)
class Order:
    scope: str
    prop: str
    descending: bool


DEFAULT_ORDER = Order("system", "codename", False)


def parse_order(raw: str | None, allowed_scopes: Iterable[str] = ("system", "elements")) -> Order:
    """``system.<prop>[asc|desc]`` or ``elements.<codename>[asc|desc]``; a bare path sorts ascending."""
    if not raw:
        return DEFAULT_ORDER
    path, direction = parse_key(raw)
    if direction == "eq":  # parse_key's default: no [..] suffix
        direction = "asc"
    scope, _, prop = path.partition(".")
    if direction not in ("asc", "desc") or scope not in tuple(allowed_scopes) or not prop:
        raise QueryError(f"The order parameter '{raw}' is not valid; use e.g. 'system.codename[asc]'.")
    return Order(scope, prop, direction == "desc")


def sort_key(value: Value) -> tuple[Any, ...]:
    """Numbers sort numerically, everything else as strings (arrays by their first codename).

    Missing values get ``(1,)``; callers keep them last in both directions.
    """
    if value.kind == "number":
        return (0, 0, value.scalar) if value.scalar is not None else (1,)
    if value.array is not None and value.kind != "string":
        return (0, 1, value.array[0]) if value.array else (1,)
    if value.scalar is None or not value.present:
        return (1,)
    return (0, 1, str(value.scalar))
