"""Sync filters: the v1 init query, and the same filters evaluated client-side for v2.

v1 accepted filters on ``POST /sync/init`` and stored them in the token. v2 takes none, so the client
evaluates them on every delta instead. The two are close but not identical (see ``docs/client.md``):

* ``language``: v1 (server-side) followed language fallbacks; a v2 delta only carries the language
  of the variant that changed, so client-side ``language`` can only match that exact language, the
  same as ``system.language``.
* v1 evaluated type/collection against the item's *current* state on the server; client-side matching
  uses the codenames in the delta (the state at the time of the change).
* Filters describe content items; type, language and taxonomy deltas always pass.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_kontent.client.errors import KontentConfigError
from airflow_provider_kontent.client.models import Delta, EntityKind

__all__ = ["FilterClause", "FilterStats", "SyncFilters"]

# field -> operators the v1 API defines for it ("=" is the bare form, the same as [eq])
_ALLOWED: dict[str, tuple[str, ...]] = {
    "system.type": ("=", "eq", "neq", "in", "nin"),
    "system.collection": ("=", "eq", "neq", "in", "nin"),
    "language": ("=",),
    "system.language": ("=", "eq"),
}
_KEY = re.compile(r"^(?P<field>[a-z_.]+)(?:\[(?P<op>[^\]]*)\])?$")
_LIST_OPS = ("in", "nin")


@dataclass(frozen=True)
class FilterClause:
    """One filter, e.g. ``system.type[in]=article,blog``; ``operator`` is ``=``, eq, neq, in or nin."""

    field: str
    operator: str
    values: tuple[str, ...]

    def __post_init__(self) -> None:
        key = self.query_key
        allowed = _ALLOWED.get(self.field)
        if allowed is None:
            raise KontentConfigError(
                f"unknown filter field {self.field!r}; allowed: {', '.join(_ALLOWED)}", field=key
            )
        if self.operator not in allowed:
            shown = ", ".join("=" if op == "=" else f"[{op}]" for op in allowed)
            raise KontentConfigError(
                f"operator {self.operator!r} is not allowed for {self.field} (allowed: {shown})", field=key
            )
        values = tuple(v.strip() for v in self.values)
        if not values or any(not v for v in values):
            raise KontentConfigError("empty filter value", field=key)
        if self.operator not in _LIST_OPS and (len(values) != 1 or "," in values[0]):
            raise KontentConfigError("takes exactly one value (use [in]/[nin] for lists)", field=key)
        if any("," in v for v in values):
            raise KontentConfigError("a codename cannot contain ','", field=key)
        object.__setattr__(self, "values", values)

    @classmethod
    def parse(cls, key: str, value: Any) -> FilterClause:
        """Parse a query-style key (``system.type[nin]``) and a value (``"a,b"`` or a list)."""
        match = _KEY.match(str(key).strip())
        if not match:
            raise KontentConfigError(f"cannot parse filter {key!r}", field=str(key))
        op = match.group("op")
        operator = "=" if op is None else op
        # Codenames are strings: a number or a bool here is a mistake (``{"system.type": 5}`` would
        # otherwise filter on the codename "5" and silently drop every change).
        if isinstance(value, str):
            values = tuple(value.split(",")) if operator in _LIST_OPS else (value,)
        elif value is None:
            values = ()
        elif isinstance(value, Iterable) and not isinstance(value, (bytes, Mapping)):
            values = tuple(value)
        else:
            values = (value,)
        wrong = [v for v in values if not isinstance(v, str)]
        if wrong:
            raise KontentConfigError(
                f"filter values are codenames (strings); got {type(wrong[0]).__name__} {wrong[0]!r}",
                field=str(key).strip(),
            )
        return cls(match.group("field"), operator, values)

    @property
    def query_key(self) -> str:
        return self.field if self.operator == "=" else f"{self.field}[{self.operator}]"

    @property
    def query_value(self) -> str:
        return ",".join(self.values)

    def matches(self, delta: Delta) -> bool:
        if self.field == "system.type":
            actual = delta.type
        elif self.field == "system.collection":
            actual = delta.collection
        else:  # language / system.language: only the delta's own language is known client-side
            actual = delta.language
        if self.operator in ("=", "eq", "in"):
            return actual in self.values
        return actual not in self.values  # neq / nin


@dataclass
class FilterStats:
    """How many deltas client-side filtering kept and skipped."""

    kept: int = 0
    skipped: int = 0

    def add(self, other: FilterStats) -> None:
        self.kept += other.kept
        self.skipped += other.skipped

    def to_dict(self) -> dict[str, int]:
        return {"kept": self.kept, "skipped": self.skipped}


@dataclass(frozen=True)
class SyncFilters:
    """A conjunction (AND) of ``FilterClause`` objects."""

    clauses: tuple[FilterClause, ...] = field(default_factory=tuple)

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any] | None) -> SyncFilters:
        """``{"system.type[in]": "article,blog", "language": "de"}`` -> filters (validated)."""
        if not mapping:
            return cls()
        if not isinstance(mapping, Mapping):
            raise KontentConfigError(
                f"filters must be a mapping, got {type(mapping).__name__}", field="filters"
            )
        return cls(tuple(FilterClause.parse(k, v) for k, v in mapping.items()))

    @classmethod
    def coerce(cls, value: SyncFilters | Mapping[str, Any] | None) -> SyncFilters:
        if isinstance(value, SyncFilters):
            return value
        return cls.from_mapping(value)

    @property
    def is_empty(self) -> bool:
        return not self.clauses

    def to_query(self) -> list[tuple[str, str]]:
        """The v1 init query parameters, spelled as given (``=`` stays bare, ``[eq]`` stays ``[eq]``)."""
        return [(c.query_key, c.query_value) for c in self.clauses]

    def to_dict(self) -> dict[str, str]:
        return dict(self.to_query())

    def matches(self, delta: Delta) -> bool:
        """Client-side evaluation; non-item deltas always match."""
        if delta.kind is not EntityKind.ITEM:
            return True
        return all(c.matches(delta) for c in self.clauses)

    def apply(self, deltas: Iterable[Delta]) -> tuple[list[Delta], FilterStats]:
        kept: list[Delta] = []
        stats = FilterStats()
        for delta in deltas:
            if self.matches(delta):
                kept.append(delta)
                stats.kept += 1
            else:
                stats.skipped += 1
        return kept, stats
