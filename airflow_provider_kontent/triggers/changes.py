"""``KontentChangesEventTrigger``: start a DAG the moment Kontent.ai content changes (``AssetWatcher``).

Airflow 3 runs a ``BaseEventTrigger`` in the triggerer for every ``AssetWatcher`` of an asset; each event
it yields becomes an asset event, and a DAG scheduled on the asset runs. This trigger watches one sync
(a connection plus the Variable that holds the pipeline's continuation token) and yields an event when
changes that pass the filters are pending. The DAG's own pull always starts from the stored token, so
an event is a *wake-up*, never the data: a lost or duplicated event can delay or repeat a run, never lose
or skip a change.

**How it avoids a storm of runs.** Every poll reads the stored token record ``S`` (the Variable the
init/commit tasks write), then looks ahead with ``GET /sync`` only (never init, never a write):

* It keeps a *cursor*: the token after the last change it has already looked at from ``S``. While ``S``
  stays the same (the run it woke is queued or running and has not committed), it looks ahead from the
  cursor, so changes it already reported are not read, let alone reported, again.
* It remembers a fingerprint of every change it reported (kind, id, language, timestamp, change type),
  in two groups: *A*, the changes the next commit is expected to cover (those of the first event after
  ``S`` last moved), and *B*, those of later events, each of which queued another run behind it. An event
  is yielded only for changes that are in neither group.
* When ``S`` moves (a run committed, or the sync was re-initialized) it looks ahead from the new ``S``:
  group A is forgotten (if one of those changes is still pending, that run did not load it, so it fires
  again), group B becomes group A (the run it queued is the next to commit), and fingerprints no longer
  pending are dropped.

So one edit wakes one run; edits made while that run is queued or running wake at most one further run
(Airflow keeps one queued asset event per DAG while ``max_active_runs`` is reached and starts one run
for all of them); and nothing is ever suppressed unless a run that starts after its event was queued.
The state lives in the trigger's memory on purpose: were it persisted, a triggerer killed between
persisting and Airflow storing the event would lose a wake-up. After a restart the trigger starts from an
empty state and may fire once for changes it had already reported: at most one extra wake-up, never a
missed one. A run that fails leaves ``S`` where it was and its changes in group A; the DAG's fallback
timetable (``AssetOrTimeSchedule``) or the next change starts the run that loads them.

Failures never fire: the async client already retries 429 (honouring ``Retry-After``), 5xx and network
errors; what survives that is logged and the next poll waits ``poll_interval`` doubled per failure in a
row, capped at ``max_backoff`` (and at least the server's ``Retry-After``). Configuration, key and token
errors are logged at ERROR and retried the same way (the connection is read again), because an event
trigger has no task to fail: the watch resumes once the connection or token is fixed.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from airflow_provider_kontent.client.lookahead import Lookahead, pending_summary
from airflow_provider_kontent.tokens import (
    TokenRecord,
    VariableTokenStore,
    default_variable_key,
    legacy_variable_key,
    token_fingerprint,
)

__all__ = ["ChangeWatchState", "KontentChangesEventTrigger", "change_fingerprint", "kontent_changes_asset"]

CLASSPATH = "airflow_provider_kontent.triggers.changes.KontentChangesEventTrigger"
#: Fingerprints kept at most; beyond it the oldest are dropped (the safe direction: a re-fire).
MAX_FINGERPRINTS = 20_000


def change_fingerprint(delta: Any) -> str:
    """A short, stable identity of one reported change (a newer change of the same item differs)."""
    text = "|".join(
        str(part or "")
        for part in (delta.kind.value, delta.id, delta.language, delta.timestamp_text, delta.raw_change_type)
    )
    return hashlib.sha256(text.encode()).hexdigest()[:20]


@dataclass
class ChangeWatchState:
    """What the trigger already reported for the stored token ``base`` (see the module docstring)."""

    base: str | None = None
    cursor: str | None = None
    #: fingerprint -> "A" (the next commit should cover it) or "B" (a run queued behind that one)
    reported: dict[str, str] = field(default_factory=dict)
    events: int = 0

    def start_poll(self, stored_token: str) -> tuple[str, bool]:
        """Where to look ahead from, and whether the stored token moved since the last poll."""
        if stored_token == self.base and self.cursor:
            return self.cursor, False
        moved = self.base is not None
        self.reported = {fp: "A" for fp, group in self.reported.items() if group == "B"}
        self.base, self.cursor = stored_token, stored_token
        return stored_token, moved

    def finish_poll(
        self, deltas: Iterable[Any], *, end_token: str, complete: bool, from_base: bool
    ) -> list[Any]:
        """Record a look-ahead; returns the changes not reported before (fire when non-empty)."""
        seen: dict[str, Any] = {}
        for delta in deltas:
            seen.setdefault(change_fingerprint(delta), delta)
        if from_base and complete:
            # a full look-ahead from the stored token: what it did not see is no longer pending
            self.reported = {fp: group for fp, group in self.reported.items() if fp in seen}
        new = [delta for fp, delta in seen.items() if fp not in self.reported]
        self.cursor = end_token or self.cursor
        if new:
            group = "B" if "A" in self.reported.values() else "A"
            for fp in seen:
                self.reported.setdefault(fp, group)
            self.events += 1
            if len(self.reported) > MAX_FINGERPRINTS:  # dicts keep insertion order: drop the oldest
                for fp in list(self.reported)[: len(self.reported) - MAX_FINGERPRINTS]:
                    del self.reported[fp]
        return new


class KontentChangesEventTrigger(BaseEventTrigger):
    """Watch a Kontent sync; yield one small event whenever new matching changes are pending.

    Use it through ``kontent_changes_asset(...)`` (an ``Asset`` with an ``AssetWatcher``) and schedule the
    DAG that runs init -> pull -> load -> commit on that asset, with ``max_active_runs=1``.

    Event payload: ``{"kontent_conn_id", "environment_id", "variable_key", "pending": {array: {change_type:
    n}}, "total", "new", "newest_change", "complete"}``: the counts of every matching change pending in the
    look-ahead (``complete`` is false when ``max_lookahead_pages`` stopped it, so they are a lower bound),
    ``new`` how many of them were not reported before, and ``newest_change`` the newest change time
    (ISO 8601, as Kontent sent it). It never contains a key or a token.

    :param kontent_conn_id: the Kontent connection (read asynchronously in the triggerer; never serialized).
    :param variable_key: the Variable holding the token record, as used by the DAG's init/pull/commit
        (default ``kontent_sync_cursor__<kontent_conn_id>``; a record under the earlier default
        ``kontent_sync_token__<kontent_conn_id>`` is read while it is empty).
    :param api_version: Sync API version of the stored token (2 or 1).
    :param filters: v1-style filters (as on the operators); on v2 only matching changes wake the DAG.
    :param poll_interval: seconds between polls.
    :param max_backoff: cap in seconds on the wait after failures in a row.
    :param max_lookahead_pages: pages read per poll.
    :param hook_params: client settings over the connection's (never a key).
    """

    def __init__(
        self,
        *,
        kontent_conn_id: str = "kontent_default",
        variable_key: str | None = None,
        api_version: int = 2,
        filters: Mapping[str, Any] | None = None,
        poll_interval: float = 60.0,
        max_backoff: float = 600.0,
        max_lookahead_pages: int = 10,
        hook_params: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.kontent_conn_id = kontent_conn_id
        self.variable_key = variable_key or default_variable_key(kontent_conn_id)
        self.api_version = int(api_version)
        self.filters = {str(k): str(v) for k, v in (filters or {}).items()}
        self.poll_interval = float(poll_interval)
        self.max_backoff = float(max_backoff)
        self.max_lookahead_pages = max(1, int(max_lookahead_pages))
        self.hook_params = dict(hook_params or {})
        if self.api_version not in (1, 2):
            raise ValueError(f"api_version must be 1 or 2, got {api_version!r}")
        if self.poll_interval <= 0 or self.max_backoff < self.poll_interval:
            raise ValueError("poll_interval must be > 0 and max_backoff >= poll_interval")
        if "api_key" in self.hook_params:
            raise ValueError("hook_params must not carry the API key; it is read from the connection")
        self.state = ChangeWatchState()
        self._store: VariableTokenStore | None = None

    def serialize(self) -> tuple[str, dict[str, Any]]:
        # The kwargs identify the watcher (BaseEventTrigger.hash): keep them normalized and complete.
        return (
            CLASSPATH,
            {
                "kontent_conn_id": self.kontent_conn_id,
                "variable_key": self.variable_key,
                "api_version": self.api_version,
                "filters": dict(self.filters),
                "poll_interval": self.poll_interval,
                "max_backoff": self.max_backoff,
                "max_lookahead_pages": self.max_lookahead_pages,
                "hook_params": dict(self.hook_params),
            },
        )

    # --- the poll loop --------------------------------------------------------------------------
    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow_provider_kontent.client import KontentError

        client = None
        failures = 0
        try:
            while True:
                delay = self.poll_interval
                try:
                    if client is None:
                        client = await self._client()
                    payload = await self.poll(client)
                    failures = 0
                    if payload is not None:
                        yield TriggerEvent(payload)
                except asyncio.CancelledError:
                    raise
                except Exception as err:
                    failures += 1
                    delay = self.failure_delay(failures, err)
                    retryable = isinstance(err, KontentError) and err.retryable
                    if not retryable and client is not None:
                        await client.aclose()  # a bad key or connection: read the connection again
                        client = None
                    log = self.log.warning if retryable else self.log.error
                    log(
                        "Kontent watch of connection %r failed (%d in a row, next try in %.1fs): %s: %s",
                        self.kontent_conn_id,
                        failures,
                        delay,
                        type(err).__name__,
                        err,
                    )
                await asyncio.sleep(delay)
        finally:
            if client is not None:
                await client.aclose()

    def failure_delay(self, failures: int, err: BaseException) -> float:
        """``poll_interval`` doubled per failure in a row, at least ``Retry-After``, at most ``max_backoff``."""
        delay = self.poll_interval * 2 ** min(failures, 16)
        retry_after = getattr(err, "retry_after", None)
        if retry_after:
            delay = max(delay, float(retry_after))
        return min(delay, self.max_backoff)

    async def _client(self) -> Any:
        from airflow_provider_kontent.hooks.kontent import KontentHook

        return await KontentHook(kontent_conn_id=self.kontent_conn_id, **self.hook_params).aget_async_client()

    async def _stored_record(self) -> TokenRecord | None:
        """The token record in the Variable, read without blocking the event loop.

        Read through ``VariableTokenStore``, as the DAG's tasks read it: the earlier default name is
        followed while the new one is empty, and a corrupt record is an error, never "no token".
        """
        from asgiref.sync import sync_to_async

        if self._store is None:
            default = default_variable_key(self.kontent_conn_id)
            legacy = legacy_variable_key(self.kontent_conn_id) if self.variable_key == default else None
            self._store = VariableTokenStore(self.variable_key, legacy_key=legacy)
        return await sync_to_async(self._store.load)()

    async def poll(self, client: Any) -> dict[str, Any] | None:
        """One poll: read the stored token, look ahead, return the event payload or None."""
        record = await self._stored_record()
        if record is None:
            self.log.info(
                "Kontent watch: no token in Variable %r yet; waiting (the DAG's first run initializes it)",
                self.variable_key,
            )
            return None
        config = client.config
        record.check_compatible(
            environment_id=config.environment_id,
            mode=config.mode.value,
            api_version=self.api_version,
            filters=self.filters,
            source=f"Variable {self.variable_key!r}",
        )
        cursor, moved = self.state.start_poll(record.token)
        from_base = cursor == record.token
        deltas, end_token, complete, pages = await self._look_ahead(client, cursor)
        new = self.state.finish_poll(deltas, end_token=end_token, complete=complete, from_base=from_base)
        self.log.info(
            "Kontent watch: stored token %s%s; read %d page(s) from %s: %d matching change(s), %d new%s",
            token_fingerprint(record.token),
            " (moved)" if moved else "",
            pages,
            "it" if from_base else "the last reported change",
            len(deltas),
            len(new),
            " -> event" if new else "",
        )
        if not new:
            return None
        summary = pending_summary(record.token, deltas)
        stamps = [d.timestamp_text for d in deltas if d.timestamp_text]
        return {
            "kontent_conn_id": self.kontent_conn_id,
            "environment_id": config.environment_id,
            "variable_key": self.variable_key,
            "pending": summary["pending"],
            "total": summary["total"],
            "new": len(new),
            "newest_change": max(stamps) if stamps else None,
            "complete": complete,
        }

    async def _look_ahead(self, client: Any, cursor: str) -> tuple[list[Any], str, bool, int]:
        """Matching deltas after ``cursor``, the token after them, whether an empty page was reached."""
        look = Lookahead(cursor, max_pages=self.max_lookahead_pages, collect=True)
        while not look.done:
            look.feed(
                await client.sync_page(
                    look.cursor, api_version=self.api_version, filters=self.filters or None
                )
            )
        return look.deltas, look.cursor, look.complete, look.pages_read


def kontent_changes_asset(
    kontent_conn_id: str = "kontent_default",
    *,
    filters: Mapping[str, Any] | None = None,
    variable_key: str | None = None,
    name: str | None = None,
    api_version: int = 2,
    poll_interval: float = 60.0,
    max_backoff: float = 600.0,
    max_lookahead_pages: int = 10,
    hook_params: Mapping[str, Any] | None = None,
) -> Any:
    """An ``Asset`` named ``kontent_changes__<name or conn id>`` watched by ``KontentChangesEventTrigger``.

    Schedule the DAG that syncs this connection on it (``schedule=asset``, or with a fallback timetable
    ``AssetOrTimeSchedule(timetable=..., assets=asset)``). Pass the same ``variable_key``, filters and
    API version as the DAG's Kontent tasks (token store ``"variable"``). A different ``name`` per filter
    set keeps two watches of one connection apart. This asset is only a wake-up signal: never use it as
    the token asset (``kontent_sync_asset``), whose events the pull emits, or each run would start the next.
    """
    from airflow.sdk import Asset, AssetWatcher

    label = name or kontent_conn_id
    trigger = KontentChangesEventTrigger(
        kontent_conn_id=kontent_conn_id,
        variable_key=variable_key,
        api_version=api_version,
        filters=filters,
        poll_interval=poll_interval,
        max_backoff=max_backoff,
        max_lookahead_pages=max_lookahead_pages,
        hook_params=hook_params,
    )
    return Asset(
        name=f"kontent_changes__{label}",
        uri=f"kontent-changes://{label}",
        watchers=[AssetWatcher(name=f"kontent_changes__{label}", trigger=trigger)],
    )
