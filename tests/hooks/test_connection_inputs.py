"""The connection a new user fills in: the form, one override per mode, and inputs that used to slip."""

from __future__ import annotations

import dataclasses
import json
import logging

import pytest

from airflow_provider_kontent import CONN_FIELDS, UI_FIELD_BEHAVIOUR
from airflow_provider_kontent.client import ClientConfig, KontentConfigError
from airflow_provider_kontent.hooks.kontent import KontentHook

CONN_ID = "kontent_inputs"
ENV_VAR = "AIRFLOW_CONN_KONTENT_INPUTS"
ENV = "8d20758c-d74c-4f59-ae04-ee928c0816b7"


def _conn(monkeypatch, host=None, password=None, port=None, **extra) -> None:
    body = {"conn_type": "kontent", "host": host, "port": port, "password": password, "extra": extra}
    monkeypatch.setenv(ENV_VAR, json.dumps(body))


def test_the_port_field_is_not_hidden():
    """Airflow 3.3's Test button posts a stored empty port as 0, and its test endpoint then answers "The
    host or port to test differs from the stored connection" (apache/airflow#73298). Storing 0 is the
    way round it, so the field must be there to type it into."""
    assert "port" not in UI_FIELD_BEHAVIOUR["hidden-fields"]
    assert "port" in UI_FIELD_BEHAVIOUR["relabeling"]
    assert "0" in UI_FIELD_BEHAVIOUR["placeholders"]["port"]


@pytest.mark.parametrize("port", [None, 0])
def test_port_0_means_no_port(monkeypatch, port):
    """The UI workaround stores port 0: it must leave the base URL override as it is."""
    for host in ("http://127.0.0.1:8123/kontent", "http://127.0.0.1/kontent"):
        _conn(monkeypatch, host, port=port, environment_id=ENV)
        assert KontentHook(CONN_ID).client_config.effective_base_url == host


def test_placeholders_show_the_defaults_and_a_valid_guid():
    placeholders = UI_FIELD_BEHAVIOUR["placeholders"]
    defaults = {f.name: f.default for f in dataclasses.fields(ClientConfig)}
    for name in ("connect_timeout", "read_timeout", "max_attempts", "max_retry_wait"):
        assert float(placeholders[name]) == defaults[name], name
        assert f"empty = {placeholders[name]}" in CONN_FIELDS[name]["description"], name
    assert ClientConfig(placeholders["environment_id"]).environment_id == placeholders["environment_id"]


def test_a_preview_connection_never_uses_the_production_override(monkeypatch, kontent_emulator):
    env = kontent_emulator.control.create_environment()
    _conn(
        monkeypatch, kontent_emulator.base_url, env["preview_key"], environment_id=env["id"], mode="preview"
    )
    with pytest.raises(KontentConfigError, match=r"host \(base URL override\).*preview_base_url") as err:
        _ = KontentHook(CONN_ID).client_config
    assert env["preview_key"] not in str(err.value)
    # the production override stays the production one; preview has its own
    _conn(
        monkeypatch,
        kontent_emulator.base_url,
        env["preview_key"],
        environment_id=env["id"],
        mode="preview",
        preview_base_url=kontent_emulator.preview_url,
    )
    assert KontentHook(CONN_ID).client_config.effective_base_url == kontent_emulator.preview_url
    _conn(
        monkeypatch, kontent_emulator.base_url, environment_id=env["id"], preview_base_url="https://x.example"
    )
    assert KontentHook(CONN_ID).client_config.effective_base_url == kontent_emulator.base_url


def test_test_connection_tells_preview_from_production(monkeypatch, kontent_emulator):
    """A preview key sent to a production host is accepted there and serves published content: the Test
    button must not report that as a working preview connection."""
    env = kontent_emulator.control.create_environment()
    key = env["preview_key"]
    _conn(
        monkeypatch,
        None,
        key,
        environment_id=env["id"],
        mode="preview",
        preview_base_url=kontent_emulator.base_url,
    )
    ok, message = KontentHook(CONN_ID).test_connection()
    assert ok is False and "not a preview endpoint" in message and key not in message
    _conn(
        monkeypatch,
        None,
        key,
        environment_id=env["id"],
        mode="preview",
        preview_base_url=kontent_emulator.preview_url,
    )
    ok, message = KontentHook(CONN_ID).test_connection()
    assert ok is True and "preview mode" in message, message


@pytest.mark.parametrize(("value", "ok"), [(True, False), ("true", False), (3, True), ("3", True)])
def test_max_attempts_must_be_a_number_not_a_bool(monkeypatch, value, ok):
    _conn(monkeypatch, environment_id=ENV, max_attempts=value)
    if ok:
        assert KontentHook(CONN_ID).client_config.max_attempts == 3
        return
    with pytest.raises(KontentConfigError, match=r"connection 'kontent_inputs': extra 'max_attempts'"):
        _ = KontentHook(CONN_ID).client_config


def test_an_unknown_extra_is_named_with_its_close_match(monkeypatch, caplog):
    caplog.set_level(logging.WARNING)
    _conn(monkeypatch, environment_id=ENV, max_attempt=3, colour="blue")
    _ = KontentHook(CONN_ID).client_config
    text = caplog.text
    assert "extra 'max_attempt' is not a Kontent.ai setting" in text and "did you mean 'max_attempts'" in text
    assert "extra 'colour' is not a Kontent.ai setting" in text and "known extras are" in text


def test_a_wrong_hook_param_is_named_as_a_hook_param(monkeypatch):
    _conn(monkeypatch, environment_id=ENV)
    with pytest.raises(
        KontentConfigError, match=r"hook_params\['max_concurrency'\] \(set on the task"
    ) as err:
        _ = KontentHook(CONN_ID, max_concurrency="many").client_config
    assert "extra" not in str(err.value)
    with pytest.raises(
        KontentConfigError, match=r"connection 'kontent_inputs', hook_params: .*max_concurency"
    ):
        _ = KontentHook(CONN_ID, max_concurency=8).client_config
