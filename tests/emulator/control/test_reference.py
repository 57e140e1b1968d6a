"""The control surface is declared once: the doc reference, the HTTP API, EmulatorStore and
EmulatorControl all follow ``control/operations.py`` and cannot drift from it."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from airflow_provider_kontent.testing import EmulatorStore
from airflow_provider_kontent.testing.backend.store import Backend
from airflow_provider_kontent.testing.control import reference
from airflow_provider_kontent.testing.control.operations import BULK_OPERATIONS, OPERATIONS, READ

DOC = Path(__file__).resolve().parents[3] / "docs" / "emulator.md"


def test_the_doc_reference_is_the_generated_one():
    current = reference.section(DOC.read_text(encoding="utf-8"))
    assert current, "docs/emulator.md lost its control-operations markers"
    assert current == reference.render(), (
        "docs/emulator.md is out of date: run "
        "`python -m airflow_provider_kontent.testing.control.reference docs/emulator.md`"
    )


def test_the_reference_lists_every_operation_with_every_argument():
    rendered = reference.render()
    for name, operation in OPERATIONS.items():
        row = next(line for line in rendered.splitlines() if line.startswith(f"| `{name}` |"))
        for argument in operation.arguments.model_fields:
            assert f"`{argument}" in row, (name, argument)


def test_rewrite_restores_an_edited_doc(tmp_path):
    doc = tmp_path / "emulator.md"
    doc.write_text("intro\n\n" + reference.render().replace("`reset`", "`reboot`") + "\n\noutro\n")
    assert reference.rewrite(doc) is True
    assert reference.section(doc.read_text()) == reference.render()
    assert doc.read_text().startswith("intro\n") and doc.read_text().endswith("outro\n")
    assert reference.rewrite(doc) is False


def test_every_declared_operation_has_an_implementation():
    for name, operation in OPERATIONS.items():
        assert operation.run is not None or callable(getattr(Backend, name, None)), name
        assert operation.summary, f"{name} has no docstring"


def test_bulk_accepts_exactly_the_operations_declared_bulk(driver):
    assert "bulk" not in BULK_OPERATIONS and "upsert_item" in BULK_OPERATIONS
    with pytest.raises(Exception) as info:
        driver.control.bulk(driver.env_id, [{"op": "reset"}])
    assert info.value.field == "operations[0].op"


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_http_methods_follow_the_declared_nature(emulator, name):
    url = f"{emulator.base_url}/_emulator/{name}"
    status = requests.get(url, timeout=10).status_code
    if OPERATIONS[name].nature == READ:
        assert status != 405  # read operations answer GET (missing arguments are a 400, not a 405)
    else:
        assert status == 405


def test_in_process_validation_is_the_http_validation(emulator):
    """The same declaration refuses the same input with the same field, in-process and over HTTP."""
    store = EmulatorStore()
    bad = {"languages": [{"codename": "en-US"}, {"codename": "de", "fallback": "fr"}]}
    with pytest.raises(Exception) as info:
        store.create_environment(**bad)
    response = requests.post(f"{emulator.base_url}/_emulator/create_environment", json=bad, timeout=10)
    assert info.value.field == response.json()["field"] == "languages[1].fallback"
    assert str(info.value) in response.json()["message"]
