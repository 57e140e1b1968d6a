"""Typed, tolerant views of Sync API deltas and pages.

Kontent.ai may add properties, change types and headers at any time without calling it a breaking
change, so nothing here rejects what it does not know: unknown change types map to
``ChangeType.UNKNOWN`` (the raw value is kept), unknown fields stay in ``raw``, and optional fields
(``sitemap_locations``, ``workflow``, ...) are simply absent from ``system`` when the API leaves them out.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import pendulum
from pendulum.parsing.exceptions import ParserError

__all__ = [
    "ARRAY_KINDS",
    "ChangeType",
    "Delta",
    "EntityKind",
    "MalformedDelta",
    "SyncPage",
    "compact",
    "checked_delta",
    "delta_problem",
    "parse_instant",
    "parse_timestamp",
]


class EntityKind(str, Enum):
    """What a delta describes; the value is the singular name, ``array`` the response key."""

    ITEM = "item"
    TYPE = "type"
    LANGUAGE = "language"
    TAXONOMY = "taxonomy"

    @property
    def array(self) -> str:
        return _ARRAY_NAMES[self.value]


_ARRAY_NAMES = {"item": "items", "type": "types", "language": "languages", "taxonomy": "taxonomies"}
ARRAY_KINDS: dict[str, EntityKind] = {kind.array: kind for kind in EntityKind}


class ChangeType(str, Enum):
    """Normalized change type. v1 spelled them ``changed_item``/``deleted_item`` (or plain), v2 plain."""

    CHANGED = "changed"
    DELETED = "deleted"
    UNKNOWN = "unknown"

    @classmethod
    def parse(cls, raw: Any) -> ChangeType:
        known = _CHANGE_TYPES.get(raw) if isinstance(raw, str) else None
        if known is not None:
            return known
        value = str(raw or "").strip().lower()
        return _CHANGE_TYPES.get(value, cls.UNKNOWN)


_CHANGE_TYPES = {
    "changed": ChangeType.CHANGED,
    "changed_item": ChangeType.CHANGED,
    "deleted": ChangeType.DELETED,
    "deleted_item": ChangeType.DELETED,
}

# Kontent.ai's own shape, ``2025-05-28T05:33:58.6348403Z`` (UTC, up to 7 fractional digits): parsed
# here without pendulum, which costs ~30x more. Anything else falls back to ``pendulum.parse``.
_KONTENT_TIMESTAMP = re.compile(
    r"(\d{4})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):([0-5]\d):([0-5]\d)(?:\.(\d{1,9}))?Z"
)
_UTC = _dt.timezone.utc


def _fast_fields(value: str) -> tuple[int, ...] | None:
    """(year, month, day, hour, minute, second, microsecond) of a Kontent-shaped timestamp, else None.

    The fraction is truncated to microseconds, exactly like ``pendulum.parse``.
    """
    match = _KONTENT_TIMESTAMP.fullmatch(value)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction = match.groups()
    micro = int(fraction[:6].ljust(6, "0")) if fraction else 0
    return int(year), int(month), int(day), int(hour), int(minute), int(second), micro


def _slow_parse(value: str) -> pendulum.DateTime | None:
    try:
        parsed = pendulum.parse(value)
    except (ValueError, TypeError, ParserError):
        return None
    return parsed if isinstance(parsed, pendulum.DateTime) else None


def parse_timestamp(value: Any) -> pendulum.DateTime | None:
    """Parse Kontent's ISO-8601 timestamps (7 fractional digits); None when absent or unparseable.

    The value equals ``pendulum.parse(value)`` (same instant, same ``Timezone('UTC')``); Kontent's
    ``...Z`` form is parsed directly, other ISO-8601 forms by pendulum.
    """
    if not isinstance(value, str) or not value:
        return None
    fields = _fast_fields(value)
    if fields is None:
        return _slow_parse(value)
    try:
        return pendulum.DateTime(*fields, tzinfo=pendulum.UTC)
    except ValueError:  # e.g. February 30th
        return None


def parse_instant(value: Any) -> _dt.datetime | None:
    """Like ``parse_timestamp`` but a plain aware ``datetime`` (cheaper; for comparisons)."""
    if not isinstance(value, str) or not value:
        return None
    fields = _fast_fields(value)
    if fields is None:
        return _slow_parse(value)
    try:
        return _dt.datetime(*fields, tzinfo=_UTC)
    except ValueError:
        return None


def _timestamp_problem(value: Any) -> str | None:
    """Why a delta's ``timestamp`` is unusable, or None. Cheap for Kontent's shape (no datetime built
    unless the day could be past the month's end)."""
    if not isinstance(value, str):
        return "no timestamp" if value is None else f"timestamp is a {type(value).__name__}, not a string"
    match = _KONTENT_TIMESTAMP.fullmatch(value)
    if match is not None:
        if match.group(3) <= "28" or parse_instant(value) is not None:
            return None
    elif _slow_parse(value) is not None:
        return None
    return f"timestamp {value[:40]!r} is not an ISO-8601 date and time"


def delta_problem(kind: EntityKind, obj: Any) -> str | None:
    """Why one entry of a Sync response array is not a usable delta, or None when it is.

    Kontent documents every delta as an object with ``change_type``, an ISO-8601 ``timestamp`` and
    ``data.system`` naming the entity (``id``; for items also ``language``). Without those a delta
    cannot be keyed, compacted or acted on, so the client reports it instead of handing on a record
    with ``id=None``. Extra or unknown fields are fine (forward compatibility).
    """
    checked = checked_delta(kind, obj)
    return checked if isinstance(checked, str) else None


def checked_delta(kind: EntityKind, obj: Any) -> Delta | str:
    """``Delta.from_api`` for a usable entry, else the reason it is not one (see ``delta_problem``).

    One pass over the entry: the drain calls this once per delta, so it looks every part up once.
    """
    if type(obj) is not dict and not isinstance(obj, dict):
        return f"the delta is a JSON {_json_type(obj)}, not an object"
    data = obj.get("data")
    system = data.get("system") if type(data) is dict else None
    if type(system) is not dict:
        return "the delta has no data.system object"
    entity_id = system.get("id")
    if type(entity_id) is not str or not entity_id:
        return "data.system.id is missing or not a string"
    if kind is EntityKind.ITEM:
        language = system.get("language")
        if type(language) is not str or not language:
            return "data.system.language is missing or not a string"
    timestamp = obj.get("timestamp")
    if (
        type(timestamp) is not str
        or _KONTENT_TIMESTAMP.fullmatch(timestamp) is None
        or timestamp[8:10] > "28"
    ):
        problem = _timestamp_problem(timestamp)
        if problem is not None:
            return problem
    elements = data.get("elements")
    raw_change = obj.get("change_type")
    change = _CHANGE_TYPES.get(raw_change) if type(raw_change) is str else None
    return Delta(
        kind,
        change if change is not None else ChangeType.parse(raw_change),
        raw_change if type(raw_change) is str else ("" if raw_change is None else str(raw_change)),
        timestamp,
        system,
        elements if type(elements) is dict else None,
        obj,
    )


def _json_type(value: Any) -> str:
    return {str: "string", list: "array", int: "number", float: "number", bool: "boolean"}.get(
        type(value), "null" if value is None else type(value).__name__
    )


@dataclass(frozen=True)
class MalformedDelta:
    """An entry of a Sync response array that ``delta_problem`` rejected (kept for the error/log)."""

    array: str
    index: int
    reason: str
    sample: str


class Delta:
    """One change reported by the Sync API: an item variant, type, language or taxonomy group.

    Read-only by convention (a plain slotted class, not a frozen dataclass: a drain creates one per
    delta and a frozen dataclass costs three times as much to build). The timestamp is kept as the
    API's text and parsed only when asked for (``timestamp``, ``instant``).
    """

    __slots__ = (
        "kind",
        "change_type",
        "raw_change_type",
        "timestamp_text",
        "system",
        "elements",
        "raw",
        "_instant",
    )

    kind: EntityKind
    change_type: ChangeType
    raw_change_type: str
    timestamp_text: str | None
    system: dict[str, Any]
    elements: dict[str, Any] | None
    raw: dict[str, Any]

    def __init__(
        self,
        kind: EntityKind,
        change_type: ChangeType,
        raw_change_type: str,
        timestamp_text: str | None,
        system: dict[str, Any],
        elements: dict[str, Any] | None = None,
        raw: dict[str, Any] | None = None,
    ) -> None:
        self.kind = kind
        self.change_type = change_type
        self.raw_change_type = raw_change_type
        self.timestamp_text = timestamp_text
        self.system = system
        self.elements = elements
        self.raw = raw if raw is not None else {}
        self._instant: Any = _UNSET

    @classmethod
    def from_api(cls, kind: EntityKind, obj: Any) -> Delta:
        """Build a delta from one object of a Sync response array, tolerating any missing part."""
        if type(obj) is not dict:
            obj = obj if isinstance(obj, dict) else {"value": obj}
        data = obj.get("data")
        if type(data) is dict:
            system = data.get("system")
            if type(system) is not dict:
                system = {}
            elements = data.get("elements")
            if type(elements) is not dict:
                elements = None
        else:
            system, elements = {}, None
        raw_change = obj.get("change_type")
        timestamp = obj.get("timestamp")
        return cls(
            kind,
            ChangeType.parse(raw_change),
            raw_change if type(raw_change) is str else ("" if raw_change is None else str(raw_change)),
            timestamp if type(timestamp) is str else None,
            system,
            elements,
            obj,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Delta):
            return NotImplemented
        return (
            self.kind is other.kind
            and self.change_type is other.change_type
            and self.raw_change_type == other.raw_change_type
            and self.timestamp_text == other.timestamp_text
            and self.system == other.system
            and self.elements == other.elements
        )

    __hash__ = None  # type: ignore[assignment]  # mutable dicts inside, like the dataclass it replaced

    def __reduce__(self) -> tuple:
        # pickle/copy rebuild from the fields (the cached instant is recomputed when needed)
        return (
            Delta,
            (
                self.kind,
                self.change_type,
                self.raw_change_type,
                self.timestamp_text,
                self.system,
                self.elements,
                self.raw,
            ),
        )

    def __repr__(self) -> str:
        return (
            f"Delta(kind={self.kind!r}, change_type={self.change_type!r}, raw_change_type="
            f"{self.raw_change_type!r}, timestamp={self.timestamp_text!r}, system={self.system!r}, "
            f"elements={self.elements!r})"
        )

    # --- time -------------------------------------------------------------------------------
    @property
    def timestamp(self) -> pendulum.DateTime | None:
        """When the change happened in the Delivery API (equal to ``pendulum.parse`` of the text)."""
        return parse_timestamp(self.timestamp_text)

    @property
    def instant(self) -> _dt.datetime | None:
        """The timestamp as a plain aware ``datetime`` (parsed once, cached): for ordering."""
        if self._instant is _UNSET:
            self._instant = parse_instant(self.timestamp_text)
        return self._instant

    # --- convenient views of ``system`` -------------------------------------------------------
    @property
    def id(self) -> str | None:
        return self.system.get("id")

    @property
    def codename(self) -> str | None:
        return self.system.get("codename")

    @property
    def language(self) -> str | None:
        return self.system.get("language") if self.kind is EntityKind.ITEM else None

    @property
    def type(self) -> str | None:
        return self.system.get("type") if self.kind is EntityKind.ITEM else None

    @property
    def collection(self) -> str | None:
        return self.system.get("collection") if self.kind is EntityKind.ITEM else None

    @property
    def key(self) -> tuple:
        """Identity for idempotent processing: ``("item", id, language)`` or ``(kind, id)``.

        Keyed on ids, never codenames, because codenames can be renamed.
        """
        if self.kind is EntityKind.ITEM:
            return ("item", self.system.get("id"), self.system.get("language"))
        return (self.kind.value, self.system.get("id"))

    # --- serialization (NDJSON, XCom) ---------------------------------------------------------
    def to_dict(self, *, include_raw: bool = False) -> dict[str, Any]:
        """A JSON-safe dict; ``from_dict`` restores an equal delta."""
        out: dict[str, Any] = {
            "kind": self.kind.value,
            "change_type": self.change_type.value,
            "raw_change_type": self.raw_change_type,
            "timestamp": self.timestamp_text,
            "system": self.system,
        }
        if self.elements is not None:
            out["elements"] = self.elements
        if include_raw:
            out["raw"] = self.raw
        return out

    @classmethod
    def from_dict(cls, value: dict[str, Any]) -> Delta:
        raw = value.get("raw")
        if not isinstance(raw, dict):
            data: dict[str, Any] = {"system": value.get("system") or {}}
            if value.get("elements") is not None:
                data["elements"] = value["elements"]
            raw = {"change_type": value.get("raw_change_type", value.get("change_type")), "data": data}
            if value.get("timestamp") is not None:
                raw["timestamp"] = value["timestamp"]
        return cls.from_api(EntityKind(value["kind"]), raw)


_UNSET = object()


@dataclass
class SyncPage:
    """One Sync response: its deltas and the token to continue from (checkpoint after each page).

    ``received`` is how many deltas the server sent; it differs from ``len(deltas)`` when client-side
    filters dropped some. ``is_empty`` follows the server's view, because "sync until an empty
    response" is the documented stop rule.
    """

    deltas: list[Delta]
    next_token: str
    request_id: str | None = None
    received: int | None = None
    skipped: int = 0
    #: entries the client could not use (``delta_problem``); they are not in ``deltas`` but count in
    #: ``received``. The client raises on them unless asked to skip them (``skip_malformed``).
    malformed: list[MalformedDelta] = field(default_factory=list)
    url: str | None = None

    @property
    def is_empty(self) -> bool:
        return (self.received if self.received is not None else len(self.deltas)) == 0

    def by_kind(self) -> dict[EntityKind, list[Delta]]:
        out: dict[EntityKind, list[Delta]] = {kind: [] for kind in EntityKind}
        for delta in self.deltas:
            out[delta.kind].append(delta)
        return out

    def __repr__(self) -> str:
        return (
            f"SyncPage(deltas={len(self.deltas)}, received={self.received}, "
            f"next_token={self.next_token[:12]!r}..., request_id={self.request_id!r})"
        )


def compact(deltas: Iterable[Delta]) -> list[Delta]:
    """Keep only the latest delta per key (greatest timestamp; on a tie, the later one).

    Replayed tokens and multi-page runs can report the same entity more than once; processing only the
    newest state per key keeps consumers idempotent. The result keeps the order of the winners.
    """
    winners: dict[tuple, tuple[int, Delta]] = {}
    for position, delta in enumerate(deltas):
        current = winners.get(delta.key)
        if current is None or _not_older(delta, current[1]):
            winners[delta.key] = (position, delta)
    return [delta for _, delta in sorted(winners.values(), key=lambda pair: pair[0])]


def _not_older(new: Delta, old: Delta) -> bool:
    new_at, old_at = new.instant, old.instant
    if new_at is None or old_at is None:
        return True
    return new_at >= old_at
