"""The emulator's time: one offset that tests can move forward, and Kontent-style change timestamps.

``EmulatorTime`` is real time plus an offset that the ``advance_time`` control operation moves forward, so
a test can let "five seconds pass" for the propagation delay, the stale-content window and token expiry
without sleeping. ``KontentClock`` stamps changes; the demo seed switches it to a deterministic count.
"""

from __future__ import annotations

import calendar
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class EmulatorTime:
    """Real time plus ``offset`` seconds (never negative: time only moves forward)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def monotonic(self) -> float:
        """What propagation delays and stale windows are measured on."""
        return time.monotonic() + self.offset

    def wall(self) -> float:
        """Epoch seconds (token issue times and their TTL)."""
        return time.time() + self.offset

    def advance(self, seconds: float) -> float:
        self.offset += seconds
        return self.offset

    def reset(self) -> None:
        self.offset = 0.0


class KontentClock:
    """Strictly increasing UTC timestamps in Kontent's 7-digit format ("...T05:33:58.6348403Z").

    Ticks are 100 ns, which is exactly 7 fractional digits; two changes never share a timestamp, so
    "greatest timestamp per key" is a total order for consumers.
    """

    def __init__(self, emulator_time: EmulatorTime | None = None) -> None:
        self.time = emulator_time or EmulatorTime()
        self._last = 0
        self._lock = threading.Lock()
        self._counting: list[int] | None = None  # [base epoch seconds, changes stamped] while counting

    def now(self) -> str:
        with self._lock:
            if self._counting is not None:
                return self._count()
            ticks = max(time.time_ns() // 100 + int(self.time.offset * 10_000_000), self._last + 1)
            self._last = ticks
        seconds, fraction = divmod(ticks, 10_000_000)
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{fraction:07d}Z"

    def _count(self) -> str:
        assert self._counting is not None
        self._counting[1] += 1
        base, ticks = self._counting
        stamp = time.gmtime(base + ticks)
        return time.strftime("%Y-%m-%dT%H:%M:%S", stamp) + f".{ticks % 10_000_000:07d}Z"

    @contextmanager
    def counting_from(self, start: str) -> Iterator[None]:
        """Deterministic stamps inside the block: one second per change from ``start`` ("...T08:00:00Z").

        Data sets whose timestamps appear verbatim in docs and tests (the demo seed) are built this way.
        """
        with self._lock:
            self._counting = [calendar.timegm(time.strptime(start, "%Y-%m-%dT%H:%M:%SZ")), 0]
        try:
            yield
        finally:
            with self._lock:
                self._counting = None
