"""The request budget is a connection setting: extras ``rate_limit_per_second``/``_per_minute``."""

from __future__ import annotations

import json

import pytest

from airflow_provider_kontent import CONN_FIELDS
from airflow_provider_kontent.client import KontentConfigError
from airflow_provider_kontent.hooks.kontent import KontentHook

ENV_ID = "8d20758c-d74c-4f59-ae04-ee928c0816b7"


def test_budget_extras_reach_the_client(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_KONTENT_BUDGET",
        f"kontent://?environment_id={ENV_ID}&rate_limit_per_second=40&rate_limit_per_minute=600",
    )
    hook = KontentHook("kontent_budget")
    cfg = hook.client_config
    assert (cfg.rate_limit_per_second, cfg.rate_limit_per_minute) == (40, 600)
    client = hook.get_conn()
    try:
        assert client.rate_limiter.windows == [(1.0, 40), (60.0, 600)]
    finally:
        hook.close()
    monkeypatch.setenv(
        "AIRFLOW_CONN_KONTENT_BUDGET",
        json.dumps({"conn_type": "kontent", "extra": {"environment_id": ENV_ID}}),
    )
    cfg = KontentHook("kontent_budget").client_config
    assert (cfg.rate_limit_per_second, cfg.rate_limit_per_minute) == (90, 1800)  # 90 % of 100/s, 2,000/min


@pytest.mark.parametrize("value", ["0", "fast", "2.5"])
def test_a_bad_budget_names_the_connection_and_field(monkeypatch, value):
    monkeypatch.setenv(
        "AIRFLOW_CONN_KONTENT_BUDGET", f"kontent://?environment_id={ENV_ID}&rate_limit_per_minute={value}"
    )
    with pytest.raises(KontentConfigError) as err:
        _ = KontentHook("kontent_budget").client_config
    assert "connection 'kontent_budget'" in str(err.value) and "rate_limit_per_minute" in str(err.value)


def test_the_form_says_what_the_budget_is_for():
    for name in ("rate_limit_per_second", "rate_limit_per_minute"):
        assert "shared with your website" in CONN_FIELDS[name]["description"]
