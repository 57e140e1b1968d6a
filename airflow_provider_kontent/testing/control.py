"""The HTTP control API under ``/_emulator/``: a thin JSON layer over ``EmulatorStore``.

``POST /_emulator/<method>`` with a JSON object of keyword arguments calls the store method of the same
name (the list is ``state.CONTROL_METHODS``) and answers ``{"result": ...}``. Read-only methods also
answer ``GET`` with arguments in the query string. Bad input -> 400 naming the field.
"""

from __future__ import annotations

import json
from typing import Any

from airflow_provider_kontent.testing.errors import ROUTE_NOT_FOUND, ControlError, error_body
from airflow_provider_kontent.testing.state import CONTROL_METHODS, READ_METHODS, EmulatorStore

PREFIX = "/_emulator/"


def handle_control(
    store: EmulatorStore, method: str, path: str, query: list[tuple[str, str]], body: bytes
) -> tuple[int, dict[str, Any]]:
    """Route one control request; returns (status, json body)."""
    name = path[len(PREFIX) :].strip("/") if path.startswith(PREFIX) else ""
    if name == "health":
        return 200, {"result": {"status": "ok"}}
    if name not in CONTROL_METHODS:
        known = ", ".join(("health", *CONTROL_METHODS))
        return 404, error_body(f"Unknown control endpoint '{path}'. Known: {known}.", ROUTE_NOT_FOUND)
    if method == "GET" and name in READ_METHODS:
        arguments: Any = dict(query)
    elif method == "POST":
        try:
            arguments = json.loads(body.decode("utf-8")) if body.strip() else {}
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return 400, ControlError(None, f"the request body is not valid JSON: {exc}").to_body()
    else:
        allowed = "GET or POST" if name in READ_METHODS else "POST"
        return 405, error_body(f"Method {method} is not allowed on {path}; use {allowed}.", 0)
    try:
        result = store.invoke(name, arguments)
    except ControlError as exc:
        return exc.status, exc.to_body()
    return 200, {"result": result}
