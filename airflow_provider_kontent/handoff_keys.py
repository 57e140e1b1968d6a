"""Which keys of a hand-off appeared more than once, in bounded memory however long the drain.

``NdjsonSink`` writes every record straight to its parts and only needs to know, at the end, which
keys were written twice (a key reappears on a later Sync page when it changed again during the drain)
so that one compaction pass can drop the superseded lines. A Python ``set`` of 64-bit digests costs
about 80 bytes per distinct key: 8 MiB for 100,000 keys, 80 MiB for a million, which is what made the
pull's memory grow with the backlog. ``DuplicateKeyIndex`` keeps at most ``spill_at`` digests in a
set; when it is full they are written sorted, 8 bytes each, as one *run* to an anonymous temporary
file on local disk, and the set starts over. A duplicate inside the set is found at once; one across
runs is found by ``duplicates()``, which merges the sorted runs (reading each a chunk at a time) and
reports the digests that occur twice. Memory is the set, one read chunk per run and the duplicates
themselves (rare: changes made while the drain ran). The merge reads every run at once, so the
chunks shrink as runs pile up (``MERGE_BUDGET``): flat up to about 8 million distinct keys, then 4 KiB
per 16,384 keys. The spill file lives in the worker's temporary directory (``TMPDIR``), 8 bytes per
key; where that is memory-backed (a ``tmpfs`` ``/tmp``, as on many Kubernetes pods) it counts
against the worker's memory.
"""

from __future__ import annotations

import heapq
import tempfile
from array import array
from collections.abc import Iterable, Iterator
from typing import IO

__all__ = ["DuplicateKeyIndex"]

#: digests kept in memory before a run is spilled: about 1.5 MiB of set
SPILL_AT = 1 << 14
#: digests read at a time from each run while merging (64 KiB) ...
READ_CHUNK = 1 << 13
#: ... as long as all runs' chunks together stay within this many digests (2 MiB); with more runs
#: (over ~8 million distinct keys) each run's chunk shrinks down to MIN_READ_CHUNK (4 KiB)
MERGE_BUDGET = 1 << 18
MIN_READ_CHUNK = 1 << 9
_ITEM = array("q").itemsize


class DuplicateKeyIndex:
    """Digests seen so far; ``duplicates()`` are those added more than once."""

    def __init__(self, *, spill_at: int | None = None) -> None:
        self.spill_at = max(1, SPILL_AT if spill_at is None else spill_at)
        self._current: set[int] = set()
        self._found: set[int] = set()
        self._runs: list[tuple[int, int]] = []  # (byte offset, digest count) of each sorted run
        self._file: IO[bytes] | None = None
        self._merged = False
        self._closed = False

    def __len__(self) -> int:
        """Digests added, counting a digest once per run it was spilled in (an upper bound)."""
        return len(self._current) + sum(count for _, count in self._runs)

    def add(self, digest: int) -> None:
        self.add_all((digest,))

    def add_all(self, digests: Iterable[int]) -> None:
        """Add one page's digests (one call per page keeps the per-key cost near a bare ``set.add``)."""
        if self._closed:
            raise RuntimeError("DuplicateKeyIndex is closed: its spilled runs are gone")
        current, found = self._current, self._found
        for digest in digests:
            if digest in current:
                found.add(digest)
                continue
            current.add(digest)
            if len(current) >= self.spill_at:
                self._spill()
                current = self._current
        self._merged = False

    def _spill(self) -> None:
        if self._file is None:
            self._file = tempfile.TemporaryFile(prefix="kontent-keys-")  # noqa: SIM115 - closed by close()
        self._file.seek(0, 2)
        offset = self._file.tell()
        self._file.write(array("q", sorted(self._current)).tobytes())
        self._runs.append((offset, len(self._current)))
        self._current = set()

    def _iter_run(self, offset: int, count: int, chunk_size: int) -> Iterator[int]:
        assert self._file is not None
        done = 0
        while done < count:
            n = min(chunk_size, count - done)
            self._file.seek(offset + done * _ITEM)
            chunk = array("q")
            chunk.frombytes(self._file.read(n * _ITEM))
            yield from chunk
            done += n

    def duplicates(self) -> set[int]:
        """The digests added more than once (merging the spilled runs the first time it is asked)."""
        if self._runs and not self._merged:
            chunk_size = min(READ_CHUNK, max(MIN_READ_CHUNK, MERGE_BUDGET // len(self._runs)))
            runs = [self._iter_run(offset, count, chunk_size) for offset, count in self._runs]
            previous = None
            for digest in heapq.merge(*runs, sorted(self._current)):
                if digest == previous:
                    self._found.add(digest)
                previous = digest
            self._merged = True
        return self._found

    def close(self) -> None:
        """Delete the spill file (also done by the OS when the process ends) and free the set; the
        duplicates found so far stay readable, adding is refused (the runs to compare with are gone)."""
        if self._file is not None:
            self._file.close()
            self._file = None
        self._runs = []
        self._current = set()
        self._merged = True
        self._closed = True
