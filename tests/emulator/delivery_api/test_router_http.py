"""Delivery content endpoints over real HTTP: content written through the control API, read back with
``requests`` from the production and preview hosts."""

from __future__ import annotations

from urllib.parse import quote

import pytest
import requests

TIMEOUT = 10

ARTICLE = {
    "title": {"type": "text", "name": "Title"},
    "body": {"type": "rich_text", "name": "Body"},
    "price": {"type": "number", "name": "Price"},
    "tags": {"type": "multiple_choice", "name": "Tags", "options": [{"name": "Hot", "codename": "hot"}]},
    "author": {"type": "modular_content", "name": "Author"},
    "slug": {"type": "url_slug", "name": "Slug"},
}


@pytest.fixture
def site(kontent_emulator):
    """An environment (en-US + de -> en-US) with three articles and an author, plus request helpers."""
    ctl = kontent_emulator.control
    env = ctl.create_environment(
        languages=[
            {"codename": "en-US", "name": "English"},
            {"codename": "de", "name": "German", "fallback": "en-US"},
        ],
        feed_page_size=2,
    )
    env_id = env["id"]
    ctl.upsert_type(env_id, "author", elements={"name": {"type": "text", "name": "Name"}})
    ctl.upsert_type(env_id, "article", elements=ARTICLE)
    ctl.upsert_item(env_id, "ada", "author", "en-US", elements={"name": "Ada"})
    for n, codename in enumerate(["alpha", "beta", "gamma"]):
        ctl.upsert_item(
            env_id,
            codename,
            "article",
            "en-US",
            elements={
                "title": codename.title(),
                "price": n * 10,
                "tags": ["hot"] if n else [],
                "author": ["ada"],
            },
        )
    ctl.upsert_item(
        env_id, "beta", "article", "de", elements={"title": "Beta DE", "price": 10, "author": ["ada"]}
    )

    class Site:
        id = env_id
        control = ctl

        @staticmethod
        def get(path: str, params=None, preview: bool = False, headers=None) -> requests.Response:
            base = kontent_emulator.preview_url if preview else kontent_emulator.base_url
            all_headers = dict(headers or {})
            if preview:
                all_headers["Authorization"] = f"Bearer {env['preview_key']}"
            return requests.get(f"{base}/{env_id}{path}", params=params, headers=all_headers, timeout=TIMEOUT)

        @staticmethod
        def raw(path_and_query: str) -> requests.Response:
            return requests.get(f"{kontent_emulator.base_url}/{env_id}{path_and_query}", timeout=TIMEOUT)

    return Site


def _codenames(response: requests.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["system"]["codename"] for item in response.json()["items"]]


def test_list_items_with_encoded_and_raw_filters(site):
    assert _codenames(site.get("/items", {"system.type[in]": "article", "elements.price[gte]": "10"})) == [
        "beta",
        "gamma",
    ]
    assert _codenames(site.raw("/items?system.codename[in]=alpha,gamma")) == ["alpha", "gamma"]
    encoded = "/items?" + quote("system.codename[in]", safe="") + "=" + quote("alpha,beta", safe="")
    assert _codenames(site.raw(encoded)) == ["alpha", "beta"]
    assert _codenames(
        site.get("/items", {"elements.tags[contains]": "hot", "order": "elements.price[desc]"})
    ) == [
        "gamma",
        "beta",
    ]
    response = site.get("/items", {"system.type[between]": "x"})
    assert response.status_code == 400 and response.json()["error_code"] == 2


def test_pagination_next_page_is_followable(site):
    response = site.get("/items", {"system.type": "article", "limit": "2", "includeTotalCount": "true"})
    body = response.json()
    assert body["pagination"]["count"] == 2 and body["pagination"]["total_count"] == 3
    assert response.headers["X-Request-Charge"] == str(2 + len(body["modular_content"]))
    follow = requests.get(body["pagination"]["next_page"], timeout=TIMEOUT)
    assert _codenames(follow) == ["gamma"]
    assert follow.json()["pagination"]["next_page"] == ""


def test_language_fallback_over_http(site):
    body = site.get("/items", {"language": "de", "system.type": "article"}).json()
    assert {i["system"]["codename"]: i["system"]["language"] for i in body["items"]} == {
        "alpha": "en-US",
        "beta": "de",
        "gamma": "en-US",
    }
    assert "ada" not in body["modular_content"]  # the author is not translated to de
    assert _codenames(site.get("/items", {"language": "de", "system.language": "de"})) == ["beta"]


def test_preview_versus_production_visibility(site):
    ctl = site.control
    draft_id = ctl.upsert_item(
        site.id, "delta", "article", "en-US", elements={"title": "Delta"}, publish=False
    )
    assert site.get("/items/delta").status_code == 404
    assert site.get("/items/delta", preview=True).json()["item"]["system"]["workflow_step"] == "draft"
    ctl.publish(site.id, draft_id, "en-US")
    assert site.get("/items/delta").status_code == 200
    ctl.unpublish(site.id, draft_id, "en-US")
    gone = site.get("/items/delta")
    assert gone.status_code == 404 and gone.json()["error_code"] == 100
    assert site.get("/items/delta", preview=True).status_code == 200


def test_single_item_depth_and_projection(site):
    body = site.get("/items/alpha", {"depth": "0"}).json()
    assert body["modular_content"] == {} and body["item"]["elements"]["author"]["value"] == ["ada"]
    body = site.get("/items/alpha", {"elements": "title,author"}).json()
    assert set(body["item"]["elements"]) == {"title", "author"}
    assert body["modular_content"]["ada"]["elements"] == {}  # projection applies to linked items too
    assert body["item"]["elements"]["title"]["value"] == "Alpha"


def test_items_feed_over_http(site):
    seen: list[str] = []
    headers: dict[str, str] = {}
    pages = 0
    while True:
        response = site.get("/items-feed", {"system.type": "article"}, headers=headers)
        assert response.status_code == 200 and "pagination" not in response.json()
        seen += _codenames(response)
        pages += 1
        token = response.headers.get("X-Continuation")
        if not token:
            break
        headers = {"X-Continuation": token}
    assert (pages, seen) == (2, ["alpha", "beta", "gamma"])
    bad = site.get("/items-feed", {"system.type": "article"}, headers={"X-Continuation": "not-a-token"})
    assert bad.status_code == 400 and bad.json()["error_code"] == 107


def test_types_taxonomies_languages_over_http(site):
    site.control.upsert_taxonomy(site.id, "topics", terms=[{"name": "Tea", "codename": "tea"}])
    types = site.get("/types").json()
    assert [t["system"]["codename"] for t in types["types"]] == ["article", "author"]
    assert site.get("/types/article").json()["elements"]["tags"]["options"] == [
        {"name": "Hot", "codename": "hot"}
    ]
    assert site.get("/types/nope").json()["error_code"] == 101
    assert site.get("/taxonomies/topics").json()["terms"] == [{"name": "Tea", "codename": "tea", "terms": []}]
    assert site.get("/taxonomies/nope").status_code == 404
    assert [lang["system"]["codename"] for lang in site.get("/languages").json()["languages"]] == [
        "de",
        "en-US",
    ]
    site.control.upsert_language(site.id, "de", active=False)
    assert [lang["system"]["codename"] for lang in site.get("/languages").json()["languages"]] == ["en-US"]
    unknown = site.get("/nothing-here")
    assert unknown.status_code == 404 and unknown.json()["error_code"] == 1
