"""What API requests the emulator saw (the ``requests`` control operation): bounded, keys redacted."""

from __future__ import annotations

import copy
from collections import deque
from typing import Any

REQUEST_LOG_LIMIT = 50_000


class RequestLog:
    """The last ``REQUEST_LOG_LIMIT`` non-control requests (Authorization already redacted by the server)."""

    def __init__(self) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=REQUEST_LOG_LIMIT)

    def add(self, entry: dict[str, Any]) -> None:
        self._entries.append(entry)

    def clear(self) -> None:
        self._entries.clear()

    def list(self, env_id: str | None = None) -> list[dict[str, Any]]:
        return [copy.deepcopy(e) for e in self._entries if env_id is None or e.get("env_id") == env_id]
