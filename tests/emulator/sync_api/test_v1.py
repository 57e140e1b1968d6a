"""Legacy Sync v1 (retired 2026-01-05): answers 404 by default; with ``legacy_v1=True`` init filters and
operators, language fallbacks, payload and both documented pitfalls still replay."""

from __future__ import annotations

import pytest

from tests.emulator.conftest import TIMESTAMP

LANGUAGES = [
    {"codename": "en-US", "name": "English"},
    {"codename": "de-DE", "name": "German"},
    {"codename": "de-AT", "name": "Austrian", "fallback": "de-DE"},
]


V1_ROUTES = [("POST", "/sync/init"), ("GET", "/sync")]


@pytest.mark.parametrize("preview", [False, True])
@pytest.mark.parametrize(("method", "path"), V1_ROUTES)
def test_v1_routes_answer_404_retired_by_default(driver, method, path, preview):
    assert driver.env["legacy_v1"] is False
    response = driver.session.request(
        method, driver.url(path, preview, version=1), headers={**driver.auth(preview), "X-Continuation": "x"}
    )
    assert response.status_code == 404
    body = response.json()
    assert set(body) == {"message", "request_id", "error_code", "specific_code"}
    assert "retired on 2026-01-05" in body["message"] and "/v2/" in body["message"]
    assert body["request_id"] and body["error_code"] == 1
    keyless = driver.session.request(method, driver.url(path, preview, version=1))
    assert keyless.status_code == 404  # gone before any key is looked at
    assert (
        driver.session.post(driver.url("/sync/init", preview), headers=driver.auth(preview)).status_code
        == 200
    )


def test_legacy_v1_knob_turns_v1_on_and_off_again(driver):
    with pytest.raises(AssertionError):
        driver.init(version=1)
    assert driver.control.update_environment(driver.env_id, legacy_v1=True)["legacy_v1"] is True
    token = driver.init(version=1)
    driver.control.upsert_item(driver.env_id, "a", "article", "en-US")
    assert [d["change_type"] for d in driver.deltas(token, version=1)] == ["changed_item"]
    driver.control.update_environment(driver.env_id, legacy_v1=False)
    assert driver.get(token, version=1).status_code == 404
    assert driver.control.update_environment(driver.env_id)["legacy_v1"] is False  # omitted = unchanged


@pytest.fixture
def v1(make_driver):
    driver = make_driver(languages=LANGUAGES, legacy_v1=True)
    driver.control.upsert_type(driver.env_id, "page", elements={"title": {"type": "text", "name": "Title"}})
    return driver


def codenames(deltas):
    return sorted((d["data"]["system"]["codename"], d["data"]["system"]["language"]) for d in deltas)


def _content(driver):
    ctl, env = driver.control, driver.env_id
    ctl.upsert_item(env, "a1", "article", "en-US", collection="blog", elements={"title": "A1"})
    ctl.upsert_item(env, "a2", "article", "en-US", collection="news")
    ctl.upsert_item(env, "p1", "page", "en-US", collection="blog")
    ctl.upsert_item(env, "p2", "page", "en-US", collection="default")


def test_init_body_and_payload_with_elements(v1):
    response = v1.session.post(v1.url("/sync/init", version=1), timeout=10)
    assert response.status_code == 200
    assert response.json() == {"items": []}
    token = response.headers["X-Continuation"]
    item_id = v1.control.upsert_item(v1.env_id, "a1", "article", "en-US", elements={"title": "Hello"})
    v1.control.delete_item(v1.env_id, item_id)
    v1.control.upsert_item(v1.env_id, "a2", "article", "en-US", elements={"title": "Hi", "body": "<p>x</p>"})
    pages, _ = v1.drain(token, version=1)
    assert all(set(page) == {"items"} for page in pages)
    deltas = {d["data"]["system"]["codename"]: d for page in pages for d in page["items"]}
    assert deltas["a1"]["change_type"] == "deleted_item"
    assert "elements" not in deltas["a1"]["data"]
    changed = deltas["a2"]
    assert changed["change_type"] == "changed_item"
    assert TIMESTAMP.match(changed["timestamp"])
    assert changed["data"]["system"]["sitemap_locations"] == []
    assert changed["data"]["elements"]["title"]["value"] == "Hi"
    assert changed["data"]["elements"]["title"]["type"] == "text"


def test_plain_change_type_style(make_driver):
    driver = make_driver(v1_change_types="plain", legacy_v1=True)
    token = driver.init(version=1)
    item_id = driver.control.upsert_item(driver.env_id, "a", "article", "en-US")
    driver.control.unpublish(driver.env_id, item_id, "en-US")
    token2 = driver.init(version=1)
    driver.control.publish(driver.env_id, item_id, "en-US")
    assert [d["change_type"] for d in driver.deltas(token, version=1)] == ["changed"]
    assert [d["change_type"] for d in driver.deltas(token2, version=1)] == ["changed"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"system.type": "article"}, ["a1", "a2"]),
        ({"system.type[eq]": "page"}, ["p1", "p2"]),
        ({"system.type[neq]": "article"}, ["p1", "p2"]),
        ({"system.type[in]": "article,page"}, ["a1", "a2", "p1", "p2"]),
        ({"system.type[nin]": "page"}, ["a1", "a2"]),
        ({"system.collection": "blog"}, ["a1", "p1"]),
        ({"system.collection[eq]": "news"}, ["a2"]),
        ({"system.collection[neq]": "blog"}, ["a2", "p2"]),
        ({"system.collection[in]": "news,default"}, ["a2", "p2"]),
        ({"system.collection[nin]": "news,default"}, ["a1", "p1"]),
        ({"system.type": "article", "system.collection": "blog"}, ["a1"]),
    ],
)
def test_type_and_collection_filters(v1, params, expected):
    token = v1.init(version=1, params=params)
    _content(v1)
    assert [c for c, _ in codenames(v1.deltas(token, version=1))] == expected


