"""``delivery_api/items.py`` and ``selection.py`` in-process: filters, order, paging, languages, visibility,
depth, components, projection, the response cap."""

from __future__ import annotations

import pytest

from airflow_provider_kontent.testing.backend.model import Item, Variant
from airflow_provider_kontent.testing.delivery_api.element_rendering import (
    EMPTY_RICH_TEXT,
    component_codename,
)
from tests.emulator.delivery_api.delivery_model import (
    COMPONENT_ID,
    NESTED_COMPONENT_ID,
    _id,
    _version,
    codenames,
    get,
)

# -- filters ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ([("system.type", "author")], ["ada", "bob"]),
        ([("system.codename[eq]", "water")], ["water"]),
        ([("system.codename[neq]", "water"), ("system.type", "article")], ["coffee_origins", "tea_basics"]),
        ([("elements.price[lt]", "3")], ["water"]),
        ([("elements.price[lte]", "3")], ["tea_basics", "water"]),
        ([("elements.price[gt]", "3")], ["coffee_origins"]),
        ([("elements.price[gte]", "3")], ["coffee_origins", "tea_basics"]),
        ([("elements.price[range]", "2,12.5")], ["coffee_origins", "tea_basics"]),
        ([("system.codename[in]", "ada,water,nope")], ["ada", "water"]),
        (
            [("system.type", "article"), ("system.codename[nin]", "ada,water")],
            ["coffee_origins", "tea_basics"],
        ),
        ([("elements.tags[contains]", "new")], ["coffee_origins"]),
        ([("elements.tags[any]", "new,hot")], ["coffee_origins", "tea_basics"]),
        ([("elements.tags[all]", "new,hot")], ["coffee_origins"]),
        ([("elements.author[contains]", "bob")], ["coffee_origins", "tea_basics"]),
        ([("elements.children[contains]", "tea_basics")], ["coffee_origins"]),
        ([("elements.topics[any]", "espresso")], ["coffee_origins"]),
        ([("elements.markets[contains]", "DE")], ["coffee_origins"]),
        ([("system.type", "article"), ("elements.hero[empty]", "")], ["tea_basics", "water"]),
        ([("elements.hero[nempty]", "")], ["coffee_origins"]),
        ([("system.type", "article"), ("elements.body[eq]", EMPTY_RICH_TEXT)], ["tea_basics", "water"]),
        ([("system.last_modified[range]", "2025-02-02,2025-02-04")], ["coffee_origins", "tea_basics"]),
        ([("system.last_modified[gte]", "2025-02-03")], ["tea_basics"]),
        ([("system.name", "Tea basics")], ["tea_basics"]),
        ([("system.id", _id("ada"))], ["ada"]),
        ([("system.collection", "default"), ("system.type", "author")], ["ada", "bob"]),
        (
            [
                ("system.workflow", "default"),
                ("system.workflow_step", "published"),
                ("system.type", "author"),
            ],
            ["ada", "bob"],
        ),
        ([("system.language", "en-US"), ("system.type", "author")], ["ada", "bob"]),
        ([("system.type", "nothing")], []),
    ],
)
def test_filter_operators(env, query, expected):
    status, body, _ = get(env, "/items", query)
    assert status == 200
    assert codenames(body) == expected


@pytest.mark.parametrize(
    "query",
    [
        [("system.type[like]", "x")],
        [("system.codename[contains]", "x")],
        [("elements.price[range]", "1")],
        [("elements.price[gt]", "abc")],
        [("elements.hero[contains]", "cup.jpg")],
        [("system.sitemap_locations", "x")],
        [("order", "system.codename[up]")],
        [("depth", "-1")],
        [("limit", "many")],
    ],
)
def test_invalid_queries_are_400(env, query):
    status, body, _ = get(env, "/items", query)
    assert status == 400
    assert set(body) == {"message", "request_id", "error_code", "specific_code"}


