"""The ``demo`` seed: a small, realistic, deterministic coffee-shop environment.

Docs, the example DAGs and the demo tests show its ids and keys verbatim, so everything is fixed: the
environment id and keys are constants, every other id is a uuid5 of a name, and timestamps come from a
fixed base time (the store's clock counts one second per change from it while the seed runs).

What it holds: content types that together use every element type (including a content type snippet
flattened to ``metadata__*`` keys), rich text with images, item links, inline components and inserted
items, two component types, three active languages (en-US default, de -> en-US, cs -> de) plus an
inactive one, nested taxonomy terms, and 300 item variants: most published, some only in en-US (so de
and cs fall back), some drafts (preview only), some with a newer draft over a published version, and
one archived variant.
"""

from __future__ import annotations

import uuid
from typing import Any

from airflow_provider_kontent.testing.backend.model import component_codename
from airflow_provider_kontent.testing.backend.seed_demo_data import (
    ARTICLE_ANGLES,
    ARTICLE_COUNT,
    ARTICLE_SUBJECTS,
    AUTHOR_COUNT,
    CATEGORY_PAGES,
    CONTENT_TYPES,
    FIRST_NAMES,
    LAST_NAMES,
    LEAF_TOPICS,
    PRODUCT_CATEGORY_TERMS,
    PRODUCT_COUNT,
    TOPIC_TERMS,
)

DEMO_ENVIRONMENT_ID = "0f5b6e9a-1c2d-4e3f-8a9b-0c1d2e3f4a5b"
DEMO_SECURE_KEY = "demo-secure-key-0f5b6e9a-not-a-real-secret"
DEMO_PREVIEW_KEY = "demo-preview-key-0f5b6e9a-not-a-real-secret"
DEMO_BASE_TIME = "2025-03-01T08:00:00Z"
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://kontent-emulator.invalid/demo")
_ASSET_HOST = "https://assets-us-01.kc-usercontent.com"
_OBJECT = '<object type="application/kenticocloud" data-type="item" data-rel="{rel}" data-codename="{codename}"></object>'


def demo_id(kind: str, name: str) -> str:
    """The fixed id of a demo object (``kind`` keeps e.g. an item and an asset of the same name apart)."""
    return str(uuid.uuid5(_NAMESPACE, f"{kind}/{name}"))


def _asset(name: str, width: int, height: int, description: str | None = None) -> dict[str, Any]:
    asset_id = demo_id("asset", name)
    return {
        "name": name,
        "description": description,
        "type": "image/jpeg",
        "size": 1000 + width * height // 20,
        "url": f"{_ASSET_HOST}/{DEMO_ENVIRONMENT_ID}/{asset_id}/{name}",
        "width": width,
        "height": height,
        "renditions": {
            "default": {
                "rendition_id": demo_id("rendition", name),
                "preset_id": demo_id("preset", "default"),
                "width": width // 2,
                "height": height // 2,
                "query": f"w={width // 2}&h={height // 2}&fit=clip&rect=0,0,{width},{height}",
            }
        },
    }


def _figure(asset: dict[str, Any]) -> str:
    asset_id = asset["url"].split("/")[-2]
    image_id = demo_id("image", asset["name"])
    return (
        f'<figure data-asset-id="{asset_id}" data-image-id="{image_id}"><img src="{asset["url"]}" '
        f'data-asset-id="{asset_id}" data-image-id="{image_id}" alt="{asset["description"] or ""}"></figure>'
    )


def _images(asset: dict[str, Any]) -> dict[str, Any]:
    return {demo_id("image", asset["name"]): {"width": asset["width"], "height": asset["height"]}}


def _component(owner: str, language: str, index: int, type_codename: str, elements: dict[str, Any]):
    component_id = demo_id("component", f"{owner}/{language}/{index}")
    return component_id, component_codename(component_id), {"type": type_codename, "elements": elements}


def _stamp(day: int, hour: int = 9) -> str:
    return f"2024-{day // 28 % 12 + 1:02d}-{day % 28 + 1:02d}T{hour:02d}:30:00Z"


