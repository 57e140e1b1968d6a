"""Issue #2 bullets that the other files cover only in-process or not at all, checked over real HTTP.

Every element type on the wire, the client's delta-fetch query (``system.id[in]`` + ``language`` +
``system.language`` + ``depth=0``), ``skip``, components in ``modular_content``, items-feed token edge
cases, last-change-wins for id-keyed entities, logged ``X-KC-*`` headers, the pytest11 / console-script
entry points, and the rule that the emulator imports neither the client nor Airflow.
"""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points

import pytest
import requests

from airflow_provider_kontent.testing import EmulatorControlError
from airflow_provider_kontent.testing.backend.model import ELEMENT_TYPES
from airflow_provider_kontent.testing.backend.seed_demo import DEMO_ENVIRONMENT_ID

TIMEOUT = 10


@pytest.fixture
def demo(kontent_emulator):
    kontent_emulator.control.seed("demo")
    session = requests.Session()
    yield kontent_emulator, f"{kontent_emulator.base_url}/{DEMO_ENVIRONMENT_ID}", session
    session.close()


def _export(session: requests.Session, url: str, params: dict[str, str]) -> list[dict]:
    items, headers = [], {}
    for _ in range(100):
        response = session.get(url, params=params, headers=headers, timeout=TIMEOUT)
        assert response.status_code == 200, response.text
        items += response.json()["items"]
        token = response.headers.get("X-Continuation")
        if not token:
            return items
        headers = {"X-Continuation": token}
    raise AssertionError("the feed never ended")


def test_every_element_type_arrives_in_its_delivery_shape(demo):
    _, base, session = demo
    items = _export(session, f"{base}/items-feed", {"language": "en-US"})
    by_type: dict[str, list[dict]] = {}
    for item in items:
        for element in item["elements"].values():
            by_type.setdefault(element["type"], []).append(element)
    assert set(by_type) == set(ELEMENT_TYPES)

    def some(kind: str, predicate) -> bool:
        return any(predicate(e) for e in by_type[kind])

    assert some("text", lambda e: isinstance(e["value"], str) and e["value"])
    assert some("number", lambda e: isinstance(e["value"], (int, float)) and not isinstance(e["value"], bool))
    assert some("date_time", lambda e: isinstance(e["value"], str) and e["value"].endswith("Z"))
    assert some("multiple_choice", lambda e: e["value"] and set(e["value"][0]) == {"name", "codename"})
    assert some("taxonomy", lambda e: e["taxonomy_group"] and set(e["value"][0]) == {"name", "codename"})
    assert some("asset", lambda e: e["value"] and {"name", "url", "type", "size"} <= set(e["value"][0]))
    assert some("modular_content", lambda e: e["value"] and all(isinstance(c, str) for c in e["value"]))
    assert some("subpages", lambda e: e["value"] and all(isinstance(c, str) for c in e["value"]))
    assert some("url_slug", lambda e: isinstance(e["value"], str) and e["value"])
    assert some("custom", lambda e: isinstance(e["value"], str))
    assert some(
        "rich_text",
        lambda e: {"images", "links", "modular_content"} <= set(e) and e["value"].startswith("<"),
    )


def test_delta_fetch_query_by_ids_with_language_and_components(demo):
    _, base, session = demo
    feed = _export(session, f"{base}/items-feed", {"language": "de", "system.language": "de"})
    assert feed and {i["system"]["language"] for i in feed} == {"de"}
    wanted = [i["system"]["id"] for i in feed[:5]]
    response = session.get(
        f"{base}/items",
        params={
            "system.id[in]": ",".join(wanted),
            "language": "de",
            "system.language": "de",
            "depth": "0",
        },
        headers={"X-KC-Wait-For-Loading-New-Content": "true"},
        timeout=TIMEOUT,
    )
    body = response.json()
    assert sorted(i["system"]["id"] for i in body["items"]) == sorted(wanted)
    assert all(not c.startswith("n") or len(c) == 37 for c in body["modular_content"])  # components only
    article = session.get(f"{base}/items/article_001", params={"depth": "0"}, timeout=TIMEOUT).json()
    referenced = article["item"]["elements"]["body"]["modular_content"]
    components = {c for c in referenced if c.startswith("n") and len(c) == 37}
    assert components and set(article["modular_content"]) == components  # components despite depth=0
    emulator = demo[0]
    [logged] = [r for r in emulator.control.requests(DEMO_ENVIRONMENT_ID) if "system.id[in]" in r["query"]]
    assert logged["headers"]["X-KC-Wait-For-Loading-New-Content"] == "true"


