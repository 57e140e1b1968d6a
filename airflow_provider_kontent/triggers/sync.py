"""``KontentSyncTrigger``: wait in the triggerer until a token has changes that pass the filters.

The trigger may run more than once for one deferral (triggerer restart, HA duplicate), so it has no
side effects: it only makes ``GET /sync`` calls with the token it was given, stores nothing and never
initializes. The connection is read once, asynchronously (``KontentHook.aget_async_client``); the
async client retries 429/5xx/network failures itself, honouring ``Retry-After``. Failures that survive
those retries are tolerated ``max_errors`` times in a row (the next poll may succeed) before the
trigger gives up with an error event; configuration, auth and token errors end it at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_kontent.client.lookahead import Lookahead
from airflow_provider_kontent.outcomes import is_retryable
from airflow_provider_kontent.tokens import token_fingerprint

__all__ = ["KontentSyncTrigger"]

CLASSPATH = "airflow_provider_kontent.triggers.sync.KontentSyncTrigger"


class KontentSyncTrigger(BaseTrigger):
    """Poll ``GET /sync`` with one token until matching changes exist, then fire one small event.

    Events: ``{"status": "success", "token", "pending": {array: {change_type: n}}, "total",
    "newest_timestamp"}`` or ``{"status": "error", "message", "timeout": bool, "retryable": bool}``
    (``retryable`` False: auth, not found, invalid token or configuration, which no retry can fix).

    :param kontent_conn_id: Kontent connection id (the key is read in the triggerer, never serialized).
    :param token: the continuation token to look ahead from (never advanced or stored).
    :param api_version: 2 or 1.
    :param filters: filter mapping; for v2 a page whose deltas are all filtered out is followed (inside
        the trigger only) to look further.
    :param poll_interval: seconds between polls when nothing is pending.
    :param end_time: epoch seconds after which the trigger ends with a timeout error (None: never).
    :param max_errors: consecutive retryable failures (after the client's own retries) before giving up.
    :param max_lookahead_pages: pages followed per poll through filtered-out changes.
    :param hook_params: client settings over the connection's (the sensor's ``hook_params``; never a key).
    """

    def __init__(
        self,
        *,
        kontent_conn_id: str,
        token: str,
        api_version: int = 2,
        filters: Mapping[str, Any] | None = None,
        poll_interval: float = 60.0,
        end_time: float | None = None,
        max_errors: int = 3,
        max_lookahead_pages: int = 10,
        hook_params: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.kontent_conn_id = kontent_conn_id
        self.token = token
        self.api_version = int(api_version)
        self.filters = dict(filters or {})
        self.poll_interval = float(poll_interval)
        self.end_time = None if end_time is None else float(end_time)
        self.max_errors = int(max_errors)
        self.max_lookahead_pages = int(max_lookahead_pages)
        self.hook_params = dict(hook_params or {})

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            CLASSPATH,
            {
                "kontent_conn_id": self.kontent_conn_id,
                "token": self.token,
                "api_version": self.api_version,
                "filters": dict(self.filters),
                "poll_interval": self.poll_interval,
                "end_time": self.end_time,
                "max_errors": self.max_errors,
                "max_lookahead_pages": self.max_lookahead_pages,
                "hook_params": dict(self.hook_params),
            },
        )

    def _timeout_event(self) -> TriggerEvent:
        return TriggerEvent(
            {
                "status": "error",
                "timeout": True,
                "message": f"no matching Kontent changes after token {token_fingerprint(self.token)} before the "
                "sensor timeout",
            }
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow_provider_kontent.client import KontentError
        from airflow_provider_kontent.hooks.kontent import KontentHook

        try:
            client = await KontentHook(
                kontent_conn_id=self.kontent_conn_id, **self.hook_params
            ).aget_async_client()
        except Exception as err:
            yield TriggerEvent(
                {
                    "status": "error",
                    "timeout": False,
                    "retryable": is_retryable(err),
                    "message": f"cannot set up the client: {err}",
                }
            )
            return
        try:
            cursor = self.token
            errors = 0
            while True:
                if self.end_time is not None and time.time() >= self.end_time:
                    yield self._timeout_event()
                    return
                try:
                    found, cursor = await self._look(client, cursor)
                    errors = 0
                except KontentError as err:
                    errors += 1
                    if not err.retryable or errors >= self.max_errors:
                        yield TriggerEvent(
                            {
                                "status": "error",
                                "timeout": False,
                                "retryable": is_retryable(err),
                                "message": f"Kontent sync poll failed ({type(err).__name__}): {err}",
                            }
                        )
                        return
                    self.log.warning("Kontent poll failed (%d/%d in a row): %s", errors, self.max_errors, err)
                    found = None
                if found is not None:
                    yield TriggerEvent({"status": "success", **found})
                    return
                delay = self.poll_interval
                if self.end_time is not None:
                    delay = max(0.0, min(delay, self.end_time - time.time()))
                self.log.info("No matching Kontent changes yet; next poll in %.1fs", delay)
                await asyncio.sleep(delay)
        except Exception as err:  # anything unexpected still ends the deferral with a reason
            yield TriggerEvent(
                {"status": "error", "timeout": False, "message": f"{type(err).__name__}: {err}"}
            )
        finally:
            await client.aclose()

    async def _look(self, client: Any, cursor: str) -> tuple[dict[str, Any] | None, str]:
        """Read up to ``max_lookahead_pages`` pages from ``cursor``; (result or None, where to resume)."""
        look = Lookahead(self.token, max_pages=self.max_lookahead_pages, cursor=cursor)
        while not look.done:
            look.feed(
                await client.sync_page(
                    look.cursor, api_version=self.api_version, filters=self.filters or None
                )
            )
        return look.found, look.cursor
