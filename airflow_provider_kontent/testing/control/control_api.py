"""The HTTP control API under ``/_emulator/``: JSON in, ``{"result": ...}`` out.

``POST /_emulator/<operation>`` with a JSON object of arguments runs the operation declared in
``operations.py``; read operations also answer ``GET`` with arguments in the query string.
``GET /_emulator/health`` answers ``{"result": {"status": "ok"}}``. A refused call answers Kontent's
error body plus ``field``, with the status its kind calls for.
"""

from __future__ import annotations

import json
from typing import Any

from airflow_provider_kontent.testing.backend.errors import CONFLICT, NOT_FOUND, BackendError
from airflow_provider_kontent.testing.control.operations import OPERATIONS, READ
from airflow_provider_kontent.testing.control.surfaces import EmulatorStore
from airflow_provider_kontent.testing.kontent_errors import GENERIC, ROUTE_NOT_FOUND, error_body

PREFIX = "/_emulator/"
STATUS = {NOT_FOUND: 404, CONFLICT: 409}


def refusal(exc: BackendError) -> tuple[int, dict[str, Any]]:
    """Status and body for a refused call: Kontent's error shape plus the ``field`` at fault."""
    body = error_body(str(exc), GENERIC)
    body["field"] = exc.field
    return STATUS.get(exc.kind, 400), body


def handle_control(
    store: EmulatorStore, method: str, path: str, query: list[tuple[str, str]], body: bytes
) -> tuple[int, dict[str, Any]]:
    """Route one control request; returns (status, json body)."""
    name = path[len(PREFIX) :].strip("/") if path.startswith(PREFIX) else ""
    if name == "health":
        return 200, {"result": {"status": "ok"}}
    operation = OPERATIONS.get(name)
    if operation is None:
        known = ", ".join(("health", *OPERATIONS))
        return 404, error_body(f"Unknown control endpoint '{path}'. Known: {known}.", ROUTE_NOT_FOUND)
    if method == "GET" and operation.nature == READ:
        arguments: Any = dict(query)
    elif method == "POST":
        try:
            arguments = json.loads(body.decode("utf-8")) if body.strip() else {}
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return refusal(BackendError(None, f"the request body is not valid JSON: {exc}"))
    else:
        allowed = "GET or POST" if operation.nature == READ else "POST"
        return 405, error_body(f"Method {method} is not allowed on {path}; use {allowed}.", GENERIC)
    try:
        result = store.invoke(name, arguments)
    except BackendError as exc:
        return refusal(exc)
    return 200, {"result": result}
