"""Content fetch behind deltas, items-feed and the content-model endpoints, against the emulator."""

from __future__ import annotations

import uuid

import pytest

from airflow_provider_kontent.client import (
    ChangeType,
    EntityKind,
    KontentBadRequestError,
    KontentClient,
    KontentConfigError,
)
from airflow_provider_kontent.client.content import RateLimiter, batch_ids, prepared_url_length
from tests.client.conftest import logged_headers, make_config

LANGS = [{"codename": "en-US", "name": "English"}, {"codename": "de", "name": "German", "fallback": "en-US"}]


def item_requests(ctl, env):
    return [r for r in ctl.requests(env["id"]) if r["path"].endswith("/items")]


def changed_items(client, token):
    return [d for page in client.iter_pages(token) for d in page.deltas if d.kind is EntityKind.ITEM]


@pytest.mark.parametrize("url_max_length", [2000, 700])
def test_fetch_items_batches_ids_within_the_url_limit(kontent_emulator, url_max_length):
    """The emulator enforces the same limit on the full URL (414 above it), so a batch that is one id
    too long would fail the fetch; every batch but the last per language must also be full."""
    ctl = kontent_emulator.control
    env = ctl.create_environment(languages=LANGS, url_max_length=url_max_length)
    cfg = make_config(env, kontent_emulator.base_url, url_max_length=url_max_length, max_concurrency=3)
    with KontentClient(cfg) as client:
        token = client.init_sync()
        ctl.generate_changes(env["id"], 100)
        ctl.generate_changes(env["id"], 30, language="de")
        deltas = changed_items(client, token)
        ctl.clear_requests()
        batch = client.fetch_items(deltas)
    logged = item_requests(ctl, env)
    assert batch.requests == len(logged) and all(r["status"] == 200 for r in logged)
    wanted = {lang: [d.id for d in deltas if d.language == lang] for lang in ("en-US", "de")}
    sent: dict[str, list[list[str]]] = {"en-US": [], "de": []}
    for request in logged:
        query = request["query"]
        ids = query["system.id[in]"].split(",")
        assert query["language"] == query["system.language"] and query["depth"] == "0"
        assert query["limit"] == str(len(ids))
        headers = logged_headers(request)
        assert headers["x-kc-wait-for-loading-new-content"] == "true"
        sent[query["language"]].append(ids)
    for lang, batches in sent.items():
        assert sorted(i for b in batches for i in b) == sorted(wanted[lang])  # each id exactly once
        batches.sort(key=len, reverse=True)  # batches run concurrently: the log order is arbitrary
        for full in batches[:-1]:  # one more id would not have fit
            longer = client.protocol.items_by_id_request(lang, [*full, full[0]])
            assert prepared_url_length(longer) > url_max_length
    if url_max_length == 2000:  # docs: about 47 UUIDs fit a 2,000-character Delivery URL
        assert min(len(b) for b in sent["en-US"][:-1]) >= 45
    assert len(batch.items) == 130 and batch.missing == []
    for (item_id, language), item in batch.items.items():
        assert item["system"]["id"] == item_id and item["system"]["language"] == language
        assert item["elements"]["title"]["value"].startswith("Generated item")


def test_a_url_over_the_server_limit_is_refused_not_retried(kontent_emulator):
    """The control for the test above: the emulator really rejects a URL over its limit."""
    ctl = kontent_emulator.control
    env = ctl.create_environment(url_max_length=700)
    with KontentClient(make_config(env, kontent_emulator.base_url, url_max_length=2000)) as client:
        token = client.init_sync()
        ctl.generate_changes(env["id"], 20)
        deltas = changed_items(client, token)
        ctl.clear_requests()
        with pytest.raises(KontentBadRequestError) as err:
            client.fetch_items(deltas)
    assert err.value.status == 414 and [r["status"] for r in item_requests(ctl, env)] == [414]


