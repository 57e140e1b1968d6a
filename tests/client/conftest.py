"""Shared helpers for client tests: fast retry settings, a guard that no API key leaks, a closed port,
and a tiny scripted HTTP(S) server for what the emulator cannot send (an HTTP-date ``Retry-After``, a
self-signed TLS certificate).

The ``secret_guard`` fixture captures every log record (DEBUG, every logger including urllib3) and
collects exception texts the test hands to it; at teardown it asserts that none of the keys it was
told about appears anywhere.
"""

from __future__ import annotations

import datetime
import ipaddress
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from airflow_provider_kontent.client import ClientConfig

FAST = {"backoff_initial": 0.01, "backoff_max": 0.05, "max_retry_after": 0.05, "max_retry_wait": 5.0}


def make_config(env: dict, base_url: str, mode: str = "public", **overrides) -> ClientConfig:
    key = {"public": None, "secure": env.get("secure_key"), "preview": env.get("preview_key")}[mode]
    if mode == "preview" and not base_url.endswith("/preview"):
        base_url = base_url + "/preview"
    values = {**FAST, "max_attempts": 4, **overrides}
    return ClientConfig(env["id"], mode=mode, api_key=key, base_url=base_url, **values)


class SecretGuard:
    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        self.caplog = caplog
        self.secrets: set[str] = set()
        self.texts: list[str] = []

    def watch(self, *secrets: str | None) -> None:
        self.secrets.update(s for s in secrets if s)

    def record(self, exc: BaseException) -> BaseException:
        """Remember an exception's str/repr (and its cause chain) for the final check."""
        seen: BaseException | None = exc
        while seen is not None:
            self.texts += [str(seen), repr(seen)]
            seen = seen.__cause__ or seen.__context__
        return exc

    def check(self) -> None:
        records = [
            r for when in ("setup", "call") for r in self.caplog.get_records(when)
        ] + self.caplog.records
        lines = [r.getMessage() + "\n" + (r.exc_text or "") for r in records]
        haystack = "\n".join([*lines, *self.texts])
        if self.secrets:
            assert records, "no log records were captured: the guard would check nothing"
        for secret in self.secrets:
            assert secret not in haystack, "an API key leaked into a log line or exception text"


@pytest.fixture(autouse=True)
def secret_guard(request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture) -> Iterator[SecretGuard]:
    """Autouse: every test's logs (and the exception texts it records) must be free of API keys.

    Besides the keys a test names with ``watch``, every key of every emulator environment the test
    created is checked (the emulator is reset before each test, so these are the test's own).
    """
    caplog.set_level(logging.DEBUG)
    for name in ("urllib3", "requests", "httpx", "httpcore", "airflow_provider_kontent"):
        caplog.set_level(logging.DEBUG, logger=name)
    guard = SecretGuard(caplog)
    # Requested here (not at teardown) so the emulator outlives this fixture.
    emulator = (
        request.getfixturevalue("kontent_emulator") if "kontent_emulator" in request.fixturenames else None
    )
    yield guard
    if emulator is not None:
        for env in emulator.control.list_environments():
            guard.watch(env.get("secure_key"), env.get("preview_key"), *env.get("revoked_keys", []))
    guard.check()


def logged_headers(request: dict) -> dict[str, str]:
    """The headers of an emulator request-log entry, names lower-cased (HTTP names are case-insensitive)."""
    return {k.lower(): v for k, v in request["headers"].items()}


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released), so a connection is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_requests(
    ctl, env_id: str, predicate: Callable[[list[dict]], bool], timeout: float = 5.0
) -> list:
    """The emulator logs a dropped or cut request only after closing its socket, which can be after
    the client already retried; wait (bounded) for the log to catch up instead of racing it."""
    deadline = time.monotonic() + timeout
    while True:
        logged = ctl.requests(env_id)
        if predicate(logged) or time.monotonic() > deadline:
            return logged
        time.sleep(0.02)


Reply = tuple[int, dict[str, str], bytes]


class ScriptedServer:
    """A real HTTP server on 127.0.0.1 answering from a list of replies (the last one repeats).

    ``requests`` records ``(method, path, headers)`` of every request that got through.
    """

    def __init__(self, replies: list[Reply], tls: ssl.SSLContext | None = None) -> None:
        self.replies = list(replies)
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                server.requests.append((self.command, self.path, dict(self.headers)))
                status, headers, body = (
                    server.replies.pop(0) if len(server.replies) > 1 else server.replies[0]
                )
                self.send_response(status)
                for name, value in {**headers, "Content-Length": str(len(body))}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, *args: object) -> None:  # keep pytest output clean
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        scheme = "https" if tls is not None else "http"
        self.base_url = f"{scheme}://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def scripted_server() -> Iterator[Callable[..., ScriptedServer]]:
    """Factory: ``scripted_server(replies, tls=None)``; every server is shut down after the test."""
    servers: list[ScriptedServer] = []

    def start(replies: list[Reply], tls: ssl.SSLContext | None = None) -> ScriptedServer:
        servers.append(ScriptedServer(replies, tls))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


@pytest.fixture(scope="session")
def self_signed_tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, Path]:
    """A server TLS context for 127.0.0.1 with a self-signed certificate, and the certificate file."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context, cert_file
