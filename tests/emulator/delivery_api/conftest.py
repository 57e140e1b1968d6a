"""The ``env`` fixture: a fresh hand-built Delivery model per test (see ``delivery_model.py``)."""

from __future__ import annotations

import pytest

from airflow_provider_kontent.testing.backend.model import Environment
from tests.emulator.delivery_api.delivery_model import build_env


@pytest.fixture
def env() -> Environment:
    return build_env()