def test_missing_and_deleted_items(kontent_emulator):
    ctl = kontent_emulator.control
    env = ctl.create_environment()
    ctl.upsert_type(env["id"], "article", elements={"title": {"type": "text", "name": "Title"}})
    with KontentClient(make_config(env, kontent_emulator.base_url)) as client:
        token = client.init_sync()
        kept = ctl.upsert_item(env["id"], "kept", "article", "en-US", elements={"title": "Kept"})
        gone = ctl.upsert_item(env["id"], "gone", "article", "en-US", elements={"title": "Gone"})
        deltas = changed_items(client, token)
        ctl.unpublish(env["id"], gone, "en-US")  # gone by the time it is fetched
        batch = client.fetch_items(deltas)
        assert set(batch.items) == {(kept, "en-US")} and batch.missing == [(gone, "en-US")]
        token2 = client.init_sync()
        ctl.delete_variant(env["id"], kept, "en-US")
        deleted = changed_items(client, token2)
        ctl.clear_requests()
        assert [d.change_type for d in deleted] == [ChangeType.DELETED]
        assert client.fetch_items(deleted).requests == 0
    assert item_requests(ctl, env) == []


def test_depth_zero_leaves_linked_items_out_and_keeps_components(kontent_emulator):
    ctl = kontent_emulator.control
    env = ctl.create_environment()
    ctl.upsert_type(env["id"], "quote", elements={"text": {"type": "text", "name": "Text"}})
    ctl.upsert_type(
        env["id"],
        "article",
        elements={
            "body": {"type": "rich_text", "name": "Body"},
            "related": {"type": "modular_content", "name": "Rel"},
        },
    )
    component_id = "5a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
    component_codename = "n" + component_id.replace("-", "_")
    body = {
        "value": '<object type="application/kenticocloud" data-type="item" data-rel="component" '
        f'data-codename="{component_codename}"></object>',
        "components": {component_id: {"type": "quote", "elements": {"text": "a component"}}},
    }
    with KontentClient(make_config(env, kontent_emulator.base_url)) as client:
        token = client.init_sync()
        ctl.upsert_item(env["id"], "other", "quote", "en-US", elements={"text": "linked, not a component"})
        ctl.upsert_item(env["id"], "main", "article", "en-US", elements={"related": ["other"], "body": body})
        batch = client.fetch_items(changed_items(client, token))
    assert {item["system"]["codename"] for item in batch.items.values()} == {"main", "other"}
    pool = batch.modular_content.get("en-US", {})
    assert "other" not in pool  # depth=0: no linked items
    assert pool[component_codename]["elements"]["text"]["value"] == "a component"  # components stay


def test_items_feed_pages_per_language(kontent_emulator):
    ctl = kontent_emulator.control
    env = ctl.create_environment(languages=LANGS, feed_page_size=3)
    ctl.generate_changes(env["id"], 7)
    ctl.generate_changes(env["id"], 2, language="de")
    with KontentClient(make_config(env, kontent_emulator.base_url)) as client:
        english = list(client.iter_items_feed("en-US"))
        pages = list(client.iter_items_feed_pages("de"))
    assert len(english) == len({i["system"]["id"] for i in english}) == 7
    assert all(i["system"]["language"] == "en-US" for i in english)
    assert [len(p.items) for p in pages] == [2] and pages[-1].next_token is None
    feed = [r for r in ctl.requests(env["id"]) if r["path"].endswith("/items-feed")]
    assert len(feed) == 4  # 3 + 3 + 1 in English, then one German page
    tokens = [logged_headers(r).get("x-continuation") for r in feed]
    assert tokens[0] is None and tokens[1] and tokens[2] and tokens[3] is None
    assert all(r["query"] == feed[0]["query"] for r in feed[:3])  # the identical query on every page


