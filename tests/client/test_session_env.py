"""The client's own session reads proxy and CA-bundle variables once, for its one host."""

from __future__ import annotations

import requests

from airflow_provider_kontent.client import ClientConfig, KontentClient

ENV_ID = "8d20758c-d74c-4f59-ae04-ee928c0816b7"


def test_proxy_and_ca_bundle_variables_are_pinned_per_client(monkeypatch, tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("not parsed until a TLS request is made")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with KontentClient(ClientConfig(ENV_ID)) as client:
        assert client.session.trust_env is False  # not looked up again on every request
        assert client.session.proxies.get("https") == "http://proxy.internal:3128"
        assert client.session.verify == str(bundle)
    monkeypatch.setenv("NO_PROXY", "deliver.kontent.ai")
    with KontentClient(ClientConfig(ENV_ID)) as client:
        assert "https" not in client.session.proxies  # NO_PROXY for this client's host
    caller = requests.Session()
    with KontentClient(ClientConfig(ENV_ID), session=caller) as client:
        assert client.session is caller and caller.trust_env is True  # a caller's session is left alone
    caller.close()