class _DemoBuilder:
    def __init__(self, store: Any) -> None:
        self.store = store
        self.env_id = DEMO_ENVIRONMENT_ID
        self.variants = 0

    def item(
        self, codename: str, type_codename: str, language: str, name: str, elements: dict, **kwargs: Any
    ) -> str:
        self.variants += 1
        return self.store.upsert_item(
            self.env_id,
            codename,
            type_codename,
            language,
            elements=elements,
            name=name,
            id=demo_id("item", codename),
            **kwargs,
        )

    # -- model -------------------------------------------------------------------------------------
    def model(self) -> None:
        self.store.upsert_taxonomy(
            self.env_id, "topics", name="Topics", terms=TOPIC_TERMS, id=demo_id("taxonomy", "topics")
        )
        self.store.upsert_taxonomy(
            self.env_id,
            "product_categories",
            name="Product categories",
            terms=PRODUCT_CATEGORY_TERMS,
            id=demo_id("taxonomy", "product_categories"),
        )
        for codename, (name, elements) in CONTENT_TYPES.items():
            self.store.upsert_type(
                self.env_id, codename, name=name, elements=elements, id=demo_id("type", codename)
            )

    # -- content -------------------------------------------------------------------------------------
    def authors(self) -> None:
        for n in range(AUTHOR_COUNT):
            full = f"{FIRST_NAMES[n]} {LAST_NAMES[n]}"
            codename = full.lower().replace(" ", "_")
            photo = _asset(f"{codename}.jpg", 600, 600, full)
            for language, bio in (("en-US", "writes about"), ("de", "schreibt über")):
                topic = LEAF_TOPICS[n % len(LEAF_TOPICS)]
                self.item(
                    codename,
                    "author",
                    language,
                    full,
                    {
                        "name": full,
                        "slug": codename.replace("_", "-"),
                        "bio": f"<p>{full} {bio} {topic.replace('_', ' ')}.</p>",
                        "photo": [photo],
                        "expertise": [topic],
                        "social_links": f'{{"mastodon": "@{codename}@example.social"}}',
                    },
                )

    def author_codename(self, n: int) -> str:
        return f"{FIRST_NAMES[n % AUTHOR_COUNT]}_{LAST_NAMES[n % AUTHOR_COUNT]}".lower()

    def articles(self) -> None:
        for n in range(ARTICLE_COUNT):
            subject = ARTICLE_SUBJECTS[n % len(ARTICLE_SUBJECTS)]
            angle = ARTICLE_ANGLES[n % len(ARTICLE_ANGLES)]
            title = f"{angle} {subject} #{n + 1}"
            codename = f"article_{n + 1:03d}"
            languages = ["en-US"]
            if n % 2 == 0:
                languages.append("de")
            if n % 10 == 0:
                languages.append("cs")
            for language in languages:
                self.article_variant(n, codename, title, language)

    def article_variant(self, n: int, codename: str, title: str, language: str) -> None:
        author = self.author_codename(n)
        related = [f"article_{(n + 1) % ARTICLE_COUNT + 1:03d}", f"article_{(n + 7) % ARTICLE_COUNT + 1:03d}"]
        hero = _asset(f"hero_{n % 12}.jpg", 1600, 900, "Hero image")
        local_title = title if language == "en-US" else f"{title} ({language})"
        quote_id, quote_cn, quote = _component(
            codename, language, 0, "quote", {"text": "Drink it while it is hot.", "attribution": author}
        )
        components = {quote_id: quote}
        body = [
            f"<p>{local_title}: an introduction.</p>",
            _figure(hero),
            f'<p>Written by <a data-item-id="{demo_id("item", author)}" href="">our author</a>; '
            f'see also <a data-item-id="{demo_id("item", related[0])}" href="">the next article</a>.</p>',
            _OBJECT.format(rel="component", codename=quote_cn),
            _OBJECT.format(rel="link", codename=related[1]),
        ]
        if n % 3 == 0:
            cta_id, cta_cn, cta = _component(
                codename,
                language,
                1,
                "call_to_action",
                {"label": "Shop now", "target_url": "https://shop.example/", "style": ["primary"]},
            )
            components[cta_id] = cta
            body.append(_OBJECT.format(rel="component", codename=cta_cn))
        tags = [["featured", "news"], ["how_to"], ["recipe", "how_to"], ["opinion"], []][n % 5]
        elements = {
            "title": local_title,
            "slug": codename.replace("_", "-"),
            "summary": f"{local_title} in five minutes.",
            "body": {"value": "".join(body), "components": components, "images": _images(hero)},
            "published_at": {
                "value": _stamp(n),
                "display_timezone": "Europe/Berlin" if n % 2 else "America/New_York",
            },
            "reading_time": 3 + n % 12,
            "tags": tags,
            "topics": [LEAF_TOPICS[n % len(LEAF_TOPICS)]] + (["coffee"] if n % 4 == 0 else []),
            "author": [author],
            "related_articles": related,
            "hero_image": [hero],
            "metadata__meta_title": local_title,
            "metadata__meta_description": f"Read about {ARTICLE_SUBJECTS[n % len(ARTICLE_SUBJECTS)]}.",
        }
        if language == "en-US" and n % 20 == 19:
            # never published: preview only, in review
            self.item(
                codename, "article", language, local_title, elements, publish=False, workflow_step="review"
            )
            return
        if language == "de" and n % 8 == 4:
            self.item(
                codename, "article", language, local_title, elements, publish=False
            )  # German draft only
            return
        self.item(codename, "article", language, local_title, elements)
        if language == "en-US" and n % 25 == 5:
            # a newer draft over the published version: preview and production differ
            self.store.upsert_item(
                self.env_id,
                codename,
                "article",
                language,
                elements={"title": f"{local_title} (updated)"},
                name=f"{local_title} (updated)",
                publish=False,
            )

    def products(self) -> None:
        availability = [["in_stock"], ["in_stock"], ["preorder"], ["in_stock"], ["discontinued"]]
        for n in range(PRODUCT_COUNT):
            category = PRODUCT_CATEGORY_TERMS[n % 3]["codename"]
            name = f"{category.title()} No. {n + 1}"
            codename = f"product_{n + 1:03d}"
            image = _asset(f"{codename}.jpg", 800, 800, name)
            for language in ("en-US", "de") if n % 2 == 0 else ("en-US",):
                local_name = name if language == "en-US" else f"{name} (DE)"
                self.item(
                    codename,
                    "product",
                    language,
                    local_name,
                    {
                        "name": local_name,
                        "slug": codename.replace("_", "-"),
                        "sku": f"SKU-{n + 1:05d}",
                        "price": round(4.5 + n * 3.25, 2),
                        "description": f'<p>{local_name}.</p><p><a data-item-id="{demo_id("item", "article_001")}" '
                        'href="">How we choose</a></p>'
                        if n % 4 == 0
                        else "",
                        "images": [image],
                        "categories": [category],
                        "availability": availability[n % len(availability)],
                        "released": _stamp(n * 5, hour=12),
                        "markets": '["DE","US"]' if n % 2 == 0 else '["US"]',
                        "metadata__meta_title": local_name,
                        "metadata__meta_description": f"Buy {local_name}.",
                    },
                )
            if n == PRODUCT_COUNT - 1:
                self.store.archive(self.env_id, demo_id("item", codename), "en-US")

    def category_pages(self) -> None:
        children: dict[str, list[str]] = {}
        for codename, _, _, parent in CATEGORY_PAGES:
            if parent:
                children.setdefault(parent, []).append(codename)
        for index, (codename, title, topic, _) in enumerate(CATEGORY_PAGES):
            languages = ("en-US", "de", "cs") if index < 4 else ("en-US", "de")
            for language in languages:
                local_title = title if language == "en-US" else f"{title} ({language})"
                cta_id, cta_cn, cta = _component(
                    codename,
                    language,
                    0,
                    "call_to_action",
                    {"label": "Subscribe", "target_url": "https://example.com/news", "style": ["secondary"]},
                )
                featured = [f"article_{(index * 11 + k * 3) % ARTICLE_COUNT + 1:03d}" for k in range(4)]
                self.item(
                    codename,
                    "category_page",
                    language,
                    local_title,
                    {
                        "title": local_title,
                        "slug": "" if codename == "home" else codename.replace("_", "-"),
                        "intro": {
                            "value": f"<p>{local_title}</p>"
                            + _OBJECT.format(rel="component", codename=cta_cn),
                            "components": {cta_id: cta},
                        },
                        "topic": [topic] if topic else [],
                        "featured_articles": featured,
                        "subpages": children.get(codename, []),
                        "metadata__meta_title": local_title,
                        "metadata__meta_description": f"{local_title} overview",
                    },
                )


