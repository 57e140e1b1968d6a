"""Auth per host and key kind, and the error statuses/shape for unknown environments and routes."""

from __future__ import annotations

import uuid

import pytest

ERROR_KEYS = {"message", "request_id", "error_code", "specific_code"}


def assert_error(response, status):
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == ERROR_KEYS
    assert len(body["request_id"]) == 16
    return body


@pytest.fixture
def secure(make_driver):
    return make_driver(secure_access=True)


def post_init(driver, preview=False, authorization=None):
    headers = {"Authorization": authorization} if authorization is not None else {}
    return driver.session.post(driver.url("/sync/init", preview), headers=headers, timeout=10)


def test_public_production_needs_no_key(driver):
    assert post_init(driver).status_code == 200


@pytest.mark.parametrize("scheme", ["Bearer", "bearer"])
def test_secure_production_accepts_the_secure_key(secure, scheme):
    assert post_init(secure, authorization=f"{scheme} {secure.env['secure_key']}").status_code == 200


@pytest.mark.parametrize("authorization", [None, "", "Bearer", "Bearer nope", "Basic abc", "token"])
def test_secure_production_missing_or_unknown_key_is_401(secure, authorization):
    assert_error(post_init(secure, authorization=authorization), 401)


def test_secure_production_with_preview_key_is_403(secure):
    assert_error(post_init(secure, authorization=f"Bearer {secure.env['preview_key']}"), 403)


@pytest.mark.parametrize("scheme", ["Bearer", "bearer"])
def test_preview_accepts_the_preview_key(driver, scheme):
    assert post_init(driver, True, f"{scheme} {driver.env['preview_key']}").status_code == 200


@pytest.mark.parametrize("authorization", [None, "Bearer wrong"])
def test_preview_missing_or_unknown_key_is_401(driver, authorization):
    assert_error(post_init(driver, True, authorization), 401)


def test_preview_with_secure_key_is_403(driver):
    assert_error(post_init(driver, True, f"Bearer {driver.env['secure_key']}"), 403)


def test_revoked_keys_are_403(secure):
    ctl = secure.control
    ctl.revoke_key(secure.env_id, "secure")
    ctl.revoke_key(secure.env_id, "preview")
    assert_error(post_init(secure, authorization=f"Bearer {secure.env['secure_key']}"), 403)
    assert_error(post_init(secure, True, f"Bearer {secure.env['preview_key']}"), 403)


def test_replaced_key_stops_working(secure):
    old = secure.env["secure_key"]
    secure.control.update_environment(secure.env_id, secure_key="brand-new-key")
    assert_error(post_init(secure, authorization=f"Bearer {old}"), 401)
    assert post_init(secure, authorization="Bearer brand-new-key").status_code == 200


def test_auth_applies_to_sync_and_delivery_routes(secure):
    token = post_init(secure, authorization=f"Bearer {secure.env['secure_key']}").headers["X-Continuation"]
    assert_error(secure.session.get(secure.url("/sync"), headers={"X-Continuation": token}, timeout=10), 401)
    assert_error(secure.session.get(secure.url("/items", version=1), timeout=10), 401)


def test_unknown_environment_is_404(emulator):
    unknown = uuid.uuid4()
    for url in (f"{emulator.base_url}/v2/{unknown}/sync/init", f"{emulator.preview_url}/{unknown}/sync/init"):
        assert_error(emulator.control._session.post(url, timeout=10), 404)


@pytest.mark.parametrize("path", ["/v2/{env}/nothing", "/v2/{env}/sync/init/more", "/v2/{env}", "/"])
def test_unknown_route_is_404_error_code_1(driver, path):
    url = driver.emulator.base_url + path.format(env=driver.env_id)
    body = assert_error(driver.session.post(url, timeout=10), 404)
    assert body["error_code"] == 1


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", "/v2/{env}/sync/init", "POST"),
        ("POST", "/v2/{env}/sync", "GET"),
        ("DELETE", "/{env}/sync", "GET"),
        ("PUT", "/{env}/sync/init", "POST"),
        ("POST", "/{env}/items", "GET"),
    ],
)
def test_wrong_method_on_known_route_is_405(make_driver, method, path, allowed):
    driver = make_driver(legacy_v1=True)  # the v1 sync routes exist only with the knob
    url = driver.emulator.base_url + path.format(env=driver.env_id)
    response = driver.session.request(method, url, timeout=10)
    assert_error(response, 405)
    assert response.headers["Allow"] == allowed


@pytest.mark.parametrize(("method", "path"), [("DELETE", "/{env}/sync"), ("PUT", "/{env}/sync/init")])
def test_retired_v1_routes_are_404_whatever_the_method(driver, method, path):
    url = driver.emulator.base_url + path.format(env=driver.env_id)
    response = driver.session.request(method, url, timeout=10)
    assert_error(response, 404)
    assert "retired" in response.json()["message"]


def test_url_length_limit_uses_the_full_url(make_driver):
    driver = make_driver(url_max_length=200, url_too_long_status=400)
    base = driver.url("/items", version=1)
    fits = "x" * (200 - len(base) - len("?a="))
    assert driver.session.get(f"{base}?a={fits}", timeout=10).status_code != 400
    assert_error(driver.session.get(f"{base}?a={fits}y", timeout=10), 400)


def test_url_too_long_default_status_is_414(driver):
    response = driver.session.get(driver.url("/items", version=1), params={"a": "x" * 2100}, timeout=10)
    assert_error(response, 414)
