"""Draining the Sync API into a hand-off sink: Sync pages, content fetched across pages, progress.

``drain`` reads every page after a token, applies the filters, fetches full content in URL-filled
batches that overlap the drain (``client.content_stream``) and hands each page's records to an
``XComSink`` or ``NdjsonSink`` (``airflow_provider_kontent.handoff``). It returns what it saw; it never
moves a token: the pull commits only after the sink was finalized. No Airflow import.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import pendulum

from airflow_provider_kontent.client import Delta, item_content
from airflow_provider_kontent.client.content_stream import FetchedBatch, needs_content
from airflow_provider_kontent.handoff import NdjsonSink, XComSink, delta_record

__all__ = ["DrainProgress", "DrainResult", "content_records", "drain"]

log = logging.getLogger(__name__)


# --- draining ---------------------------------------------------------------------------------
@dataclass
class DrainResult:
    """What one drain saw; the records themselves went to the sink."""

    previous_token: str
    next_token: str
    pages: int = 0
    received: int = 0
    skipped: int = 0
    complete: bool = False
    newest_timestamp: str | None = None
    content_requests: int = 0
    content_missing: int = 0
    malformed_skipped: int = 0
    requests: int = 0
    rate_limit_wait_seconds: float = 0.0
    throttled: int = 0
    seconds: float = 0.0


def content_records(batch: FetchedBatch) -> list[dict[str, Any]]:
    """The records of one fetched batch: the item and its own components, or ``content_missing``.

    An item that changed but is not (yet) served by the Delivery API gets ``content: null,
    content_missing: true`` instead of failing the pull.
    """
    records = []
    for _tag, delta in batch.tagged:
        item = batch.items.get(delta.id or "")
        if item is None:
            records.append(delta_record(delta, None, content_missing=True))
        else:
            records.append(delta_record(delta, item_content(item, batch.modular_content)))
    return records


class DrainProgress:
    """INFO lines every ``interval`` seconds while a drain runs: pages, deltas, rate, time left.

    The Sync API does not say how many changes are left, but deltas come in change order, so the
    newest timestamp seen so far is the drain's position in time: how fast it moves towards now
    gives the time left, and the deltas per second of change time the deltas left. At the request
    budget that also says what the backlog costs (e.g. a million deltas are 10,000 pages: at least
    ~5.5 minutes at 1,800 requests/min).
    """

    def __init__(self, interval: float = 5.0, clock: Any = time.monotonic) -> None:
        self.interval = interval
        self.clock = clock
        self.started = clock()
        self.last_log = self.started
        self.first_instant: Any = None

    def page(self, result: DrainResult, newest: Any, client: Any) -> None:
        now = self.clock()
        if newest is not None and self.first_instant is None:
            self.first_instant = newest
        if now - self.last_log < self.interval:
            return
        self.last_log = now
        elapsed = max(now - self.started, 1e-9)
        rate = result.received / elapsed
        eta = ""
        if newest is not None and self.first_instant is not None:
            covered = (newest - self.first_instant).total_seconds()
            behind = (pendulum.now("UTC") - newest).total_seconds()
            if covered > 0 and behind > 0:
                seconds_left = behind / (covered / elapsed)
                deltas_left = result.received * behind / covered
                eta = (
                    f"; changes up to {newest.isoformat()} ({_duration(behind)} behind now), "
                    f"about {deltas_left:,.0f} deltas / {_duration(seconds_left)} left at this pace"
                )
                per_minute = getattr(getattr(client, "config", None), "rate_limit_per_minute", None)
                if per_minute and result.pages:
                    pages_left = deltas_left / max(1.0, result.received / result.pages)
                    eta += (
                        f" (~{pages_left:,.0f} pages: at least {_duration(pages_left / per_minute * 60)} at "
                        f"{per_minute:,} requests/min)"
                    )
        stats = getattr(client, "stats", None)
        budget = ""
        if stats is not None:
            budget = (
                f"; {stats.requests:,} requests, {stats.limiter_wait_seconds:.1f}s waiting on the rate limit"
            )
        log.info(
            "Kontent pull: %d page(s), %d delta(s) in %s (%.0f deltas/s)%s%s",
            result.pages,
            result.received,
            _duration(elapsed),
            rate,
            eta,
            budget,
        )


def _duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def drain(
    client: Any,
    token: str,
    sink: XComSink | NdjsonSink,
    *,
    api_version: int = 2,
    filters: Any = None,
    max_pages: int | None = None,
    include_content: bool = False,
    skip_malformed: bool = False,
    progress_interval: float = 5.0,
) -> DrainResult:
    """Follow ``token`` page by page until an empty page (or ``max_pages``), feeding ``sink``.

    Records that need no content go to the sink with their page. With ``include_content`` the
    changed item variants go to a ``ContentStream`` instead, which fetches them in URL-filled batches
    per language across pages while the drain goes on; each fetched batch's records go to the sink
    as it completes, and every batch is in before this returns (so the token is never committed
    ahead of its content). Memory: one page, one open batch per language and a bounded number of
    batches in flight.
    """
    started = time.monotonic()
    result = DrainResult(previous_token=token, next_token=token)
    stats = getattr(client, "stats", None)
    stats_before = stats.to_dict() if stats is not None else None
    malformed_before = client.malformed_stats.skipped if hasattr(client, "malformed_stats") else 0
    progress = DrainProgress(progress_interval)
    newest: Delta | None = None
    stream = client.content_stream() if include_content else None
    largest_page = 0
    try:
        for page in client.iter_pages(
            token,
            api_version=api_version,
            max_pages=max_pages,
            filters=filters,
            skip_malformed=skip_malformed,
        ):
            result.pages += 1
            result.received += page.received if page.received is not None else len(page.deltas)
            result.skipped += page.skipped
            records = []
            for delta in page.deltas:
                if stream is not None and needs_content(delta):
                    stream.add(delta)
                else:
                    records.append(delta_record(delta))
                if newest is None or _is_newer(delta, newest):
                    newest = delta
            sink.write_page(records)
            if stream is not None:
                received = page.received or 0
                if 0 < received * 2 < largest_page:
                    # a page under half the size of the largest: the backlog is probably drained, so
                    # the partial batches go now instead of after one more (empty) page
                    stream.flush()
                largest_page = max(largest_page, received)
                for batch in stream.ready():
                    sink.write_page(content_records(batch))
            result.next_token = page.next_token
            result.complete = page.is_empty
            progress.page(result, newest.instant if newest is not None else None, client)
        if stream is not None:
            for batch in stream.finish():
                sink.write_page(content_records(batch))
    finally:
        if stream is not None:
            stream.close()
            result.content_requests = stream.requests
            result.content_missing = stream.missing
    if stream is not None and result.content_missing:
        log.info("Kontent fetch: %d changed item variant(s) not available (yet)", result.content_missing)
    result.newest_timestamp = newest.timestamp_text if newest is not None else None
    if hasattr(client, "malformed_stats"):
        result.malformed_skipped = client.malformed_stats.skipped - malformed_before
    if stats is not None and stats_before is not None:
        after = stats.to_dict()
        result.requests = after["requests"] - stats_before["requests"]
        result.rate_limit_wait_seconds = round(
            after["rate_limit_wait_seconds"] - stats_before["rate_limit_wait_seconds"], 3
        )
        result.throttled = after["throttled"] - stats_before["throttled"]
    result.seconds = round(time.monotonic() - started, 3)
    return result


def _is_newer(delta: Delta, newest: Delta) -> bool:
    """Greater timestamp; Kontent's fixed-width ``...Z`` texts compare as strings (no parsing)."""
    new, old = delta.timestamp_text, newest.timestamp_text
    if new is None:
        return False
    if old is None:
        return True
    if len(new) == len(old) and new[-1] == old[-1] == "Z" and new[10] == old[10] == "T" and new[4] == "-":
        return new > old  # same layout (YYYY-MM-DDTHH:MM:SS[.f]Z), same length: text order is time order
    new_at, old_at = delta.instant, newest.instant
    return new_at is not None and (old_at is None or new_at > old_at)
