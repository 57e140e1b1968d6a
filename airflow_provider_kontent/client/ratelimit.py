"""The client-side request budget: one sliding-window limiter per Kontent.ai environment.

Kontent.ai allows 100 uncached requests per second and 2,000 per minute **per environment**, shared
by every key and every consumer of that environment, the customer's website included. Sync pages and
content fetches count alike, so every request a process makes to one environment goes through one
``RateLimiter`` (``limiter_for``), whichever client, thread or coroutine sends it: the blocking
client's content threads wait in ``acquire``, the triggers' asyncio client in ``acquire_async``
without blocking the triggerer's event loop. The default budget is 90 % of
the documented limits (``ClientConfig.rate_limit_per_second``/``_per_minute``: 90/s, 1,800/min),
which leaves room for the site's own uncached requests.

A 429 means someone else is using the budget too: the limiter then pauses every request to that
environment until ``Retry-After`` has passed and halves its rate (multiplicative decrease); the rate
grows back linearly to the configured one over ``recovery_seconds`` (additive increase), so a busy
environment settles at what is actually available instead of being hit again at full speed.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

__all__ = ["RateLimiter", "RequestStats", "limiter_for", "reset_shared_limiters"]


class RateLimiter:
    """A thread-safe sliding-window limiter: at most ``limit`` requests in any ``window`` seconds.

    A token bucket alone cannot promise a per-minute cap, so the limiter keeps the times of the most
    recent requests and makes a caller wait until every window has room; requests are also spaced
    evenly (the shortest window divided by its limit) so they never burst at a window's edge.
    ``windows`` is ``[(seconds, limit), ...]``. ``throttled`` (a 429) pauses and slows it, see the
    module docstring.
    """

    def __init__(
        self,
        windows: list[tuple[float, int]],
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        recovery_seconds: float = 30.0,
        min_factor: float = 1 / 64,
    ) -> None:
        self.windows = [(float(seconds), int(limit)) for seconds, limit in windows if limit > 0]
        self._clock = clock
        self._sleep = sleep
        self._times: deque[float] = deque(maxlen=max((limit for _, limit in self.windows), default=1))
        # the shortest window's pace: a looser per-minute budget must not let the per-second one burst
        shortest = min(self.windows, default=None)
        self._spacing = shortest[0] / shortest[1] if shortest else 0.0
        self._lock = threading.Lock()
        self.recovery_seconds = recovery_seconds
        self.min_factor = min_factor
        self._factor_after_decrease = 1.0
        self._decreased_at: float | None = None
        self._paused_until = 0.0
        #: 429s reported to this limiter (all clients sharing it)
        self.throttle_count = 0

    def _factor(self, now: float) -> float:
        """The share of the configured rate allowed now: halved per 429, regrowing linearly."""
        if self._decreased_at is None:
            return 1.0
        if now <= self._decreased_at:
            return self._factor_after_decrease
        grown = self._factor_after_decrease + (now - self._decreased_at) / self.recovery_seconds
        if grown >= 1.0:
            self._decreased_at = None
            return 1.0
        return grown

    @property
    def rate_factor(self) -> float:
        with self._lock:
            return self._factor(self._clock())

    def _reserve(self) -> float:
        """Reserve the next slot; return how long the caller must wait before sending."""
        with self._lock:
            now = self._clock()
            start = max(now, self._paused_until)
            if self._times:
                # spread requests evenly over the shortest window instead of bursting at its edge
                start = max(start, self._times[-1] + self._spacing / self._factor(now))
            for seconds, limit in self.windows:
                if len(self._times) >= limit:
                    start = max(start, self._times[-limit] + seconds)
            self._times.append(start)
            return start - now

    def acquire(self) -> float:
        """Block until the next request may be sent; returns the seconds waited (every attempt,
        retries included, passes here)."""
        delay = self._reserve()
        if delay > 0:
            self._sleep(delay)
            return delay
        return 0.0

    async def acquire_async(self) -> float:
        """``acquire`` for a coroutine: the slot is reserved the same way (so threads and coroutines
        share one schedule) and the wait is an ``asyncio.sleep``, leaving the event loop free."""
        delay = self._reserve()
        if delay > 0:
            await asyncio.sleep(delay)
            return delay
        return 0.0

    def throttled(self, retry_after: float | None) -> None:
        """The service answered 429: nobody sends before ``retry_after`` seconds have passed, and the
        rate is halved (down to ``min_factor`` of the configured one) until it recovers."""
        with self._lock:
            now = self._clock()
            self.throttle_count += 1
            if retry_after is not None and retry_after > 0:
                self._paused_until = max(self._paused_until, now + retry_after)
            self._factor_after_decrease = max(self.min_factor, self._factor(now) / 2)
            self._decreased_at = max(now, self._paused_until)  # regrowth starts when sending resumes


class RequestStats:
    """What one client sent: attempts (retries included), seconds spent waiting on the rate limiter,
    and 429 answers. Thread-safe (the content threads add to it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = 0
        self.limiter_wait_seconds = 0.0
        self.throttled = 0

    def add(self, waited: float) -> None:
        with self._lock:
            self.requests += 1
            self.limiter_wait_seconds += waited

    def add_throttled(self) -> None:
        with self._lock:
            self.throttled += 1

    def to_dict(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": self.requests,
                "rate_limit_wait_seconds": round(self.limiter_wait_seconds, 3),
                "throttled": self.throttled,
            }


_SHARED: dict[tuple[str, tuple[tuple[float, int], ...]], RateLimiter] = {}
_SHARED_LOCK = threading.Lock()


def limiter_for(environment_id: str, windows: list[tuple[float, int]]) -> RateLimiter:
    """The process-wide limiter of one environment and budget, shared by every client using them.

    Keyed by the environment and the windows: every client of one connection (the hook's, a quick
    test client, the content threads) shares one budget; a client configured with other limits gets
    its own limiter, since it asked for a different budget.
    """
    key = (environment_id.lower(), tuple((float(s), int(n)) for s, n in windows))
    with _SHARED_LOCK:
        limiter = _SHARED.get(key)
        if limiter is None:
            limiter = _SHARED[key] = RateLimiter(list(key[1]))
        return limiter


def reset_shared_limiters() -> None:
    """Forget the shared limiters (a forked child starts with fresh locks and an empty history)."""
    global _SHARED_LOCK
    _SHARED.clear()
    _SHARED_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=reset_shared_limiters)
