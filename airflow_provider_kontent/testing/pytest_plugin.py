"""pytest plugin (entry point ``pytest11``): ``kontent_emulator`` and ``kontent_env`` fixtures.

One emulator per test session (cheap to reset, slow-ish to start many of); each test gets it reset to the
state right after start, so tests never see each other's environments, faults or request logs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_kontent.testing.emulator import KontentEmulator


@pytest.fixture(scope="session")
def kontent_emulator_session() -> Iterator[KontentEmulator]:
    """The session's running emulator (not reset; prefer ``kontent_emulator``)."""
    with KontentEmulator() as emulator:
        yield emulator


@pytest.fixture
def kontent_emulator(kontent_emulator_session: KontentEmulator) -> KontentEmulator:
    """A running emulator, reset before the test."""
    kontent_emulator_session.reset()
    return kontent_emulator_session


@pytest.fixture
def kontent_env(kontent_emulator: KontentEmulator) -> dict[str, Any]:
    """A fresh environment (public, en-US only, default page sizes) on the reset emulator."""
    return kontent_emulator.control.create_environment()
