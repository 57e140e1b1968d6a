"""Shared helpers for client tests: fast retry settings and a guard that no API key leaks.

The ``secret_guard`` fixture captures every log record (DEBUG, every logger including urllib3) and
collects exception texts the test hands to it; at teardown it asserts that none of the keys it was
told about appears anywhere.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

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
