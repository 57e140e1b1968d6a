"""A hand-built Delivery model for the in-process endpoint tests (``handle_delivery`` is a pure function of
one environment and one request, so these tests need no server)."""

from __future__ import annotations

import uuid

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
    component_codename,
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


def get(env: Environment, path: str, query=(), headers=None, preview: bool = False):
    return handle_delivery(env, preview, path, list(query), headers or {})


def codenames(body: dict) -> list[str]:
    return [i["system"]["codename"] for i in body["items"]]
