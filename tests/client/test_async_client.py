"""The httpx-based async client (used by the trigger) against the emulator."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from airflow_provider_kontent.client import (
    AsyncKontentClient,
    KontentClient,
    KontentConnectionError,
    KontentInvalidTokenError,
    KontentServerError,
)
from airflow_provider_kontent.client.protocol import SOURCE_HEADER
from tests.client.conftest import closed_port, logged_headers, make_config


@pytest.fixture
def prepared(kontent_emulator):
    ctl = kontent_emulator.control
    env = ctl.create_environment(secure_access=True, page_size=4)
    cfg = make_config(env, kontent_emulator.base_url, "secure")
    with KontentClient(cfg) as client:
        token = client.init_sync()
        ctl.generate_changes(env["id"], 6)
        expected = [[d.key for d in page.deltas] for page in client.iter_pages(token)]
    return ctl, env, cfg, token, expected


async def test_async_pages_match_the_blocking_client(prepared, secret_guard):
    ctl, env, cfg, token, expected = prepared
    secret_guard.watch(env["secure_key"])
    got = []
    ctl.clear_requests()
    async with AsyncKontentClient(cfg) as client:
        while True:
            page = await client.sync_page(token)
            got.append([d.key for d in page.deltas])
            token = page.next_token
            if page.is_empty:
                break
    assert got == expected
    for request in ctl.requests(env["id"]):  # same headers as the blocking client
        headers = logged_headers(request)
        assert headers["x-kc-source"] == SOURCE_HEADER and headers["authorization"] == "Bearer ***"


@pytest.mark.parametrize("action", ["cut_body", "drop", "not_json", "status"])
async def test_async_retries_faults(prepared, secret_guard, action):
    ctl, env, cfg, token, expected = prepared
    secret_guard.watch(env["secure_key"])
    extra = {"status": 503} if action == "status" else {}
    ctl.inject_fault(action, times=1, path=r"/sync$", **extra)
    async with AsyncKontentClient(cfg) as client:
        page = await client.sync_page(token)
        assert [d.key for d in page.deltas] == expected[0]
        ctl.inject_fault("status", times=5, path=r"/sync$", status=502)
        with pytest.raises(KontentServerError) as err:
            await client.sync_page(token)
        assert err.value.attempts == 4
        secret_guard.record(err.value)
        with pytest.raises(KontentInvalidTokenError) as err:
            await client.sync_page("bogus-token")
        secret_guard.record(err.value)
    ctl.clear_faults()


async def test_async_client_side_filters_and_unreachable_host(prepared, secret_guard):
    ctl, env, cfg, token, expected = prepared
    async with AsyncKontentClient(cfg) as client:
        page = await client.sync_page(token, filters={"system.type[neq]": "article"})
    assert page.received == len(expected[0]) and page.skipped == 4
    assert [d.kind.value for d in page.deltas] == ["type"]
    secret_guard.watch(env["secure_key"])
    closed = cfg.replace(base_url=f"http://127.0.0.1:{closed_port()}", max_attempts=2)
    async with AsyncKontentClient(closed) as client:
        with pytest.raises(KontentConnectionError) as err:
            await client.sync_page(token)
    secret_guard.record(err.value)
    assert type(err.value.__cause__).__name__ == "ConnectError" and err.value.attempts == 2
    assert "ConnectError (Connection refused)" in str(err.value)


async def test_async_client_spends_the_shared_budget_without_blocking_the_loop(kontent_emulator):
    """The trigger's client waits on the environment's one limiter, asynchronously: concurrent polls
    are spaced by the budget, a 429 answered to it pauses the event loop's other work not at all but
    holds its own next request and a blocking client's of the same environment until Retry-After."""
    ctl = kontent_emulator.control
    env = ctl.create_environment()
    config = make_config(env, kontent_emulator.base_url, rate_limit_per_second=5, max_retry_after=5.0)
    with KontentClient(config) as blocking:
        token = blocking.init_sync()
        async with AsyncKontentClient(config) as client:
            assert client.rate_limiter is blocking.rate_limiter
            ctl.clear_requests()
            pages = await asyncio.gather(*(client.sync_page(token) for _ in range(6)))
            assert all(page.is_empty for page in pages) and client.stats.requests == 6
            arrivals = [r["time"] for r in ctl.requests(env["id"])]
            gaps = [b - a for a, b in itertools.pairwise(arrivals)]
            assert len(gaps) == 5 and min(gaps) > 0.15, gaps  # 5/s: one every 0.2 s, not all at once

            ticks = 0

            async def ticker() -> None:
                nonlocal ticks
                while True:
                    await asyncio.sleep(0.05)
                    ticks += 1

            async def answered_429() -> None:
                ctl.inject_fault("status", times=1, path=r"/sync$", status=429, retry_after=1)
                try:
                    await client._send_once(client.protocol.sync_request(token))  # one attempt
                finally:
                    ctl.clear_faults()

            await answered_429()
            running = asyncio.create_task(ticker())
            try:
                waited_before = client.stats.limiter_wait_seconds
                assert (await client.sync_page(token)).is_empty
            finally:
                running.cancel()
            assert client.stats.limiter_wait_seconds - waited_before >= 0.9
            assert ticks >= 10, "the event loop was blocked while the client waited"

            await answered_429()
            assert blocking.sync_page(token).is_empty
            assert blocking.stats.limiter_wait_seconds >= 0.9
            assert client.stats.throttled == 2 and blocking.rate_limiter.throttle_count == 2
