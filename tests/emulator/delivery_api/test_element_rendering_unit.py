"""``delivery_api/element_rendering.py``: every element type in its Delivery shape, components, defaults."""

from __future__ import annotations

from airflow_provider_kontent.testing.delivery_api.element_rendering import (
    EMPTY_RICH_TEXT,
    component_codename,
    render_elements,
    render_item,
)
from tests.emulator.delivery_api.delivery_model import (
    COMPONENT_ID,
    NESTED_COMPONENT_ID,
    _stamp,
    get,
)

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
