"""Delivery content endpoints as pure functions of a hand-built model (no server needed).

``handle_delivery`` and ``render_elements`` only read the model, so these tests build an
``Environment`` directly and check every documented shape and query rule against it.
"""

from __future__ import annotations

import base64
import json
import uuid

import pytest

from airflow_provider_kontent.testing.backend.model import (
    ContentType,
    Environment,
    Item,
    Language,
    TaxonomyGroup,
    Variant,
    VariantVersion,
)
from airflow_provider_kontent.testing.delivery_api.element_rendering import (
    EMPTY_RICH_TEXT,
    component_codename,
    render_elements,
    render_item,
)
from airflow_provider_kontent.testing.delivery_api.router import handle_delivery

T0 = "2025-01-01T00:00:00.0000000Z"
COMPONENT_ID = "9c1f0e22-aaaa-01bb-cccc-0d0e0f101112"
NESTED_COMPONENT_ID = "9c1f0e22-aaaa-01bb-cccc-0d0e0f101113"


def _id(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))


def _stamp(n: int) -> str:
    return f"2025-02-{n % 28 + 1:02d}T10:00:00.0000000Z"


ARTICLE_ELEMENTS = {
    "title": {"type": "text", "name": "Title"},
    "body": {"type": "rich_text", "name": "Body"},
    "price": {"type": "number", "name": "Price"},
    "released": {"type": "date_time", "name": "Released"},
    "tags": {
        "type": "multiple_choice",
        "name": "Tags",
        "options": [{"name": "Hot", "codename": "hot"}, {"name": "New", "codename": "new"}],
    },
    "hero": {"type": "asset", "name": "Hero"},
    "author": {"type": "modular_content", "name": "Author"},
    "topics": {"type": "taxonomy", "name": "Topics", "taxonomy_group": "topics"},
    "slug": {"type": "url_slug", "name": "URL"},
    "markets": {"type": "custom", "name": "Markets"},
    "children": {"type": "subpages", "name": "Subpages"},
    "seo__title": {"type": "text", "name": "SEO title"},
}


def _version(name: str, elements: dict, step: str = "published", modified: str = T0) -> VariantVersion:
    return VariantVersion(name=name, elements=elements, last_modified=modified, workflow_step=step)


def _add(
    env: Environment,
    codename: str,
    type_codename: str,
    languages: dict[str, tuple[VariantVersion | None, VariantVersion | None]],
    is_component: bool = False,
    item_id: str | None = None,
) -> Item:
    item = Item(
        id=item_id or _id(codename),
        codename=codename,
        type_id=env.type_by_codename(type_codename).id,
        is_component=is_component,
    )
    for lang, (latest, published) in languages.items():
        item.variants[lang] = Variant(language=lang, latest=latest, published=published)
    env.items[item.id] = item
    return item


def _published(name: str, elements: dict, modified: str = T0):
    version = _version(name, elements, modified=modified)
    return version, version


def _draft(name: str, elements: dict):
    return _version(name, elements, step="draft"), None


