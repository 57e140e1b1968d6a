"""Injected faults: status, drop, cut_body, delay, not_json, no_continuation, repeat_token; matching and
counting."""

from __future__ import annotations

import json

import pytest
import requests


@pytest.mark.parametrize(
    ("status", "retry_after"), [(429, 7), (500, None), (502, None), (503, 3), (504, None), (408, None)]
)
def test_status_fault(driver, status, retry_after):
    token = driver.init()
    driver.control.inject_fault("status", status=status, retry_after=retry_after, path=r"/sync$")
    response = driver.get(token)
    assert response.status_code == status
    assert set(response.json()) == {"message", "request_id", "error_code", "specific_code"}
    if retry_after is not None:
        assert response.headers["Retry-After"] == str(retry_after)
    assert driver.get(token).status_code == 200  # times=1: the next request is normal again


def test_429_fault_without_retry_after_still_sends_an_integer(driver):
    driver.control.inject_fault("status", status=429)
    response = driver.session.post(driver.url("/sync/init"), timeout=10)
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) >= 1


def test_fault_times_and_matching(driver, make_driver):
    other = make_driver()
    driver.control.inject_fault("status", status=503, times=2, method="POST", env_id=driver.env_id)
    assert other.session.post(other.url("/sync/init"), timeout=10).status_code == 200  # other env
    token_response = driver.session.post(driver.url("/sync/init"), timeout=10)
    assert token_response.status_code == 503
    assert driver.control.faults()[0]["times"] == 1
    assert driver.session.post(driver.url("/sync/init"), timeout=10).status_code == 503
    assert driver.control.faults() == []
    assert driver.session.post(driver.url("/sync/init"), timeout=10).status_code == 200


def test_drop_closes_the_connection_without_a_response(driver):
    driver.control.inject_fault("drop", path="/sync/init")
    with pytest.raises(requests.ConnectionError):
        driver.session.post(driver.url("/sync/init"), timeout=10)
    assert driver.session.post(driver.url("/sync/init"), timeout=10).status_code == 200


def test_cut_body_sends_half_the_declared_body(driver):
    token = driver.init()
    driver.control.inject_fault("cut_body", path=r"/sync$")
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        driver.get(token)
    assert driver.get(token).status_code == 200


def test_delay_answers_normally_afterwards(driver):
    token = driver.init()
    driver.control.inject_fault("delay", delay=0.2)
    response = driver.get(token)
    assert response.status_code == 200
    assert response.headers["X-Continuation"]
    [entry] = [r for r in driver.control.requests(driver.env_id) if r["fault"] == "delay"]
    assert entry["status"] == 200


def test_delay_fault_can_trigger_a_client_timeout(driver):
    token = driver.init()
    driver.control.inject_fault("delay", delay=1.5)
    with pytest.raises(requests.Timeout):
        driver.session.get(driver.url("/sync"), headers={"X-Continuation": token}, timeout=0.3)


def test_not_json_keeps_headers_but_breaks_the_body(driver):
    token = driver.init()
    driver.control.inject_fault("not_json", path=r"/sync$")
    response = driver.get(token)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["X-Continuation"]
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.text)


def test_no_continuation_drops_only_the_token_header(driver):
    driver.control.inject_fault("no_continuation", path="/sync/init")
    response = driver.session.post(driver.url("/sync/init"), timeout=10)
    assert response.status_code == 200
    assert response.json() == {"items": [], "types": [], "languages": [], "taxonomies": []}
    assert "X-Continuation" not in response.headers


def test_repeat_token_answers_with_the_token_it_was_sent(driver):
    token = driver.init()
    driver.control.upsert_item(driver.env_id, "a", "article", "en-US", elements={"title": "A"})
    driver.control.inject_fault("repeat_token", times=2, path=r"/sync$")
    for _ in range(2):
        response = driver.get(token)
        assert response.status_code == 200 and len(response.json()["items"]) == 1
        assert response.headers["X-Continuation"] == token
    response = driver.get(token)  # the fault is used up: the token advances again
    assert len(response.json()["items"]) == 1 and response.headers["X-Continuation"] != token


def test_clear_faults(driver):
    driver.control.inject_fault("status", status=500, times=5)
    driver.control.clear_faults()
    assert driver.session.post(driver.url("/sync/init"), timeout=10).status_code == 200


def test_faults_never_hit_the_control_api(driver):
    driver.control.inject_fault("drop", times=3)
    assert driver.control.faults()[0]["times"] == 3


def test_stale_marks_responses_unless_the_client_waits_for_new_content(driver):
    driver.control.inject_fault("stale", times=2, path=r"/items$")
    url = driver.url("/items", version=1)
    marked = driver.session.get(url, timeout=10)
    assert marked.status_code == 200 and marked.headers["X-Stale-Content"] == "1"
    assert marked.json()["items"] == []
    waited = driver.session.get(url, headers={"X-KC-Wait-For-Loading-New-Content": "true"}, timeout=10)
    assert waited.status_code == 200 and "X-Stale-Content" not in waited.headers
    assert driver.control.faults() == []  # both uses consumed
    assert "X-Stale-Content" not in driver.session.get(url, timeout=10).headers
    assert [r["fault"] for r in driver.control.requests(driver.env_id)] == ["stale", "stale", None]