def test_order_skip_limit_and_pagination(env):
    query = [
        ("system.type", "article"),
        ("order", "elements.price[desc]"),
        ("limit", "2"),
        ("includeTotalCount", "true"),
    ]
    status, body, _ = get(env, "/items", query, headers={"Host": "127.0.0.1:9"})
    assert codenames(body) == ["coffee_origins", "tea_basics"]
    assert body["pagination"]["skip"] == 0 and body["pagination"]["limit"] == 2
    assert body["pagination"]["count"] == 2 and body["pagination"]["total_count"] == 3
    assert body["pagination"]["next_page"].startswith(f"http://127.0.0.1:9/{env.id}/items?")
    assert "skip=2" in body["pagination"]["next_page"]
    _, last, _ = get(env, "/items", [*query, ("skip", "2")])
    assert codenames(last) == ["water"]
    assert last["pagination"]["next_page"] == "" and last["pagination"]["count"] == 1

    _, plain, _ = get(env, "/items", [("system.type", "author")])
    assert plain["pagination"] == {"skip": 0, "limit": 0, "count": 2, "next_page": ""}  # no total_count
    _, ordered, _ = get(env, "/items", [("system.type", "article"), ("order", "system.name[asc]")])
    assert codenames(ordered) == ["coffee_origins", "tea_basics", "water"]
    _, desc, _ = get(env, "/items", [("order", "system.codename[desc]"), ("system.type", "author")])
    assert codenames(desc) == ["bob", "ada"]


# -- languages and visibility -------------------------------------------------------------------------------


def test_language_fallbacks_and_served_language(env):
    _, body, _ = get(env, "/items", [("language", "de"), ("system.type", "article")])
    served = {i["system"]["codename"]: i["system"]["language"] for i in body["items"]}
    assert served == {"coffee_origins": "en-US", "tea_basics": "de", "water": "en-US"}
    assert body["items"][1]["system"]["name"] == "Tee"
    # cs falls back to de, then en-US; czech_only is only in cs
    _, cs, _ = get(env, "/items", [("language", "cs"), ("system.type", "article")])
    served = {i["system"]["codename"]: i["system"]["language"] for i in cs["items"]}
    assert served == {"coffee_origins": "en-US", "czech_only": "cs", "tea_basics": "de", "water": "en-US"}
    # system.language turns fallbacks off
    _, only_de, _ = get(env, "/items", [("language", "de"), ("system.language", "de")])
    assert codenames(only_de) == ["bob", "tea_basics"]
    # default language does not see cs-only content
    _, default, _ = get(env, "/items", [("system.type", "article")])
    assert "czech_only" not in codenames(default)
    # inactive languages serve nothing of their own: fr falls back to en-US
    _, fr, _ = get(env, "/items/coffee_origins", [("language", "fr")])
    assert fr["item"]["system"]["language"] == "en-US"


def test_untranslated_linked_items_and_links_are_omitted_under_fallbacks(env):
    _, body, _ = get(env, "/items/coffee_origins", [("language", "de")])
    assert body["item"]["system"]["language"] == "en-US"
    mc = body["modular_content"]
    assert "bob" in mc and mc["bob"]["system"]["language"] == "de"
    assert "ada" not in mc  # ada is not translated to de
    assert body["item"]["elements"]["author"]["value"] == ["ada", "bob"]  # codenames stay
    assert body["item"]["elements"]["body"]["links"] == {}  # link target ada unavailable in de
    assert env.item_by_codename("ada").id in body["item"]["elements"]["body"]["value"]


def test_opt_in_linked_content_fallbacks(env):
    env.linked_content_fallbacks = True
    _, body, _ = get(env, "/items/coffee_origins", [("language", "de")])
    assert body["modular_content"]["ada"]["system"]["language"] == "en-US"
    assert body["modular_content"]["bob"]["system"]["language"] == "de"
    ada_id = env.item_by_codename("ada").id
    assert body["item"]["elements"]["body"]["links"][ada_id]["codename"] == "ada"


def test_preview_sees_drafts_and_latest_versions(env):
    _, prod, _ = get(env, "/items", [("system.type", "article")])
    assert "draft_only" not in codenames(prod)
    water = next(i for i in prod["items"] if i["system"]["codename"] == "water")
    assert water["system"]["name"] == "Water"
    _, preview, _ = get(env, "/items", [("system.type", "article")], preview=True)
    assert "draft_only" in codenames(preview)
    water = next(i for i in preview["items"] if i["system"]["codename"] == "water")
    assert water["system"]["name"] == "Water v2" and water["system"]["workflow_step"] == "draft"
    assert get(env, "/items/draft_only")[0] == 404
    assert get(env, "/items/draft_only", preview=True)[0] == 200