def test_skip_and_limit_walk_the_whole_listing(demo):
    _, base, session = demo
    params = {"system.type": "author", "depth": "0", "limit": "3"}
    seen, skip = [], 0
    while True:
        body = session.get(f"{base}/items", params={**params, "skip": str(skip)}, timeout=TIMEOUT).json()
        seen += [i["system"]["codename"] for i in body["items"]]
        assert body["pagination"]["skip"] == skip and body["pagination"]["limit"] == 3
        if body["pagination"]["next_page"] == "":
            break
        skip += body["pagination"]["count"]
    everything = session.get(f"{base}/items", params={"system.type": "author", "depth": "0"}, timeout=10)
    assert seen == [i["system"]["codename"] for i in everything.json()["items"]] and len(seen) == 10


def test_items_feed_empty_token_is_page_one_and_tokens_are_bound_to_the_query(demo):
    _, base, session = demo
    url = f"{base}/items-feed"
    first = session.get(url, params={"language": "en-US"}, timeout=TIMEOUT)
    empty = session.get(url, params={"language": "en-US"}, headers={"X-Continuation": ""}, timeout=TIMEOUT)
    assert empty.json() == first.json()
    token = first.headers["X-Continuation"]
    other_query = session.get(url, params={"language": "de"}, headers={"X-Continuation": token}, timeout=10)
    assert other_query.status_code == 400 and other_query.json()["error_code"] == 107
    for ignored in ("depth", "skip", "limit"):  # not supported by items-feed: no pagination object either
        response = session.get(url, params={"language": "en-US", ignored: "1"}, timeout=TIMEOUT)
        assert response.status_code in (200, 400) and "pagination" not in response.json()


def test_last_change_wins_for_id_keyed_entities(driver):
    ctl, env = driver.control, driver.env_id
    token = driver.init()
    ctl.upsert_type(env, "page", elements={"title": {"type": "text", "name": "Title"}})
    ctl.rename_type(env, "page", "landing_page")
    ctl.upsert_taxonomy(env, "topics", terms=[{"codename": "a"}])
    ctl.delete_taxonomy(env, "topics")
    [page] = driver.drain(token)[0]
    assert [(d["change_type"], d["data"]["system"]["codename"]) for d in page["types"]] == [
        ("changed", "landing_page")
    ]
    assert [d["change_type"] for d in page["taxonomies"]] == ["deleted"]


def test_entry_points_register_the_plugin_and_the_console_script():
    plugins = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    assert plugins.get("kontent_emulator") == "airflow_provider_kontent.testing.pytest_plugin"
    scripts = {ep.name: ep.value for ep in entry_points(group="console_scripts")}
    assert scripts.get("kontent-emulator") == "airflow_provider_kontent.testing.cli:main"


def test_the_emulator_imports_neither_the_client_nor_airflow():
    code = (
        "import sys\n"
        "from airflow_provider_kontent.testing import KontentEmulator, EmulatorControl\n"
        "import airflow_provider_kontent.testing.cli, airflow_provider_kontent.testing.backend.seed_demo\n"
        "with KontentEmulator(seed='demo') as emu:\n"
        "    EmulatorControl(emu.base_url).health()\n"
        "bad = sorted(m for m in sys.modules if m == 'airflow' or m.startswith(('airflow.',\n"
        "             'airflow_provider_kontent.client')))\n"
        "print(bad)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_codename_lookups_follow_renames_and_deletes(driver):
    """The store's and the Delivery side's codename indexes never serve a stale item."""
    ctl, env = driver.control, driver.env_id
    url = f"{driver.emulator.base_url}/{env}/items"
    item_id = ctl.upsert_item(env, "old_name", "article", "en-US", elements={"title": "T"})
    assert driver.session.get(f"{url}/old_name", timeout=TIMEOUT).status_code == 200
    assert ctl.upsert_item(env, "new_name", "article", "en-US", id=item_id) == item_id  # a codename change
    with pytest.raises(EmulatorControlError) as caught:
        ctl.publish(env, "old_name", "en-US")
    assert caught.value.status == 404
    ctl.publish(env, "new_name", "en-US")
    assert driver.session.get(f"{url}/old_name", timeout=TIMEOUT).status_code == 404
    assert driver.session.get(f"{url}/new_name", timeout=TIMEOUT).json()["item"]["system"]["id"] == item_id
    ctl.upsert_item(env, "old_name", "article", "en-US")  # the freed codename can be reused
    ctl.delete_item(env, "new_name")
    assert driver.session.get(f"{url}/new_name", timeout=TIMEOUT).status_code == 404
    assert ctl.upsert_item(env, "new_name", "article", "en-US") != item_id
    by_codename = driver.session.get(url, params={"system.codename[in]": "old_name,new_name"}, timeout=10)
    assert sorted(i["system"]["codename"] for i in by_codename.json()["items"]) == ["new_name", "old_name"]
