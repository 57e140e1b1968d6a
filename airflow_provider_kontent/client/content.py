"""Fetching the full content behind item deltas: URL-length-aware batching and a rate limiter.

Sync v2 deltas carry only ``system`` metadata. The documented recipe is one
``GET /items?system.id[in]=...&language=L&system.language=L&depth=0`` per language and batch of ids,
with ``X-KC-Wait-For-Loading-New-Content: true``. ``system.language=L`` stops fallback content from
being stored as the ``L`` variant. The Delivery API limits URLs to 2,000 characters and uncached
requests to 100/s per environment, so batches are sized with the real encoded URL and requests pass
through the environment's rate limiter (``client.ratelimit``).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import requests

from airflow_provider_kontent.client.errors import KontentBadRequestError, KontentConfigError, KontentError
from airflow_provider_kontent.client.models import ChangeType, Delta, EntityKind
from airflow_provider_kontent.client.protocol import ApiRequest
from airflow_provider_kontent.client.ratelimit import RateLimiter  # re-exported: where it used to live

__all__ = [
    "MAX_RESPONSE_ITEMS",
    "RESPONSE_TOO_LARGE_ERROR_CODE",
    "BatchSizer",
    "ContentBatch",
    "RateLimiter",
    "batch_ids",
    "group_changed_items",
    "is_response_too_large",
    "item_content",
    "linked_codenames",
    "prepared_url_length",
    "split_evenly",
]

MAX_RESPONSE_ITEMS = 2000  # items + modular_content per Delivery response
RESPONSE_TOO_LARGE_ERROR_CODE = 6


@dataclass
class ContentBatch:
    """Result of ``KontentClient.fetch_items``.

    ``items``: ``{(id, language): item}``; ``modular_content``: ``{language: {codename: item}}`` (the
    components of the fetched items); ``missing``: ``(id, language)`` pairs the API did not return
    (unpublished, deleted or not processed yet: not an error); ``requests``: batch requests that
    succeeded, one per ``system.id[in]`` batch (retried attempts and batches refused as too large,
    then split, are not counted).
    """

    items: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    modular_content: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    missing: list[tuple[str, str]] = field(default_factory=list)
    requests: int = 0


def prepared_url_length(request: ApiRequest) -> int:
    """The length of the URL exactly as ``requests`` will send it (brackets and commas encoded)."""
    return len(requests.Request(request.method, request.url, params=request.params).prepare().url or "")


def batch_ids(ids: list[str], build: Callable[[list[str]], ApiRequest], max_length: int) -> list[list[str]]:
    """Split ``ids`` (in order) into as few batches as the URL limit allows.

    Each batch is the longest run of the remaining ids whose request URL, measured exactly as
    ``requests`` prepares it (base URL, ``%5B``/``%5D``/``%2C``, the other parameters), is at most
    ``max_length``. Adding an id only lengthens the URL, so filling every batch to the limit gives
    the fewest requests. The size is first estimated from each id's encoded cost, then corrected
    against the real URL (a batch's ``limit`` parameter grows a digit now and then).
    """

    def fits(start: int, end: int) -> bool:
        return prepared_url_length(build(ids[start:end])) <= max_length

    batches: list[list[str]] = []
    start = 0
    while start < len(ids):
        room = max_length - prepared_url_length(build(ids[start : start + 1]))
        if room < 0:
            raise KontentConfigError(
                f"a request for a single id is longer than {max_length} characters", field="url_max_length"
            )
        end = _estimated_end(ids, start, room)
        while end > start + 1 and not fits(start, end):
            end -= 1
        while end < len(ids) and fits(start, end + 1):
            end += 1
        batches.append(ids[start:end])
        start = end
    return batches


def _estimated_end(ids: list[str], start: int, room: int) -> int:
    """Where a batch starting at ``start`` would end if each further id cost ``,<id>`` encoded."""
    end = start + 1
    separator = _encoded_len(",")
    while end < len(ids):
        room -= separator + _encoded_len(ids[end])
        if room < 0:
            break
        end += 1
    return end


def _encoded_len(text: str) -> int:
    return len(urlencode({"": text})) - 1


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


def is_response_too_large(exc: KontentError) -> bool:
    """400 ``error_code`` 6: the response would exceed ``MAX_RESPONSE_ITEMS`` (items + components)."""
    return (
        isinstance(exc, KontentBadRequestError)
        and exc.status == 400
        and exc.error_code == RESPONSE_TOO_LARGE_ERROR_CODE
    )


def split_evenly(ids: list[str], size: int) -> list[list[str]]:
    """``ids`` in order, in the fewest chunks of at most ``size``, as equal as possible (47 by 34 ->
    24 + 23, not 34 + 13: chunks of similar size have similar odds of fitting the response cap)."""
    if size < 1 or len(ids) <= size:
        return [ids]
    count = math.ceil(len(ids) / size)
    base, extra = divmod(len(ids), count)
    chunks, start = [], 0
    for index in range(count):
        end = start + base + (1 if index < extra else 0)
        chunks.append(ids[start:end])
        start = end
    return chunks


class BatchSizer:
    """Learns how many ids fit one response under the 2,000-item cap (thread-safe, one per client).

    Until a batch has been refused as too large, batches are sized by the URL limit alone (no change
    for ordinary content). After that, a batch holds at most ``target`` items' worth of ids, estimated
    from the ``X-Request-Charge`` of the responses so far (items + components per id, on average);
    before any charge is known, at most half the refused batch. The average, not the worst batch,
    keeps one component-heavy item from shrinking every later batch; a batch that still does not
    fit is split again.
    """

    def __init__(self, target: int = MAX_RESPONSE_ITEMS * 3 // 4) -> None:
        self.target = target
        self._lock = threading.Lock()
        self._refused_cap: int | None = None
        self._charged_ids = 0
        self._charge = 0

    def record(self, ids: int, charge: str | None) -> None:
        """A batch of ``ids`` succeeded; ``charge`` is its ``X-Request-Charge`` header (may be absent)."""
        if charge is None or not charge.strip().isdigit() or ids < 1:
            return
        with self._lock:
            self._charged_ids += ids
            self._charge += int(charge.strip())

    def refused(self, ids: int) -> None:
        """A batch of ``ids`` was refused as too large."""
        with self._lock:
            half = max(1, math.ceil(ids / 2))
            self._refused_cap = half if self._refused_cap is None else min(self._refused_cap, half)

    @property
    def limit(self) -> int | None:
        """The most ids a batch should hold now; None while no batch was too large."""
        with self._lock:
            if self._refused_cap is None:
                return None
            if self._charge > 0:
                return max(1, self.target * self._charged_ids // self._charge)
            return self._refused_cap

    def chunks(self, ids: list[str]) -> list[list[str]]:
        """``ids`` (one URL-sized batch) split to the current limit."""
        limit = self.limit
        return split_evenly(ids, limit) if limit else [ids]


def linked_codenames(value: Any) -> Iterator[str]:
    """Codenames an item or component references: rich-text components and inserted items, linked
    items and subpages."""
    elements = value.get("elements") if isinstance(value, dict) else None
    if not isinstance(elements, dict):
        return
    for element in elements.values():
        if not isinstance(element, dict):
            continue
        yield from (name for name in element.get("modular_content") or [] if isinstance(name, str))
        if element.get("type") in ("modular_content", "subpages"):
            yield from (name for name in element.get("value") or [] if isinstance(name, str))


def item_content(item: Mapping[str, Any], pool: Mapping[str, Any]) -> dict[str, Any]:
    """``{"item": item, "modular_content": {...}}`` with just what this item uses, transitively.

    A Delivery response shares one ``modular_content`` map across all items of a batch or feed page;
    cutting out each item's own part lets a consumer process one record on its own.
    """
    used: dict[str, Any] = {}
    pending = list(linked_codenames(item))
    while pending:
        name = pending.pop()
        if name in used or name not in pool:
            continue
        used[name] = pool[name]
        pending.extend(linked_codenames(pool[name]))
    return {"item": dict(item), "modular_content": used}
