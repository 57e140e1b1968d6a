"""The ``demo`` seed: deterministic, quick to build, and exercising every element type and language rule."""

from __future__ import annotations

from collections import Counter

import pytest
import requests

from airflow_provider_kontent.testing import EmulatorStore
from airflow_provider_kontent.testing.backend.model import ELEMENT_TYPES
from airflow_provider_kontent.testing.backend.seed_demo import (
    DEMO_ENVIRONMENT_ID,
    DEMO_PREVIEW_KEY,
    DEMO_SECURE_KEY,
    build_demo,
)
from airflow_provider_kontent.testing.delivery_api.router import handle_delivery


@pytest.fixture(scope="module")
def demo():
    store = EmulatorStore()
    summary = build_demo(store)
    return store, store.get_env(DEMO_ENVIRONMENT_ID), summary


def _variants(env, preview: bool) -> Counter:
    """(type codename, language) -> number of variants the host serves (no fallbacks)."""
    counts: Counter = Counter()
    for item in env.items.values():
        for language, variant in item.variants.items():
            version = variant.latest if preview else variant.published
            if version is not None:
                counts[(env.types[item.type_id].codename, language)] += 1
    return counts


def test_environment_settings_and_keys(demo):
    _, env, summary = demo
    assert summary["id"] == DEMO_ENVIRONMENT_ID
    assert summary["secure_access"] is False
    assert summary["secure_key"] == DEMO_SECURE_KEY and summary["preview_key"] == DEMO_PREVIEW_KEY
    assert len(DEMO_SECURE_KEY) >= 20 and len(DEMO_PREVIEW_KEY) >= 20
    assert [(lang.codename, lang.fallback, lang.active) for lang in env.languages] == [
        ("en-US", None, True),
        ("de", "en-US", True),
        ("cs", "de", True),
        ("es", "en-US", False),
    ]
    assert summary["summary"]["variants"] == sum(len(i.variants) for i in env.items.values()) == 320


def test_counts_per_type_and_language(demo):
    _, env, _ = demo
    assert _variants(env, preview=True) == Counter(
        {
            ("author", "en-US"): 10,
            ("author", "de"): 10,
            ("article", "en-US"): 140,
            ("article", "de"): 70,
            ("article", "cs"): 14,
            ("product", "en-US"): 40,
            ("product", "de"): 20,
            ("category_page", "en-US"): 6,
            ("category_page", "de"): 6,
            ("category_page", "cs"): 4,
        }
    )
    production = _variants(env, preview=False)
    assert production[("article", "en-US")] == 133  # 7 never-published drafts in review
    assert production[("article", "de")] == 53  # 17 German drafts
    assert production[("product", "en-US")] == 39  # one archived
    steps = Counter(v.latest.workflow_step for i in env.items.values() for v in i.variants.values())
    assert steps["review"] == 7 and steps["archived"] == 1 and steps["draft"] >= 17


def test_every_element_type_is_used(demo):
    _, env, _ = demo
    used = {definition["type"] for t in env.types.values() for definition in t.elements.values()}
    assert used == set(ELEMENT_TYPES)
    snippet_keys = [k for t in env.types.values() for k in t.elements if "__" in k]
    assert "metadata__meta_title" in snippet_keys


def test_rendered_demo_article_has_rich_shapes(demo):
    _, env, _ = demo
    status, body, _ = handle_delivery(env, False, "/items/article_001", [("depth", "1")], {})
    assert status == 200
    elements = body["item"]["elements"]
    rich = elements["body"]
    assert rich["images"] and rich["links"] and len(rich["modular_content"]) == 3
    components = [cn for cn in rich["modular_content"] if cn.startswith("n") and len(cn) == 37]
    assert len(components) == 2  # quote and call to action
    for cn in components:
        assert "workflow" not in body["modular_content"][cn]["system"]
    assert elements["published_at"]["display_timezone"] == "America/New_York"
    assert elements["hero_image"]["value"][0]["renditions"]["default"]["width"] == 800
    assert elements["topics"]["value"][0]["codename"] == "espresso"
    assert elements["tags"]["value"] == [
        {"name": "Featured", "codename": "featured"},
        {"name": "News", "codename": "news"},
    ]
    assert elements["metadata__meta_title"]["value"] == body["item"]["system"]["name"]
    assert elements["author"]["value"][0] in body["modular_content"]
    _, home, _ = handle_delivery(env, False, "/items/home", [], {})
    assert home["item"]["elements"]["subpages"]["value"] == ["coffee", "tea", "equipment"]
    assert "coffee" in home["modular_content"]


def test_fallbacks_in_the_demo(demo):
    _, env, _ = demo
    _, body, _ = handle_delivery(env, False, "/items", [("language", "cs"), ("system.type", "article")], {})
    served = Counter(item["system"]["language"] for item in body["items"])
    assert served["cs"] == 14 and served["de"] > 0 and served["en-US"] > 0
    assert sum(served.values()) == 133


def test_build_is_deterministic():
    first, second = EmulatorStore(), EmulatorStore()
    build_demo(first)
    build_demo(second)
    env_a, env_b = first.get_env(DEMO_ENVIRONMENT_ID), second.get_env(DEMO_ENVIRONMENT_ID)
    query = [("language", "de"), ("depth", "2"), ("limit", "50")]
    assert (
        handle_delivery(env_a, True, "/items", query, {})[1]
        == handle_delivery(env_b, True, "/items", query, {})[1]
    )
    assert sorted(env_a.items) == sorted(env_b.items)


def test_seed_over_http(kontent_emulator):
    env = kontent_emulator.control.seed("demo")
    assert env["id"] == DEMO_ENVIRONMENT_ID
    base = f"{kontent_emulator.base_url}/{DEMO_ENVIRONMENT_ID}"
    response = requests.get(
        f"{base}/items", params={"system.type": "author", "includeTotalCount": "true"}, timeout=10
    )
    assert response.status_code == 200
    assert response.json()["pagination"]["total_count"] == 10
    preview = requests.get(
        f"{kontent_emulator.preview_url}/{DEMO_ENVIRONMENT_ID}/items",
        params={"system.workflow_step": "review", "depth": "0"},
        headers={"Authorization": f"Bearer {DEMO_PREVIEW_KEY}"},
        timeout=10,
    )
    assert preview.status_code == 200 and len(preview.json()["items"]) == 7
