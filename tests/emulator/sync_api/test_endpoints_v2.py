"""Sync API v2 on both hosts: init, what each host logs, payload shape, paging, last change wins, replay."""

from __future__ import annotations

from tests.emulator.conftest import TIMESTAMP


def test_init_returns_four_empty_arrays_and_a_token(driver):
    response = driver.session.post(driver.url("/sync/init"), timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {"items": [], "types": [], "languages": [], "taxonomies": []}
    assert response.headers["X-Continuation"]


def test_init_marks_now_without_backlog(driver):
    driver.control.upsert_item(driver.env_id, "before", "article", "en-US", elements={"title": "Old"})
    token = driver.init()
    body, _ = driver.page(token)
    assert body == {"items": [], "types": [], "languages": [], "taxonomies": []}


def test_production_item_delta_shape_and_timestamp(driver):
    token = driver.init()
    item_id = driver.control.upsert_item(
        driver.env_id,
        "coffee",
        "article",
        "en-US",
        name="Coffee",
        elements={"title": "Hi"},
        collection="blog",
    )
    [delta] = driver.deltas(token)
    assert delta["change_type"] == "changed"
    assert TIMESTAMP.match(delta["timestamp"])
    assert delta["data"] == {
        "system": {
            "id": item_id,
            "name": "Coffee",
            "codename": "coffee",
            "language": "en-US",
            "type": "article",
            "collection": "blog",
            "sitemap_locations": [],
            "last_modified": delta["data"]["system"]["last_modified"],
            "workflow": "default",
            "workflow_step": "published",
        }
    }
    assert TIMESTAMP.match(delta["data"]["system"]["last_modified"])


def test_production_ignores_unpublished_work_but_preview_sees_it(driver):
    prod, preview = driver.init(), driver.init(preview=True)
    item_id = driver.control.upsert_item(driver.env_id, "draft", "article", "en-US", publish=False)
    driver.control.change_workflow_step(driver.env_id, item_id, "en-US", "review")
    assert driver.deltas(prod) == []
    [delta] = driver.deltas(preview, preview=True)
    assert delta["change_type"] == "changed"
    assert delta["data"]["system"]["workflow_step"] == "review"


def test_unpublish_archive_and_delete_are_deletes_on_production(driver):
    ctl, env = driver.control, driver.env_id
    ids = [ctl.upsert_item(env, f"item{i}", "article", "en-US") for i in range(3)]
    prod, preview = driver.init(), driver.init(preview=True)
    ctl.unpublish(env, ids[0], "en-US")
    ctl.archive(env, ids[1], "en-US")
    ctl.delete_item(env, ids[2])
    prod_deltas = {d["data"]["system"]["id"]: d for d in driver.deltas(prod)}
    assert {i: d["change_type"] for i, d in prod_deltas.items()} == dict.fromkeys(ids, "deleted")
    # deleted entries carry the last known (published) system
    assert prod_deltas[ids[2]]["data"]["system"]["codename"] == "item2"
    assert prod_deltas[ids[2]]["data"]["system"]["workflow_step"] == "published"
    preview_deltas = {d["data"]["system"]["id"]: d for d in driver.deltas(preview, preview=True)}
    assert preview_deltas[ids[0]]["change_type"] == "changed"
    assert preview_deltas[ids[1]]["change_type"] == "changed"
    assert preview_deltas[ids[1]]["data"]["system"]["workflow_step"] == "archived"
    assert preview_deltas[ids[2]]["change_type"] == "deleted"


def test_unpublish_of_unpublished_variant_logs_nothing_on_production(driver):
    ctl, env = driver.control, driver.env_id
    item_id = ctl.upsert_item(env, "draft", "article", "en-US", publish=False)
    prod = driver.init()
    ctl.archive(env, item_id, "en-US")
    ctl.delete_variant(env, item_id, "en-US")
    assert driver.deltas(prod) == []


def test_model_changes_reach_both_hosts(driver):
    ctl, env = driver.control, driver.env_id
    prod, preview = driver.init(), driver.init(preview=True)
    ctl.upsert_type(env, "page", elements={"title": {"type": "text", "name": "Title"}})
    ctl.upsert_taxonomy(env, "topics", name="Topics", terms=[{"codename": "coffee", "name": "Coffee"}])
    ctl.upsert_language(env, "de-DE", name="German")
    for token, preview_host in ((prod, False), (preview, True)):
        pages, _ = driver.drain(token, preview=preview_host)
        [page] = pages
        assert [d["data"]["system"]["codename"] for d in page["types"]] == ["page"]
        assert set(page["types"][0]["data"]["system"]) == {"id", "name", "codename", "last_modified"}
        assert [d["data"]["system"]["name"] for d in page["taxonomies"]] == ["Topics"]
        assert set(page["taxonomies"][0]["data"]["system"]) == {"id", "name", "codename", "last_modified"}
        [language] = page["languages"]
        assert language["change_type"] == "changed"
        assert set(language["data"]["system"]) == {"id", "name", "codename"}


def test_language_deactivation_is_a_deleted_language(driver):
    ctl, env = driver.control, driver.env_id
    ctl.upsert_language(env, "de-DE", name="German")
    token = driver.init()
    ctl.upsert_language(env, "de-DE", name="German", active=False)
    [delta] = driver.deltas(token, "languages")
    assert delta["change_type"] == "deleted"
    assert delta["data"]["system"]["codename"] == "de-DE"


def test_type_and_taxonomy_deletes(driver):
    ctl, env = driver.control, driver.env_id
    ctl.upsert_type(env, "page")
    ctl.upsert_taxonomy(env, "topics")
    token = driver.init()
    ctl.delete_type(env, "page")
    ctl.delete_taxonomy(env, "topics")
    [page] = driver.drain(token)[0]
    assert [d["change_type"] for d in page["types"]] == ["deleted"]
    assert [d["change_type"] for d in page["taxonomies"]] == ["deleted"]


def test_components_omit_workflow_fields(driver):
    token = driver.init()
    driver.control.upsert_item(driver.env_id, "cta", "article", "en-US", is_component=True)
    [delta] = driver.deltas(token)
    assert "workflow" not in delta["data"]["system"]
    assert "workflow_step" not in delta["data"]["system"]


def test_renamed_type_shows_new_codename_in_v2(driver):
    ctl, env = driver.control, driver.env_id
    item_id = ctl.upsert_item(env, "post", "article", "en-US")
    token = driver.init()
    ctl.rename_type(env, "article", "blog_post")
    ctl.publish(env, item_id, "en-US")
    [page] = driver.drain(token)[0]
    assert page["types"][0]["data"]["system"]["codename"] == "blog_post"
    assert page["items"][0]["data"]["system"]["type"] == "blog_post"


def test_last_change_wins_per_item_and_language(driver):
    ctl, env = driver.control, driver.env_id
    ctl.upsert_language(env, "de-DE")
    token = driver.init()
    item_id = ctl.upsert_item(env, "x", "article", "en-US", elements={"title": "v1"})
    ctl.upsert_item(env, "x", "article", "de-DE", elements={"title": "v1"})
    ctl.upsert_item(env, "x", "article", "en-US", elements={"title": "v2"}, name="Renamed")
    ctl.delete_variant(env, item_id, "de-DE")
    deltas = driver.deltas(token)
    by_language = {d["data"]["system"]["language"]: d for d in deltas}
    assert len(deltas) == 2
    assert by_language["en-US"]["change_type"] == "changed"
    assert by_language["en-US"]["data"]["system"]["name"] == "Renamed"
    assert by_language["de-DE"]["change_type"] == "deleted"


def test_paging_with_small_page_size_caps_each_array(make_driver):
    driver = make_driver(page_size=3)
    ctl, env = driver.control, driver.env_id
    token = driver.init()
    for i in range(7):
        ctl.upsert_item(env, f"item{i}", "article", "en-US")
    for i in range(4):
        ctl.upsert_taxonomy(env, f"group{i}")
    pages, final = driver.drain(token)
    assert all(len(page[array]) <= 3 for page in pages for array in page)
    items = [d["data"]["system"]["codename"] for page in pages for d in page["items"]]
    groups = [d["data"]["system"]["codename"] for page in pages for d in page["taxonomies"]]
    assert sorted(items) == sorted(f"item{i}" for i in range(7))
    assert sorted(groups) == sorted(f"group{i}" for i in range(4))
    assert len(items) == len(set(items))
    body, _ = driver.page(final)
    assert not any(body.values())


def test_default_page_size_is_100_per_array(driver):
    token = driver.init()
    driver.control.generate_changes(driver.env_id, 150, type="article")
    pages, _ = driver.drain(token)
    assert [len(page["items"]) for page in pages] == [100, 50]
    ids = {d["data"]["system"]["id"] for page in pages for d in page["items"]}
    assert len(ids) == 150


def test_fresh_token_on_every_response_including_empty_pages(driver):
    token = driver.init()
    seen = {token}
    for _ in range(3):
        body, token = driver.page(token)
        assert not any(body.values())
        assert token not in seen
        seen.add(token)


def test_replaying_an_old_token_returns_changes_again_with_newer_state(driver):
    ctl, env = driver.control, driver.env_id
    token = driver.init()
    ctl.upsert_item(env, "a", "article", "en-US", elements={"title": "one"})
    first, after_first = driver.drain(token)
    ctl.upsert_item(env, "a", "article", "en-US", elements={"title": "two"})
    replayed = driver.deltas(token)
    assert len(replayed) == 1
    assert replayed[0]["timestamp"] > first[0]["items"][0]["timestamp"]
    assert len(driver.deltas(after_first)) == 1


def test_move_item_is_a_change_on_both_hosts(driver):
    ctl, env = driver.control, driver.env_id
    item_id = ctl.upsert_item(env, "a", "article", "en-US")
    prod, preview = driver.init(), driver.init(preview=True)
    ctl.move_item(env, item_id, "marketing")
    for token, host in ((prod, False), (preview, True)):
        [delta] = driver.deltas(token, preview=host)
        assert delta["data"]["system"]["collection"] == "marketing"
