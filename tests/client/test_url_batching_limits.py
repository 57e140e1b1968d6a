"""URL batching at the exact limit: a limit equal to the prepared URL of N ids gives N ids per batch, one
character less gives N - 1.

Every UUID adds the same number of characters (``%2C`` plus 36), so with ordinary limits no batch ever
lands exactly on the limit and an off-by-one in the fits-check goes unnoticed, while in production the
batch one character over is refused (414) on every run. Here the limit is set to exact lengths, for
``batch_ids`` alone and through ``KontentClient.fetch_items`` against the emulator with the same URL
limit, so a batch one character too long is refused there as it would be by Kontent.ai.
"""

from __future__ import annotations

import random
import uuid

import pytest

from airflow_provider_kontent.client import ClientConfig, EntityKind, KontentBadRequestError, KontentClient
from airflow_provider_kontent.client.content import batch_ids, prepared_url_length
from airflow_provider_kontent.client.errors import KontentConfigError
from tests.client.conftest import make_config

ENV_ID = "0f5b6e9a-1c2d-4e3f-8a9b-0c1d2e3f4a5b"


def _ids(count: int, seed: int = 14) -> list[str]:
    rng = random.Random(seed)
    return [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(count)]


def _sizes(batches: list[list[str]]) -> list[int]:
    return [len(batch) for batch in batches]


def _expected(count: int, per_batch: int) -> list[int]:
    full, rest = divmod(count, per_batch)
    return [per_batch] * full + ([rest] if rest else [])


@pytest.mark.parametrize("n", [2, 12, 47])
def test_batch_ids_fills_a_batch_to_exactly_the_limit(n):
    ids = _ids(2 * n + n // 2 + 1)
    with KontentClient(ClientConfig(ENV_ID)) as client:

        def build(chunk: list[str]):
            return client.protocol.items_by_id_request("en-US", chunk)

        exact = prepared_url_length(build(ids[:n]))
        assert prepared_url_length(build(ids[: n + 1])) > exact  # the next id does not fit

        at_limit = batch_ids(ids, build, exact)
        one_under = batch_ids(ids, build, exact - 1)

    assert _sizes(at_limit) == _expected(len(ids), n), f"limit {exact} = the URL of {n} ids"
    assert _sizes(one_under) == _expected(len(ids), n - 1), (
        f"limit {exact - 1} = one under the URL of {n} ids"
    )
    for batches, limit in ((at_limit, exact), (one_under, exact - 1)):
        assert [i for batch in batches for i in batch] == ids  # every id once, in order
        assert all(prepared_url_length(build(batch)) <= limit for batch in batches)


def test_batch_ids_single_id_at_and_under_the_limit():
    ids = _ids(3)
    with KontentClient(ClientConfig(ENV_ID)) as client:

        def build(chunk: list[str]):
            return client.protocol.items_by_id_request("en-US", chunk)

        single = prepared_url_length(build(ids[:1]))
        assert _sizes(batch_ids(ids, build, single)) == [1, 1, 1]
        with pytest.raises(KontentConfigError) as err:
            batch_ids(ids, build, single - 1)
    assert err.value.field == "url_max_length"


@pytest.mark.parametrize(("under", "per_batch"), [(0, 12), (1, 11)], ids=["at_limit", "one_under"])
def test_fetch_items_at_the_emulators_exact_url_limit(kontent_emulator, under, per_batch):
    """The emulator refuses a URL one character over its limit with 414 (checked below), and both the
    emulator and the client get the same limit: the exact URL length of 12 ids, or one less. A fits-check
    off by one either way shows up as the wrong batch sizes or as a refused batch."""
    ctl = kontent_emulator.control
    env = ctl.create_environment()
    count = 30
    with KontentClient(make_config(env, kontent_emulator.base_url)) as client:
        token = client.init_sync()
        ctl.generate_changes(env["id"], count)
        deltas = [d for page in client.iter_pages(token) for d in page.deltas if d.kind is EntityKind.ITEM]
        ids = [d.id for d in deltas]
        twelve = prepared_url_length(client.protocol.items_by_id_request("en-US", ids[:12]))
        one_batch = prepared_url_length(client.protocol.items_by_id_request("en-US", ids[:per_batch]))
    limit = twelve - under
    ctl.update_environment(env["id"], url_max_length=limit, url_too_long_status=414)

    ctl.clear_requests()
    with KontentClient(make_config(env, kontent_emulator.base_url, url_max_length=limit)) as client:
        batch = client.fetch_items(deltas)
    logged = [r for r in ctl.requests(env["id"]) if r["path"].endswith("/items")]
    assert [r["status"] for r in logged] == [200] * len(logged)
    sizes = sorted((len(r["query"]["system.id[in]"].split(",")) for r in logged), reverse=True)
    assert sizes == _expected(count, per_batch), f"limit {limit}; the URL of 12 ids is {twelve} characters"
    assert batch.requests == len(logged) and len(batch.items) == count and batch.missing == []

    # the control: a batch one character over the emulator's limit really is refused, not retried
    ctl.clear_requests()
    ctl.update_environment(env["id"], url_max_length=one_batch - 1)
    over = make_config(env, kontent_emulator.base_url, url_max_length=one_batch)
    with KontentClient(over) as client, pytest.raises(KontentBadRequestError) as err:
        client.fetch_items(deltas[:per_batch])
    assert err.value.status == 414
    assert [r["status"] for r in ctl.requests(env["id"]) if r["path"].endswith("/items")] == [414]