def build_env() -> Environment:
    env = Environment(
        id=_id("env"),
        languages=[
            Language(id="00000000-0000-0000-0000-000000000000", codename="en-US", name="English"),
            Language(id=_id("de"), codename="de", name="German", fallback="en-US"),
            Language(id=_id("cs"), codename="cs", name="Czech", fallback="de"),
            Language(id=_id("fr"), codename="fr", name="French", fallback="en-US", active=False),
        ],
        feed_page_size=3,
    )
    for codename, elements in {
        "article": ARTICLE_ELEMENTS,
        "author": {"name": {"type": "text", "name": "Name"}, "slug": {"type": "url_slug", "name": "Slug"}},
        "quote": {"text": {"type": "text", "name": "Text"}, "note": {"type": "rich_text", "name": "Note"}},
    }.items():
        env.types[_id(codename)] = ContentType(_id(codename), codename, codename.title(), T0, dict(elements))
    env.taxonomies[_id("topics")] = TaxonomyGroup(
        _id("topics"),
        "topics",
        "Topics",
        T0,
        [{"name": "Coffee", "codename": "coffee", "terms": [{"name": "Espresso", "codename": "espresso"}]}],
    )
    ada = _add(env, "ada", "author", {"en-US": _published("Ada", {"name": "Ada", "slug": "ada"})})
    _add(
        env,
        "bob",
        "author",
        {
            "en-US": _published("Bob", {"name": "Bob", "slug": "bob"}),
            "de": _published("Bob DE", {"name": "Bob", "slug": "bob-de"}),
        },
    )
    _add(
        env,
        COMPONENT_ID,
        "quote",
        {
            "en-US": _published(
                COMPONENT_ID,
                {
                    "text": "Drink it black.",
                    "note": f'<object type="application/kenticocloud" data-type="item" data-rel="component" '
                    f'data-codename="{component_codename(NESTED_COMPONENT_ID)}"></object>',
                },
            )
        },
        is_component=True,
        item_id=COMPONENT_ID,
    )
    _add(
        env,
        NESTED_COMPONENT_ID,
        "quote",
        {"en-US": _published(NESTED_COMPONENT_ID, {"text": "Nested."})},
        is_component=True,
        item_id=NESTED_COMPONENT_ID,
    )
    body = (
        '<p>Intro <a data-item-id="' + ada.id + '" href="">Ada</a></p>'
        '<figure data-asset-id="a1" data-image-id="img1"><img src="https://x/cup.jpg" data-asset-id="a1" '
        'data-image-id="img1" alt="A cup"></figure>'
        f'<object type="application/kenticocloud" data-type="item" data-rel="component" '
        f'data-codename="{component_codename(COMPONENT_ID)}"></object>'
        '<object type="application/kenticocloud" data-type="item" data-rel="link" data-codename="bob"></object>'
    )
    full = {
        "title": "Coffee origins",
        "body": {"value": body, "images": {"img1": {"width": 800, "height": 600}}},
        "price": 12.5,
        "released": {"value": "2025-06-01T00:00:00Z", "display_timezone": "Europe/Prague"},
        "tags": ["new", "hot"],
        "hero": [
            {
                "name": "cup.jpg",
                "url": "https://x/cup.jpg",
                "size": 40213,
                "width": 800,
                "height": 600,
                "renditions": {
                    "default": {
                        "rendition_id": "r",
                        "preset_id": "p",
                        "width": 400,
                        "height": 300,
                        "query": "w=400",
                    }
                },
            }
        ],
        "author": ["ada", "bob"],
        "topics": ["espresso"],
        "slug": "coffee-origins",
        "markets": '["DE","US"]',
        "children": ["tea_basics"],
        "seo__title": "Coffee!",
    }
    _add(env, "coffee_origins", "article", {"en-US": _published("Coffee origins", full, modified=_stamp(1))})
    _add(
        env,
        "tea_basics",
        "article",
        {
            "en-US": _published(
                "Tea basics", {"title": "Tea", "price": 3, "tags": ["hot"], "author": ["bob"]}, _stamp(2)
            ),
            "de": _published(
                "Tee", {"title": "Tee", "price": 3, "tags": ["hot"], "author": ["bob"]}, _stamp(2)
            ),
        },
    )
    _add(env, "draft_only", "article", {"en-US": _draft("Draft", {"title": "Draft", "price": 99})})
    newer = _version("Water v2", {"title": "Water v2", "price": 1}, step="draft")
    old = _version("Water", {"title": "Water", "price": 1})
    _add(env, "water", "article", {"en-US": (newer, old)})
    _add(env, "czech_only", "article", {"cs": _published("Cesky", {"title": "Cesky", "price": 7})})
    return env


@pytest.fixture
def env() -> Environment:
    return build_env()


def get(env: Environment, path: str, query=(), headers=None, preview: bool = False):
    return handle_delivery(env, preview, path, list(query), headers or {})


def codenames(body: dict) -> list[str]:
    return [i["system"]["codename"] for i in body["items"]]


# -- element shapes -----------------------------------------------------------------------------------------