def test_types_taxonomies_languages_page_through_everything(kontent_emulator):
    ctl = kontent_emulator.control
    env = ctl.create_environment(languages=[*LANGS, {"codename": "fr", "name": "French"}])
    for codename in ("article", "blog", "quote"):
        ctl.upsert_type(env["id"], codename, elements={"title": {"type": "text", "name": "Title"}})
    for codename in ("topics", "regions", "audiences"):
        ctl.upsert_taxonomy(env["id"], codename, terms=[{"name": "Coffee", "codename": "coffee"}])
    with KontentClient(make_config(env, kontent_emulator.base_url)) as client:
        types = [t["system"]["codename"] for t in client.list_types(page_size=2)]
        taxonomies = [t["system"]["codename"] for t in client.list_taxonomies(page_size=2)]
        languages = [lang["system"]["codename"] for lang in client.list_languages(page_size=2)]
        assert [t["system"]["codename"] for t in client.list_types()] == types  # one page of 100
    assert sorted(types) == ["article", "blog", "quote"]
    assert sorted(taxonomies) == ["audiences", "regions", "topics"]
    assert sorted(languages) == ["de", "en-US", "fr"]
    queries = [(r["path"].rsplit("/", 1)[-1], r["query"]) for r in ctl.requests(env["id"])]
    assert [q for path, q in queries if path == "types"][:2] == [
        {"skip": "0", "limit": "2"},
        {"skip": "2", "limit": "2"},
    ]


def test_batch_ids_and_rate_limiter_units():
    from airflow_provider_kontent.client import ClientConfig
    from airflow_provider_kontent.client.protocol import RequestBuilder

    proto = RequestBuilder(ClientConfig("8d20758c-d74c-4f59-ae04-ee928c0816b7"))
    ids = [f"00000000-0000-4000-8000-{n:012d}" for n in range(200)]
    batches = batch_ids(ids, lambda chunk: proto.items_by_id_request("en-US", chunk), 2000)
    assert [i for b in batches for i in b] == ids
    assert all(prepared_url_length(proto.items_by_id_request("en-US", b)) <= 2000 for b in batches)
    assert all(
        prepared_url_length(proto.items_by_id_request("en-US", [*b, ids[0]])) > 2000 for b in batches[:-1]
    )

    with pytest.raises(KontentConfigError) as err:
        batch_ids(ids, lambda chunk: proto.items_by_id_request("en-US", chunk), 100)
    assert err.value.field == "url_max_length"

    now = [0.0]
    limiter = RateLimiter([(1.0, 2), (60.0, 3)], clock=lambda: now[0])
    assert [limiter._reserve() for _ in range(4)] == [0.0, 0.5, 1.0, 60.0]  # evenly 2/s, then 3/min
    now[0] = 200.0
    assert limiter._reserve() == 0.0


def test_fetch_stays_under_the_rate_limit_or_honours_retry_after(kontent_emulator, caplog):
    """Emulator limit 5/s: the client's own limiter (3/s) avoids 429s; without it, Retry-After is honoured."""
    ctl = kontent_emulator.control
    env = ctl.create_environment()
    base = make_config(env, kontent_emulator.base_url, max_concurrency=3)
    with KontentClient(base) as client:
        token = client.init_sync()
        ctl.generate_changes(env["id"], 30)
        deltas = changed_items(client, token)
    one = prepared_url_length(client.protocol.items_by_id_request("en-US", [deltas[0].id]))
    five_per_request = one + 4 * len("%2C" + "x" * 36)
    ctl.set_rate_limit(enabled=True, env_id=env["id"], per_second=5, per_minute=2000)

    limited = base.replace(url_max_length=five_per_request, rate_limit_per_second=3)
    ctl.clear_requests()
    with KontentClient(limited) as client:
        batch = client.fetch_items(deltas)
    assert batch.requests == 6 and len(batch.items) == 30
    assert [r["status"] for r in item_requests(ctl, env)] == [200] * 6

    unlimited = limited.replace(rate_limit_per_second=1000, max_retry_after=2.0, max_attempts=6)
    ctl.clear_requests()
    with KontentClient(unlimited) as client:
        batch = client.fetch_items(deltas)
    assert len(batch.items) == 30 and batch.missing == []
    statuses = [r["status"] for r in item_requests(ctl, env)]
    assert 429 in statuses and statuses.count(200) == 6
    assert any("(HTTP 429); retrying in 1.00s" in r.getMessage() for r in caplog.records)


