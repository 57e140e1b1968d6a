"""The package registers itself with Airflow the way ProvidersManager expects."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from importlib import metadata, resources
from pathlib import Path

import jsonschema

from airflow_provider_kontent import __version__, get_provider_info


def test_provider_info_validates_against_airflows_schema():
    schema = json.loads((resources.files("airflow") / "provider_info.schema.json").read_text())
    jsonschema.validate(get_provider_info(), schema)


def test_entry_point_returns_provider_info_with_the_distribution_name():
    (entry,) = [
        ep
        for ep in metadata.entry_points(group="apache_airflow_provider")
        if ep.dist and ep.dist.name == "airflow-provider-kontent"
    ]
    info = entry.load()()
    assert info["package-name"] == "airflow-provider-kontent"
    assert info["versions"][0] == __version__


def test_every_declared_module_and_class_imports():
    info = get_provider_info()
    modules = [
        m
        for kind in ("hooks", "operators", "sensors", "triggers")
        for e in info[kind]
        for m in e["python-modules"]
    ]
    modules += [t["python-module"] for t in info["transfers"]]
    for module in modules:
        importlib.import_module(module)
    for conn in info["connection-types"]:
        module, _, cls = conn["hook-class-name"].rpartition(".")
        hook = getattr(importlib.import_module(module), cls)
        assert hook.conn_type == conn["connection-type"]


def test_airflow_providers_list_shows_the_provider(tmp_path: Path):
    env = dict(os.environ, AIRFLOW_HOME=str(tmp_path), AIRFLOW__CORE__LOAD_EXAMPLES="False")
    out = subprocess.run(
        [sys.executable, "-m", "airflow", "providers", "list", "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    ).stdout
    rows = json.loads(next(line for line in out.splitlines() if line.startswith("[{")))
    assert {"package_name": "airflow-provider-kontent", "version": __version__}.items() <= next(
        r for r in rows if r["package_name"] == "airflow-provider-kontent"
    ).items()


def test_airflow_reads_a_documentation_url_and_the_license():
    """Airflow takes the provider's documentation link from the Project-URL "Documentation"
    (shown in the providers list, the UI and the REST API); the license is an SPDX expression."""
    from airflow.providers_manager import ProvidersManager

    provider = ProvidersManager().providers["airflow-provider-kontent"]
    assert provider.data["documentation-url"].startswith("https://")
    dist = metadata.distribution("airflow-provider-kontent")
    assert dist.metadata["License-Expression"] == "Apache-2.0"
    assert (Path(__file__).parents[1] / "LICENSE").read_text().lstrip().startswith("Apache License")
