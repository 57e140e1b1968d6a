"""Kontent.ai's documented technical limits (https://kontent.ai/learn/docs/architecture/technical-limits)
that the emulator can reach are enforced with 400 naming the field, and nothing is half-written."""

from __future__ import annotations

import pytest
import requests

from airflow_provider_kontent.testing import EmulatorControlError
from airflow_provider_kontent.testing.backend import limits


def _languages(count: int) -> list[dict[str, str]]:
    return [{"codename": f"l{index}"} for index in range(count)]


def _refused(call) -> EmulatorControlError:
    with pytest.raises(EmulatorControlError) as info:
        call()
    assert info.value.status == 400
    return info.value


def test_at_most_50_languages_per_environment(emulator):
    ctl = emulator.control
    env = ctl.create_environment(languages=_languages(limits.MAX_LANGUAGES))
    assert len(env["languages"]) == 50
    error = _refused(lambda: ctl.create_environment(languages=_languages(51)))
    assert error.field == "languages" and "at most 50 languages" in error.message
    error = _refused(lambda: ctl.upsert_language(env["id"], "one_too_many"))
    assert error.field == "codename" and "at most 50 languages" in error.message
    ctl.upsert_language(env["id"], "l1", name="renamed")  # updating an existing one is fine
    assert len(ctl.get_environment(env["id"])["languages"]) == 50


def test_at_most_250_elements_per_content_type(kontent_emulator, kontent_env):
    ctl, env = kontent_emulator.control, kontent_env["id"]
    elements = {f"e{index}": {"type": "text"} for index in range(limits.MAX_TYPE_ELEMENTS)}
    assert len(ctl.upsert_type(env, "wide", elements=elements)["elements"]) == 250
    elements["e250"] = {"type": "text"}
    error = _refused(lambda: ctl.upsert_type(env, "wider", elements=elements))
    assert error.field == "elements" and "at most 250 elements" in error.message


@pytest.fixture
def typed(kontent_emulator, kontent_env):
    ctl, env = kontent_emulator.control, kontent_env["id"]
    ctl.upsert_type(
        env,
        "page",
        elements={
            "title": {"type": "text"},
            "body": {"type": "rich_text"},
            "data": {"type": "custom"},
            "related": {"type": "modular_content"},
            "children": {"type": "subpages"},
        },
    )
    return ctl, env


@pytest.mark.parametrize(
    ("elements", "field", "words"),
    [
        ({"title": "x" * 100_001}, "elements.title", "at most 100,000 characters"),
        ({"body": {"value": "<p>" + "x" * 100_001 + "</p>"}}, "elements.body", "at most 100,000 characters"),
        ({"data": "x" * 200_001}, "elements.data", "at most 200,000 characters"),
        ({"related": ["a"] * 600, "children": ["b"] * 401}, "elements.children", "at most 1,000 items"),
    ],
)
def test_element_limits(typed, elements, field, words):
    ctl, env = typed
    error = _refused(lambda: ctl.upsert_item(env, "big", "page", "en-US", elements=elements))
    assert error.field == field and words in error.message
    with pytest.raises(EmulatorControlError) as missing:
        ctl.publish(env, "big", "en-US")
    assert missing.value.status == 404  # the refused item was never created


def test_limits_at_the_boundary_are_accepted(typed):
    ctl, env = typed
    ctl.upsert_item(
        env,
        "edge",
        "page",
        "en-US",
        elements={"title": "x" * 100_000, "data": "y" * 200_000, "related": ["a"] * 1000},
    )
    markup = "<p><strong>" + "z" * 99_000 + "</strong></p>" * 100  # the text is what counts
    ctl.upsert_item(env, "marked_up", "page", "en-US", elements={"body": markup})


def test_a_variant_holds_at_most_450_kB_counting_merged_elements(typed, kontent_emulator):
    ctl, env = typed
    ctl.upsert_item(env, "heavy", "page", "en-US", elements={"title": "t" * 90_000, "data": "d" * 190_000})
    ctl.upsert_item(env, "heavy", "page", "en-US", elements={"body": "b" * 99_000})  # 379 kB: fine
    error = _refused(
        lambda: ctl.upsert_item(env, "heavy", "page", "en-US", elements={"related": ["x" * 90] * 999})
    )
    assert error.field == "elements" and "450 kB" in error.message
    item = requests.get(f"{kontent_emulator.base_url}/{env}/items/heavy", timeout=10).json()["item"]
    assert item["elements"]["related"]["value"] == []  # the refused version was never written
    assert len(item["elements"]["body"]["value"]) == 99_000


def test_a_refused_item_is_not_created(typed, kontent_emulator):
    ctl, env = typed
    _refused(lambda: ctl.upsert_item(env, "never", "page", "en-US", elements={"title": "x" * 100_001}))
    with kontent_emulator.store.read():
        assert kontent_emulator.store.get_env(env).item_by_codename("never") is None
