"""Fetching the full content behind item deltas: URL-length-aware batching and a rate limiter.

Sync v2 deltas carry only ``system`` metadata. The documented recipe is one
``GET /items?system.id[in]=...&language=L&system.language=L&depth=0`` per language and batch of ids,
with ``X-KC-Wait-For-Loading-New-Content: true``. ``system.language=L`` stops fallback content from
being stored as the ``L`` variant. The Delivery API limits URLs to 2,000 characters and uncached
requests to 100/s per environment, so batches are sized with the real encoded URL and requests pass
through a token bucket.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import requests

from airflow_provider_kontent.client.errors import KontentConfigError
from airflow_provider_kontent.client.models import ChangeType, Delta, EntityKind
from airflow_provider_kontent.client.protocol import ApiRequest

__all__ = ["ContentBatch", "RateLimiter", "batch_ids", "group_changed_items", "prepared_url_length"]


@dataclass
class ContentBatch:
    """Result of ``KontentClient.fetch_items``.

    ``items``: ``{(id, language): item}``; ``modular_content``: ``{language: {codename: item}}`` (the
    components of the fetched items); ``missing``: ``(id, language)`` pairs the API did not return
    (unpublished, deleted or not processed yet: not an error); ``requests``: HTTP requests made.
    """

    items: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    modular_content: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    missing: list[tuple[str, str]] = field(default_factory=list)
    requests: int = 0


def prepared_url_length(request: ApiRequest) -> int:
    """The length of the URL exactly as ``requests`` will send it (brackets and commas encoded)."""
    return len(requests.Request(request.method, request.url, params=request.params).prepare().url or "")


def batch_ids(ids: list[str], build: Callable[[list[str]], ApiRequest], max_length: int) -> list[list[str]]:
    """Split ``ids`` greedily into batches whose full prepared URL stays within ``max_length``.

    Packing uses each id's encoded cost (``,<id>`` as the query encoder writes it), and every batch
    is then checked against the real prepared URL and shrunk if the estimate was short, so the
    limit holds whatever the encoding of the base URL, language codename or ids.
    """
    if not ids:
        return []
    base = prepared_url_length(build(ids[:1])) - _encoded_len(ids[0])
    batches: list[list[str]] = []
    current: list[str] = []
    length = base
    for item_id in ids:
        cost = _encoded_len(item_id) + (_encoded_len(",") if current else 0)
        if current and length + cost > max_length:
            batches.append(current)
            current, length = [], base
            cost = _encoded_len(item_id)
        current.append(item_id)
        length += cost
    batches.append(current)
    return [part for batch in batches for part in _verified(batch, build, max_length)]


def _encoded_len(text: str) -> int:
    return len(urlencode({"": text})) - 1


def _verified(batch: list[str], build: Callable[[list[str]], ApiRequest], max_length: int) -> list[list[str]]:
    """Shrink ``batch`` until its real URL fits; the removed tail becomes further batches."""
    out: list[list[str]] = []
    while batch:
        size = len(batch)
        while prepared_url_length(build(batch[:size])) > max_length:
            size -= 1
            if size == 0:
                raise KontentConfigError(
                    f"a request for a single id is longer than {max_length} characters",
                    field="url_max_length",
                )
        out.append(batch[:size])
        batch = batch[size:]
    return out


def group_changed_items(deltas: Iterable[Delta]) -> dict[str, list[str]]:
    """``{language: [item ids]}`` for changed item deltas (deduplicated, first-seen order).

    Deleted deltas need no fetch (the consumer deletes by ``(id, language)``); unknown change types
    are not guessed at.
    """
    grouped: dict[str, dict[str, None]] = {}
    for delta in deltas:
        if delta.kind is not EntityKind.ITEM or delta.change_type is not ChangeType.CHANGED:
            continue
        if not delta.id or not delta.language:
            continue
        grouped.setdefault(delta.language, {})[delta.id] = None
    return {language: list(ids) for language, ids in grouped.items()}


class RateLimiter:
    """A thread-safe sliding-window limiter: at most ``limit`` requests in any ``window`` seconds.

    Kontent.ai allows 100 uncached requests/s and 2,000/min per environment; a token bucket alone
    cannot promise a per-minute cap, so the limiter keeps the times of the most recent requests and
    makes a caller wait until every window has room; requests are also spaced evenly (the shortest
    window divided by its limit) so they never burst at a window's edge. ``windows`` is
    ``[(seconds, limit), ...]``.
    """

    def __init__(
        self, windows: list[tuple[float, int]], *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.windows = [(float(seconds), int(limit)) for seconds, limit in windows if limit > 0]
        self._clock = clock
        self._times: deque[float] = deque(maxlen=max((limit for _, limit in self.windows), default=1))
        self._spacing = min((seconds / limit for seconds, limit in self.windows), default=0.0)
        self._lock = threading.Lock()

    def _reserve(self) -> float:
        """Reserve the next slot; return how long the caller must wait before sending."""
        with self._lock:
            now = self._clock()
            start = now
            if self._times:
                # spread requests evenly over the shortest window instead of bursting at its edge
                start = max(start, self._times[-1] + self._spacing)
            for seconds, limit in self.windows:
                if len(self._times) >= limit:
                    start = max(start, self._times[-limit] + seconds)
            self._times.append(start)
            return start - now

    def acquire(self) -> None:
        delay = self._reserve()
        if delay > 0:
            time.sleep(delay)
