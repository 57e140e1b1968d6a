"""The emulator's layers stay apart (checked on the source, statically): the backend knows nothing of HTTP
or of the layers above it; the API modules never reach into the control layer or the server; the control
layer never reaches into the APIs; nothing imports the provider's client or Airflow."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import airflow_provider_kontent.testing as testing

ROOT = Path(testing.__file__).parent
PKG = "airflow_provider_kontent.testing"
EVERYWHERE = ("airflow", "airflow_provider_kontent.client")
RULES = {
    "backend": (
        *EVERYWHERE,
        "http",
        "urllib",
        "requests",
        "httpx",
        "socket",
        "pydantic",
        f"{PKG}.sync_api",
        f"{PKG}.delivery_api",
        f"{PKG}.control",
        f"{PKG}.server",
        f"{PKG}.kontent_errors",
    ),
    "sync_api": (*EVERYWHERE, "http.server", "requests", f"{PKG}.control", f"{PKG}.server"),
    "delivery_api": (
        *EVERYWHERE,
        "http.server",
        "requests",
        f"{PKG}.control",
        f"{PKG}.server",
        f"{PKG}.sync_api",
    ),
    "control": (*EVERYWHERE, "http.server", f"{PKG}.sync_api", f"{PKG}.delivery_api", f"{PKG}.server"),
}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("layer", sorted(RULES))
def test_layer_imports_nothing_it_must_not(layer):
    modules = sorted((ROOT / layer).glob("*.py"))
    assert len(modules) > 2
    for path in modules:
        for name in _imports(path):
            for forbidden in RULES[layer]:
                assert name != forbidden and not name.startswith(forbidden + "."), (layer, path.name, name)