def build_demo(store: Any) -> dict[str, Any]:
    """Create the demo environment in ``store`` (an ``EmulatorStore``) and return its environment dict.

    The dict is the store's environment dict plus ``summary`` (item and variant counts) so callers can
    check what they got without listing everything.
    """
    with store.lock:
        with store.clock.counting_from(DEMO_BASE_TIME):
            store.create_environment(
                environment_id=DEMO_ENVIRONMENT_ID,
                secure_access=False,
                secure_key=DEMO_SECURE_KEY,
                preview_key=DEMO_PREVIEW_KEY,
                languages=[
                    {
                        "codename": "en-US",
                        "name": "English (United States)",
                        "id": "00000000-0000-0000-0000-000000000000",
                    },
                    {
                        "codename": "de",
                        "name": "German",
                        "fallback": "en-US",
                        "id": demo_id("language", "de"),
                    },
                    {"codename": "cs", "name": "Czech", "fallback": "de", "id": demo_id("language", "cs")},
                    {
                        "codename": "es",
                        "name": "Spanish",
                        "fallback": "en-US",
                        "active": False,
                        "id": demo_id("language", "es"),
                    },
                ],
                page_size=100,
                feed_page_size=100,
            )
            builder = _DemoBuilder(store)
            builder.model()
            builder.authors()
            builder.articles()
            builder.products()
            builder.category_pages()
        env = store.get_environment(DEMO_ENVIRONMENT_ID)
        env["summary"] = {
            "items": len(store.get_env(DEMO_ENVIRONMENT_ID).items),
            "variants": builder.variants,
            "content_types": sorted(CONTENT_TYPES),
        }
        return env
