"""Handing deltas to downstream tasks: record shape, compaction, NDJSON parts and the XCom size guard.

Both sinks receive one page of records at a time and keep only the last change per key (Kontent reports
the latest change per entity, but a key can reappear on a later page when it changed again during the
drain). They differ in where the result lives:

* ``XComSink`` keeps the compacted records in memory, because they go into one XCom value anyway, and
  fails early and clearly once they would exceed ``max_xcom_bytes``.
* ``NdjsonSink`` writes each page straight to ``part-NNNNN.ndjson`` files under an ``ObjectStoragePath``
  and keeps only a 64-bit digest per key. A key seen twice is remembered as a duplicate; duplicates are
  rare (changes made while draining), so after the drain one streaming pass locates the winners of just
  those keys and a second pass rewrites only the parts holding superseded lines. Memory is therefore one
  page of records plus about 70 bytes per distinct key, not the whole delta. A ``_SUCCESS`` manifest
  (files, line counts, counts per kind) is written last and removed first, so a partially written
  directory is never mistaken for a complete one.

Nothing here imports Airflow: it works on any pathlib-like object with ``/``, ``open``, ``iterdir``,
``exists``, ``unlink``, ``rename`` and ``mkdir`` (``ObjectStoragePath`` or ``pathlib.Path``).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pendulum

from airflow_provider_kontent.client import Delta, EntityKind, item_content
from airflow_provider_kontent.client.content_stream import FetchedBatch, needs_content
from airflow_provider_kontent.client.models import parse_instant

try:  # msgspec ships with Airflow's task SDK; it encodes JSON several times faster than the stdlib
    from msgspec.json import Encoder as _FastEncoder

    _encode = _FastEncoder(enc_hook=str).encode
except ImportError:  # pragma: no cover

    def _encode(value: Any) -> bytes:
        return json.dumps(value, separators=(",", ":"), default=str, ensure_ascii=False).encode()


__all__ = [
    "MANIFEST_NAME",
    "DrainProgress",
    "DrainResult",
    "content_records",
    "drain",
    "CountTable",
    "HandoffTooLargeError",
    "NdjsonSink",
    "XComSink",
    "delta_record",
    "iter_ndjson",
    "record_key",
]

log = logging.getLogger(__name__)

MANIFEST_NAME = "_SUCCESS"
WRITE_CHUNK = 1024 * 1024
PART_PATTERN = re.compile(r"^part-\d{5}\.ndjson$")
_KIND_ARRAYS = {kind.value: kind.array for kind in EntityKind}


class HandoffTooLargeError(ValueError):
    """The compacted delta does not fit the XCom budget."""


# --- records ------------------------------------------------------------------------------------
def delta_record(
    delta: Delta, content: dict[str, Any] | None = None, *, content_missing: bool = False
) -> dict[str, Any]:
    """One delta as the dict that goes into NDJSON lines and XCom ``records`` (see docs/operators.md)."""
    base = delta.to_dict()
    return {
        "kind": base["kind"],
        "change_type": base["change_type"],
        "raw_change_type": base["raw_change_type"],
        "timestamp": base["timestamp"],
        "id": delta.id,
        "language": delta.language,
        "codename": delta.codename,
        "type": delta.type,
        "collection": delta.collection,
        "system": delta.system,
        "elements": delta.elements,
        "content": content,
        "content_missing": content_missing,
    }


def record_key(record: dict[str, Any]) -> tuple:
    """The same identity as ``Delta.key``: ``("item", id, language)`` or ``(kind, id)``."""
    if record.get("kind") == "item":
        return ("item", record.get("id"), record.get("language"))
    return (record.get("kind"), record.get("id"))


def _digest(key: tuple) -> int:
    """A 64-bit stand-in for ``key`` (Python's tuple hash: fast, and stable within the one process
    that owns the sink). A collision only makes two distinct keys look like a duplicate; the
    compaction pass then compares the real keys."""
    return hash(key)


#: ``{"item", "modular_content"}`` of one item: the record shape of ``content`` (shared with the client).


# --- counting -----------------------------------------------------------------------------------
@dataclass
class CountTable:
    """Counts per entity array (``items``, ``types``, ...) and change type."""

    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, record: dict[str, Any], n: int = 1) -> None:
        array = _KIND_ARRAYS.get(str(record.get("kind")), str(record.get("kind")))
        per_kind = self.counts.setdefault(array, {})
        change = str(record.get("change_type"))
        per_kind[change] = per_kind.get(change, 0) + n
        if per_kind[change] == 0:
            del per_kind[change]
            if not per_kind:
                del self.counts[array]

    @property
    def total(self) -> int:
        return sum(n for per_kind in self.counts.values() for n in per_kind.values())

    def to_dict(self) -> dict[str, dict[str, int]]:
        return {kind: dict(sorted(per.items())) for kind, per in sorted(self.counts.items())}


def _newer_or_same(new_ts: str | None, old_ts: str | None) -> bool:
    """Compaction order: greatest timestamp wins, a later position wins ties or unknown timestamps."""
    new, old = parse_instant(new_ts), parse_instant(old_ts)
    if new is None or old is None:
        return True
    return new >= old


# --- sinks --------------------------------------------------------------------------------------
class XComSink:
    """Compacted records kept in memory for one XCom value, guarded by ``max_bytes``."""

    def __init__(self, max_bytes: int, *, what: str = "the delta") -> None:
        self.max_bytes = max_bytes
        self.what = what
        self._records: dict[tuple, tuple[dict[str, Any], int]] = {}
        # The records' size as one compact JSON list: each record counts its length plus one separator,
        # and the brackets add two, less the separator the first record does not need.
        self._bytes = 1
        self.counts = CountTable()

    def write_page(self, records: Iterable[dict[str, Any]]) -> None:
        for record in records:
            key = record_key(record)
            size = len(json.dumps(record, separators=(",", ":"), default=str)) + 1
            old = self._records.get(key)
            if old is not None:
                if not _newer_or_same(record.get("timestamp"), old[0].get("timestamp")):
                    continue
                del self._records[key]
                self._bytes -= old[1]
                self.counts.add(old[0], -1)
            self._records[key] = (record, size)
            self._bytes += size
            self.counts.add(record)
            if self.max_bytes and self._bytes > self.max_bytes:
                raise HandoffTooLargeError(
                    f"{self.what} does not fit in XCom: {len(self._records)} compacted records already take "
                    f"about {self._bytes:,} bytes, more than max_xcom_bytes={self.max_bytes:,}. Set "
                    "output_path (e.g. 'file:///data/kontent/{{ run_id }}/' or 's3://bucket/prefix/{{ run_id }}/') "
                    "to write NDJSON files instead, or raise max_xcom_bytes if your XCom backend allows it. "
                    "No token was committed."
                )

    @property
    def kept(self) -> int:
        return len(self._records)

    def finalize(self) -> list[dict[str, Any]]:
        return [record for record, _ in self._records.values()]

    def abort(self) -> None:
        """Nothing to release (the records are only in memory); here so both sinks abort alike."""


@dataclass
class _Part:
    name: str
    records: int = 0
    bytes: int = 0


class NdjsonSink:
    """Compacted records as NDJSON parts under ``directory``; memory bounded by one page, a write buffer
    of ``WRITE_CHUNK`` bytes and the key digests."""

    def __init__(self, directory: Any, *, part_max_bytes: int = 64 * 1024 * 1024) -> None:
        self.directory = directory
        self.part_max_bytes = part_max_bytes
        self.parts: list[_Part] = []
        self.counts = CountTable()
        self.superseded = 0
        self._seen: set[int] = set()
        self._duplicates: set[int] = set()
        self._handle: Any = None
        self._prepared = False
        # Pages are written in chunks of about WRITE_CHUNK bytes: every write() on an
        # ObjectStoragePath file also records lineage (~1 ms), which per page cost more than encoding.
        self._pending: list[bytes] = []
        self._pending_bytes = 0

    # Stale files from an earlier, failed attempt at the same path would be read as part of this
    # delivery, so the directory is cleaned of exactly the names this sink writes (nothing else).
    def prepare(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        manifest = self.directory / MANIFEST_NAME
        if manifest.exists():
            manifest.unlink()
        for child in self.directory.iterdir():
            if PART_PATTERN.match(child.name) or child.name.endswith(".ndjson.tmp"):
                child.unlink()
        self._prepared = True

    def _open_part(self) -> None:
        part = _Part(name=f"part-{len(self.parts):05d}.ndjson")
        self.parts.append(part)
        self._handle = (self.directory / part.name).open("wb")

    def _write_pending(self) -> None:
        if self._pending and self._handle is not None:
            self._handle.write(b"".join(self._pending))
        self._pending.clear()
        self._pending_bytes = 0

    def _close_part(self) -> None:
        if self._handle is not None:
            self._write_pending()
            self._handle.close()
            self._handle = None

    def write_page(self, records: Iterable[dict[str, Any]]) -> None:
        if not self._prepared:
            self.prepare()
        chunk: list[bytes] = []
        for record in records:
            digest = _digest(record_key(record))
            if digest in self._seen:
                self._duplicates.add(digest)
            else:
                self._seen.add(digest)
            chunk.append(_encode(record) + b"\n")
            self.counts.add(record)
        if not chunk:
            return
        if self._handle is None:
            self._open_part()
        data = b"".join(chunk)
        self._pending.append(data)
        self._pending_bytes += len(data)
        part = self.parts[-1]
        part.records += len(chunk)
        part.bytes += len(data)
        if part.bytes >= self.part_max_bytes:
            self._close_part()
        elif self._pending_bytes >= WRITE_CHUNK:
            self._write_pending()

    @property
    def kept(self) -> int:
        return sum(part.records for part in self.parts)

    def _drop_superseded(self) -> None:
        """Two streaming passes over the parts, touching only keys seen more than once."""
        winners: dict[tuple, tuple[int, int, str | None]] = {}
        for part_no, part in enumerate(self.parts):
            for line_no, record in enumerate(iter_ndjson(self.directory / part.name)):
                key = record_key(record)
                if _digest(key) not in self._duplicates:
                    continue
                current = winners.get(key)
                if current is None or _newer_or_same(record.get("timestamp"), current[2]):
                    winners[key] = (part_no, line_no, record.get("timestamp"))
        for part_no, part in enumerate(self.parts):
            source = self.directory / part.name
            temp = self.directory / f"{part.name}.tmp"
            dropped = 0
            kept_bytes = 0
            with temp.open("wb") as out:
                for line_no, line in enumerate(_iter_lines(source)):
                    record = json.loads(line)
                    key = record_key(record)
                    winner = winners.get(key)
                    if winner is not None and winner[:2] != (part_no, line_no):
                        dropped += 1
                        self.counts.add(record, -1)
                        continue
                    out.write(line)
                    kept_bytes += len(line)
            if dropped:
                source.unlink()
                temp.rename(source)
                part.records -= dropped
                part.bytes = kept_bytes
                self.superseded += dropped
            else:
                temp.unlink()

    def finalize(self, manifest_extra: dict[str, Any] | None = None) -> list[str]:
        """Close, compact, drop empty parts, and write the ``_SUCCESS`` manifest last."""
        if not self._prepared:
            self.prepare()
        self._close_part()
        if self._duplicates:
            log.info("Compacting %d key(s) that appeared on more than one page", len(self._duplicates))
            self._drop_superseded()
        for part in [p for p in self.parts if p.records == 0]:
            (self.directory / part.name).unlink()
        self.parts = [p for p in self.parts if p.records > 0]
        manifest = {
            "format": "kontent-sync-ndjson/1",
            "written_at": pendulum.now("UTC").isoformat(),
            "records": self.kept,
            "counts": self.counts.to_dict(),
            "files": [{"name": p.name, "records": p.records, "bytes": p.bytes} for p in self.parts],
            **(manifest_extra or {}),
        }
        with (self.directory / MANIFEST_NAME).open("wb") as handle:
            handle.write(json.dumps(manifest, indent=2, default=str).encode())
        return [str(self.directory / p.name) for p in self.parts]

    def abort(self) -> None:
        """Release the open file after a failure; the missing manifest marks the directory incomplete."""
        self._pending.clear()
        self._close_part()


def _iter_lines(path: Any) -> Iterator[bytes]:
    with path.open("rb") as handle:
        for line in handle:
            if line.strip():
                yield line if line.endswith(b"\n") else line + b"\n"


def iter_ndjson(path: Any) -> Iterator[dict[str, Any]]:
    """Stream the records of one NDJSON part."""
    for line in _iter_lines(path):
        yield json.loads(line)


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
