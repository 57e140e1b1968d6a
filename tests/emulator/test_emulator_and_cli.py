"""Ways to run the emulator: context manager (no thread/port left behind), CLI, keep-alive, request log, rate limit."""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import threading

import pytest
import requests

from airflow_provider_kontent.testing import KontentEmulator
from airflow_provider_kontent.testing.backend.throttle import RequestThrottle


def _our_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("kontent-emulator")]


def test_context_manager_leaves_no_thread_or_port_behind():
    before = set(_our_threads())
    with KontentEmulator() as emu:
        port = emu.port
        session = requests.Session()  # keep-alive connection still open when the emulator stops
        assert session.get(f"{emu.base_url}/_emulator/health", timeout=10).json() == {
            "result": {"status": "ok"}
        }
        assert emu.preview_url == f"http://127.0.0.1:{port}/preview"
        assert emu.demo_environment is None
    assert set(_our_threads()) - before == set()  # older threads (other tests' connections) may end meanwhile
    with socket.socket() as probe:  # the port is free again
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))
    session.close()


def test_keep_alive_serves_many_requests_on_one_connection(driver):
    connection = http.client.HTTPConnection("127.0.0.1", driver.emulator.port, timeout=10)
    try:
        path = f"/v2/{driver.env_id}/sync/init"
        for _ in range(3):
            connection.request("POST", path)
            response = connection.getresponse()
            assert response.status == 200
            assert response.getheader("Connection") != "close"
            response.read()
        assert connection.sock is not None  # never reconnected
    finally:
        connection.close()


def test_request_log_redacts_authorization(make_driver):
    driver = make_driver(secure_access=True)
    token = driver.init()
    driver.get(token)
    driver.session.get(
        driver.url("/items", version=1), params={"system.type": "article"}, headers=driver.auth(False)
    )
    log = driver.control.requests(driver.env_id)
    assert [(r["method"], r["path"]) for r in log[:2]] == [
        ("POST", f"/v2/{driver.env_id}/sync/init"),
        ("GET", f"/v2/{driver.env_id}/sync"),
    ]
    assert log[1]["headers"]["X-Continuation"] == token
    assert log[2]["query"] == {"system.type": "article"}
    for entry in log:
        assert entry["headers"]["Authorization"] == "Bearer ***"
        assert isinstance(entry["time"], float)
        assert entry["status"] in (200, 404)
    assert driver.env["secure_key"] not in repr(log)
    driver.control.clear_requests()
    assert driver.control.requests() == []


def test_request_log_records_the_response_headers_sent(driver):
    """The log keeps each response's API headers as sent, so a test can compare a stored token with the
    ``X-Continuation`` Kontent actually answered (faults that change headers change the record too)."""
    token = driver.init()
    response = driver.get(token)
    driver.control.inject_fault("no_continuation", path=r"/sync$")
    without = driver.get(token)
    driver.control.inject_fault("status", status=429, retry_after=3, path=r"/sync$")
    limited = driver.get(token)
    driver.control.inject_fault("drop", path=r"/sync$")
    with pytest.raises(requests.ConnectionError):
        driver.get(token)
    log = driver.control.requests(driver.env_id)
    assert [r["status"] for r in log] == [200, 200, 200, 429, None]
    assert log[0]["response_headers"] == {"X-Continuation": token}
    assert log[1]["response_headers"]["X-Continuation"] == response.headers["X-Continuation"] != token
    assert "X-Continuation" not in without.headers and "X-Continuation" not in log[2]["response_headers"]
    assert (
        log[3]["response_headers"] == {"Retry-After": limited.headers["Retry-After"]} == {"Retry-After": "3"}
    )
    assert log[4]["response_headers"] is None  # dropped: no response at all


def test_request_log_filters_by_environment(make_driver):
    first, second = make_driver(), make_driver()
    first.init()
    second.init(preview=True)
    assert [r["host"] for r in second.control.requests(second.env_id)] == ["preview"]
    assert len(second.control.requests()) == 2


def test_rate_limit_per_environment_shared_by_hosts(make_driver):
    driver, other = make_driver(), make_driver()
    driver.control.set_rate_limit(env_id=driver.env_id, per_second=100, per_minute=3)
    statuses = [driver.session.post(driver.url("/sync/init", preview), timeout=10, headers=driver.auth(preview))
                for preview in (False, True, False, True)]  # fmt: skip
    assert [r.status_code for r in statuses[:3]] == [200, 200, 200]
    limited = statuses[3]
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
    assert set(limited.json()) == {"message", "request_id", "error_code", "specific_code"}
    assert all(other.session.post(other.url("/sync/init"), timeout=10).status_code == 200 for _ in range(5))


def test_request_throttle_windows_with_a_fixed_clock():
    limiter = RequestThrottle(enabled=True)
    limiter.default.per_second, limiter.default.per_minute = 2, 3
    assert limiter.check("env", now=100.0) is None
    assert limiter.check("env", now=100.1) is None
    assert limiter.check("env", now=100.2) == 1  # 3rd within one second; rejected ones are not counted
    assert limiter.check("env", now=101.5) is None
    assert limiter.check("env", now=103.0) == 57  # 3 in the minute; the oldest leaves at 160.0
    assert limiter.check("env", now=160.5) is None
    assert limiter.check("other", now=100.2) is None


def test_rate_limit_per_minute_and_global_switch(make_driver):
    driver = make_driver()
    driver.control.set_rate_limit(per_second=100, per_minute=2)
    codes = [driver.session.post(driver.url("/sync/init"), timeout=10).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    driver.control.set_rate_limit(enabled=False)
    assert driver.session.post(driver.url("/sync/init"), timeout=10).status_code == 200


def test_rate_limit_off_by_default(driver):
    assert all(
        driver.session.post(driver.url("/sync/init"), timeout=10).status_code == 200 for _ in range(120)
    )


def test_emulator_constructed_with_rate_limit():
    with KontentEmulator(rate_limit=True) as emu:
        env = emu.control.create_environment()
        assert emu.store.throttle.config_for(env["id"]).enabled
        assert emu.store.throttle.config_for(env["id"]).per_second == 100


def test_cli_prints_urls_serves_and_stops():
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_kontent.testing.cli", "--port", "0", "--seed", "demo"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        lines = [process.stdout.readline() for _ in range(4)]
        base = re.search(r"(http://127\.0\.0\.1:\d+)\s*$", lines[0]).group(1)
        assert lines[1].split()[-1] == f"{base}/preview"
        assert lines[2].split()[-1] == f"{base}/_emulator/"
        demo_id = lines[3].split()[-1]
        assert requests.get(f"{base}/{demo_id}/items", params={"limit": "1"}, timeout=10).status_code == 200
        assert requests.get(f"{base}/_emulator/health", timeout=10).status_code == 200
        env = requests.post(f"{base}/_emulator/create_environment", json={}, timeout=10).json()["result"]
        assert requests.post(f"{base}/v2/{env['id']}/sync/init", timeout=10).status_code == 200
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
        assert "stopped" in process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()


def test_a_request_is_in_the_log_as_soon_as_its_response_arrived(driver):
    """Logged before the response is written, so 'clear, call, count' never races the server thread."""
    driver.control.inject_fault("status", times=10, status=503, path=r"/sync$")
    for index in range(40):
        driver.control.clear_requests()
        response = driver.get("any-token") if index % 2 else driver.session.post(driver.url("/sync/init"))
        assert response.status_code in (200, 400, 503)  # 400: the token, once the faults are used up
        assert [r["status"] for r in driver.control.requests(driver.env_id)] == [response.status_code]
