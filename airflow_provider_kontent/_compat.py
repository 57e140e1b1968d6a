"""Imports that moved between Airflow 3.0 and 3.1+, resolved once so the other modules stay plain.

Airflow 3.1 added ``airflow.sdk.BaseHook`` (with ``aget_connection``) and moved the task exceptions into
``airflow.sdk.exceptions``; 3.0 still has them in ``airflow.hooks.base`` and ``airflow.exceptions``.
"""

from __future__ import annotations

from typing import Any

try:  # Airflow 3.1+
    from airflow.sdk import BaseHook
except ImportError:  # Airflow 3.0
    from airflow.hooks.base import BaseHook  # type: ignore[no-redef]

try:  # Airflow 3.1+
    from airflow.sdk.exceptions import AirflowFailException, AirflowSensorTimeout, AirflowSkipException
except ImportError:  # Airflow 3.0
    from airflow.exceptions import (  # type: ignore[no-redef]
        AirflowFailException,
        AirflowSensorTimeout,
        AirflowSkipException,
    )

__all__ = [
    "AirflowFailException",
    "AirflowSensorTimeout",
    "AirflowSkipException",
    "BaseHook",
    "aget_connection",
]


async def aget_connection(conn_id: str) -> Any:
    """Read a connection inside a trigger without blocking the triggerer's event loop.

    3.1+ has a native async lookup; on 3.0 the sync lookup runs in a worker thread, the pattern the
    apache-airflow common.compat provider uses for the same gap.
    """
    native = getattr(BaseHook, "aget_connection", None)
    if native is not None:
        return await native(conn_id)
    from asgiref.sync import sync_to_async

    return await sync_to_async(BaseHook.get_connection)(conn_id)
