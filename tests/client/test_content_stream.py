"""Content fetched across Sync pages in URL-filled batches per language (``ContentStream``), as the
pull's drain uses it; compared with one ``fetch_items`` over the same deltas."""

from __future__ import annotations

import logging
import random
from types import SimpleNamespace

import pytest

from airflow_provider_kontent.client import ClientConfig, KontentClient
from airflow_provider_kontent.client.content import _encoded_len, batch_ids, prepared_url_length
from airflow_provider_kontent.client.content_stream import _OpenBatch
from airflow_provider_kontent.drain import drain
from airflow_provider_kontent.handoff import XComSink
from tests.client.conftest import make_config

LANGUAGES = ["en-US", "de", "fr"]


def _stream_batches(client: KontentClient, language: str, ids: list[str]) -> list[list[str]]:
    """How ``ContentStream`` cuts ``ids`` (one language, arriving one by one) into batches."""
    stream = SimpleNamespace(client=client, separator=_encoded_len(","))
    batches, current = [], _OpenBatch(stream, language)
    for item_id in ids:
        if not current.try_add(item_id):
            batches.append(current.ids)
            current = _OpenBatch(stream, language)
            assert current.try_add(item_id)
    return [*batches, current.ids] if current.ids else batches


@pytest.mark.parametrize("seed", range(3))
def test_open_batches_cut_exactly_like_batch_ids(seed):
    """Same batches as ``batch_ids`` (the longest run that fits), including a URL exactly at the limit."""
    rng = random.Random(seed)
    alphabet = "abcdef0123456789-_~ ,[]é+/"
    ids = ["".join(rng.choice(alphabet) for _ in range(rng.randint(8, 40))) for _ in range(200)]
    base = rng.choice(
        ["https://deliver.kontent.ai", "http://127.0.0.1:8123", "https://proxy.example.com/k%C3%A9"]
    )
    probe = KontentClient(ClientConfig("8d20758c-d74c-4f59-ae04-ee928c0816b7", base_url=base))
    build = lambda chunk: probe.protocol.items_by_id_request("de", chunk)  # noqa: E731
    one = max(prepared_url_length(build([item_id])) for item_id in ids)
    for limit in (one + 1, one + 100, one + 500, 2000, rng.randint(one + 45, 3000)):
        client = KontentClient(probe.config.replace(url_max_length=limit))
        expected = batch_ids(ids, build, limit)
        assert _stream_batches(client, "de", ids) == expected
        lengths = [prepared_url_length(build(batch)) for batch in expected]
        assert max(lengths) <= limit
        client.close()
    # a limit met exactly: the batch may be exactly as long as the limit, never one character more
    client = KontentClient(probe.config.replace(url_max_length=prepared_url_length(build(ids[:5]))))
    assert _stream_batches(client, "de", ids[:6]) == [ids[:5], ids[5:6]]
    probe.close()
    client.close()


@pytest.fixture
def multilingual(kontent_emulator):
    """60 changed items in each of three languages, on Sync pages of 25 deltas."""
    ctl = kontent_emulator.control
    env = ctl.create_environment(languages=[{"codename": code} for code in LANGUAGES], page_size=25)
    config = make_config(env, kontent_emulator.base_url, max_concurrency=3)
    with KontentClient(config) as client:
        token = client.init_sync()
        ctl.generate_changes(env["id"], 1)  # creates the type first
        for language in LANGUAGES:
            ctl.generate_changes(env["id"], 60, language=language)
        deltas = [d for page in client.iter_pages(token) for d in page.deltas]
    return ctl, env, config, token, deltas


def test_pull_fetches_across_pages_with_the_fewest_requests(multilingual, caplog):
    ctl, env, config, token, deltas = multilingual
    with KontentClient(config) as client:
        whole = client.fetch_items(deltas)
        ctl.clear_requests()
        sink = XComSink(0)
        caplog.set_level(logging.INFO, logger="airflow_provider_kontent.drain")
        result = drain(client, token, sink, include_content=True, progress_interval=0)
    records = sink.finalize()
    assert result.pages > 7 and result.complete  # the changes span many pages...
    assert result.content_requests == whole.requests == 6  # ...but the batches span pages: 2 per language
    logged = ctl.requests(env["id"])
    item_requests = [r for r in logged if r["path"].endswith("/items")]
    assert len(item_requests) == 6 and len(logged) == result.requests == result.pages + 6
    batches = sorted(sorted(r["query"]["system.id[in]"].split(",")) for r in item_requests)
    expected = sorted(
        sorted(batch)
        for language in LANGUAGES
        for batch in batch_ids(
            [d.id for d in deltas if d.language == language and d.kind.value == "item"],
            lambda chunk, language=language: client.protocol.items_by_id_request(language, chunk),
            config.url_max_length,
        )
    )
    assert batches == expected
    items = [r for r in records if r["kind"] == "item"]
    assert len(items) == 181 and not any(r["content_missing"] for r in items)
    for record in items:
        assert record["content"]["item"] == whole.items[(record["id"], record["language"])]
    progress = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Kontent pull: ")]
    assert len(progress) == result.pages and "requests" in progress[-1]


def test_a_batch_that_fails_fails_the_drain(multilingual):
    ctl, env, config, token, _ = multilingual
    ctl.inject_fault("status", times=100, path=r"/items$", status=500)
    try:
        with KontentClient(config.replace(max_attempts=1)) as client, pytest.raises(Exception) as err:
            drain(client, token, XComSink(0), include_content=True)
    finally:
        ctl.clear_faults()
    assert "HTTP 500" in str(err.value)
