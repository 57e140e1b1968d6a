"""The emulator's HTTP server: stdlib ThreadingHTTPServer speaking HTTP/1.1 with keep-alive.

One port serves three surfaces: production (``/...``), preview (``/preview/...``) and the control API
(``/_emulator/...``). ``ROUTES`` says which API module answers which path; the server itself owns what
happens on the socket: injected faults (``drop`` and ``cut_body`` need the raw connection), URL length,
rate limit and auth, in that order, then routing. Every error is Kontent's JSON error shape; every
request (except control calls) lands in the request log with the Authorization header redacted.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote

from airflow_provider_kontent.testing import kontent_errors as errors
from airflow_provider_kontent.testing.backend.changelog import PREVIEW, PRODUCTION
from airflow_provider_kontent.testing.backend.faults import Fault
from airflow_provider_kontent.testing.backend.model import Environment
from airflow_provider_kontent.testing.control.control_api import handle_control
from airflow_provider_kontent.testing.control.surfaces import EmulatorStore
from airflow_provider_kontent.testing.delivery_api.router import RESOURCES, handle_delivery
from airflow_provider_kontent.testing.kontent_errors import error_body
from airflow_provider_kontent.testing.sync_api.endpoints import sync_init, sync_page, v1_retired

Response = tuple[int, Any, dict[str, str]]
NOT_JSON_BODY = b"<html><body>Service temporarily unavailable</body></html>"
RATE_LIMIT_MESSAGE = "API rate limit exceeded. Please retry your request later."


def authenticate(env: Environment, host: str, authorization: str | None) -> tuple[int, str] | None:
    """None when allowed, else (status, message): 401 missing/unknown key, 403 wrong kind or revoked."""
    if host == PRODUCTION and not env.secure_access:
        return None
    scheme, _, key = (authorization or "").strip().partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        return 401, (
            "Missing or invalid access token. Please include the valid access token value in the "
            "Authorization header field as an HTTP bearer authorization scheme."
        )
    if key in env.revoked_keys:
        return 403, "The provided API key has been revoked."
    expected, other_kind = (
        (env.secure_key, env.preview_key) if host == PRODUCTION else (env.preview_key, env.secure_key)
    )
    if key == expected:
        return None
    if key == other_kind:
        needed = "secure access" if host == PRODUCTION else "preview"
        return 403, f"The provided API key does not have {needed} permission for this environment."
    return 401, "The provided API key is invalid for this environment."


def _internal_error(exc: Exception) -> dict[str, Any]:
    """Print the traceback and answer 500: a bug in the emulator must not hang the client."""
    traceback.print_exc(file=sys.stderr)
    return error_body(f"Internal emulator error: {exc!r}", errors.GENERIC)


@dataclass(frozen=True)
class ApiCall:
    """One authenticated API request for an existing environment (the store lock is held)."""

    store: EmulatorStore
    env: Environment
    host: str
    version: int
    path: tuple[str, ...]  # after /{env_id}
    query: list[tuple[str, str]]
    headers: Mapping[str, str]


def _waits_for_new_content(headers: Mapping[str, str]) -> bool:
    """``X-KC-Wait-For-Loading-New-Content: true``: Kontent.ai then never answers from a stale cache."""
    return (headers.get("X-KC-Wait-For-Loading-New-Content") or "").strip().lower() == "true"


def delivery(call: ApiCall) -> Response:
    """Delivery content as the reader may see it; CDN reads can be older than Sync (``X-Stale-Content``)."""
    store, env = call.store, call.env
    fresh = _waits_for_new_content(call.headers)
    stale = not fresh and store.is_stale(env)
    status, body, headers = handle_delivery(
        store.visible_env(env, fresh=fresh),
        call.host == PREVIEW,
        "/" + "/".join(call.path),
        call.query,
        call.headers,
        selection_cache=store.selection_cache,
        generation=(store.generation, stale),
    )
    if stale and status == 200:
        headers = {**headers, "X-Stale-Content": "1"}
    return status, body, headers


def sync_v2_init(call: ApiCall) -> Response:
    return sync_init(call.store, call.env, call.host, 2, call.query)


def sync_v2_page(call: ApiCall) -> Response:
    return sync_page(call.store, call.env, call.host, 2, call.headers)


def sync_v1_init(call: ApiCall) -> Response:
    return sync_init(call.store, call.env, call.host, 1, call.query)


def sync_v1_page(call: ApiCall) -> Response:
    return sync_page(call.store, call.env, call.host, 1, call.headers)


def v1_gate(env: Environment) -> Response | None:
    """Sync API v1 is gone (404 before auth, like a route that no longer exists) unless ``legacy_v1``."""
    return None if env.legacy_v1 else v1_retired()


@dataclass(frozen=True)
class Route:
    """``method`` on ``/{env}/<path>`` (``/v2/{env}/...`` for version 2); ``*`` in ``path`` = any
    Delivery resource path (its first segment one of ``delivery_api.router.RESOURCES``)."""

    version: int
    path: tuple[str, ...]
    method: str
    handler: Callable[[ApiCall], Response]
    gate: Callable[[Environment], Response | None] | None = None  # answers before auth when it returns

    def matches(self, version: int, path: tuple[str, ...]) -> bool:
        if version != self.version:
            return False
        if self.path == ("*",):
            return bool(path) and path[0] in RESOURCES
        return path == self.path


ROUTES = (
    Route(2, ("sync", "init"), "POST", sync_v2_init),
    Route(2, ("sync",), "GET", sync_v2_page),
    Route(1, ("sync", "init"), "POST", sync_v1_init, gate=v1_gate),  # retired: 404 unless legacy_v1
    Route(1, ("sync",), "GET", sync_v1_page, gate=v1_gate),
    Route(1, ("*",), "GET", delivery),
)


class EmulatorHTTPServer(ThreadingHTTPServer):
    """Tracks open connections so ``close_connections`` can end keep-alive threads on shutdown."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], store: EmulatorStore) -> None:
        self.store = store
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._connections_lock = threading.Lock()
        super().__init__(address, EmulatorRequestHandler)

    def handle_error(self, request, client_address) -> None:  # type: ignore[override]
        """Clients that hang up (timeouts, dropped faults) are normal here; anything else is printed."""
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)

    def process_request(self, request, client_address) -> None:  # type: ignore[override]
        thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name="kontent-emulator-connection",
            daemon=True,
        )
        with self._connections_lock:
            self._connections[request] = thread
        thread.start()

    def shutdown_request(self, request) -> None:  # type: ignore[override]
        with self._connections_lock:
            self._connections.pop(request, None)
        super().shutdown_request(request)

    def close_connections(self, timeout: float = 5.0) -> None:
        """Shut down idle keep-alive sockets and wait for their handler threads to end."""
        with self._connections_lock:
            connections = list(self._connections.items())
        for sock, _thread in connections:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + timeout
        for _sock, thread in connections:
            thread.join(max(0.0, deadline - time.monotonic()))


class EmulatorRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "KontentEmulator/1.0"
    server: EmulatorHTTPServer

    def setup(self) -> None:
        super().setup()
        # Headers and body are separate writes; without NODELAY, Nagle + delayed ACK add ~40 ms per response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def do_OPTIONS(self) -> None:
        self._handle("OPTIONS")

    # ------------------------------------------------------------------------------------------ plumbing

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, status: int, body: Any, headers: Mapping[str, str], fault: Fault | None = None) -> None:
        payload = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
        if fault is not None and fault.action == "not_json":
            payload = NOT_JSON_BODY
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in self._response_headers(headers, fault).items():
            self.send_header(name, value)
        if fault is not None and fault.action == "cut_body":
            self.send_header("Connection", "close")
        self.end_headers()
        if fault is not None and fault.action == "cut_body":
            self.wfile.write(payload[: len(payload) // 2])
            self.wfile.flush()
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(payload)

    def _response_headers(self, headers: Mapping[str, str], fault: Fault | None) -> dict[str, str]:
        """The API headers a response carries after faults (what ``_send`` sends and the log records)."""
        sent = {
            name: value
            for name, value in headers.items()
            if not (
                fault is not None and fault.action == "no_continuation" and name.lower() == "x-continuation"
            )
        }
        if fault is not None and fault.action == "stale" and not self._waits_for_new_content():
            sent["X-Stale-Content"] = "1"
        if fault is not None and fault.action == "repeat_token" and self.headers.get("X-Continuation"):
            for name in [n for n in sent if n.lower() == "x-continuation"]:
                sent[name] = self.headers["X-Continuation"]  # the token it was sent, not a new one
        return sent

    def _waits_for_new_content(self) -> bool:
        return _waits_for_new_content(self.headers)

    def _handle(self, method: str) -> None:
        body = self._read_body()
        raw_path, _, query_string = self.path.partition("?")
        query = parse_qsl(query_string, keep_blank_values=True)
        if raw_path == "/_emulator" or raw_path.startswith("/_emulator/"):
            try:
                status, payload = handle_control(self.server.store, method, raw_path, query, body)
            except Exception as exc:
                status, payload = 500, _internal_error(exc)
            self._send(status, payload, {})
            return
        self._handle_api(method, raw_path, query)

    # ------------------------------------------------------------------------------------------- the API

    def _handle_api(self, method: str, raw_path: str, query: list[tuple[str, str]]) -> None:
        store = self.server.store
        preview = raw_path == "/preview" or raw_path.startswith("/preview/")
        host = PREVIEW if preview else PRODUCTION
        path = raw_path[len("/preview") :] if preview else raw_path
        segments = [unquote(s) for s in path.split("/")[1:]]
        version = 2 if segments and segments[0] == "v2" else 1
        if version == 2:
            segments = segments[1:]
        env_id = segments[0].lower() if segments and segments[0] else None
        rest = tuple(segments[1:])
        headers = {
            name: ("Bearer ***" if name.lower() == "authorization" else value)
            for name, value in self.headers.items()
        }
        entry: dict[str, Any] = {
            "method": method,
            "path": raw_path,
            "query": dict(query),
            "headers": headers,
            "status": None,
            "time": time.time(),
            "env_id": env_id,
            "host": host,
            "fault": None,
            "response_headers": None,  # the API headers of the response (None when dropped)
        }
        with store.lock:
            fault = store.fault_set.take(method, raw_path, env_id)
        # The request is logged *before* its response is written: a client that has its answer can rely
        # on seeing the request in the log (and on clear_requests() removing it).
        if fault is not None:
            entry["fault"] = fault.action
            if fault.action == "drop":
                store.log_request(entry)
                self.close_connection = True
                return
            if fault.action == "status":
                status, payload, extra = self._fault_status(fault)
                entry["status"] = status
                entry["response_headers"] = self._response_headers(extra, None)
                store.log_request(entry)
                self._send(status, payload, extra)
                return
            if fault.action == "delay" and fault.delay:
                time.sleep(fault.delay)
        try:
            with store.lock:
                status, payload, extra = self._respond(method, host, version, env_id, rest, query)
        except Exception as exc:
            status, payload, extra = 500, _internal_error(exc), {}
        entry["status"] = status
        entry["response_headers"] = self._response_headers(extra, fault)
        store.log_request(entry)
        self._send(status, payload, extra, fault)

    @staticmethod
    def _fault_status(fault: Fault) -> Response:
        status = fault.status or 500
        headers: dict[str, str] = {}
        retry_after = fault.retry_after if fault.retry_after is not None else (1 if status == 429 else None)
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        message = RATE_LIMIT_MESSAGE if status == 429 else "Injected fault."
        code = errors.RATE_LIMITED if status == 429 else errors.GENERIC
        return status, error_body(message, code), headers

    def _respond(
        self, method: str, host: str, version: int, env_id: str | None, rest: tuple[str, ...], query: list
    ) -> Response:
        """Status, JSON body and extra headers for one API request (store lock held)."""
        store = self.server.store
        if env_id is None:
            return self._route_not_found()
        env = store.get_env(env_id)
        if env is None:
            message = f"The environment with ID '{env_id}' was not found."
            return 404, error_body(message, errors.ENVIRONMENT_NOT_FOUND), {}
        full_url = f"http://{self.headers.get('Host', '')}{self.path}"
        if len(full_url) > env.url_max_length:
            message = f"The request URL is too long ({len(full_url)} > {env.url_max_length} characters)."
            return env.url_too_long_status, error_body(message, errors.GENERIC), {}
        wait = store.throttle.check(env.id)
        if wait is not None:
            return 429, error_body(RATE_LIMIT_MESSAGE, errors.RATE_LIMITED), {"Retry-After": str(wait)}
        candidates = [route for route in ROUTES if route.matches(version, rest)]
        gated = next((route.gate(env) for route in candidates if route.gate is not None), None)
        if gated is not None:
            return gated
        denied = authenticate(env, host, self.headers.get("Authorization"))
        if denied is not None:
            status, message = denied
            code = errors.UNAUTHORIZED if status == 401 else errors.FORBIDDEN
            return status, error_body(message, code), {}
        call = ApiCall(store, env, host, version, rest, query, self.headers)
        for route in candidates:
            if route.method == method:
                return route.handler(call)
        if candidates:
            return self._not_allowed(method, candidates[0].method)
        return self._route_not_found()

    def _route_not_found(self) -> Response:
        message = f"The requested route '{self.path}' was not found."
        return 404, error_body(message, errors.ROUTE_NOT_FOUND), {}

    @staticmethod
    def _not_allowed(method: str, allowed: str) -> Response:
        message = f"The requested resource does not support http method '{method}'."
        return 405, error_body(message, errors.GENERIC), {"Allow": allowed}
