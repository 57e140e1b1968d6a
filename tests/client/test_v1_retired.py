"""Sync API v1 was retired by Kontent.ai on 2026-01-05: a v1 call must say so, once, and not be retried."""

from __future__ import annotations

import pytest

from airflow_provider_kontent.client import KontentApiRetiredError, KontentClient, KontentNotFoundError
from tests.client.conftest import make_config


@pytest.mark.parametrize("mode", ["public", "preview"])
def test_a_v1_call_names_the_retirement_and_is_not_retried(kontent_emulator, mode):
    env = kontent_emulator.control.create_environment()  # legacy_v1 off: answers like the retired service
    kontent_emulator.control.clear_requests()
    with KontentClient(make_config(env, kontent_emulator.base_url, mode)) as client:
        with pytest.raises(KontentApiRetiredError) as err:
            client.init_sync(api_version=1)
        text = str(err.value)
        assert (
            "HTTP 404" in text and "retired by Kontent.ai on 2026-01-05" in text and "api_version=2" in text
        )
        assert err.value.request_id and not err.value.retryable
        assert len(kontent_emulator.control.requests(env["id"])) == 1
        # v2 on the same connection works
        assert client.init_sync(api_version=2)


def test_a_v2_404_is_not_mistaken_for_the_retirement(kontent_emulator):
    env = kontent_emulator.control.create_environment()
    env = {**env, "id": "8d20758c-d74c-4f59-ae04-ee928c0816b7"}  # an environment the emulator does not have
    with (
        KontentClient(make_config(env, kontent_emulator.base_url)) as client,
        pytest.raises(KontentNotFoundError) as err,
    ):
        client.init_sync(api_version=2)
    assert not isinstance(err.value, KontentApiRetiredError)
    assert "retired" not in str(err.value)


def test_the_legacy_v1_knob_still_serves_v1_for_migration_tests(kontent_emulator):
    env = kontent_emulator.control.create_environment(legacy_v1=True)
    with KontentClient(make_config(env, kontent_emulator.base_url)) as client:
        token = client.init_sync(api_version=1)
        assert client.sync_page(token, api_version=1).is_empty
