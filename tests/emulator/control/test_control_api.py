"""The HTTP control API and EmulatorControl: environments, model, items, bulk, generate, reset, validation."""

from __future__ import annotations

import pytest
import requests

from airflow_provider_kontent.testing import EmulatorControlError, EmulatorStore
from airflow_provider_kontent.testing.control.operations import OPERATIONS


def test_store_and_control_mirror_each_other():
    import inspect

    from airflow_provider_kontent.testing import EmulatorControl

    for name, operation in OPERATIONS.items():
        declared = list(operation.arguments.model_fields)
        store_params = list(inspect.signature(getattr(EmulatorStore, name)).parameters)[1:]
        control_params = list(inspect.signature(getattr(EmulatorControl, name)).parameters)[1:]
        assert store_params == control_params == declared, name


def test_environment_lifecycle(emulator):
    ctl = emulator.control
    env = ctl.create_environment(
        environment_id="0F5B6E9A-1C2D-4E3F-8A9B-0C1D2E3F4A5C",
        secure_access=True,
        secure_key="s",
        preview_key="p",
        languages=[{"codename": "en-US", "name": "English"}, {"codename": "cs", "fallback": "en-US"}],
        page_size=5,
        v1_change_types="plain",
    )
    assert env["id"] == "0f5b6e9a-1c2d-4e3f-8a9b-0c1d2e3f4a5c"
    assert [lang["codename"] for lang in env["languages"]] == ["en-US", "cs"]
    assert env["languages"][1]["fallback"] == "en-US"
    assert ctl.get_environment(env["id"])["page_size"] == 5
    assert ctl.update_environment(env["id"], page_size=7)["page_size"] == 7
    assert [e["id"] for e in ctl.list_environments()] == [env["id"]]
    ctl.delete_environment(env["id"])
    with pytest.raises(EmulatorControlError) as info:
        ctl.get_environment(env["id"])
    assert info.value.status == 404


def test_defaults_generate_keys_and_english(kontent_env):
    assert kontent_env["secure_key"] and kontent_env["preview_key"]
    assert kontent_env["secure_key"] != kontent_env["preview_key"]
    assert [lang["codename"] for lang in kontent_env["languages"]] == ["en-US"]
    assert kontent_env["page_size"] == 100 and kontent_env["v1_change_types"] == "suffixed"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"environment_id": "not-a-guid"}, "environment_id"),
        ({"page_size": 0}, "page_size"),
        ({"page_size": "10"}, "page_size"),
        ({"v1_change_types": "weird"}, "v1_change_types"),
        ({"secure_access": "yes"}, "secure_access"),
        ({"languages": []}, "languages"),
        ({"languages": [{"name": "x"}]}, "languages[0].codename"),
        ({"languages": [{"codename": "en"}, {"codename": "de", "fallback": "fr"}]}, "languages[1].fallback"),
        ({"languages": [{"codename": "en", "color": "red"}]}, "languages[0].color"),
        ({"rate_limit": "on"}, "rate_limit"),
    ],
)
def test_create_environment_validation_names_the_field(emulator, kwargs, field):
    response = requests.post(f"{emulator.base_url}/_emulator/create_environment", json=kwargs, timeout=10)
    assert response.status_code == 400
    body = response.json()
    assert body["field"] == field
    assert field in body["message"]


