"""Every error status and every injected fault, over real HTTP against the emulator.

A faulty call must either succeed after retries with no delta lost or duplicated, or fail with the
right exception; 400/401/403/404 are never retried; every retry is logged; no key leaks anywhere.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from airflow_provider_kontent.client import (
    AsyncKontentClient,
    KontentAuthError,
    KontentBadRequestError,
    KontentClient,
    KontentConnectionError,
    KontentError,
    KontentInvalidTokenError,
    KontentNotFoundError,
    KontentRateLimitError,
    KontentResponseError,
    KontentServerError,
)
from airflow_provider_kontent.client.retry import LOGGER_NAME
from tests.client.conftest import FAST, closed_port, make_config, wait_for_requests

SYNC = r"/sync$"


@pytest.fixture
def secured(kontent_emulator, secret_guard):
    """A secure-access environment with 7 changes after a fresh token; the key is watched for leaks."""
    ctl = kontent_emulator.control
    env = ctl.create_environment(secure_access=True, page_size=3)
    secret_guard.watch(env["secure_key"], env["preview_key"])
    client = KontentClient(make_config(env, kontent_emulator.base_url, "secure"))
    token = client.init_sync()
    ctl.generate_changes(env["id"], 6)  # 6 items + 1 type = 7 deltas over pages of <= 3 per array
    expected = [d.key for page in client.iter_pages(token) for d in page.deltas]
    ctl.clear_requests()
    yield ctl, env, client, token, expected
    client.close()


def sync_requests(ctl, env):
    return [r for r in ctl.requests(env["id"]) if r["path"].endswith("/sync")]


def retry_lines(caplog) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == LOGGER_NAME and r.levelno == logging.WARNING and "retrying in" in r.getMessage()
    ]


@pytest.mark.parametrize(
    ("status", "exc_type"),
    [(408, KontentServerError), (429, KontentRateLimitError), (500, KontentServerError),
     (502, KontentServerError), (503, KontentServerError), (504, KontentServerError)],
)  # fmt: skip
def test_transient_status_is_retried_without_losing_deltas(secured, secret_guard, caplog, status, exc_type):
    ctl, env, client, token, expected = secured
    # the emulator's 429 asks for 1 s by default, longer than the FAST config's max_retry_after
    retry_after = 0 if status == 429 else None
    ctl.inject_fault("status", times=2, path=SYNC, status=status, retry_after=retry_after)
    got = [d.key for page in client.iter_pages(token) for d in page.deltas]
    assert got == expected and len(set(got)) == len(got) == 7
    statuses = [r["status"] for r in sync_requests(ctl, env)]
    assert statuses[:3] == [status, status, 200] and statuses.count(status) == 2
    retries = retry_lines(caplog)
    origin = "(Retry-After" if status == 429 else "(backoff with jitter)"  # the emulator's 429 says 1 s
    assert len(retries) == 2 and all(f"(HTTP {status}); retrying in" in m and origin in m for m in retries)
    assert "attempt 1/4 failed" in retries[0] and "attempt 2/4 failed" in retries[1]

    ctl.clear_requests()
    ctl.inject_fault("status", times=10, path=SYNC, status=status, retry_after=retry_after)
    with pytest.raises(exc_type) as err:
        client.sync_page(token)
    secret_guard.record(err.value)
    assert err.value.status == status and err.value.attempts == 4
    assert len(sync_requests(ctl, env)) == 4  # bounded by max_attempts
    assert f"HTTP {status}" in str(err.value) and "attempts=4" in str(err.value)
    ctl.clear_faults()


@pytest.mark.parametrize(
    ("status", "exc_type"),
    [
        (400, KontentBadRequestError),
        (401, KontentAuthError),
        (403, KontentAuthError),
        (404, KontentNotFoundError),
    ],
)
def test_client_errors_are_never_retried(secured, secret_guard, caplog, status, exc_type):
    ctl, env, client, token, _ = secured
    ctl.inject_fault("status", times=3, path=SYNC, status=status)
    with pytest.raises(exc_type) as err:
        client.sync_page(token)
    secret_guard.record(err.value)
    assert len(sync_requests(ctl, env)) == 1 and retry_lines(caplog) == []
    assert err.value.status == status and err.value.request_id and not err.value.retryable
    assert not isinstance(err.value, KontentInvalidTokenError)
    ctl.clear_faults()


@pytest.mark.parametrize(
    ("action", "exc_type", "overrides", "reason"),
    [
        ("drop", KontentConnectionError, {}, "ConnectionError ("),
        ("cut_body", KontentConnectionError, {}, "ChunkedEncodingError ("),
        ("not_json", KontentResponseError, {}, "malformed response: response body is not JSON"),
        ("no_continuation", KontentResponseError, {}, "malformed response: response has no X-Continuation"),
        ("delay", KontentConnectionError, {"read_timeout": 0.2}, "ReadTimeout ("),
    ],
)
def test_injected_faults(secured, secret_guard, caplog, action, exc_type, overrides, reason):
    ctl, env, client, token, expected = secured
    client = KontentClient(client.config.replace(**overrides))
    delay = {"delay": 0.6} if action == "delay" else {}  # > read_timeout, so the attempt times out
    try:
        ctl.inject_fault(action, times=1, path=SYNC, **delay)
        got = [d.key for page in client.iter_pages(token) for d in page.deltas]
        assert got == expected  # no delta lost or duplicated
        # three pages (3+1, 3, empty) and the retried one; the emulator may log the faulty one late
        logged = wait_for_requests(ctl, env["id"], lambda log: len(log) >= 4)
        assert len([r for r in logged if r["path"].endswith("/sync")]) == 4
        assert [r["fault"] for r in logged].count(action) == 1
        retries = retry_lines(caplog)
        assert len(retries) == 1 and "attempt 1/4 failed" in retries[0] and reason in retries[0], retries

        ctl.inject_fault(action, times=4, path=SYNC, **delay)
        with pytest.raises(exc_type) as err:
            client.sync_page(token)
        secret_guard.record(err.value)
        assert err.value.attempts == 4 and "attempts=4" in str(err.value)
    finally:
        client.close()
        ctl.clear_faults()


def test_429_waits_for_retry_after(secured, caplog):
    ctl, env, client, token, expected = secured
    client = KontentClient(client.config.replace(max_retry_after=5.0))
    ctl.inject_fault("status", times=1, path=SYNC, status=429, retry_after=1)
    try:
        assert [d.key for d in client.sync_page(token).deltas] == expected[:4]
    finally:
        client.close()
    assert retry_lines(caplog) == [
        f"Kontent request GET {client.protocol.sync_request(token).url}: attempt 1/4 failed (HTTP 429); "
        "retrying in 1.00s (Retry-After)"
    ]


@pytest.mark.parametrize(
    ("overrides", "retry_after", "attempts", "wait_logged"),
    [
        # Retry-After 1 s, waited in full: one sleep fits in max_retry_wait=1.5, a second would not
        (
            {"max_retry_after": 1.0, "max_retry_wait": 1.5, "backoff_initial": 5.0},
            1,
            2,
            "retrying in 1.00s (Retry-After)",
        ),
        # Retry-After 1 s is longer than max_retry_after: never retried early, so not retried at all
        ({"max_retry_after": 0.3, "backoff_initial": 0.01}, 1, 1, None),
        ({"max_retry_wait": 0.0}, None, 1, None),  # no wait budget: the first failure is final
    ],
)
def test_total_retry_wait_is_bounded(secured, caplog, overrides, retry_after, attempts, wait_logged):
    ctl, env, client, token, _ = secured
    client = KontentClient(client.config.replace(max_attempts=10, **overrides))
    ctl.inject_fault("status", times=10, path=SYNC, status=503, retry_after=retry_after)
    try:
        with pytest.raises(KontentServerError) as err:
            client.sync_page(token)
    finally:
        client.close()
        ctl.clear_faults()
    assert err.value.attempts == attempts and len(sync_requests(ctl, env)) == attempts
    retries = retry_lines(caplog)
    assert len(retries) == attempts - 1 and all(wait_logged in m for m in retries)


def test_retry_after_as_http_date(scripted_server, caplog):
    """The emulator only sends seconds; Kontent.ai may send an HTTP date (RFC 9110), so a small server
    answers 429 with a date 30 s ahead, then a valid init response."""
    when = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    server = scripted_server(
        [
            (429, {"Retry-After": when, "Content-Type": "application/json"}, b'{"message": "slow down"}'),
            (200, {"X-Continuation": "tok-1", "Content-Type": "application/json"}, b"{}"),
        ]
    )
    config = make_config({"id": str(uuid.uuid4())}, server.base_url, max_retry_after=0.2)
    with KontentClient(config) as client, pytest.raises(KontentRateLimitError) as err:
        client.init_sync()
    # the date was understood as about 30 s (rounded to whole seconds): longer than max_retry_after,
    # so the client gives up rather than ask again before the server allows it
    assert len(server.requests) == 1 and retry_lines(caplog) == []
    assert 29 <= err.value.retry_after <= 30, err.value.retry_after
    assert "longer than max_retry_after=0.2s" in str(err.value)


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_tls_certificate_is_always_verified(scripted_server, self_signed_tls, secret_guard, mode):
    """A key is never sent to a host whose certificate fails verification, and that is not retried."""
    context, _ = self_signed_tls
    reply = (200, {"X-Continuation": "tok"}, b"{}")
    server = scripted_server([reply], tls=context)
    key = "tls-test-key-123456"
    secret_guard.watch(key)
    config = make_config({"id": str(uuid.uuid4()), "secure_key": key}, server.base_url, "secure")
    with pytest.raises(KontentConnectionError) as err:
        if mode == "sync":
            with KontentClient(config) as client:
                client.init_sync()
        else:
            async with AsyncKontentClient(config) as client:
                await client.sync_page("tok")
    secret_guard.record(err.value)
    assert "TLS certificate verification failed" in str(err.value) and not err.value.retryable
    assert err.value.attempts is None  # given up at once, not after retries
    assert server.requests == []  # the handshake failed before any header (the key) was sent


def test_tls_with_a_trusted_custom_ca_works(scripted_server, self_signed_tls, monkeypatch):
    """The control for the test above: trusting the certificate (as a corporate CA bundle would) is
    all it takes, so the failure there really was the verification."""
    context, cert_file = self_signed_tls
    server = scripted_server([(200, {"X-Continuation": "tok-tls"}, json.dumps({}).encode())], tls=context)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert_file))
    config = make_config({"id": str(uuid.uuid4()), "secure_key": "k-tls"}, server.base_url, "secure")
    with KontentClient(config) as client:
        assert client.init_sync() == "tok-tls"
    assert server.requests[0][2]["Authorization"] == "Bearer k-tls"


def test_real_error_responses(kontent_emulator, secured, secret_guard):
    ctl, env, client, token, _ = secured
    with pytest.raises(KontentInvalidTokenError) as err:
        client.sync_page(token + "x")  # tampered
    assert err.value.error_code == 107 and "re-initialize" in str(err.value)
    secret_guard.record(err.value)
    ctl.update_environment(env["id"], legacy_v1=True)  # the retired v1 replayed
    with pytest.raises(KontentInvalidTokenError):
        client.sync_page(token, api_version=1)  # a v2 token on the v1 endpoint
    base = kontent_emulator.base_url
    unknown = KontentClient(
        make_config({"id": str(uuid.uuid4()), "secure_key": "whatever-key-123"}, base, "secure")
    )
    with unknown, pytest.raises(KontentNotFoundError) as err:
        unknown.init_sync()
    assert err.value.status == 404 and unknown.config.environment_id in str(err.value)
    secret_guard.record(err.value)
    wrong = KontentClient(client.config.replace(api_key="not-the-right-key-42"))
    secret_guard.watch("not-the-right-key-42")
    with wrong, pytest.raises(KontentAuthError) as err:
        wrong.init_sync()
    secret_guard.record(err.value)
    text = str(err.value)
    assert err.value.status == 401 and err.value.request_id and err.value.message
    for part in ("HTTP 401", err.value.message, f"request_id={err.value.request_id}", "POST ", "/sync/init"):
        assert part in text, part
    assert isinstance(err.value, KontentError) and err.value.attempts is None  # not retried


def test_unreachable_host(secret_guard, caplog):
    env = {"id": str(uuid.uuid4()), "secure_key": "key-for-a-closed-port"}
    secret_guard.watch(env["secure_key"])
    client = KontentClient(
        make_config(env, f"http://127.0.0.1:{closed_port()}", "secure", max_attempts=2, **FAST)
    )
    with client, pytest.raises(KontentConnectionError) as err:
        client.init_sync()
    secret_guard.record(err.value)
    assert err.value.attempts == 2 and "ConnectionError (Connection refused)" in str(err.value)
    assert (
        len(retry_lines(caplog)) == 1
        and "failed (connection failed: ConnectionError (Connection refused))" in retry_lines(caplog)[0]
    )
