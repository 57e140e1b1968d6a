"""Continuation tokens: opaque, stateless, replayable; tampered or foreign ones are 400 / error 107."""

from __future__ import annotations

import base64
import json

import pytest
import requests

from airflow_provider_kontent.testing import KontentEmulator
from airflow_provider_kontent.testing.backend.seed_demo import DEMO_ENVIRONMENT_ID

MALFORMED = "The continuation token specified in the 'X-Continuation' request header is malformed."


def assert_malformed(response):
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert body["message"] == MALFORMED
    assert body["error_code"] == 107
    assert body["specific_code"] == 0
    assert len(body["request_id"]) == 16
    int(body["request_id"], 16)


def _flip_cursor(token: str) -> str:
    payload, _, signature = token.partition(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data["c"] = 0
    forged = base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    return f"{forged}.{signature}"


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t + "x",
        lambda t: t[:-3],
        lambda t: "garbage",
        lambda t: "ünïcødé.token",
        lambda t: t.replace(".", ""),
        _flip_cursor,
    ],
    ids=["appended", "truncated", "garbage", "non-ascii-free", "no-signature", "re-signed-payload"],
)
def test_tampered_or_garbage_tokens_are_malformed(driver, mangle):
    token = driver.init()
    try:
        response = driver.get(mangle(token))
    except UnicodeEncodeError:  # requests refuses non-latin-1 header values; send bytes instead
        response = driver.session.get(
            driver.url("/sync"), headers={"X-Continuation": mangle(token).encode("utf-8")}, timeout=10
        )
    assert_malformed(response)


def test_token_of_another_environment_is_malformed(make_driver):
    first, second = make_driver(), make_driver()
    assert_malformed(second.get(first.init()))


def test_token_of_the_other_host_is_malformed(make_driver):
    driver = make_driver()
    assert_malformed(driver.get(driver.init(), preview=True))
    assert_malformed(driver.get(driver.init(preview=True), preview=False))


def test_token_of_the_other_api_version_is_malformed(make_driver):
    driver = make_driver(legacy_v1=True)
    assert_malformed(driver.get(driver.init(version=1), version=2))
    assert_malformed(driver.get(driver.init(version=2), version=1))


@pytest.mark.parametrize("value", [None, ""])
def test_missing_continuation_header_is_400(driver, value):
    headers = {} if value is None else {"X-Continuation": value}
    response = driver.session.get(driver.url("/sync"), headers=headers, timeout=10)
    assert response.status_code == 400
    body = response.json()
    assert body["error_code"] == 107
    assert "missing" in body["message"]


def test_tokens_are_opaque_and_distinct(driver):
    tokens = {driver.init() for _ in range(5)}
    assert len(tokens) == 5
    assert not any(driver.env_id in token for token in tokens)


def test_any_earlier_token_can_be_replayed(driver):
    token = driver.init()
    driver.control.upsert_item(driver.env_id, "a", "article", "en-US")
    first = driver.deltas(token)
    again = driver.deltas(token)
    assert first == again
    assert len(first) == 1


def test_token_of_another_emulator_instance_is_malformed(kontent_emulator):
    """Both instances serve the demo environment under the same id, but a cursor only means something in
    the change log of the store that issued it; accepting it elsewhere would silently skip changes."""
    kontent_emulator.control.seed("demo")
    with KontentEmulator(seed="demo") as other, requests.Session() as session:
        assert other.demo_environment["id"] == DEMO_ENVIRONMENT_ID
        ours, theirs = (f"{emu.base_url}/v2/{DEMO_ENVIRONMENT_ID}/sync" for emu in (kontent_emulator, other))
        token = session.post(f"{ours}/init", timeout=10).headers["X-Continuation"]
        other.control.generate_changes(DEMO_ENVIRONMENT_ID, 2)
        assert_malformed(session.get(theirs, headers={"X-Continuation": token}, timeout=10))
        own = session.get(ours, headers={"X-Continuation": token}, timeout=10)
        assert own.status_code == 200 and own.headers["X-Continuation"]
        theirs_token = session.post(f"{theirs}/init", timeout=10).headers["X-Continuation"]
        assert_malformed(session.get(ours, headers={"X-Continuation": theirs_token}, timeout=10))
