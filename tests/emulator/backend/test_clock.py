"""``backend/clock.py``: Kontent-style change stamps, the deterministic count the demo seed uses, and the
emulator's movable time."""

from __future__ import annotations

import re

from airflow_provider_kontent.testing import EmulatorStore
from airflow_provider_kontent.testing.backend.clock import EmulatorTime, KontentClock

STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{7}Z$")


def test_stamps_are_strictly_increasing_and_kontent_shaped():
    clock = KontentClock()
    stamps = [clock.now() for _ in range(1000)]
    assert all(STAMP.match(s) for s in stamps)
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)


def test_counting_is_deterministic_and_ends_with_the_block():
    clock = KontentClock()
    with clock.counting_from("2025-03-01T08:00:00Z"):
        counted = [clock.now(), clock.now()]
    assert counted == ["2025-03-01T08:00:01.0000001Z", "2025-03-01T08:00:02.0000002Z"]
    assert clock.now() > "2026"  # real time again (the store's clock is never swapped out)


def test_advancing_time_moves_stamps_and_monotonic_time_forward():
    time = EmulatorTime()
    clock = KontentClock(time)
    before, monotonic = clock.now(), time.monotonic()
    assert time.advance(86_400) == 86_400
    assert clock.now()[:10] > before[:10] and time.monotonic() - monotonic >= 86_400
    time.reset()
    assert time.offset == 0


def test_the_demo_seed_is_built_on_the_store_clock_not_a_replacement():
    store = EmulatorStore()
    clock = store.clock
    env = store.seed()
    assert store.clock is clock
    with store.read():
        stamps = sorted(
            v.latest.last_modified
            for i in store.get_env(env["id"]).items.values()
            for v in i.variants.values()
        )
    assert stamps[0].startswith("2025-03-01T08:")