def test_unknown_and_missing_fields(emulator, kontent_env):
    base = f"{emulator.base_url}/_emulator"
    response = requests.post(
        f"{base}/upsert_type", json={"env_id": kontent_env["id"], "codename": "a", "x": 1}
    )
    assert (response.status_code, response.json()["field"]) == (400, "x")
    response = requests.post(f"{base}/upsert_type", json={"env_id": kontent_env["id"]})
    assert (response.status_code, response.json()["field"]) == (400, "codename")
    response = requests.post(f"{base}/upsert_type", data=b"{not json", timeout=10)
    assert response.status_code == 400
    assert requests.post(f"{base}/no_such_thing", json={}, timeout=10).status_code == 404
    assert requests.delete(f"{base}/reset", timeout=10).status_code == 405
    assert requests.get(f"{base}/faults", timeout=10).json() == {"result": []}


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda c, e: c.upsert_item(e, "x", "missing_type", "en-US"), "type"),
        (lambda c, e: c.upsert_item(e, "x", "article", "xx-XX"), "language"),
        (lambda c, e: c.upsert_item(e, "x", "article", "en-US", elements={"nope": 1}), "elements.nope"),
        (lambda c, e: c.upsert_item(e, "bad codename", "article", "en-US"), "codename"),
        (lambda c, e: c.upsert_type(e, "t", elements={"a": {"type": "video"}}), "elements.a.type"),
        (lambda c, e: c.publish(e, "missing", "en-US"), "item_id"),
        (lambda c, e: c.rename_type(e, "missing", "x"), "type_id_or_codename"),
        (lambda c, e: c.upsert_language(e, "de", fallback="fr"), "fallback"),
        (lambda c, e: c.upsert_language(e, "en-US", active=False), "active"),
        (lambda c, e: c.delete_type(e, "article"), "codename"),
        (lambda c, e: c.generate_changes(e, -1), "count"),
        (lambda c, e: c.inject_fault("explode"), "action"),
        (lambda c, e: c.inject_fault("status"), "status"),
        (lambda c, e: c.inject_fault("delay", delay="x"), "delay"),
        (lambda c, e: c.inject_fault("drop", path="("), "path"),
        (lambda c, e: c.bulk(e, [{"op": "upsert_item", "codename": "a"}]), "operations[0].type"),
        (lambda c, e: c.bulk(e, [{"op": "explode"}]), "operations[0].op"),
        (lambda c, e: c.seed("nope"), "name"),
    ],
)
def test_validation_errors_name_the_field(driver, call, field):
    driver.control.upsert_item(driver.env_id, "existing", "article", "en-US")
    with pytest.raises(EmulatorControlError) as info:
        call(driver.control, driver.env_id)
    assert info.value.field == field
    assert field in str(info.value)


def test_bulk_applies_operations_in_order(driver):
    token = driver.init()
    results = driver.control.bulk(
        driver.env_id,
        [
            {"op": "upsert_item", "codename": "a", "type": "article", "language": "en-US"},
            {"op": "upsert_item", "codename": "b", "type": "article", "language": "en-US", "publish": False},
            {"op": "publish", "item_id": "b", "language": "en-US"},
            {"op": "delete_item", "item_id": "a"},
        ],
    )
    assert len(results) == 4 and results[2] is None
    deltas = {d["data"]["system"]["codename"]: d["change_type"] for d in driver.deltas(token)}
    assert deltas == {"a": "deleted", "b": "changed"}


def test_generate_changes_creates_the_type_and_items(kontent_emulator, kontent_env):
    ctl = kontent_emulator.control
    assert ctl.generate_changes(kontent_env["id"], 5, type="news", publish=False) == 5
    store = kontent_emulator.store
    with store.read():
        env = store.get_env(kontent_env["id"])
        assert env.type_by_codename("news") is not None
        assert len(env.items) == 5
        assert all(v.published is None for i in env.items.values() for v in i.variants.values())


def test_workflow_steps_and_rename_language(driver):
    ctl, env = driver.control, driver.env_id
    ctl.upsert_language(env, "de-DE")
    item_id = ctl.upsert_item(env, "a", "article", "de-DE", workflow_step="review", publish=False)
    token = driver.init(preview=True)
    ctl.rename_language(env, "de-DE", "de")
    ctl.change_workflow_step(env, item_id, "de", "published")
    [page] = driver.drain(token, preview=True)[0]
    assert page["languages"][0]["data"]["system"]["codename"] == "de"
    assert page["items"][0]["data"]["system"]["language"] == "de"
    assert page["items"][0]["data"]["system"]["workflow_step"] == "published"


def test_reset_drops_everything(emulator, driver):
    driver.control.inject_fault("status", status=500)
    emulator.control.reset()
    assert emulator.control.list_environments() == []
    assert emulator.control.faults() == []
    assert emulator.control.requests() == []


def test_seed_demo_when_available(emulator):
    env = emulator.control.seed("demo")
    assert env["id"] == "0f5b6e9a-1c2d-4e3f-8a9b-0c1d2e3f4a5b"
    assert emulator.control.seed("demo")["id"] == env["id"]  # idempotent
