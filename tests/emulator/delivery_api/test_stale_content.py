"""Delivery lagging Sync (``stale_content_s``): after a change reached Sync, CDN reads still get the older
content marked ``X-Stale-Content: 1``; reads with ``X-KC-Wait-For-Loading-New-Content: true`` get the new
one. The emulator's clock (``advance_time``) moves through delay and window without sleeping."""

from __future__ import annotations

import pytest

WAIT = {"X-KC-Wait-For-Loading-New-Content": "true"}


def _item(driver, codename: str, headers=None, preview: bool = False):
    return driver.session.get(
        driver.url(f"/items/{codename}", preview, version=1),
        headers={**driver.auth(preview), **(headers or {})},
        timeout=10,
    )


@pytest.fixture
def lagging(make_driver):
    driver = make_driver()
    driver.control.upsert_item(driver.env_id, "doc", "article", "en-US", elements={"title": "Old"})
    driver.control.update_environment(driver.env_id, propagation_delay_s=5, stale_content_s=60)
    return driver


def _title(response) -> str:
    return response.json()["item"]["elements"]["title"]["value"]


def test_default_is_no_stale_window(driver):
    assert driver.env["stale_content_s"] == 0
    driver.control.upsert_item(driver.env_id, "doc", "article", "en-US", elements={"title": "Now"})
    response = _item(driver, "doc")
    assert _title(response) == "Now" and "X-Stale-Content" not in response.headers


def test_sync_delta_arrives_while_the_cdn_still_serves_the_older_content(lagging):
    ctl, env = lagging.control, lagging.env_id
    token = lagging.init()
    ctl.upsert_item(env, "doc", "article", "en-US", elements={"title": "New"})

    ctl.advance_time(2)  # 2 s after the change: still being processed
    assert lagging.deltas(token) == []
    old = _item(lagging, "doc", WAIT)
    assert _title(old) == "Old" and "X-Stale-Content" not in old.headers
    assert ctl.get_environment(env)["pending_changes"] == 1

    ctl.advance_time(4)  # 6 s: Sync reports it, the CDN has not refreshed
    assert [d["data"]["system"]["codename"] for d in lagging.deltas(token)] == ["doc"]
    stale = _item(lagging, "doc")
    assert _title(stale) == "Old" and stale.headers["X-Stale-Content"] == "1"
    fresh = _item(lagging, "doc", WAIT)
    assert _title(fresh) == "New" and "X-Stale-Content" not in fresh.headers
    environment = ctl.get_environment(env)
    assert (environment["pending_changes"], environment["stale_changes"]) == (0, 1)

    ctl.advance_time(60)  # past the window
    after = _item(lagging, "doc")
    assert _title(after) == "New" and "X-Stale-Content" not in after.headers
    assert ctl.get_environment(env)["stale_changes"] == 0


def test_listings_and_preview_are_stale_too_and_propagate_ends_the_window(lagging):
    ctl, env = lagging.control, lagging.env_id
    ctl.upsert_item(env, "doc", "article", "en-US", elements={"title": "New"}, publish=False)
    ctl.advance_time(6)
    listing = lagging.session.get(
        lagging.url("/items", preview=True, version=1), headers=lagging.auth(True), timeout=10
    )
    assert listing.headers["X-Stale-Content"] == "1"
    assert [i["elements"]["title"]["value"] for i in listing.json()["items"]] == ["Old"]
    assert _title(_item(lagging, "doc", WAIT, preview=True)) == "New"
    assert ctl.propagate(env) == 1
    assert _title(_item(lagging, "doc", preview=True)) == "New"


def test_errors_are_not_marked_stale(lagging):
    lagging.control.upsert_item(lagging.env_id, "doc", "article", "en-US", elements={"title": "New"})
    lagging.control.advance_time(6)
    missing = _item(lagging, "nope")
    assert missing.status_code == 404 and "X-Stale-Content" not in missing.headers


def test_advance_time_only_moves_forward(emulator):
    assert emulator.control.advance_time(1.5) == 1.5
    assert emulator.control.advance_time(1) == 2.5
    with pytest.raises(Exception) as info:
        emulator.control.advance_time(-1)
    assert info.value.field == "seconds"
    emulator.control.reset()
    assert emulator.control.advance_time(0) == 0
