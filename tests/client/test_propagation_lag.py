"""The client against Kontent.ai's change processing lag, driven by the emulator's clock (no sleeps).

A change reaches Sync only seconds after it was made (``propagation_delay_s``), and when the delta
arrives the Delivery CDN still serves the older content marked ``X-Stale-Content`` (``stale_content_s``).
``iter_pages`` must not report the change early, and ``fetch_items`` must get the new content, not the
stale one (it sends ``X-KC-Wait-For-Loading-New-Content: true``).
"""

from __future__ import annotations

import requests

from airflow_provider_kontent.client import ChangeType, KontentClient
from tests.client.conftest import make_config

ELEMENTS = {"title": {"type": "text", "name": "Title"}}
WAIT = {"X-KC-Wait-For-Loading-New-Content": "true"}


def _deltas(client: KontentClient, token: str) -> tuple[list, str]:
    pages = list(client.iter_pages(token))
    return [d for page in pages for d in page.deltas], pages[-1].next_token


def test_iter_pages_and_fetch_items_under_propagation_lag_and_stale_cdn(kontent_emulator, secret_guard):
    ctl = kontent_emulator.control
    env = ctl.create_environment()
    ctl.upsert_type(env["id"], "article", elements=ELEMENTS)
    item_id = ctl.upsert_item(env["id"], "doc", "article", "en-US", elements={"title": "Old"})
    ctl.update_environment(env["id"], propagation_delay_s=5, stale_content_s=60)
    with KontentClient(make_config(env, kontent_emulator.base_url)) as client:
        token = client.init_sync()
        ctl.upsert_item(env["id"], "doc", "article", "en-US", elements={"title": "New"})

        ctl.advance_time(3)  # 3 s after the change: not processed yet
        deltas, token = _deltas(client, token)
        assert deltas == []
        early = requests.get(f"{kontent_emulator.base_url}/{env['id']}/items/doc", headers=WAIT, timeout=10)
        assert early.json()["item"]["elements"]["title"]["value"] == "Old"  # not processed anywhere yet

        ctl.advance_time(3)  # 6 s: Sync reports the change; the CDN has not refreshed
        deltas, token = _deltas(client, token)
        assert [(d.codename, d.change_type) for d in deltas] == [("doc", ChangeType.CHANGED)]
        plain = requests.get(f"{kontent_emulator.base_url}/{env['id']}/items/doc", timeout=10)
        assert plain.headers["X-Stale-Content"] == "1"
        assert plain.json()["item"]["elements"]["title"]["value"] == "Old"
        batch = client.fetch_items(deltas)
        assert batch.missing == []
        assert batch.items[(item_id, "en-US")]["elements"]["title"]["value"] == "New"

        assert _deltas(client, token)[0] == []  # reported once
    fetches = [r for r in ctl.requests(env["id"]) if r["path"].endswith("/items")]
    assert fetches and all(r["headers"].get("X-KC-Wait-For-Loading-New-Content") == "true" for r in fetches)
