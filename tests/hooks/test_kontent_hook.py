"""KontentHook: connections from environment variables (JSON and URI), config errors, the connection
test's messages, the async client for triggers, and the single-source connection form."""

from __future__ import annotations

import json
import logging
from urllib.parse import quote, urlencode

import pytest

from airflow_provider_kontent import CONN_FIELDS, UI_FIELD_BEHAVIOUR, get_provider_info
from airflow_provider_kontent.client import (
    AsyncKontentClient,
    KontentAuthError,
    KontentClient,
    KontentConfigError,
    KontentError,
    KontentInvalidTokenError,
    KontentNotFoundError,
)
from airflow_provider_kontent.client.config import ApiMode, ClientConfig
from airflow_provider_kontent.hooks.kontent import CONNECTION_EXTRAS, KontentHook, legacy_form_spec
from tests.client.conftest import closed_port

CONN_ID = "kontent_test"
ENV_VAR = "AIRFLOW_CONN_KONTENT_TEST"


def json_conn(host=None, password=None, **extra) -> str:
    return json.dumps({"conn_type": "kontent", "host": host, "password": password, "extra": extra})


def uri_conn(host=None, password=None, **extra) -> str:
    """The URI form: a full base URL goes percent-encoded into the host part."""
    userinfo = f":{quote(password, safe='')}@" if password else ""
    return f"kontent://{userinfo}{quote(host or '', safe='')}/?{urlencode(extra)}"


@pytest.fixture
def secure_env(kontent_emulator):
    return kontent_emulator.control.create_environment(secure_access=True)


@pytest.mark.parametrize("form", [json_conn, uri_conn])
def test_connection_from_env_var_builds_the_client(monkeypatch, kontent_emulator, secure_env, form):
    monkeypatch.setenv(
        ENV_VAR,
        form(
            kontent_emulator.base_url,
            secure_env["secure_key"],
            environment_id=secure_env["id"],
            mode="secure",
            connect_timeout="3",
            read_timeout=7.5,
            max_attempts=2,
            max_retry_wait="9",
        ),
    )
    hook = KontentHook(kontent_conn_id=CONN_ID, backoff_initial=0.01)
    cfg = hook.client_config
    assert (hook.environment_id, hook.mode) == (secure_env["id"], ApiMode.SECURE)
    assert (cfg.base_url, cfg.api_key) == (kontent_emulator.base_url, secure_env["secure_key"])
    assert (cfg.connect_timeout, cfg.read_timeout, cfg.max_attempts, cfg.max_retry_wait) == (3.0, 7.5, 2, 9.0)
    assert cfg.backoff_initial == 0.01  # constructor overrides win
    client = hook.get_conn()
    assert isinstance(client, KontentClient) and hook.get_conn() is client
    assert client.init_sync()
    assert hook.test_connection()[0] is True
    key = secure_env["secure_key"]
    assert all(key not in text for text in (repr(hook), str(hook), repr(client), repr(cfg), str(vars(hook))))
    hook.close()


def test_defaults_and_bare_host(monkeypatch):
    env_id = "8d20758c-d74c-4f59-ae04-ee928c0816b7"
    monkeypatch.setenv(ENV_VAR, json_conn(environment_id=env_id))
    cfg = KontentHook(CONN_ID).client_config
    assert (cfg.mode, cfg.effective_base_url, cfg.api_key) == (
        ApiMode.PUBLIC,
        "https://deliver.kontent.ai",
        None,
    )
    monkeypatch.setenv(ENV_VAR, f"kontent://proxy.example.com:8443/?environment_id={env_id}")
    assert KontentHook(CONN_ID).client_config.base_url == "https://proxy.example.com:8443"
    # a full URL in host plus a separate port field: the port is used when the URL names none
    monkeypatch.setenv(
        ENV_VAR, json.dumps({"conn_type": "kontent", "host": "http://127.0.0.1", "port": 8123,
                             "extra": {"environment_id": env_id}})
    )  # fmt: skip
    assert KontentHook(CONN_ID).client_config.base_url == "http://127.0.0.1:8123"
    monkeypatch.setenv(
        ENV_VAR, json.dumps({"conn_type": "kontent", "host": "http://127.0.0.1:9000/x", "port": 8123,
                             "extra": {"environment_id": env_id}})
    )  # fmt: skip
    assert KontentHook(CONN_ID).client_config.base_url == "http://127.0.0.1:9000/x"
    assert (
        KontentHook.default_conn_name == "kontent_default"
        and KontentHook().kontent_conn_id == "kontent_default"
    )
    assert (KontentHook.conn_type, KontentHook.conn_name_attr, KontentHook.hook_name) == (
        "kontent",
        "kontent_conn_id",
        "Kontent.ai",
    )


