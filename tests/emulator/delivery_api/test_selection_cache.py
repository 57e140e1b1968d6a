"""The Delivery selection cache (``backend/read_cache.py``): later feed pages reuse the first page's
selection, and no cached selection outlives a change."""

from __future__ import annotations

import requests

from tests.emulator.conftest import SyncDriver

# -- items-feed / items selection cache -----------------------------------------------------------------------


def _feed(emulator, env_id: str, headers=None) -> requests.Response:
    return requests.get(f"{emulator.base_url}/{env_id}/items-feed", headers=headers or {}, timeout=10)


def test_feed_pages_follow_changes_made_during_the_export(make_driver):
    driver = make_driver(feed_page_size=2)
    ctl, env = driver.control, driver.env_id
    ids = {c: ctl.upsert_item(env, c, "article", "en-US") for c in ("a", "b", "c", "d", "e")}
    cache = driver.emulator.store.selection_cache
    hits = cache.hits
    first = _feed(driver.emulator, env)
    assert [i["system"]["codename"] for i in first.json()["items"]] == ["a", "b"]
    token = first.headers["X-Continuation"]
    page_two = _feed(driver.emulator, env, {"X-Continuation": token})
    assert [i["system"]["codename"] for i in page_two.json()["items"]] == ["c", "d"]
    assert cache.hits == hits + 1  # page 2 reused page 1's selection
    ctl.delete_item(env, ids["c"])  # the cached selection must not outlive a change
    ctl.upsert_item(env, "f", "article", "en-US")
    second = _feed(driver.emulator, env, {"X-Continuation": token})
    assert [i["system"]["codename"] for i in second.json()["items"]] == ["d", "e"]
    last = _feed(driver.emulator, env, {"X-Continuation": second.headers["X-Continuation"]})
    assert [i["system"]["codename"] for i in last.json()["items"]] == ["f"]
    assert "X-Continuation" not in last.headers


def test_items_listing_sees_every_change_between_identical_requests(driver: SyncDriver):
    ctl, env = driver.control, driver.env_id
    url = f"{driver.emulator.base_url}/{env}/items"

    def titles() -> list[str]:
        body = driver.session.get(url, params={"order": "elements.title[desc]"}, timeout=10).json()
        return [i["elements"]["title"]["value"] for i in body["items"]]

    ctl.upsert_item(env, "x", "article", "en-US", elements={"title": "A"})
    assert titles() == ["A"]
    ctl.upsert_item(env, "y", "article", "en-US", elements={"title": "B"})
    assert titles() == ["B", "A"]
    ctl.upsert_item(env, "x", "article", "en-US", elements={"title": "C"})
    assert titles() == ["C", "B"]
    ctl.unpublish(env, "y", "en-US")
    assert titles() == ["C"]
