"""Handing deltas to downstream tasks: record shape, compaction, NDJSON parts and the XCom size guard.

Both sinks receive one page of records at a time and keep only the last change per key (Kontent reports
the latest change per entity, but a key can reappear on a later page when it changed again during the
drain). They differ in where the result lives:

* ``XComSink`` keeps the compacted records in memory, because they go into one XCom value anyway, and
  fails early and clearly once they would exceed ``max_xcom_bytes``.
* ``NdjsonSink`` writes each page straight to ``part-NNNNN.ndjson`` files under an ``ObjectStoragePath``
  and keeps only a 64-bit digest per key (``handoff_keys.DuplicateKeyIndex``: a bounded set, spilled
  sorted to a local temporary file when full). Keys seen twice are rare (changes made while draining),
  so after the drain one streaming pass locates the winners of just those keys and a second pass
  rewrites only the parts holding superseded lines. Memory is therefore one page of records, a write
  buffer and a fixed-size key set (plus, while merging, read buffers bounded at 2 MiB up to ~8 million
  distinct keys), not the delta. A ``_SUCCESS`` manifest
  (files, line counts, counts per kind) is written last and removed first, so a partially written
  directory is never mistaken for a complete one.

The drain that feeds them (Sync pages plus content, across pages) is in ``airflow_provider_kontent.drain``.
Nothing here imports Airflow: it works on any pathlib-like object with ``/``, ``open``, ``iterdir``,
``exists``, ``unlink``, ``rename`` and ``mkdir`` (``ObjectStoragePath`` or ``pathlib.Path``).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pendulum

from airflow_provider_kontent.client import Delta, EntityKind
from airflow_provider_kontent.client.models import parse_instant
from airflow_provider_kontent.handoff_keys import DuplicateKeyIndex

try:  # msgspec ships with Airflow's task SDK; it encodes JSON several times faster than the stdlib
    from msgspec.json import Encoder as _FastEncoder

    _encode = _FastEncoder(enc_hook=str).encode
except ImportError:  # pragma: no cover

    def _encode(value: Any) -> bytes:
        return json.dumps(value, separators=(",", ":"), default=str, ensure_ascii=False).encode()


__all__ = [
    "MANIFEST_NAME",
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
    of ``WRITE_CHUNK`` bytes and the key index's in-memory set (``handoff_keys.SPILL_AT`` digests)."""

    def __init__(self, directory: Any, *, part_max_bytes: int = 64 * 1024 * 1024) -> None:
        self.directory = directory
        self.part_max_bytes = part_max_bytes
        self.parts: list[_Part] = []
        self.counts = CountTable()
        self.superseded = 0
        self._keys = DuplicateKeyIndex()
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
        digests: list[int] = []
        for record in records:
            digests.append(_digest(record_key(record)))
            chunk.append(_encode(record) + b"\n")
            self.counts.add(record)
        if not chunk:
            return
        self._keys.add_all(digests)
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

    def _drop_superseded(self, duplicates: set[int]) -> None:
        """Two streaming passes over the parts, touching only keys seen more than once."""
        winners: dict[tuple, tuple[int, int, str | None]] = {}
        for part_no, part in enumerate(self.parts):
            for line_no, record in enumerate(iter_ndjson(self.directory / part.name)):
                key = record_key(record)
                if _digest(key) not in duplicates:
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
        duplicates = self._keys.duplicates()
        self._keys.close()
        if duplicates:
            log.info("Compacting %d key(s) that appeared on more than one page", len(duplicates))
            self._drop_superseded(duplicates)
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
        self._keys.close()


def _iter_lines(path: Any) -> Iterator[bytes]:
    with path.open("rb") as handle:
        for line in handle:
            if line.strip():
                yield line if line.endswith(b"\n") else line + b"\n"


def iter_ndjson(path: Any) -> Iterator[dict[str, Any]]:
    """Stream the records of one NDJSON part."""
    for line in _iter_lines(path):
        yield json.loads(line)
