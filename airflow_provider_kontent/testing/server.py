"""The emulator's HTTP server: stdlib ThreadingHTTPServer speaking HTTP/1.1 with keep-alive.

One port serves three surfaces: production (``/...``), preview (``/preview/...``) and the control API
(``/_emulator/...``). For API requests the order is: faults, URL length, rate limit, auth, routing.
Every error is Kontent's JSON error shape; every request (except control calls) lands in the request log
with the Authorization header redacted.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import time
import traceback
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote

from airflow_provider_kontent.testing import errors
from airflow_provider_kontent.testing.changelog import PREVIEW, PRODUCTION
from airflow_provider_kontent.testing.control import handle_control
from airflow_provider_kontent.testing.delivery import handle_delivery
from airflow_provider_kontent.testing.errors import error_body
from airflow_provider_kontent.testing.faults import Fault
from airflow_provider_kontent.testing.model import Environment
from airflow_provider_kontent.testing.state import EmulatorStore
from airflow_provider_kontent.testing.sync import sync_init, sync_page

Response = tuple[int, Any, dict[str, str]]
DELIVERY_ROUTES = ("items", "items-feed", "types", "taxonomies", "languages")
SYNC_ROUTES = {("sync", "init"): "POST", ("sync",): "GET"}
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


def _delivery(
    store: EmulatorStore,
    env: Environment,
    preview: bool,
    path: str,
    query: list,
    headers: Mapping[str, str],
) -> Response:
    """Delivery content for the readers' view of ``env``, reusing cached selections across pages."""
    view = store.visible_env(env)
    return handle_delivery(
        view,
        preview,
        path,
        query,
        headers,
        selection_cache=store.selection_cache,
        generation=store.generation,
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
        for name, value in headers.items():
            if fault is not None and fault.action == "no_continuation" and name.lower() == "x-continuation":
                continue
            if fault is not None and fault.action == "repeat_token" and name.lower() == "x-continuation":
                value = self.headers.get("X-Continuation") or value  # the token it was sent, not a new one
            self.send_header(name, value)
        if fault is not None and fault.action == "cut_body":
            self.send_header("Connection", "close")
        if fault is not None and fault.action == "stale" and not self._waits_for_new_content():
            self.send_header("X-Stale-Content", "1")
        self.end_headers()
        if fault is not None and fault.action == "cut_body":
            self.wfile.write(payload[: len(payload) // 2])
            self.wfile.flush()
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(payload)

    def _waits_for_new_content(self) -> bool:
        """``X-KC-Wait-For-Loading-New-Content: true``: Kontent.ai then never answers from a stale cache."""
        return (self.headers.get("X-KC-Wait-For-Loading-New-Content") or "").strip().lower() == "true"

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
        wait = store.rate_limiter.check(env.id)
        if wait is not None:
            return 429, error_body(RATE_LIMIT_MESSAGE, errors.RATE_LIMITED), {"Retry-After": str(wait)}
        denied = authenticate(env, host, self.headers.get("Authorization"))
        if denied is not None:
            status, message = denied
            code = errors.UNAUTHORIZED if status == 401 else errors.FORBIDDEN
            return status, error_body(message, code), {}
        allowed = SYNC_ROUTES.get(rest)
        if allowed is not None:
            if method != allowed:
                return self._not_allowed(method, allowed)
            if rest == ("sync", "init"):
                return sync_init(store, env, host, version, query)
            return sync_page(store, env, host, version, self.headers)
        if version == 1 and method == "GET":
            return _delivery(store, env, host == PREVIEW, "/" + "/".join(rest), query, self.headers)
        if version == 1 and rest and rest[0] in DELIVERY_ROUTES:
            return self._not_allowed(method, "GET")
        return self._route_not_found()

    def _route_not_found(self) -> Response:
        message = f"The requested route '{self.path}' was not found."
        return 404, error_body(message, errors.ROUTE_NOT_FOUND), {}

    @staticmethod
    def _not_allowed(method: str, allowed: str) -> Response:
        message = f"The requested resource does not support http method '{method}'."
        return 405, error_body(message, errors.GENERIC), {"Allow": allowed}
