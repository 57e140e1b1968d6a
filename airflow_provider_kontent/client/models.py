"""Typed, tolerant views of Sync API deltas and pages.

Kontent.ai may add properties, change types and headers at any time without calling it a breaking
change, so nothing here rejects what it does not know: unknown change types map to
``ChangeType.UNKNOWN`` (the raw value is kept), unknown fields stay in ``raw``, and optional fields
(``sitemap_locations``, ``workflow``, ...) are simply absent from ``system`` when the API leaves them out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import pendulum
from pendulum.parsing.exceptions import ParserError

__all__ = ["ARRAY_KINDS", "ChangeType", "Delta", "EntityKind", "SyncPage", "compact", "parse_timestamp"]


class EntityKind(str, Enum):
    """What a delta describes; the value is the singular name, ``array`` the response key."""

    ITEM = "item"
    TYPE = "type"
    LANGUAGE = "language"
    TAXONOMY = "taxonomy"

    @property
    def array(self) -> str:
        return {"item": "items", "type": "types", "language": "languages", "taxonomy": "taxonomies"}[
            self.value
        ]


ARRAY_KINDS: dict[str, EntityKind] = {kind.array: kind for kind in EntityKind}


class ChangeType(str, Enum):
    """Normalized change type. v1 spelled them ``changed_item``/``deleted_item`` (or plain), v2 plain."""

    CHANGED = "changed"
    DELETED = "deleted"
    UNKNOWN = "unknown"

    @classmethod
    def parse(cls, raw: Any) -> ChangeType:
        value = str(raw or "").strip().lower()
        if value in ("changed", "changed_item"):
            return cls.CHANGED
        if value in ("deleted", "deleted_item"):
            return cls.DELETED
        return cls.UNKNOWN


def parse_timestamp(value: Any) -> pendulum.DateTime | None:
    """Parse Kontent's ISO-8601 timestamps (7 fractional digits); None when absent or unparseable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = pendulum.parse(value)
    except (ValueError, TypeError, ParserError):
        return None
    return parsed if isinstance(parsed, pendulum.DateTime) else None


@dataclass(frozen=True)
class Delta:
    """One change reported by the Sync API: an item variant, type, language or taxonomy group."""

    kind: EntityKind
    change_type: ChangeType
    raw_change_type: str
    timestamp: pendulum.DateTime | None
    system: dict[str, Any]
    elements: dict[str, Any] | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_api(cls, kind: EntityKind, obj: Any) -> Delta:
        """Build a delta from one object of a Sync response array, tolerating any missing part."""
        obj = obj if isinstance(obj, dict) else {"value": obj}
        data = obj.get("data") if isinstance(obj.get("data"), dict) else {}
        system = data.get("system") if isinstance(data.get("system"), dict) else {}
        elements = data.get("elements") if isinstance(data.get("elements"), dict) else None
        raw_change = obj.get("change_type")
        return cls(
            kind=kind,
            change_type=ChangeType.parse(raw_change),
            raw_change_type="" if raw_change is None else str(raw_change),
            timestamp=parse_timestamp(obj.get("timestamp")),
            system=system,
            elements=elements,
            raw=obj,
        )

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
            return ("item", self.id, self.system.get("language"))
        return (self.kind.value, self.id)

    @property
    def timestamp_text(self) -> str | None:
        """The timestamp exactly as the API sent it (7 fractional digits survive)."""
        value = self.raw.get("timestamp")
        return value if isinstance(value, str) else None

    # --- serialization (NDJSON, XCom) ---------------------------------------------------------
    def to_dict(self, *, include_raw: bool = False) -> dict[str, Any]:
        """A JSON-safe dict; ``from_dict`` restores an equal delta."""
        out: dict[str, Any] = {
            "kind": self.kind.value,
            "change_type": self.change_type.value,
            "raw_change_type": self.raw_change_type,
            "timestamp": self.timestamp_text
            if self.timestamp_text is not None
            else (self.timestamp.isoformat() if self.timestamp else None),
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
    if new.timestamp is None or old.timestamp is None:
        return True
    return new.timestamp >= old.timestamp
