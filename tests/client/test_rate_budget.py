"""One request budget per environment: shared by every client, paused and slowed by a 429."""

from __future__ import annotations

import uuid

from airflow_provider_kontent.client import KontentClient
from airflow_provider_kontent.client.ratelimit import RateLimiter, limiter_for
from tests.client.conftest import make_config


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_a_429_pauses_then_halves_the_rate_which_recovers_linearly():
    t = FakeTime()
    limiter = RateLimiter([(1.0, 10)], clock=t.clock, sleep=t.sleep, recovery_seconds=10.0)
    assert limiter.acquire() == 0.0
    assert round(limiter.acquire(), 6) == 0.1  # evenly spaced: 10/s
    limiter.throttled(2.0)  # Retry-After 2 s
    assert limiter.throttle_count == 1 and limiter.rate_factor == 0.5
    assert round(limiter.acquire(), 6) == 2.0  # nobody sends before Retry-After has passed
    assert round(limiter.acquire(), 6) == 0.2  # then at half the rate (5/s)...
    t.now += 2.5  # ...which grows back by 1/recovery_seconds per second
    assert round(limiter.rate_factor, 6) == 0.5 + (0.2 + 2.5) / 10
    t.now += 10
    assert limiter.rate_factor == 1.0
    limiter.acquire()
    assert round(limiter.acquire(), 6) == 0.1  # fully recovered
    for _ in range(10):
        limiter.throttled(None)  # repeated 429s: multiplicative decrease down to the floor
    assert limiter.rate_factor == limiter.min_factor


def test_requests_are_paced_by_the_shortest_window_even_when_a_longer_one_is_looser():
    """5/s with 1,800/min: one request every 0.2 s, not five at the per-minute pace and a pause."""
    t = FakeTime()
    limiter = RateLimiter([(60.0, 1800), (1.0, 5)], clock=t.clock, sleep=t.sleep)
    waits = [round(limiter.acquire(), 6) for _ in range(6)]
    assert waits == [0.0, 0.2, 0.2, 0.2, 0.2, 0.2]


def test_one_limiter_per_environment_and_budget():
    env = str(uuid.uuid4())
    windows = [(1.0, 90), (60.0, 1800)]
    assert limiter_for(env, windows) is limiter_for(env.upper(), windows)
    assert limiter_for(env, windows) is not limiter_for(str(uuid.uuid4()), windows)
    assert limiter_for(env, windows) is not limiter_for(env, [(1.0, 10), (60.0, 1800)])


def test_clients_of_one_environment_share_the_budget_and_honour_retry_after(kontent_emulator):
    """A 429 (Retry-After 1 s) answered to one client holds the next request of another client of
    the same environment until the second has passed; requests and waits are counted per client."""
    ctl = kontent_emulator.control
    env = ctl.create_environment()
    config = make_config(env, kontent_emulator.base_url, max_retry_after=5.0)
    with KontentClient(config) as first, KontentClient(config) as second:
        assert first.rate_limiter is second.rate_limiter
        token = first.init_sync()
        ctl.inject_fault("status", times=1, path=r"/sync$", status=429, retry_after=1)
        with_429 = first.protocol.sync_request(token)
        try:
            first._send_once(with_429)  # one attempt, answered 429
        finally:
            ctl.clear_faults()
        assert first.stats.throttled == 1 and first.rate_limiter.rate_factor < 1.0
        assert second.sync_page(token).is_empty
        assert second.stats.requests == 1 and second.stats.limiter_wait_seconds >= 0.9
        assert first.stats.to_dict()["requests"] == 2  # init + the throttled attempt
    statuses = [r["status"] for r in ctl.requests(env["id"]) if r["path"].endswith("/sync")]
    assert statuses == [429, 200]
