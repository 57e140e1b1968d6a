"""Every error status and every injected fault, over real HTTP against the emulator.

A faulty call must either succeed after retries with no delta lost or duplicated, or fail with the
right exception; 400/401/403/404 are never retried; every retry is logged; no key leaks anywhere.
"""

from __future__ import annotations

import logging
import uuid

import pytest

from airflow_provider_kontent.client import (
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
from tests.client.conftest import make_config

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


@pytest.mark.parametrize(
    ("status", "exc_type"),
    [(408, KontentServerError), (429, KontentRateLimitError), (500, KontentServerError),
     (502, KontentServerError), (503, KontentServerError), (504, KontentServerError)],
)  # fmt: skip
def test_transient_status_is_retried_without_losing_deltas(secured, secret_guard, caplog, status, exc_type):
    ctl, env, client, token, expected = secured
    ctl.inject_fault("status", times=2, path=SYNC, status=status)
    got = [d.key for page in client.iter_pages(token) for d in page.deltas]
    assert got == expected and len(set(got)) == len(got) == 7
    statuses = [r["status"] for r in sync_requests(ctl, env)]
    assert statuses[:3] == [status, status, 200] and statuses.count(status) == 2
    retries = [
        r.getMessage() for r in caplog.records if r.name == LOGGER_NAME and r.levelno == logging.WARNING
    ]
    assert any(f"attempt 1/4 failed (HTTP {status}); retrying in" in m for m in retries)
    assert any(f"attempt 2/4 failed (HTTP {status})" in m for m in retries)

    ctl.clear_requests()
    ctl.inject_fault("status", times=10, path=SYNC, status=status)
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
def test_client_errors_are_never_retried(secured, secret_guard, status, exc_type):
    ctl, env, client, token, _ = secured
    ctl.inject_fault("status", times=3, path=SYNC, status=status)
    with pytest.raises(exc_type) as err:
        client.sync_page(token)
    secret_guard.record(err.value)
    assert len(sync_requests(ctl, env)) == 1
    assert err.value.status == status and err.value.request_id
    assert not isinstance(err.value, KontentInvalidTokenError)
    ctl.clear_faults()


@pytest.mark.parametrize(
    ("action", "exc_type", "overrides"),
    [
        ("drop", KontentConnectionError, {}),
        ("cut_body", KontentConnectionError, {}),
        ("not_json", KontentResponseError, {}),
        ("no_continuation", KontentResponseError, {}),
        ("delay", KontentConnectionError, {"read_timeout": 0.2}),
    ],
)
def test_injected_faults(secured, secret_guard, caplog, kontent_emulator, action, exc_type, overrides):
    ctl, env, client, token, expected = secured
    client = KontentClient(client.config.replace(**overrides))
    delay = {"delay": 1.0} if action == "delay" else {}
    try:
        ctl.inject_fault(action, times=1, path=SYNC, **delay)
        got = [d.key for page in client.iter_pages(token) for d in page.deltas]
        assert got == expected  # no delta lost or duplicated
        logged = len(sync_requests(ctl, env))
        if action == "delay":  # the emulator logs the slow request only once its delay is over
            assert logged in (3, 4)
        else:
            assert logged == 4  # three pages (3+1, 3, empty) and the retried one
        assert any("attempt 1/4 failed" in r.getMessage() for r in caplog.records if r.name == LOGGER_NAME)

        ctl.inject_fault(action, times=4, path=SYNC, **delay)
        with pytest.raises(exc_type) as err:
            client.sync_page(token)
        secret_guard.record(err.value)
        assert err.value.attempts == 4
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
    assert any("(HTTP 429); retrying in 1.00s" in r.getMessage() for r in caplog.records)


def test_total_retry_wait_is_bounded(secured):
    ctl, env, client, token, _ = secured
    client = KontentClient(client.config.replace(max_retry_wait=0.0, max_attempts=10))
    ctl.inject_fault("status", times=5, path=SYNC, status=503)
    try:
        with pytest.raises(KontentServerError) as err:
            client.sync_page(token)
    finally:
        client.close()
        ctl.clear_faults()
    assert err.value.attempts == 1 and len(sync_requests(ctl, env)) == 1


def test_real_error_responses(kontent_emulator, secured, secret_guard):
    ctl, env, client, token, _ = secured
    with pytest.raises(KontentInvalidTokenError) as err:
        client.sync_page(token + "x")  # tampered
    assert err.value.error_code == 107 and "re-initialize" in str(err.value)
    secret_guard.record(err.value)
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
    assert err.value.status == 401 and err.value.request_id and "/sync/init" in str(err.value)
    secret_guard.record(err.value)
    for exc in (err.value,):
        assert isinstance(exc, KontentError)


def test_unreachable_host(secret_guard):
    from tests.client.conftest import FAST

    env = {"id": str(uuid.uuid4()), "secure_key": "key-for-a-closed-port"}
    secret_guard.watch(env["secure_key"])
    # port 9 on loopback: nothing listens there, the connection is refused at once
    client = KontentClient(make_config(env, "http://127.0.0.1:9", "secure", max_attempts=2, **FAST))
    with client, pytest.raises(KontentConnectionError) as err:
        client.init_sync()
    secret_guard.record(err.value)
    assert err.value.attempts == 2 and "ConnectionError" in str(err.value)
