"""Sync token TTL (``token_ttl_s``): a token older than the TTL is a 400 with error_code 107 (default: no
expiry); the emulator's clock (``advance_time``) ages tokens without sleeping."""

from __future__ import annotations

import time

from tests.emulator.conftest import SyncDriver, wait_until

EXPIRED = "has expired"


# -- token TTL ------------------------------------------------------------------------------------------------


def test_tokens_never_expire_by_default(driver: SyncDriver):
    assert driver.env["token_ttl_s"] is None
    token = driver.init()
    time.sleep(0.05)
    assert driver.get(token).status_code == 200


def test_expired_token_is_400_error_107_and_replayable_again_without_ttl(make_driver):
    driver = make_driver(token_ttl_s=3600, legacy_v1=True)
    assert driver.env["token_ttl_s"] == 3600
    token = driver.init()
    assert driver.get(token).status_code == 200  # well inside the TTL

    driver.control.update_environment(driver.env_id, token_ttl_s=0.001)
    preview_token, v1_token = driver.init(preview=True), driver.init(version=1)
    time.sleep(0.01)
    for response in (
        driver.get(token),
        driver.get(preview_token, preview=True),
        driver.get(v1_token, version=1),
    ):
        assert response.status_code == 400
        body = response.json()
        assert body["error_code"] == 107 and body["specific_code"] == 0 and EXPIRED in body["message"]
        assert set(body) == {"message", "request_id", "error_code", "specific_code"}

    # tokens are stateless: switching expiry off (0) makes the very same token valid again
    assert driver.control.update_environment(driver.env_id, token_ttl_s=0)["token_ttl_s"] is None
    assert driver.get(token).status_code == 200


def test_every_response_issues_a_token_with_a_fresh_lifetime(make_driver):
    driver = make_driver(token_ttl_s=3600)
    token = driver.init()
    time.sleep(0.05)
    _, fresh = driver.page(token)  # issued now
    driver.control.update_environment(driver.env_id, token_ttl_s=0.04)
    assert driver.get(token).status_code == 400  # issued > 0.04 s ago
    assert wait_until(lambda: driver.get(fresh).status_code == 400)  # ages out in turn


def test_the_emulator_clock_ages_tokens_without_sleeping(make_driver):
    driver = make_driver(token_ttl_s=60)
    token = driver.init()
    driver.control.advance_time(59)
    assert driver.get(token).status_code == 200
    driver.control.advance_time(2)
    response = driver.get(token)
    assert response.status_code == 400 and EXPIRED in response.json()["message"]
    assert driver.get(driver.init()).status_code == 200  # a new token is issued on the moved clock
