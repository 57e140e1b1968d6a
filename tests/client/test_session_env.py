"""The client's own session reads proxy and CA-bundle variables once, for its one host."""

from __future__ import annotations

import requests

from airflow_provider_kontent.client import ClientConfig, KontentClient
from tests.client.conftest import logged_headers, make_config

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


def test_sync_pages_sent_from_a_prepared_template_equal_what_session_request_sends(kontent_emulator):
    """The Sync fast path (a copy of a request prepared once per URL, through ``Session.send``) puts
    the same method, URL and headers on the wire as ``Session.request``; once the session holds a
    cookie, the client falls back to ``Session.request`` so the cookie is sent as before."""
    ctl = kontent_emulator.control
    env = ctl.create_environment(secure_access=True)
    config = make_config(env, kontent_emulator.base_url, "secure")
    with KontentClient(config) as client:
        token = client.init_sync()
        request = client.protocol.sync_request(token)
        assert client._template_for(request) is not None
        ctl.clear_requests()
        assert client.sync_page(token).is_empty
        client.session.request("GET", request.url, headers=request.headers, timeout=10).raise_for_status()
        fast, normal = ctl.requests(env["id"])
        assert (fast["method"], fast["path"]) == (normal["method"], normal["path"])
        assert logged_headers(fast) == logged_headers(normal)
        assert logged_headers(fast)["x-continuation"] == token
        assert logged_headers(fast)["authorization"] == "Bearer ***"  # the key was sent (masked in the log)

        client.session.cookies.set("lb", "node-2")
        assert client._template_for(request) is None
        ctl.clear_requests()
        assert client.sync_page(token).is_empty
        assert logged_headers(ctl.requests(env["id"])[0])["cookie"] == "lb=node-2"
    caller = requests.Session()
    with KontentClient(config, session=caller) as client:
        assert client._template_for(client.protocol.sync_request(token)) is None  # a caller's session
    caller.close()
