"""Plain-Python Kontent.ai client (Sync API v2/v1 and the Delivery content calls).

This package never imports Airflow, so it can be used and tested on its own; the Airflow hook in
``airflow_provider_kontent.hooks.kontent`` only builds a ``ClientConfig`` from a connection.
"""

from __future__ import annotations

from airflow_provider_kontent.client.async_client import AsyncKontentClient
from airflow_provider_kontent.client.blocking_client import FeedPage, KontentClient
from airflow_provider_kontent.client.config import ApiMode, ClientConfig
from airflow_provider_kontent.client.content import ContentBatch, item_content
from airflow_provider_kontent.client.errors import (
    KontentApiRetiredError,
    KontentAuthError,
    KontentBadRequestError,
    KontentConfigError,
    KontentConnectionError,
    KontentError,
    KontentInvalidTokenError,
    KontentMalformedDeltaError,
    KontentNotFoundError,
    KontentRateLimitError,
    KontentResponseError,
    KontentServerError,
    KontentStalledSyncError,
)
from airflow_provider_kontent.client.filters import FilterClause, FilterStats, SyncFilters
from airflow_provider_kontent.client.models import ChangeType, Delta, EntityKind, SyncPage, compact

__all__ = [
    "ApiMode",
    "AsyncKontentClient",
    "ChangeType",
    "ClientConfig",
    "ContentBatch",
    "Delta",
    "EntityKind",
    "FeedPage",
    "FilterClause",
    "FilterStats",
    "KontentAuthError",
    "KontentBadRequestError",
    "KontentClient",
    "KontentConfigError",
    "KontentConnectionError",
    "KontentError",
    "KontentInvalidTokenError",
    "KontentApiRetiredError",
    "KontentMalformedDeltaError",
    "KontentNotFoundError",
    "KontentRateLimitError",
    "KontentResponseError",
    "KontentServerError",
    "KontentStalledSyncError",
    "SyncFilters",
    "SyncPage",
    "compact",
    "item_content",
]
