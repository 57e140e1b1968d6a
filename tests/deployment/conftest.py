"""The deployment tests need the machine's PostgreSQL (metadata database) and, for Celery, Redis.

Like the transfer tests: skipped with the reason where a server is unreachable (a laptop without
them still passes ``make test``), failed under ``CI=true``, where they must run.
"""

from __future__ import annotations

import socket

import pytest

from tests.deployment.harness import PG_HOST, PG_PORT, REDIS_HOST, REDIS_PORT
from tests.transfers.conftest import server_unavailable


def _unreachable(host: str, port: int) -> str | None:
    try:
        with socket.create_connection((host, int(port)), timeout=3):
            return None
    except OSError as err:
        return f"{host}:{port}: {err}"


@pytest.fixture(autouse=True, scope="module")
def _servers_reachable(request: pytest.FixtureRequest) -> None:
    needed = [("PostgreSQL", PG_HOST, PG_PORT, "PostgreSQL on 127.0.0.1:5432")]
    if "celery" in request.module.__name__:
        needed.append(("Redis", REDIS_HOST, REDIS_PORT, "Redis on 127.0.0.1:6379"))
    for server, host, port, setting in needed:
        reason = _unreachable(host, port)
        if reason:
            server_unavailable(server, reason, setting)
