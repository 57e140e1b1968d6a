"""``delivery_api/feed.py`` in-process: pages, continuation tokens, filters and projection."""

from __future__ import annotations

import base64
import json

from airflow_provider_kontent.testing.delivery_api.element_rendering import (
    component_codename,
)
from tests.emulator.delivery_api.delivery_model import (
    COMPONENT_ID,
    NESTED_COMPONENT_ID,
    codenames,
    get,
)

# -- items-feed ----------------------------------------------------------------------------------------------


def test_items_feed_pages_until_no_continuation(env):
    query = [("depth", "5"), ("limit", "1")]  # ignored on the feed
    seen: list[str] = []
    token = ""  # an empty header means page 1
    pages = 0
    while True:
        status, body, headers = get(env, "/items-feed", query, headers={"X-Continuation": token})
        assert status == 200 and "pagination" not in body
        pages += 1
        seen.extend(codenames(body))
        for entry in body["modular_content"].values():
            assert "workflow" not in entry["system"]  # components only
        token = headers.get("X-Continuation")
        if token is None:
            break
        assert len(body["items"]) == 3
    assert pages == 2  # 5 published en-US items, feed_page_size 3
    _, listing, _ = get(env, "/items")
    assert seen == codenames(listing)


def test_items_feed_rejects_garbage_and_foreign_tokens(env):
    status, body, _ = get(env, "/items-feed", headers={"X-Continuation": "garbage!!"})
    assert status == 400 and body["error_code"] == 107
    forged = base64.urlsafe_b64encode(json.dumps({"o": 3, "c": "0" * 16}).encode()).decode()
    assert get(env, "/items-feed", headers={"X-Continuation": forged})[0] == 400
    _, _, headers = get(env, "/items-feed")
    other_query = [("system.type", "article")]
    assert (
        get(env, "/items-feed", other_query, headers={"X-Continuation": headers["X-Continuation"]})[0] == 400
    )


def test_items_feed_filters_language_and_projection(env):
    query = [("language", "de"), ("system.language", "de"), ("elements", "title")]
    _, body, headers = get(env, "/items-feed", query)
    assert codenames(body) == ["bob", "tea_basics"] and "X-Continuation" not in headers
    assert set(body["items"][1]["elements"]) == {"title"}
    _, body, _ = get(env, "/items-feed", [("system.codename", "coffee_origins")])
    # linked items are not included, components are
    assert set(body["modular_content"]) == {
        component_codename(COMPONENT_ID),
        component_codename(NESTED_COMPONENT_ID),
    }
