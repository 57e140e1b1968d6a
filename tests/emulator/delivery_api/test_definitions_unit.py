"""``delivery_api/definitions.py`` in-process: types, taxonomies, languages."""

from __future__ import annotations

from tests.emulator.delivery_api.delivery_model import (
    get,
)

# -- types, taxonomies, languages ----------------------------------------------------------------------------


def test_types_endpoints(env):
    status, body, _ = get(env, "/types", [("limit", "2")])
    assert status == 200
    assert [t["system"]["codename"] for t in body["types"]] == ["article", "author"]
    assert body["pagination"]["count"] == 2 and body["pagination"]["next_page"] != ""
    status, article, _ = get(env, "/types/article", [("elements", "tags,topics")])
    assert status == 200 and set(article["elements"]) == {"tags", "topics"}
    assert article["elements"]["tags"]["options"][0] == {"name": "Hot", "codename": "hot"}
    assert article["elements"]["topics"]["taxonomy_group"] == "topics"
    status, body, _ = get(env, "/types/missing")
    assert status == 404 and body["error_code"] == 101


def test_taxonomies_endpoints(env):
    status, body, _ = get(env, "/taxonomies")
    assert status == 200 and body["pagination"] == {"skip": 0, "limit": 0, "count": 1, "next_page": ""}
    status, group = get(env, "/taxonomies/topics")[:2]
    assert group["terms"] == [
        {
            "name": "Coffee",
            "codename": "coffee",
            "terms": [{"name": "Espresso", "codename": "espresso", "terms": []}],
        }
    ]
    status, body, _ = get(env, "/taxonomies/missing")
    assert status == 404 and body["error_code"] == 104


def test_languages_endpoint(env):
    _, body, _ = get(env, "/languages")
    assert [lang["system"]["codename"] for lang in body["languages"]] == ["cs", "de", "en-US"]  # fr inactive
    assert body["languages"][2]["system"] == {
        "id": "00000000-0000-0000-0000-000000000000",
        "name": "English",
        "codename": "en-US",
    }
    _, body, _ = get(
        env, "/languages", [("system.codename[in]", "de,en-US"), ("order", "system.codename[desc]")]
    )
    assert [lang["system"]["codename"] for lang in body["languages"]] == ["en-US", "de"]
    _, body, _ = get(env, "/languages", [("skip", "1"), ("limit", "1")])
    assert body["pagination"]["count"] == 1 and body["languages"][0]["system"]["codename"] == "de"
    assert get(env, "/languages", [("elements.x", "1")])[0] == 400
