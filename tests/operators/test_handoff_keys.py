"""The sink's duplicate-key index: exact answers whether or not it spilled to disk."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from airflow_provider_kontent import handoff_keys
from airflow_provider_kontent.handoff import NdjsonSink, iter_ndjson
from airflow_provider_kontent.handoff_keys import DuplicateKeyIndex


def _digests(seed: int, n: int) -> list[int]:
    """Random signed 64-bit digests with repeats near and far apart (same run, other runs, 3x)."""
    rnd = random.Random(seed)
    values = [rnd.randint(-(2**63), 2**63 - 1) for _ in range(n)]
    for _ in range(n // 10):
        values.insert(rnd.randrange(len(values)), rnd.choice(values))
    values += [values[0], values[0], values[-1]]
    return values


@pytest.mark.parametrize("spill_at", [1, 7, 100, 10**9])
def test_duplicates_match_a_counter_across_spilled_runs(spill_at, monkeypatch):
    monkeypatch.setattr(handoff_keys, "READ_CHUNK", 3)  # merge reads several chunks per run
    values = _digests(spill_at, 2_000)
    index = DuplicateKeyIndex(spill_at=spill_at)
    for value in values:
        index.add(value)
    expected = {value for value, n in Counter(values).items() if n > 1}
    assert index.duplicates() == expected
    assert bool(index._runs) == (spill_at < len(values))
    assert index.duplicates() == expected  # asking again does not merge twice into something else
    index.close()
    assert index._file is None


def test_many_runs_share_the_merge_budget_and_stay_exact(monkeypatch):
    """With more runs than the merge budget allows full chunks for, each run is read in smaller ones."""
    monkeypatch.setattr(handoff_keys, "MERGE_BUDGET", 40)
    monkeypatch.setattr(handoff_keys, "MIN_READ_CHUNK", 2)
    sizes: list[int] = []
    real_iter_run = DuplicateKeyIndex._iter_run

    def recording_iter_run(self, offset, count, chunk_size):
        sizes.append(chunk_size)
        return real_iter_run(self, offset, count, chunk_size)

    monkeypatch.setattr(DuplicateKeyIndex, "_iter_run", recording_iter_run)
    values = _digests(3, 1_500)
    index = DuplicateKeyIndex(spill_at=10)
    index.add_all(values)
    assert index.duplicates() == {value for value, n in Counter(values).items() if n > 1}
    assert len(index._runs) > 100 and set(sizes) == {2}  # 40 // 100+ runs -> the minimum


def test_a_closed_index_keeps_its_answer_and_refuses_more_keys():
    index = DuplicateKeyIndex(spill_at=2)
    index.add_all([1, 2, 3, 1])
    assert index.duplicates() == {1}
    index.close()
    assert index.duplicates() == {1} and index._current == set()
    with pytest.raises(RuntimeError, match="closed"):
        index.add(4)


def test_no_duplicates_when_every_key_is_new():
    index = DuplicateKeyIndex(spill_at=5)
    for value in range(-50, 50):
        index.add(value)
    assert index.duplicates() == set()
    assert len(index) == 100


def test_sink_compacts_keys_repeated_across_spills(tmp_path, monkeypatch):
    """Keys re-sent pages later (after the set was spilled) are still compacted to their last change."""
    monkeypatch.setattr(handoff_keys, "SPILL_AT", 4)
    sink = NdjsonSink(tmp_path, part_max_bytes=2_000)

    def record(n: int, second: int, change: str = "changed") -> dict:
        return {
            "kind": "item",
            "id": f"id-{n}",
            "language": "en-US",
            "codename": f"c{n}",
            "change_type": change,
            "timestamp": f"2026-01-01T00:00:{second:02d}Z",
        }

    for page in range(5):
        sink.write_page([record(page * 10 + i, 1) for i in range(10)])
    sink.write_page([record(3, 9, "deleted"), record(45, 9), record(21, 0)])  # 21: older, loses
    assert sink._keys._runs, "the index should have spilled"
    files = sink.finalize()
    records = [r for f in files for r in iter_ndjson(type(tmp_path)(f))]
    by_key = {r["id"]: r for r in records}
    assert len(records) == len(by_key) == 50
    assert by_key["id-3"]["change_type"] == "deleted"
    assert by_key["id-45"]["timestamp"].endswith(":09Z")
    assert by_key["id-21"]["timestamp"].endswith(":01Z")
    assert sink.superseded == 3 and sink.kept == 50
    assert sink._keys._file is None
