"""Helpers for emulator tests: a thin raw-HTTP sync driver (plain requests, never our client)."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
import requests

from airflow_provider_kontent.testing import KontentEmulator

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{7}Z$")
ARTICLE_ELEMENTS = {"title": {"type": "text", "name": "Title"}, "body": {"type": "rich_text", "name": "Body"}}


def wait_until(condition, timeout: float = 10.0):
    """Poll ``condition`` until it returns something truthy (no timing assertion, just a bound)."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.02)


class SyncDriver:
    """Raw Sync API calls for one environment on one emulator."""

    def __init__(self, emulator: KontentEmulator, env: dict[str, Any]) -> None:
        self.emulator = emulator
        self.env = env
        self.env_id = env["id"]
        self.control = emulator.control
        self.session = requests.Session()

    def url(self, path: str, preview: bool = False, version: int = 2) -> str:
        base = self.emulator.preview_url if preview else self.emulator.base_url
        prefix = "/v2" if version == 2 else ""
        return f"{base}{prefix}/{self.env_id}{path}"

    def auth(self, preview: bool) -> dict[str, str]:
        if preview:
            return {"Authorization": f"Bearer {self.env['preview_key']}"}
        if self.env["secure_access"]:
            return {"Authorization": f"Bearer {self.env['secure_key']}"}
        return {}

    def init(self, version: int = 2, preview: bool = False, params: Any = None) -> str:
        response = self.session.post(
            self.url("/sync/init", preview, version), params=params, headers=self.auth(preview), timeout=10
        )
        assert response.status_code == 200, response.text
        return response.headers["X-Continuation"]

    def get(self, token: str | None, version: int = 2, preview: bool = False) -> requests.Response:
        headers = self.auth(preview)
        if token is not None:
            headers["X-Continuation"] = token
        return self.session.get(self.url("/sync", preview, version), headers=headers, timeout=10)

    def page(self, token: str, version: int = 2, preview: bool = False) -> tuple[dict[str, Any], str]:
        response = self.get(token, version, preview)
        assert response.status_code == 200, response.text
        return response.json(), response.headers["X-Continuation"]

    def drain(self, token: str, version: int = 2, preview: bool = False) -> tuple[list[dict[str, Any]], str]:
        """All non-empty pages until an empty one; returns (pages, final token)."""
        pages = []
        for _ in range(10_000):
            body, token = self.page(token, version, preview)
            if not any(body.values()):
                return pages, token
            pages.append(body)
        raise AssertionError("sync never reached an empty page")

    def deltas(self, token: str, array: str = "items", version: int = 2, preview: bool = False) -> list[dict]:
        pages, _ = self.drain(token, version, preview)
        return [delta for page in pages for delta in page.get(array, [])]


@pytest.fixture
def emulator(kontent_emulator: KontentEmulator) -> KontentEmulator:
    return kontent_emulator


@pytest.fixture
def make_driver(emulator: KontentEmulator):
    """Create an environment (kwargs for create_environment) with an ``article`` type; return a driver."""

    def factory(**settings: Any) -> SyncDriver:
        env = emulator.control.create_environment(**settings)
        emulator.control.upsert_type(env["id"], "article", name="Article", elements=ARTICLE_ELEMENTS)
        return SyncDriver(emulator, env)

    return factory


@pytest.fixture
def driver(make_driver) -> SyncDriver:
    return make_driver()
