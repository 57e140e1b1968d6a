"""Injected faults: make the next N matching requests fail the way real networks and servers do.

The backend only keeps and matches them; the server (``testing/server.py``) carries them out, since
``drop`` and ``cut_body`` act on the socket.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Any

from airflow_provider_kontent.testing.backend.errors import BackendError

ACTIONS = ("status", "drop", "cut_body", "delay", "not_json", "no_continuation", "stale", "repeat_token")
_ids = itertools.count(1)


@dataclass
class Fault:
    id: int
    action: str
    remaining: int
    method: str | None = None
    path: str | None = None  # regular expression searched in the request path
    env_id: str | None = None
    status: int | None = None
    retry_after: int | None = None
    delay: float | None = None

    def matches(self, method: str, path: str, env_id: str | None) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        if self.env_id is not None and self.env_id != env_id:
            return False
        return self.path is None or re.search(self.path, path) is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "action": self.action,
            "times": self.remaining,
            "method": self.method,
            "path": self.path,
            "env_id": self.env_id,
            "status": self.status,
            "retry_after": self.retry_after,
            "delay": self.delay,
        }


def build_fault(
    action: str,
    times: int = 1,
    method: str | None = None,
    path: str | None = None,
    env_id: str | None = None,
    status: int | None = None,
    retry_after: int | None = None,
    delay: float | None = None,
) -> Fault:
    """A :class:`Fault` from validated arguments; checks what depends on ``action`` (errors name the field)."""
    if action == "status":
        if status is None:
            raise BackendError("status", "is required (an HTTP error status 400-599) for action 'status'")
    elif status is not None:
        raise BackendError("status", f"only applies to action 'status', not {action!r}")
    if action == "delay":
        if delay is None:
            raise BackendError("delay", "is required (seconds 0-300) for action 'delay'")
    elif delay is not None:
        raise BackendError("delay", f"only applies to action 'delay', not {action!r}")
    return Fault(next(_ids), action, times, method, path, env_id, status, retry_after, delay or None)


class FaultSet:
    """Active faults in injection order; the first match is consumed. Callers hold the store lock."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        self._faults.append(fault)

    def clear(self) -> None:
        self._faults.clear()

    def take(self, method: str, path: str, env_id: str | None) -> Fault | None:
        for fault in self._faults:
            if fault.matches(method, path, env_id):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def to_list(self) -> list[dict[str, Any]]:
        return [fault.to_dict() for fault in self._faults]
