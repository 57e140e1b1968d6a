"""Fetching content for changed items *while* the Sync pages are still being drained.

``KontentClient.fetch_items`` needs every delta up front. A drain gets them a page at a time, and
fetching per page wastes requests: a page of 100 deltas in four languages makes four quarter-full
batches where the URL has room for ~47 ids each. ``ContentStream`` instead collects the changed
variants of consecutive pages per language and sends a batch the moment its URL is full (exactly
as long as ``url_max_length`` allows, never one character more: the ``batch_ids`` rule), on
``max_concurrency`` threads, while the caller goes on draining. So the requests are the fewest
possible (only the last batch per language is partial) and the fetch overlaps the drain.

Memory stays bounded: at most one open batch per language, and at most ``max_in_flight`` batches
sent or waiting; adding to a full pipeline first waits for the oldest batch. Results come back in the
order the batches were sent (``ready``/``finish``), each with the caller's tags for its deltas.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_kontent.client.content import _encoded_len, prepared_url_length
from airflow_provider_kontent.client.errors import KontentConfigError
from airflow_provider_kontent.client.models import ChangeType, Delta, EntityKind

if TYPE_CHECKING:
    from airflow_provider_kontent.client.blocking_client import KontentClient

__all__ = ["ContentStream", "FetchedBatch", "needs_content"]

# Below this many characters under the limit the running estimate decides alone; closer to the
# limit every candidate is measured exactly as requests will send it.
_EXACT_ZONE = 64


def needs_content(delta: Delta) -> bool:
    """A changed item variant with an id and language: what ``fetch_items`` would fetch."""
    return (
        delta.kind is EntityKind.ITEM
        and delta.change_type is ChangeType.CHANGED
        and bool(delta.id)
        and bool(delta.language)
    )


@dataclass
class FetchedBatch:
    """One language's batch, fetched: ``items`` by id, the shared components, and the caller's tags.

    ``tagged`` lists ``(tag, delta)`` in the order they were added; an id that was added twice
    (changed again on a later page before its batch was sent) is fetched once and appears twice.
    """

    language: str
    ids: list[str]
    tagged: list[tuple[Any, Delta]]
    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    modular_content: dict[str, Any] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    requests: int = 0


class _OpenBatch:
    """The ids collected for one language, with their URL length tracked as ids are added."""

    def __init__(self, stream: ContentStream, language: str) -> None:
        self.stream = stream
        self.language = language
        self.ids: list[str] = []
        self.index: set[str] = set()
        self.tagged: list[tuple[Any, Delta]] = []
        self.length = 0

    def _exact(self, ids: list[str]) -> int:
        return prepared_url_length(self.stream.client.protocol.items_by_id_request(self.language, ids))

    def try_add(self, item_id: str) -> bool:
        """Add ``item_id`` if the batch URL stays within the limit; False when the batch is full."""
        limit = self.stream.client.config.url_max_length
        if not self.ids:
            length = self._exact([item_id])
            if length > limit:
                raise KontentConfigError(
                    f"a request for a single id is longer than {limit} characters", field="url_max_length"
                )
        else:
            count = len(self.ids)
            length = (
                self.length
                + self.stream.separator
                + _encoded_len(item_id)
                + len(str(count + 1))
                - len(str(count))  # the batch's ``limit`` parameter
            )
            if length > limit - _EXACT_ZONE:
                length = self._exact([*self.ids, item_id])
                if length > limit:
                    return False
        self.ids.append(item_id)
        self.index.add(item_id)
        self.length = length
        return True


class ContentStream:
    """Content for changed item deltas, fetched in URL-filled batches as deltas arrive.

    Use as a context manager (``close`` cancels what has not started). ``add`` each delta that
    ``needs_content``; after each page take ``ready()`` batches; at the end ``finish()`` sends the
    partial batches and yields everything still outstanding. A batch that fails (after its retries)
    raises from ``ready``/``finish``.
    """

    def __init__(self, client: KontentClient, *, max_in_flight: int | None = None) -> None:
        self.client = client
        workers = client.config.max_concurrency
        self.max_in_flight = max_in_flight if max_in_flight is not None else 2 * workers
        if self.max_in_flight < 1:
            raise KontentConfigError("must be >= 1", field="max_in_flight")
        self.separator = _encoded_len(",")
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kontent-content")
        self._open: dict[str, _OpenBatch] = {}
        self._in_flight: deque[tuple[_OpenBatch, Future]] = deque()
        self._done: deque[FetchedBatch] = deque()
        self.batches = 0
        self.requests = 0
        self.missing = 0

    def __enter__(self) -> ContentStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add(self, delta: Delta, tag: Any = None) -> None:
        """Queue ``delta`` (a changed item variant) for fetching; ``tag`` comes back with it."""
        language, item_id = delta.language, delta.id
        if not (language and item_id):
            raise KontentConfigError("the delta has no id or language to fetch", field="delta")
        batch = self._open.get(language)
        if batch is None:
            batch = self._open[language] = _OpenBatch(self, language)
        if item_id not in batch.index and not batch.try_add(item_id):
            self._send(batch)
            batch = self._open[language] = _OpenBatch(self, language)
            batch.try_add(item_id)
        batch.tagged.append((tag, delta))

    def _send(self, batch: _OpenBatch) -> None:
        while len(self._in_flight) >= self.max_in_flight:
            self._collect_oldest()
        self.batches += 1
        future = self._pool.submit(self.client.fetch_batch_job, batch.language, batch.ids)
        self._in_flight.append((batch, future))

    def _collect_oldest(self) -> None:
        batch, future = self._in_flight.popleft()
        answers = future.result()  # raises the batch's error
        done = FetchedBatch(batch.language, batch.ids, batch.tagged)
        returned: dict[str, dict[str, Any]] = {}
        for _ids, body in answers:
            done.requests += 1
            for item in body.get("items") or []:
                system = item.get("system") if isinstance(item, dict) else None
                if isinstance(system, dict) and system.get("id"):
                    returned[system["id"]] = item
            modular = body.get("modular_content")
            if isinstance(modular, dict):
                done.modular_content.update(modular)
        done.items = {item_id: returned[item_id] for item_id in batch.ids if item_id in returned}
        done.missing = [item_id for item_id in batch.ids if item_id not in returned]
        self.requests += done.requests
        self.missing += len(done.missing)
        self._done.append(done)

    def ready(self) -> Iterator[FetchedBatch]:
        """Batches fetched so far, oldest first, without waiting for any still running."""
        while self._in_flight and self._in_flight[0][1].done():
            self._collect_oldest()
        while self._done:
            yield self._done.popleft()

    def flush(self) -> None:
        """Send every open batch now, full or not (e.g. when the drain is probably at its end)."""
        for language in list(self._open):
            batch = self._open.pop(language)
            if batch.ids:
                self._send(batch)

    def finish(self) -> Iterator[FetchedBatch]:
        """Send the partial batches and yield every outstanding one, oldest first."""
        self.flush()
        while self._in_flight:
            self._collect_oldest()
            yield from self.ready()
        yield from self.ready()

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def close(self) -> None:
        """Cancel batches not started yet and wait for the running ones (their results are dropped)."""
        for _batch, future in self._in_flight:
            future.cancel()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._in_flight.clear()