def test_every_element_type_renders_its_delivery_shape(env):
    status, body, headers = get(env, "/items/coffee_origins")
    assert status == 200
    item = body["item"]
    e = item["elements"]
    assert e["title"] == {"type": "text", "name": "Title", "value": "Coffee origins"}
    assert e["price"] == {"type": "number", "name": "Price", "value": 12.5}
    assert e["released"] == {
        "type": "date_time",
        "name": "Released",
        "value": "2025-06-01T00:00:00Z",
        "display_timezone": "Europe/Prague",
    }
    # options come in type order, not selection order
    assert e["tags"]["value"] == [{"name": "Hot", "codename": "hot"}, {"name": "New", "codename": "new"}]
    asset = e["hero"]["value"][0]
    assert asset["type"] == "image/jpeg" and asset["description"] is None and asset["size"] == 40213
    assert asset["renditions"]["default"]["width"] == 400
    assert (asset["width"], asset["height"]) == (800, 600)
    assert e["author"] == {"type": "modular_content", "name": "Author", "value": ["ada", "bob"]}
    assert e["topics"] == {
        "type": "taxonomy",
        "name": "Topics",
        "taxonomy_group": "topics",
        "value": [{"name": "Espresso", "codename": "espresso"}],
    }
    assert e["slug"] == {"type": "url_slug", "name": "URL", "value": "coffee-origins"}
    assert e["markets"] == {"type": "custom", "name": "Markets", "value": '["DE","US"]'}
    assert e["children"] == {"type": "subpages", "name": "Subpages", "value": ["tea_basics"]}
    assert e["seo__title"]["value"] == "Coffee!"
    body_el = e["body"]
    cn = component_codename(COMPONENT_ID)
    assert body_el["modular_content"] == [cn, "bob"]
    assert body_el["images"] == {
        "img1": {
            "image_id": "img1",
            "description": "A cup",
            "url": "https://x/cup.jpg",
            "width": 800,
            "height": 600,
        }
    }
    ada_id = env.item_by_codename("ada").id
    assert body_el["links"] == {ada_id: {"codename": "ada", "type": "author", "url_slug": "ada"}}
    assert f'data-codename="{cn}"' in body_el["value"]
    assert headers["X-Request-Charge"] == str(1 + len(body["modular_content"]))


def test_system_of_items_and_components(env):
    _, body, _ = get(env, "/items/coffee_origins")
    system = body["item"]["system"]
    assert system == {
        "id": env.item_by_codename("coffee_origins").id,
        "name": "Coffee origins",
        "codename": "coffee_origins",
        "language": "en-US",
        "type": "article",
        "collection": "default",
        "sitemap_locations": [],
        "last_modified": _stamp(1),
        "workflow": "default",
        "workflow_step": "published",
    }
    component = body["modular_content"][component_codename(COMPONENT_ID)]
    assert component["system"]["name"] == COMPONENT_ID
    assert component["system"]["type"] == "quote"
    assert "workflow" not in component["system"] and "workflow_step" not in component["system"]
    # nested components come along regardless of depth
    assert component_codename(NESTED_COMPONENT_ID) in body["modular_content"]


def test_empty_values_render_their_documented_defaults(env):
    item = env.item_by_codename("draft_only")
    version = item.variants["en-US"].latest
    elements = render_elements(env, item, version, "en-US")
    assert elements["body"]["value"] == EMPTY_RICH_TEXT
    assert elements["body"]["images"] == {} and elements["body"]["links"] == {}
    assert elements["title"]["value"] == "Draft"
    assert elements["released"] == {
        "type": "date_time",
        "name": "Released",
        "value": None,
        "display_timezone": None,
    }
    assert elements["tags"]["value"] == [] and elements["hero"]["value"] == []
    assert elements["slug"]["value"] == "" and elements["markets"]["value"] is None
    rendered = render_item(env, item, version, "en-US")
    assert rendered["system"]["workflow_step"] == "draft"


def test_inline_components_in_rich_text(env):
    cid = "11111111-2222-3333-4444-555555555555"
    article = env.item_by_codename("tea_basics")
    version = article.variants["en-US"].published
    version.elements["body"] = {
        "value": f'<object type="application/kenticocloud" data-type="item" data-rel="component" '
        f'data-codename="{component_codename(cid)}"></object>',
        "components": {cid: {"type": "quote", "elements": {"text": "Inline"}}},
    }
    _, body, _ = get(env, "/items/tea_basics", [("depth", "0")])
    component = body["modular_content"][component_codename(cid)]
    assert component["elements"]["text"]["value"] == "Inline"
    assert component["system"]["id"] == cid and "workflow" not in component["system"]


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
