"""Change processing lag (``backend/propagation.py``): changes reach Sync and Delivery only
``propagation_delay_s`` after they were made (default 0); ``propagate`` releases pending changes so tests
need not sleep through the delay."""

from __future__ import annotations

import pytest

from airflow_provider_kontent.testing import EmulatorControlError
from tests.emulator.conftest import SyncDriver, wait_until

# -- propagation delay ----------------------------------------------------------------------------------------


def _item_status(driver: SyncDriver, codename: str, preview: bool = False) -> int:
    base = driver.emulator.preview_url if preview else driver.emulator.base_url
    response = driver.session.get(
        f"{base}/{driver.env_id}/items/{codename}", headers=driver.auth(preview), timeout=10
    )
    return response.status_code


def test_no_delay_by_default(driver: SyncDriver):
    assert driver.env["propagation_delay_s"] == 0
    token = driver.init()
    driver.control.upsert_item(driver.env_id, "now", "article", "en-US")
    assert _item_status(driver, "now") == 200
    assert len(driver.deltas(token)) == 1


def test_pending_changes_are_invisible_to_sync_and_delivery_until_propagated(make_driver):
    driver = make_driver()
    ctl, env = driver.control, driver.env_id
    assert ctl.update_environment(env, propagation_delay_s=3600)["propagation_delay_s"] == 3600
    prod, preview = driver.init(), driver.init(preview=True)
    item_id = ctl.upsert_item(env, "late", "article", "en-US", elements={"title": "Late"})
    ctl.upsert_language(env, "de-DE")

    assert ctl.get_environment(env)["pending_changes"] == 2
    assert driver.drain(prod)[0] == [] and driver.drain(preview, preview=True)[0] == []
    assert _item_status(driver, "late") == 404 and _item_status(driver, "late", preview=True) == 404
    languages = driver.session.get(f"{driver.emulator.base_url}/{env}/languages", timeout=10).json()
    assert [lang["system"]["codename"] for lang in languages["languages"]] == ["en-US"]
    init_during_delay = driver.init()  # "now" for readers is before the pending changes

    assert ctl.propagate(env) == 2
    assert ctl.get_environment(env)["pending_changes"] == 0
    assert _item_status(driver, "late") == 200
    for token in (prod, init_during_delay):
        [page] = driver.drain(token)[0]
        assert [d["data"]["system"]["id"] for d in page["items"]] == [item_id]
        assert [d["data"]["system"]["codename"] for d in page["languages"]] == ["de-DE"]
    assert len(driver.deltas(preview, preview=True)) == 1


def test_delivery_serves_the_previous_version_while_an_update_propagates(make_driver):
    driver = make_driver()
    ctl, env = driver.control, driver.env_id
    item_id = ctl.upsert_item(env, "doc", "article", "en-US", elements={"title": "Old"})
    token = driver.init()
    ctl.update_environment(env, propagation_delay_s=3600)
    ctl.upsert_item(env, "doc", "article", "en-US", elements={"title": "New"})
    ctl.delete_item(env, item_id)  # queued behind the update

    url = f"{driver.emulator.base_url}/{env}/items/doc"
    assert driver.session.get(url, timeout=10).json()["item"]["elements"]["title"]["value"] == "Old"
    assert driver.deltas(token) == []
    ctl.propagate(env)
    assert driver.session.get(url, timeout=10).status_code == 404
    assert [d["change_type"] for d in driver.deltas(token)] == ["deleted"]


def test_short_delay_elapses_on_its_own_in_order(make_driver):
    driver = make_driver(propagation_delay_s=0.2)
    ctl, env = driver.control, driver.env_id
    token = driver.init()
    ctl.upsert_item(env, "first", "article", "en-US")
    ctl.update_environment(env, propagation_delay_s=0)  # later changes still queue behind pending ones
    ctl.upsert_item(env, "second", "article", "en-US")
    assert _item_status(driver, "second") == 404  # not before "first" has been processed

    def both_visible() -> list[str] | None:
        codenames = [d["data"]["system"]["codename"] for d in driver.deltas(token)]
        return codenames if len(codenames) == 2 else None

    assert wait_until(both_visible) == ["first", "second"]
    assert _item_status(driver, "first") == 200 and _item_status(driver, "second") == 200
    assert ctl.get_environment(env)["pending_changes"] == 0


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"token_ttl_s": -1}, "token_ttl_s"),
        ({"token_ttl_s": "soon"}, "token_ttl_s"),
        ({"propagation_delay_s": -0.5}, "propagation_delay_s"),
        ({"propagation_delay_s": True}, "propagation_delay_s"),
    ],
)
def test_knob_validation_names_the_field(emulator, kontent_env, settings, field):
    for call in (
        lambda: emulator.control.create_environment(**settings),
        lambda: emulator.control.update_environment(kontent_env["id"], **settings),
    ):
        with pytest.raises(EmulatorControlError) as caught:
            call()
        assert caught.value.status == 400 and caught.value.field == field
