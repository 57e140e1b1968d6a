"""The demo seed's fixed content: the coffee-shop content model, taxonomies and the names it draws from.

Kept apart from ``seed_demo.py`` (which builds the environment from it) so the data reads as data.
"""

from __future__ import annotations

from typing import Any

AUTHOR_COUNT = 10
ARTICLE_COUNT = 140
PRODUCT_COUNT = 40
CATEGORY_PAGES = (
    # codename, title, topic term, parent page
    ("home", "Home", None, None),
    ("coffee", "Coffee", "coffee", "home"),
    ("tea", "Tea", "tea", "home"),
    ("equipment", "Equipment", "equipment", "home"),
    ("espresso_corner", "Espresso corner", "espresso", "coffee"),
    ("tea_rooms", "Tea rooms", "green_tea", "tea"),
)
TOPIC_TERMS = [
    {
        "name": "Coffee",
        "codename": "coffee",
        "terms": [
            {"name": "Espresso", "codename": "espresso"},
            {"name": "Filter coffee", "codename": "filter_coffee"},
            {"name": "Cold brew", "codename": "cold_brew"},
        ],
    },
    {
        "name": "Tea",
        "codename": "tea",
        "terms": [
            {"name": "Green tea", "codename": "green_tea"},
            {"name": "Black tea", "codename": "black_tea"},
            {"name": "Herbal tea", "codename": "herbal_tea"},
        ],
    },
    {
        "name": "Equipment",
        "codename": "equipment",
        "terms": [
            {"name": "Grinders", "codename": "grinders"},
            {"name": "Brewers", "codename": "brewers", "terms": [{"name": "Kettles", "codename": "kettles"}]},
        ],
    },
]
LEAF_TOPICS = [
    "espresso",
    "filter_coffee",
    "cold_brew",
    "green_tea",
    "black_tea",
    "herbal_tea",
    "grinders",
    "kettles",
]
PRODUCT_CATEGORY_TERMS = [
    {"name": "Beans", "codename": "beans"},
    {"name": "Machines", "codename": "machines"},
    {"name": "Accessories", "codename": "accessories"},
]


def _options(*names: str) -> list[dict[str, str]]:
    return [{"name": n, "codename": n.lower().replace(" ", "_").replace("-", "_")} for n in names]


METADATA_SNIPPET = {
    "metadata__meta_title": {"type": "text", "name": "Meta title"},
    "metadata__meta_description": {"type": "text", "name": "Meta description"},
}
CONTENT_TYPES: dict[str, tuple[str, dict[str, dict[str, Any]]]] = {
    "author": (
        "Author",
        {
            "name": {"type": "text", "name": "Name"},
            "slug": {"type": "url_slug", "name": "URL slug"},
            "bio": {"type": "rich_text", "name": "Bio"},
            "photo": {"type": "asset", "name": "Photo"},
            "expertise": {"type": "taxonomy", "name": "Expertise", "taxonomy_group": "topics"},
            "social_links": {"type": "custom", "name": "Social links"},
        },
    ),
    "article": (
        "Article",
        {
            "title": {"type": "text", "name": "Title"},
            "slug": {"type": "url_slug", "name": "URL slug"},
            "summary": {"type": "text", "name": "Summary"},
            "body": {"type": "rich_text", "name": "Body"},
            "published_at": {"type": "date_time", "name": "Published at"},
            "reading_time": {"type": "number", "name": "Reading time (minutes)"},
            "tags": {
                "type": "multiple_choice",
                "name": "Tags",
                "options": _options("Featured", "How-to", "News", "Opinion", "Recipe"),
            },
            "topics": {"type": "taxonomy", "name": "Topics", "taxonomy_group": "topics"},
            "author": {"type": "modular_content", "name": "Author"},
            "related_articles": {"type": "modular_content", "name": "Related articles"},
            "hero_image": {"type": "asset", "name": "Hero image"},
            **METADATA_SNIPPET,
        },
    ),
    "product": (
        "Product",
        {
            "name": {"type": "text", "name": "Name"},
            "slug": {"type": "url_slug", "name": "URL slug"},
            "sku": {"type": "text", "name": "SKU"},
            "price": {"type": "number", "name": "Price (EUR)"},
            "description": {"type": "rich_text", "name": "Description"},
            "images": {"type": "asset", "name": "Images"},
            "categories": {"type": "taxonomy", "name": "Categories", "taxonomy_group": "product_categories"},
            "availability": {
                "type": "multiple_choice",
                "name": "Availability",
                "options": _options("In stock", "Preorder", "Discontinued"),
            },
            "released": {"type": "date_time", "name": "Released"},
            "markets": {"type": "custom", "name": "Markets"},
            **METADATA_SNIPPET,
        },
    ),
    "category_page": (
        "Category page",
        {
            "title": {"type": "text", "name": "Title"},
            "slug": {"type": "url_slug", "name": "URL slug"},
            "intro": {"type": "rich_text", "name": "Intro"},
            "topic": {"type": "taxonomy", "name": "Topic", "taxonomy_group": "topics"},
            "featured_articles": {"type": "modular_content", "name": "Featured articles"},
            "subpages": {"type": "subpages", "name": "Subpages"},
            **METADATA_SNIPPET,
        },
    ),
    "quote": (
        "Quote",
        {"text": {"type": "text", "name": "Text"}, "attribution": {"type": "text", "name": "Attribution"}},
    ),
    "call_to_action": (
        "Call to action",
        {
            "label": {"type": "text", "name": "Label"},
            "target_url": {"type": "text", "name": "Target URL"},
            "style": {
                "type": "multiple_choice",
                "name": "Style",
                "options": _options("Primary", "Secondary"),
            },
        },
    ),
}
FIRST_NAMES = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Margaret", "Dennis", "Frances", "Ken"]
LAST_NAMES = [
    "Lovelace",
    "Hopper",
    "Turing",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Hamilton",
    "Ritchie",
    "Allen",
    "Thompson",
]
ARTICLE_SUBJECTS = [
    "espresso",
    "pour-over",
    "cold brew",
    "matcha",
    "oolong",
    "grinders",
    "kettles",
    "latte art",
    "roasting",
    "water",
]
ARTICLE_ANGLES = [
    "A beginner's guide to",
    "Ten myths about",
    "The science of",
    "Why we love",
    "How to master",
    "A short history of",
    "Troubleshooting",
    "The future of",
    "Pairing food with",
    "Buying guide:",
    "Notes on",
    "Everything about",
    "Rethinking",
]
