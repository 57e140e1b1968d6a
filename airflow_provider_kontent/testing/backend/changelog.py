"""Per (environment, host) change logs, indexed so a sync page never scans the whole history.

Each log keeps only the *live* entry per key (the latest change; Kontent.ai reports the last change type
only), in seq order. Superseded entries are tombstoned in O(1) and compacted away once they are the
majority, so scanning from a cursor costs at most about twice the entries it returns or skips. A page
is answered by bisecting to the cursor and walking forward.

With an environment's propagation delay, an entry carries ``visible_at`` (``time.monotonic()``); those
times never decrease along an environment's log (Kontent.ai processes changes one after another), so a
page simply stops at the first entry that is not visible yet.
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

PRODUCTION = "production"
PREVIEW = "preview"
HOSTS = (PRODUCTION, PREVIEW)

ITEM = "item"
TYPE = "type"
LANGUAGE = "language"
TAXONOMY = "taxonomy"
KIND_TO_ARRAY = {ITEM: "items", TYPE: "types", LANGUAGE: "languages", TAXONOMY: "taxonomies"}

CHANGED = "changed"
DELETED = "deleted"

_COMPACT_MIN = 256


class KontentClock:
    """Strictly increasing UTC timestamps in Kontent's 7-digit format ("...T05:33:58.6348403Z").

    Ticks are 100 ns, which is exactly 7 fractional digits; two changes never share a timestamp, so
    "greatest timestamp per key" is a total order for consumers.
    """

    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def now(self) -> str:
        with self._lock:
            ticks = max(time.time_ns() // 100, self._last + 1)
            self._last = ticks
        seconds, fraction = divmod(ticks, 10_000_000)
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{fraction:07d}Z"


@dataclass(eq=False)
class ChangeEntry:
    """One logged change. ``system`` is the snapshot at change time (deleted entries report it as is)."""

    seq: int
    kind: str
    key: tuple[str, ...]
    change_type: str
    timestamp: str
    system: dict[str, Any]
    item_id: str | None = None
    type_id: str | None = None
    visible_at: float = 0.0  # time.monotonic() from which sync may report it (0 = at once)
    dead: bool = field(default=False, repr=False)


class ChangeLog:
    """The live entries of one (environment, host) log, seq-ordered, with a key index."""

    def __init__(self) -> None:
        self._entries: list[ChangeEntry] = []
        self._seqs: list[int] = []
        self._live: dict[tuple[str, ...], ChangeEntry] = {}
        self._dead = 0

    def __len__(self) -> int:
        return len(self._live)

    def append(self, entry: ChangeEntry) -> None:
        """Add ``entry`` (seqs must increase) and retire the previous entry of the same key."""
        previous = self._live.get(entry.key)
        if previous is not None:
            previous.dead = True
            self._dead += 1
        self._live[entry.key] = entry
        self._entries.append(entry)
        self._seqs.append(entry.seq)
        if self._dead > _COMPACT_MIN and self._dead * 2 > len(self._entries):
            self._compact()

    def _compact(self) -> None:
        self._entries = [e for e in self._entries if not e.dead]
        self._seqs = [e.seq for e in self._entries]
        self._dead = 0

    def first_invisible_seq(self, now: float) -> int | None:
        """The seq of the oldest entry not visible at ``now`` (walks back over the pending tail only)."""
        first = None
        for entry in reversed(self._entries):
            if entry.visible_at <= now:
                break
            first = entry.seq
        return first

    def make_visible(self, now: float) -> None:
        """Mark every pending entry visible (the ``propagate`` control call)."""
        for entry in reversed(self._entries):
            if entry.visible_at <= now:
                break
            entry.visible_at = 0.0

    def after(self, cursor: int) -> Iterator[ChangeEntry]:
        """Live entries with ``seq > cursor`` in seq order (bisect, then walk)."""
        entries = self._entries
        for index in range(bisect_right(self._seqs, cursor), len(entries)):
            entry = entries[index]
            if not entry.dead:
                yield entry


@dataclass
class Page:
    """What one sync request returns: the entries per array and the new cursor."""

    entries: dict[str, list[ChangeEntry]]
    cursor: int


def read_page(
    log: ChangeLog,
    cursor: int,
    head: int,
    page_size: int,
    kinds: tuple[str, ...],
    accept: Callable[[ChangeEntry], bool] | None = None,
    now: float | None = None,
) -> Page:
    """Collect at most ``page_size`` entries per array after ``cursor``.

    Stops at the first entry whose array is already full, so the new cursor is the highest seq fully
    covered (everything at or below it was returned now or before); entries that ``accept`` rejects or
    whose kind is not requested count as covered. ``head`` is the store's current seq, the cursor when
    the log was read to its end. With ``now`` (``time.monotonic()``) the page ends before the first
    entry not yet visible, so the cursor never passes a change the reader has not seen.
    """
    arrays = {KIND_TO_ARRAY[kind]: [] for kind in kinds}
    new_cursor = head
    for entry in log.after(cursor):
        if now is not None and entry.visible_at > now:
            new_cursor = entry.seq - 1
            break
        if entry.kind not in kinds:
            continue
        bucket = arrays[KIND_TO_ARRAY[entry.kind]]
        if accept is not None and not accept(entry):
            continue
        if len(bucket) >= page_size:
            new_cursor = entry.seq - 1
            break
        bucket.append(entry)
    return Page(arrays, max(new_cursor, cursor))
