"""``AsyncKontentClient``: the asyncio client (httpx) used by the trigger.

It only fetches sync pages: init and token commits happen on workers, never in the triggerer, so a
restarted trigger cannot cause side effects. Request building, parsing, errors and the retry policy
come from the same modules as the blocking client (``protocol``, ``retry``); only the transport differs.
Every attempt passes the environment's shared request budget (``ratelimit.limiter_for``), the same
limiter the blocking clients of this process use: a triggerer running many sensors of one environment
spends one budget, and a 429 answered to any of them holds them all until ``Retry-After``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import httpx

from airflow_provider_kontent.client import protocol, sync_checks
from airflow_provider_kontent.client.config import ClientConfig
from airflow_provider_kontent.client.errors import KontentError
from airflow_provider_kontent.client.filters import FilterStats, SyncFilters
from airflow_provider_kontent.client.models import SyncPage
from airflow_provider_kontent.client.protocol import (
    ApiRequest,
    ApiResponse,
    RequestBuilder,
    apply_client_filters,
    parse_retry_after,
)
from airflow_provider_kontent.client.ratelimit import RequestStats, limiter_for
from airflow_provider_kontent.client.retry import async_retrying

__all__ = ["AsyncKontentClient"]

T = TypeVar("T")

# httpx refuses to build or follow these requests; sending them again cannot help
_PERMANENT_TRANSPORT_ERRORS = (httpx.UnsupportedProtocol, httpx.LocalProtocolError, httpx.TooManyRedirects)


class AsyncKontentClient:
    """Async Kontent.ai client owning one ``httpx.AsyncClient`` (use ``async with`` or ``aclose``).

    Requests wait on the environment's shared limiter (``acquire_async``) and are counted in ``stats``.
    """

    def __init__(self, config: ClientConfig, *, client: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self.protocol = RequestBuilder(config)
        self._owns_client = client is None
        self.client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(config.read_timeout, connect=config.connect_timeout),
            follow_redirects=True,  # httpx drops Authorization when a redirect leaves the origin
            verify=True,
        )
        self.rate_limiter = limiter_for(config.environment_id, config.rate_windows)
        self.stats = RequestStats()
        self.filter_stats = FilterStats()
        self.malformed_stats = sync_checks.MalformedStats()

    def __repr__(self) -> str:
        return f"AsyncKontentClient({self.config!r})"

    async def __aenter__(self) -> AsyncKontentClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections (only of an ``httpx.AsyncClient`` this client created)."""
        if self._owns_client:
            await self.client.aclose()

    async def _send_once(self, request: ApiRequest) -> ApiResponse:
        """One attempt: wait for the shared budget, send, read the whole body; report a 429 to it."""
        self.stats.add(await self.rate_limiter.acquire_async())
        try:
            resp = await self.client.request(
                request.method, request.url, params=request.params or None, headers=request.headers
            )
        except httpx.RequestError as exc:
            raise protocol.transport_error(exc, request, permanent=_PERMANENT_TRANSPORT_ERRORS) from exc
        if resp.status_code == 429:
            self.stats.add_throttled()
            self.rate_limiter.throttled(parse_retry_after(resp.headers.get("retry-after")))
        return ApiResponse.build(resp.status_code, resp.headers, resp.content, str(resp.url), request.method)

    async def _call(
        self, request: ApiRequest, parse: Callable[[ApiResponse], T], *, sync_endpoint: bool = False
    ) -> T:
        """Send with retries; an attempt succeeds only when the body was read and parsed."""

        async def attempt() -> T:
            return protocol.read_outcome(await self._send_once(request), parse, sync_endpoint=sync_endpoint)

        try:
            return await async_retrying(self.config, request.method, request.loggable_url)(attempt)
        except KontentError as exc:
            protocol.label_error(exc, self.config)
            raise

    async def sync_page(
        self,
        token: str,
        api_version: int = 2,
        filters: SyncFilters | Mapping[str, Any] | None = None,
        *,
        skip_malformed: bool = False,
    ) -> SyncPage:
        """One page of changes after ``token`` (same semantics as ``KontentClient.sync_page``)."""
        sync_filters = SyncFilters.coerce(filters)
        request = self.protocol.sync_request(token, api_version)
        page = await self._call(request, protocol.parse_sync_page, sync_endpoint=True)
        sync_checks.check_malformed(page, skip=skip_malformed, stats=self.malformed_stats, config=self.config)
        return apply_client_filters(page, sync_filters, api_version, self.filter_stats)