def test_v1_sync_on_preview_host_sees_drafts(v1):
    token = v1.init(version=1, preview=True, params={"system.type": "article"})
    v1.control.upsert_item(v1.env_id, "draft", "article", "en-US", publish=False)
    v1.control.upsert_item(v1.env_id, "other", "page", "en-US", publish=False)
    [delta] = v1.deltas(token, version=1, preview=True)
    assert delta["data"]["system"]["workflow_step"] == "draft"


def test_language_filter_follows_fallbacks(v1):
    ctl, env = v1.control, v1.env_id
    token = v1.init(version=1, params={"language": "de-AT"})
    ctl.upsert_item(env, "only_en", "article", "en-US")  # de-AT -> de-DE -> en-US: served in en-US
    ctl.upsert_item(env, "de_and_en", "article", "en-US")
    ctl.upsert_item(env, "de_and_en", "article", "de-DE")  # served in de-DE, so en-US does not pass
    ctl.upsert_item(env, "at", "article", "en-US")
    ctl.upsert_item(env, "at", "article", "de-AT")  # de-AT itself exists: only it passes
    assert codenames(v1.deltas(token, version=1)) == [
        ("at", "de-AT"),
        ("de_and_en", "de-DE"),
        ("only_en", "en-US"),
    ]


def test_language_fallback_uses_published_variants_on_production(v1):
    ctl, env = v1.control, v1.env_id
    token = v1.init(version=1, params={"language": "de-DE"})
    ctl.upsert_item(env, "x", "article", "de-DE", publish=False)  # not on production
    ctl.upsert_item(env, "x", "article", "en-US")
    assert codenames(v1.deltas(token, version=1)) == [("x", "en-US")]


def test_system_language_is_exact_without_fallbacks(v1):
    ctl, env = v1.control, v1.env_id
    for params in ({"system.language": "de-DE"}, {"system.language[eq]": "de-DE"}):
        token = v1.init(version=1, params=params)
        ctl.upsert_item(env, "only_en", "article", "en-US")
        ctl.upsert_item(env, "de", "article", "de-DE")
        assert codenames(v1.deltas(token, version=1)) == [("de", "de-DE")]


@pytest.mark.parametrize(
    "params",
    [
        {"system.type[contains]": "article"},
        {"system.type[EQ]": "article"},
        {"language[eq]": "de-DE"},
        {"language[in]": "de-DE,en-US"},
        {"system.language[in]": "de-DE"},
        {"system.codename": "a1"},
        {"elements.title": "x"},
        {"system.type": ""},
        {"system.collection[in]": "blog,"},
    ],
)
def test_invalid_filters_are_400_with_error_shape(v1, params):
    response = v1.session.post(v1.url("/sync/init", version=1), params=params, timeout=10)
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"message", "request_id", "error_code", "specific_code"}
    assert next(iter(params)).split("[")[0] in body["message"]


def test_v2_init_ignores_query_parameters(v1):
    response = v1.session.post(v1.url("/sync/init"), params={"system.type[contains]": "x"}, timeout=10)
    assert response.status_code == 200


def test_pitfall_renamed_type_codename_silences_filtered_sync(v1):
    ctl, env = v1.control, v1.env_id
    item_id = ctl.upsert_item(env, "a1", "article", "en-US")
    token = v1.init(version=1, params={"system.type": "article"})
    ctl.rename_type(env, "article", "blog_post")
    ctl.publish(env, item_id, "en-US")
    ctl.upsert_item(env, "a2", "blog_post", "en-US")
    assert v1.deltas(token, version=1) == []
    unfiltered_after = v1.init(version=1)
    ctl.publish(env, item_id, "en-US")
    assert [d["data"]["system"]["type"] for d in v1.deltas(unfiltered_after, version=1)] == ["blog_post"]


def test_pitfall_item_moved_out_of_filtered_collection_disappears_without_delete(v1):
    ctl, env = v1.control, v1.env_id
    item_id = ctl.upsert_item(env, "a1", "article", "en-US", collection="blog")
    token = v1.init(version=1, params={"system.collection": "blog"})
    ctl.upsert_item(env, "a1", "article", "en-US", elements={"title": "edited"})
    ctl.move_item(env, item_id, "news")
    ctl.publish(env, item_id, "en-US")
    assert v1.deltas(token, version=1) == []


def test_v1_paging_and_filters_skip_without_stalling(make_driver):
    driver = make_driver(page_size=2, legacy_v1=True)
    ctl, env = driver.control, driver.env_id
    ctl.upsert_type(env, "page")
    token = driver.init(version=1, params={"system.type": "article"})
    for i in range(5):
        ctl.upsert_item(env, f"p{i}", "page", "en-US")
        ctl.upsert_item(env, f"a{i}", "article", "en-US")
    pages, _ = driver.drain(token, version=1)
    assert [len(page["items"]) for page in pages] == [2, 2, 1]
    assert sorted(d["data"]["system"]["codename"] for p in pages for d in p["items"]) == [
        f"a{i}" for i in range(5)
    ]
