"""The emulator's side of Kontent.ai's rate limit: 100 uncached requests/s and 2,000/min per environment.

Deliver and preview share one budget (https://kontent.ai/learn/docs/apis/delivery-api/api-limitations).
The client has its own, unrelated ``RateLimiter`` that stays under this one; this class throttles.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass

from airflow_provider_kontent.testing.backend.limits import RATE_PER_MINUTE, RATE_PER_SECOND


@dataclass
class RateLimitConfig:
    enabled: bool = False
    per_second: int = RATE_PER_SECOND
    per_minute: int = RATE_PER_MINUTE


class RequestThrottle:
    """Sliding windows per environment. Off by default; switched on per emulator or per environment.

    Rejected requests are not counted, so a client that honours ``Retry-After`` gets through.
    """

    def __init__(self, enabled: bool = False) -> None:
        self.default = RateLimitConfig(enabled=enabled)
        self.overrides: dict[str, RateLimitConfig] = {}
        self._hits: dict[str, deque[float]] = {}

    def config_for(self, env_id: str) -> RateLimitConfig:
        return self.overrides.get(env_id, self.default)

    def reset(self, enabled: bool) -> None:
        self.default = RateLimitConfig(enabled=enabled)
        self.overrides.clear()
        self._hits.clear()

    def check(self, env_id: str, now: float | None = None) -> int | None:
        """Record a request; return ``None`` when allowed, else the whole seconds to wait (>= 1)."""
        config = self.config_for(env_id)
        if not config.enabled:
            return None
        now = time.monotonic() if now is None else now
        hits = self._hits.setdefault(env_id, deque())
        while hits and hits[0] <= now - 60.0:
            hits.popleft()
        if len(hits) >= config.per_minute:
            return max(1, math.ceil(hits[len(hits) - config.per_minute] + 60.0 - now))
        in_last_second = 0
        for stamp in reversed(hits):
            if stamp <= now - 1.0 or in_last_second >= config.per_second:
                break
            in_last_second += 1
        if in_last_second >= config.per_second:
            return 1
        hits.append(now)
        return None
