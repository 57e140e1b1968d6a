"""``AsyncKontentClient``: the asyncio client (httpx) used by the trigger.

It only fetches sync pages: init and token commits happen on workers, never in the triggerer, so a
restarted trigger cannot cause side effects. Protocol, parsing, errors and retries are the same as in
the blocking client.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import httpx

from airflow_provider_kontent.client import protocol
from airflow_provider_kontent.client.config import ClientConfig
from airflow_provider_kontent.client.errors import KontentConnectionError
from airflow_provider_kontent.client.filters import FilterStats, SyncFilters
from airflow_provider_kontent.client.models import SyncPage
from airflow_provider_kontent.client.protocol import ApiRequest, ApiResponse, Protocol
from airflow_provider_kontent.client.retry import LOGGER_NAME, async_retrying
from airflow_provider_kontent.client.sync_client import _check_version, apply_client_filters, validate_token

__all__ = ["AsyncKontentClient"]

log = logging.getLogger(LOGGER_NAME)


class AsyncKontentClient:
    """Async Kontent.ai client owning one ``httpx.AsyncClient`` (use ``async with`` or ``aclose``)."""

    def __init__(self, config: ClientConfig, *, client: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self.protocol = Protocol(config)
        self._owns_client = client is None
        self.client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(config.read_timeout, connect=config.connect_timeout), follow_redirects=True
        )
        self.filter_stats = FilterStats()

    def __repr__(self) -> str:
        return f"AsyncKontentClient({self.config!r})"

    async def __aenter__(self) -> AsyncKontentClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_client:
            await self.client.aclose()

    async def _send_once(self, request: ApiRequest) -> ApiResponse:
        try:
            resp = await self.client.request(
                request.method, request.url, params=request.params or None, headers=request.headers
            )
        except httpx.TransportError as exc:
            raise KontentConnectionError(
                f"{type(exc).__name__} while talking to Kontent.ai",
                url=request.loggable_url,
                method=request.method,
            ) from exc
        response = ApiResponse.build(
            resp.status_code, resp.headers, resp.content, str(resp.url), request.method
        )
        protocol.check_complete(response)
        return response

    async def sync_page(
        self, token: str, api_version: int = 2, filters: SyncFilters | Mapping[str, Any] | None = None
    ) -> SyncPage:
        """One page of changes after ``token`` (same semantics as ``KontentClient.sync_page``)."""
        _check_version(api_version)
        validate_token(token)
        sync_filters = SyncFilters.coerce(filters)
        request = self.protocol.sync_request(token, api_version)

        async def attempt() -> SyncPage:
            response = await self._send_once(request)
            log.debug("Kontent %s %s -> %s", request.method, request.loggable_url, response.status)
            if response.status >= 400:
                raise protocol.error_from_response(response, sync_endpoint=True)
            return protocol.parse_sync_page(response)

        page = await async_retrying(self.config, request.method, request.loggable_url)(attempt)
        return apply_client_filters(page, sync_filters, api_version, self.filter_stats)