def component_heavy_items(ctl, env_id: str, count: int, components: int) -> None:
    """``count`` published items, each with ``components`` rich-text components (one bulk call)."""
    ctl.upsert_type(env_id, "page", elements={"body": {"type": "rich_text", "name": "Body"}})
    ctl.upsert_type(env_id, "block", elements={"title": {"type": "text", "name": "Title"}})
    operations = []
    for n in range(count):
        comps = {str(uuid.uuid4()): {"type": "block", "elements": {"title": "b"}} for _ in range(components)}
        html = "".join(
            '<object type="application/kenticocloud" data-type="item" data-rel="component" '
            f'data-codename="n{u.replace("-", "_")}"></object>'
            for u in comps
        )
        elements = {"body": {"value": html, "components": comps}}
        operations.append(
            {
                "op": "upsert_item",
                "codename": f"page_{n}",
                "type": "page",
                "language": "en-US",
                "elements": elements,
            }
        )
    ctl.bulk(env_id, operations)


def test_fetch_splits_a_batch_over_the_response_item_cap(kontent_emulator, caplog):
    """47 ids fit one URL, but 47 items x (1 + 43 components) = 2,068 > 2,000 response items: the
    emulator refuses the batch (400, error_code 6) and the client halves it instead of failing the pull.
    A second fetch on the same client sizes its batches from the charge seen and is never refused."""
    ctl = kontent_emulator.control
    env = ctl.create_environment()
    with KontentClient(make_config(env, kontent_emulator.base_url)) as client:
        token = client.init_sync()
        component_heavy_items(ctl, env["id"], 47, 43)
        deltas = changed_items(client, token)
        assert len(deltas) == 47
        ctl.clear_requests()
        batch = client.fetch_items(deltas)
        first = item_requests(ctl, env)
        ctl.clear_requests()
        again = client.fetch_items(deltas)
        second = item_requests(ctl, env)
    sizes = [(r["status"], len(r["query"]["system.id[in]"].split(","))) for r in first]
    assert sizes[0] == (400, 47) and sorted(sizes[1:]) == [(200, 23), (200, 24)]
    assert batch.requests == 2 and batch.missing == [] and len(batch.items) == 47
    for result in (batch, again):
        assert {item_id for item_id, _ in result.items} == {d.id for d in deltas}
        components = result.modular_content["en-US"]
        assert len(components) == 47 * 43
        for item in result.items.values():
            assert len(item["elements"]["body"]["modular_content"]) == 43
            assert set(item["elements"]["body"]["modular_content"]) <= set(components)
    assert any("splitting the batch into 24 + 23 ids" in r.getMessage() for r in caplog.records)
    assert second and all(r["status"] == 200 for r in second)
    assert all(len(r["query"]["system.id[in]"].split(",")) < 47 for r in second)


def test_a_single_item_over_the_response_item_cap_is_a_clear_error(kontent_emulator):
    """An item whose components alone pass the cap cannot be fetched by id: the halving stops at one
    id and the error names the item and the reason (it is not retried)."""
    ctl = kontent_emulator.control
    env = ctl.create_environment()
    with KontentClient(make_config(env, kontent_emulator.base_url)) as client:
        token = client.init_sync()
        ctl.upsert_type(env["id"], "page", elements={"body": {"type": "rich_text", "name": "Body"}})
        small = ctl.upsert_item(env["id"], "small", "page", "en-US", elements={"body": "<p>x</p>"})
        component_heavy_items(ctl, env["id"], 1, 2000)  # 1 + 2,000 components = 2,001 response items
        deltas = changed_items(client, token)
        huge = next(d.id for d in deltas if d.id != small)
        ctl.clear_requests()
        with pytest.raises(KontentBadRequestError) as err:
            client.fetch_items(deltas)
    logged = [(r["status"], r["query"]["system.id[in]"]) for r in item_requests(ctl, env)]
    assert logged[0][0] == 400 and set(logged[0][1].split(",")) == {huge, small}
    assert sorted(logged[1:]) == [(200, small), (400, huge)]
    assert err.value.error_code == 6 and not err.value.retryable and err.value.attempts is None
    assert f"Item {huge} (en-US) alone is over" in str(err.value) and "items-feed" in str(err.value)