@pytest.mark.parametrize(
    ("conn", "field", "text"),
    [
        (json_conn("http://127.0.0.1:PORT", environment_id="nope"), "environment_id", "extra 'environment_id'"),
        (json_conn("http://127.0.0.1:PORT", environment_id="8d20758c-d74c-4f59-ae04-ee928c0816b7x"), "environment_id", "GUID"),
        (json_conn(environment_id="8d20758c-d74c-4f59-ae04-ee928c0816b7", mode="preview"), "api_key", "password"),
        (json_conn(environment_id="8d20758c-d74c-4f59-ae04-ee928c0816b7", mode="secure"), "api_key", "password"),
        (json_conn(environment_id="8d20758c-d74c-4f59-ae04-ee928c0816b7", mode="nightly"), "mode", "extra 'mode'"),
        (
            json_conn("http://proxy.example.com", "k-123456", environment_id="8d20758c-d74c-4f59-ae04-ee928c0816b7", mode="secure"),
            "base_url",
            "host (base URL override)",
        ),
        (json_conn(environment_id="8d20758c-d74c-4f59-ae04-ee928c0816b7", max_attempts="many"), "max_attempts", "max_attempts"),
    ],
)  # fmt: skip
def test_configuration_errors_name_connection_and_field(
    monkeypatch, caplog, kontent_emulator, conn, field, text
):
    monkeypatch.setenv(ENV_VAR, conn.replace("PORT", kontent_emulator.base_url.rsplit(":", 1)[1]))
    hook = KontentHook(CONN_ID)
    with pytest.raises(KontentConfigError) as err:
        _ = hook.client_config
    assert err.value.field == field
    assert f"connection '{CONN_ID}'" in str(err.value) and text in str(err.value)
    ok, message = hook.test_connection()
    assert ok is False and message.startswith("Configuration error") and CONN_ID in message
    assert "k-123456" not in str(err.value) + message + caplog.text
    assert kontent_emulator.control.requests() == []  # refused before any request


def test_test_connection_explains_each_failure(
    monkeypatch, kontent_emulator, secure_env, scripted_server, caplog
):
    caplog.set_level(logging.DEBUG)
    base, env_id, key = kontent_emulator.base_url, secure_env["id"], secure_env["secure_key"]
    port = closed_port()
    html_server = scripted_server(
        [(200, {"Content-Type": "text/html"}, b"<html>Sign in to the proxy</html>")]
    )
    cases = {
        "wrong environment": (
            json_conn(base, key, environment_id="8d20758c-d74c-4f59-ae04-ee928c0816b7", mode="secure"),
            "Environment 8d20758c-d74c-4f59-ae04-ee928c0816b7 was not found",
        ),
        "wrong key": (
            json_conn(base, "wrong-key-0000", environment_id=env_id, mode="secure"),
            "key was rejected",
        ),
        "key of the wrong kind": (
            json_conn(None, key, environment_id=env_id, mode="preview", preview_base_url=base + "/preview"),
            "preview Delivery API key was rejected",
        ),
        "key needed": (json_conn(base, None, environment_id=env_id), "requires a Delivery API key"),
        "preview key missing": (
            json_conn(None, None, environment_id=env_id, mode="preview", preview_base_url=base + "/preview"),
            "needs a preview",
        ),
        "host unreachable": (
            json_conn(
                f"http://127.0.0.1:{port}", key, environment_id=env_id, mode="secure", max_retry_wait=0
            ),
            f"Cannot reach http://127.0.0.1:{port}",
        ),
        "not Kontent.ai": (
            json_conn(html_server.base_url, None, environment_id=env_id, max_attempts=1),
            "did not answer like the Kontent.ai Delivery API",
        ),
    }
    for name, (conn, expected) in cases.items():
        monkeypatch.setenv(ENV_VAR, conn)
        ok, message = KontentHook(CONN_ID, backoff_initial=0.01).test_connection()
        assert ok is False, name
        assert expected in message, (name, message)
        assert key not in message and "wrong-key-0000" not in message
    assert key not in caplog.text and "wrong-key-0000" not in caplog.text


async def test_async_client_for_triggers(monkeypatch, kontent_emulator, secure_env):
    monkeypatch.setenv(
        ENV_VAR,
        uri_conn(
            kontent_emulator.base_url,
            secure_env["secure_key"],
            environment_id=secure_env["id"],
            mode="secure",
        ),
    )
    with KontentHook(CONN_ID).get_conn() as client:
        token = client.init_sync()
    client = await KontentHook(CONN_ID).aget_async_client()
    assert isinstance(client, AsyncKontentClient)
    async with client:
        page = await client.sync_page(token)
    assert page.is_empty and page.next_token