def test_unpublished_variant_disappears_from_production(env):
    variant = env.item_by_codename("tea_basics").variants["de"]
    variant.published = None
    _, body, _ = get(env, "/items/tea_basics", [("language", "de")])
    assert body["item"]["system"]["language"] == "en-US"
    _, preview, _ = get(env, "/items/tea_basics", [("language", "de")], preview=True)
    assert preview["item"]["system"]["language"] == "de"


# -- depth, components, projection ---------------------------------------------------------------------------


def test_depth_controls_linked_items_but_not_components(env):
    cn = component_codename(COMPONENT_ID)
    _, d0, _ = get(env, "/items/coffee_origins", [("depth", "0")])
    assert set(d0["modular_content"]) == {cn, component_codename(NESTED_COMPONENT_ID)}
    _, d1, _ = get(env, "/items/coffee_origins")
    assert {"ada", "bob", "tea_basics"} <= set(d1["modular_content"])
    # tea_basics links bob; at depth 1 from tea_basics only; via list both appear
    _, lst, _ = get(env, "/items", [("system.type", "article"), ("depth", "1")])
    assert "tea_basics" in codenames(lst) and "tea_basics" in lst["modular_content"]


def test_depth_two_follows_links_of_linked_items(env):
    env.item_by_codename("ada").variants["en-US"].published.elements["name"] = "Ada"
    # make tea_basics link water, reachable from coffee_origins only at depth 2
    env.item_by_codename("tea_basics").variants["en-US"].published.elements["author"] = ["water"]
    _, d1, _ = get(env, "/items/coffee_origins", [("depth", "1")])
    assert "water" not in d1["modular_content"]
    _, d2, _ = get(env, "/items/coffee_origins", [("depth", "2")])
    assert "water" in d2["modular_content"]


def test_projection_applies_to_items_and_linked_items_not_components(env):
    _, body, _ = get(env, "/items/coffee_origins", [("elements", "title,body,author")])
    assert set(body["item"]["elements"]) == {"title", "body", "author"}
    assert body["modular_content"]["bob"]["elements"] == {}  # linked items are projected too
    assert "tea_basics" not in body["modular_content"]  # only linked through the projected-out subpages
    component = body["modular_content"][component_codename(COMPONENT_ID)]
    assert set(component["elements"]) == {"text", "note"}
    _, excluded, _ = get(env, "/items/coffee_origins", [("excludeElements", "body,price")])
    assert "body" not in excluded["item"]["elements"] and "price" not in excluded["item"]["elements"]
    assert component_codename(COMPONENT_ID) not in excluded["modular_content"]  # its rich text is gone
    _, none, _ = get(env, "/items/coffee_origins", [("elements", "nope")])
    assert none["item"]["elements"] == {}


def test_item_404_and_unknown_route(env):
    status, body, _ = get(env, "/items/missing")
    assert status == 404 and body["error_code"] == 100
    status, body, _ = get(env, "/nothing")
    assert status == 404 and body["error_code"] == 1
    status, body, _ = get(env, "/items/a/b")
    assert status == 404 and body["error_code"] == 1
    # components are not addressable as items
    assert get(env, f"/items/{COMPONENT_ID}")[0] == 404


def test_response_cap_of_2000_items(env):
    author = env.type_by_codename("author")
    for n in range(2001):
        item = Item(id=_id(f"bulk{n}"), codename=f"bulk_{n:04d}", type_id=author.id)
        version = _version(f"Bulk {n}", {"name": "x"})
        item.variants["en-US"] = Variant("en-US", version, version)
        env.items[item.id] = item
    status, body, _ = get(env, "/items", [("system.type", "author")])
    assert status == 400 and body["error_code"] == 6
    status, body, headers = get(env, "/items", [("system.type", "author"), ("limit", "2000")])
    assert status == 200 and body["pagination"]["count"] == 2000
    assert headers["X-Request-Charge"] == "2000"
