"""Items-feed paging is keyset-based: changes before the cursor never make an export skip or repeat an
item that did not change (Kontent.ai guarantees the feed enumerates every item). Real HTTP, plain requests."""

from __future__ import annotations

import base64
import json

import pytest
import requests

TIMEOUT = 10
PRICED = {"title": {"type": "text", "name": "Title"}, "price": {"type": "number", "name": "Price"}}


@pytest.fixture
def feed(kontent_emulator):
    """An environment with feed_page_size=2 and articles a-e (price: a=3, b=1, c=3, d=None, e=2)."""
    ctl = kontent_emulator.control
    env_id = ctl.create_environment(feed_page_size=2)["id"]
    ctl.upsert_type(env_id, "article", elements=PRICED)
    for codename, price in zip("abcde", (3, 1, 3, None, 2), strict=True):
        elements = {"title": codename.upper()} | ({} if price is None else {"price": price})
        ctl.upsert_item(env_id, codename, "article", "en-US", elements=elements)
    session = requests.Session()
    yield ctl, env_id, f"{kontent_emulator.base_url}/{env_id}", session
    session.close()


def _page(
    session: requests.Session, url: str, params: dict, token: str | None
) -> tuple[list[str], str | None]:
    headers = {"X-Continuation": token} if token else {}
    response = session.get(f"{url}/items-feed", params=params, headers=headers, timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    return [i["system"]["codename"] for i in response.json()["items"]], response.headers.get("X-Continuation")


def _rest(session: requests.Session, url: str, params: dict, token: str | None) -> list[str]:
    seen: list[str] = []
    for _ in range(50):
        codenames, token = _page(session, url, params, token)
        seen += codenames
        if not token:
            return seen
    raise AssertionError("the feed never ended")


def test_deleting_an_exported_item_does_not_skip_a_later_one(feed):
    ctl, env_id, url, session = feed
    first, token = _page(session, url, {}, None)
    assert first == ["a", "b"] and token
    ctl.delete_item(env_id, "a")
    assert first + _rest(session, url, {}, token) == ["a", "b", "c", "d", "e"]


def test_changes_before_and_after_the_cursor(feed):
    ctl, env_id, url, session = feed
    first, token = _page(session, url, {}, None)
    for codename in ("aa", "ab"):  # inserted before the cursor: not sent (the Sync API reports them)
        ctl.upsert_item(env_id, codename, "article", "en-US", elements={"title": "new"})
    ctl.delete_item(env_id, "b")  # the cursor's own item: the next page still starts right after it
    ctl.upsert_item(env_id, "a", "article", "en-US", elements={"title": "changed after export"})
    ctl.upsert_item(env_id, "cc", "article", "en-US", elements={"title": "inserted after the cursor"})
    ctl.delete_item(env_id, "d")  # not reached yet: never sent
    assert first + _rest(session, url, {}, token) == ["a", "b", "c", "cc", "e"]


def test_descending_order_with_ties_and_missing_values(feed):
    ctl, env_id, url, session = feed
    params = {"order": "elements.price[desc]"}
    listing = session.get(f"{url}/items", params=params, timeout=TIMEOUT).json()["items"]
    expected = [i["system"]["codename"] for i in listing]
    assert expected == ["a", "c", "e", "b", "d"]  # ties by codename, missing values last
    first, token = _page(session, url, params, None)
    ctl.delete_item(env_id, first[0])
    for codename, price in (("y", 8), ("z", 9)):  # sort before the cursor
        ctl.upsert_item(env_id, codename, "article", "en-US", elements={"title": "new", "price": price})
    assert first + _rest(session, url, params, token) == expected


def test_an_edited_cursor_is_rejected(feed):
    _, _, url, session = feed
    _, token = _page(session, url, {}, None)
    data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    data["k"][1] = "c"  # skip ahead, keeping the old checksum
    forged = base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    response = session.get(f"{url}/items-feed", headers={"X-Continuation": forged}, timeout=TIMEOUT)
    assert response.status_code == 400 and response.json()["error_code"] == 107
