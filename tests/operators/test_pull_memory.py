"""A 50,000-delta pull to ``file://`` NDJSON keeps peak memory small (bounded by a page plus key digests).

The drain runs in-process (a dag.test would add nothing but time) with the same code path the operator
uses. The ceiling is generous on purpose; exact figures live in ``bench/README.md``.
"""

from __future__ import annotations

import tracemalloc

from airflow_provider_kontent._delivery import MANIFEST_NAME, NdjsonSink, drain, iter_ndjson
from airflow_provider_kontent.client import ClientConfig, KontentClient

COUNT = 50_000
CEILING = 32 * 1024 * 1024


def test_50k_deltas_to_ndjson_with_bounded_memory(kontent_emulator, kontent_conn, tmp_path):
    from airflow.sdk import ObjectStoragePath

    env_id = kontent_conn["id"]
    ctl = kontent_emulator.control
    with KontentClient(ClientConfig(env_id, base_url=kontent_emulator.base_url)) as client:
        token = client.init_sync()
        ctl.generate_changes(env_id, COUNT)
        sink = NdjsonSink(ObjectStoragePath(f"file://{tmp_path}/"))
        tracemalloc.start()
        try:
            before, _ = tracemalloc.get_traced_memory()
            result = drain(client, token, sink)
            files = sink.finalize()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert result.received == COUNT and result.complete and result.pages > 100
    assert sink.kept == COUNT and sink.counts.to_dict() == {"items": {"changed": COUNT}}
    output_bytes = sum(p.stat().st_size for p in tmp_path.glob("part-*.ndjson"))
    assert (tmp_path / MANIFEST_NAME).exists()
    # memory stays far below the size of what was written (the whole delta never sits in memory)
    assert peak - before < CEILING
    assert peak - before < output_bytes / 2
    first = next(iter_ndjson(ObjectStoragePath(files[0])))
    assert first["kind"] == "item" and first["change_type"] == "changed"
