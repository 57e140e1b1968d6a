"""``delivery_api/definitions.py``: one content type element (``GET /{env}/types/{type}/elements/{element}``)."""

from __future__ import annotations

import pytest


@pytest.fixture
def typed(driver):
    driver.control.upsert_taxonomy(driver.env_id, "topics", terms=[{"codename": "tea"}])
    driver.control.upsert_type(
        driver.env_id,
        "product",
        elements={
            "name": {"type": "text", "name": "Name"},
            "size": {
                "type": "multiple_choice",
                "name": "Size",
                "options": [{"name": "Small", "codename": "s"}, {"name": "Large", "codename": "l"}],
            },
            "topics": {"type": "taxonomy", "name": "Topics", "taxonomy_group": "topics"},
        },
    )
    return driver


def _get(driver, path: str, preview: bool = False):
    return driver.session.get(driver.url(path, preview, version=1), headers=driver.auth(preview), timeout=10)


@pytest.mark.parametrize("preview", [False, True])
def test_one_element_with_its_codename(typed, preview):
    response = _get(typed, "/types/product/elements/name", preview)
    assert response.status_code == 200
    assert response.json() == {"codename": "name", "type": "text", "name": "Name"}


def test_element_shapes_match_the_type_endpoint(typed):
    whole = _get(typed, "/types/product").json()["elements"]
    for codename, element in whole.items():
        single = _get(typed, f"/types/product/elements/{codename}").json()
        assert single == {"codename": codename, **element}
    assert whole["size"]["options"][1] == {"name": "Large", "codename": "l"}
    assert whole["topics"]["taxonomy_group"] == "topics"


def test_unknown_element_is_404_error_code_102(typed):
    response = _get(typed, "/types/product/elements/colour")
    assert response.status_code == 404
    body = response.json()
    assert body["error_code"] == 102 and "colour" in body["message"]
    assert set(body) == {"message", "request_id", "error_code", "specific_code"}


def test_unknown_type_is_404_error_code_101(typed):
    response = _get(typed, "/types/nope/elements/name")
    assert (response.status_code, response.json()["error_code"]) == (404, 101)


def test_other_methods_are_405(typed):
    response = typed.session.post(typed.url("/types/product/elements/name", version=1), timeout=10)
    assert response.status_code == 405 and response.headers["Allow"] == "GET"