def test_api_errors_of_a_hook_built_client_name_the_connection(
    monkeypatch, kontent_emulator, secure_env, secret_guard
):
    """401, 404 and 107 from a hook's client: the text leads with the connection id, Kontent's reason
    comes before the (long) URL, and the key appears nowhere."""
    base, env_id, key = kontent_emulator.base_url, secure_env["id"], secure_env["secure_key"]
    secret_guard.watch(key, "wrong-key-0000")
    unknown_env = "8d20758c-d74c-4f59-ae04-ee928c0816b7"
    cases = [
        (json_conn(base, "wrong-key-0000", environment_id=env_id, mode="secure"), KontentAuthError, 401, None),
        (json_conn(base, key, environment_id=unknown_env, mode="secure"), KontentNotFoundError, 404, None),
        (json_conn(base, key, environment_id=env_id, mode="secure"), KontentInvalidTokenError, 400, 107),
    ]  # fmt: skip
    for conn, error_class, status, error_code in cases:
        monkeypatch.setenv(ENV_VAR, conn)
        hook = KontentHook(CONN_ID, max_attempts=1)
        assert hook.client_config.context == f"connection '{CONN_ID}'"
        with hook.get_conn() as client, pytest.raises(error_class) as err:
            if error_code == 107:
                client.sync_page(client.init_sync() + "tampered")
            else:
                client.init_sync()
        error = secret_guard.record(err.value)
        text = str(error)
        assert error.status == status and (error_code is None or error.error_code == error_code)
        assert text.startswith(f"connection '{CONN_ID}': HTTP {status}: {error.message}"), text
        assert error.url and text.index(error.message) < text.index(error.url)
        assert f"request_id={error.request_id}" in text and CONN_ID in repr(error)
        assert key not in text + repr(error) and "wrong-key-0000" not in text + repr(error)


async def test_async_client_errors_name_the_connection(monkeypatch, kontent_emulator, secure_env):
    monkeypatch.setenv(
        ENV_VAR,
        json_conn(kontent_emulator.base_url, secure_env["secure_key"], environment_id=secure_env["id"], mode="secure"),
    )  # fmt: skip
    async with await KontentHook(CONN_ID).aget_async_client() as client:
        with pytest.raises(KontentInvalidTokenError) as err:
            await client.sync_page("not-a-token")
    assert str(err.value).startswith(f"connection '{CONN_ID}': HTTP 400: ")
    assert secure_env["secure_key"] not in str(err.value)


def test_a_plain_client_error_has_no_connection_label(kontent_emulator):
    """The label is the hook's: a client built without ``context`` keeps the bare text."""
    env = kontent_emulator.control.create_environment(secure_access=True)
    client = KontentClient(ClientConfig(env["id"], base_url=kontent_emulator.base_url))
    with client, pytest.raises(KontentError) as err:
        client.init_sync()
    assert err.value.context is None and str(err.value).startswith("HTTP 401: ")


def test_connection_form_has_one_source_of_truth():
    info = get_provider_info()["connection-types"][0]
    assert info["connection-type"] == KontentHook.conn_type
    assert info["hook-class-name"] == f"{KontentHook.__module__}.{KontentHook.__qualname__}"
    assert info["hook-name"] == KontentHook.hook_name
    legacy = KontentHook.get_ui_field_behaviour()
    assert {key.replace("_", "-"): value for key, value in legacy.items()} == info["ui-field-behaviour"]
    assert info["conn-fields"] is CONN_FIELDS and info["ui-field-behaviour"] is UI_FIELD_BEHAVIOUR
    spec = legacy_form_spec()
    assert list(spec) == list(info["conn-fields"])
    for name, field in info["conn-fields"].items():
        assert spec[name]["label"] == field["label"]
        assert spec[name]["description"] == field.get("description", "")
    assert spec["max_attempts"]["kind"] == "integer" and spec["mode"]["kind"] == "string"
    # every extra the hook reads is on the form, and the form has nothing the hook ignores
    assert sorted(CONN_FIELDS) == sorted(CONNECTION_EXTRAS)


def test_test_connection_explains_an_untrusted_certificate(monkeypatch, scripted_server, self_signed_tls):
    server = scripted_server([(200, {"X-Continuation": "tok"}, b"{}")], tls=self_signed_tls[0])
    env_id = "8d20758c-d74c-4f59-ae04-ee928c0816b7"
    monkeypatch.setenv(
        ENV_VAR, json_conn(server.base_url, "k-tls-0001", environment_id=env_id, mode="secure")
    )
    ok, message = KontentHook(CONN_ID).test_connection()
    assert ok is False and "could not be verified" in message and "k-tls-0001" not in message
    assert server.requests == []


def test_legacy_widgets_when_flask_appbuilder_is_installed():
    pytest.importorskip("flask_appbuilder")
    widgets = KontentHook.get_connection_form_widgets()
    assert list(widgets) == list(CONN_FIELDS)
