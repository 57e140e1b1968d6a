"""Injected faults: make the next N matching requests fail the way real networks and servers do."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Any

from airflow_provider_kontent.testing.errors import ControlError

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
    action: Any,
    times: Any = 1,
    method: Any = None,
    path: Any = None,
    env_id: Any = None,
    status: Any = None,
    retry_after: Any = None,
    delay: Any = None,
) -> Fault:
    """Validate control input into a :class:`Fault`; every error names its field."""
    if action not in ACTIONS:
        raise ControlError("action", f"must be one of {', '.join(ACTIONS)}; got {action!r}")
    if not isinstance(times, int) or isinstance(times, bool) or times < 1:
        raise ControlError("times", f"must be an integer >= 1; got {times!r}")
    if method is not None and not isinstance(method, str):
        raise ControlError("method", f"must be an HTTP method name; got {method!r}")
    if path is not None:
        if not isinstance(path, str):
            raise ControlError("path", f"must be a regular expression string; got {path!r}")
        try:
            re.compile(path)
        except re.error as exc:
            raise ControlError("path", f"invalid regular expression: {exc}") from exc
    if env_id is not None and not isinstance(env_id, str):
        raise ControlError("env_id", f"must be a string; got {env_id!r}")
    if action == "status":
        if not isinstance(status, int) or isinstance(status, bool) or not 400 <= status <= 599:
            raise ControlError(
                "status", f"must be an HTTP error status 400-599 for action 'status'; got {status!r}"
            )
    elif status is not None:
        raise ControlError("status", f"only applies to action 'status', not {action!r}")
    if retry_after is not None and (
        not isinstance(retry_after, int) or isinstance(retry_after, bool) or retry_after < 0
    ):
        raise ControlError("retry_after", f"must be an integer >= 0; got {retry_after!r}")
    if action == "delay":
        if not isinstance(delay, (int, float)) or isinstance(delay, bool) or not 0 <= delay <= 300:
            raise ControlError(
                "delay", f"must be a number of seconds 0-300 for action 'delay'; got {delay!r}"
            )
    elif delay is not None:
        raise ControlError("delay", f"only applies to action 'delay', not {action!r}")
    return Fault(
        next(_ids), action, times, method, path, env_id, status, retry_after, float(delay) if delay else None
    )


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
