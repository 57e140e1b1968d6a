"""Peak memory of a 50,000-delta pull written as NDJSON to ``file://`` (and, for contrast, into XCom).

Run: ``.venv/bin/python bench/pull_memory.py [count] [page_size]``. The emulator runs in this process,
so the figures include its per-request work; they are measured with ``tracemalloc`` from just before
the drain (after the changes were generated) to its end. Results are recorded in ``bench/README.md``.
"""

from __future__ import annotations

import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from airflow_provider_kontent.client import ClientConfig, KontentClient
from airflow_provider_kontent.handoff import NdjsonSink, XComSink, drain
from airflow_provider_kontent.testing import KontentEmulator


def measure(base_url: str, env_id: str, token: str, sink: Any) -> dict[str, Any]:
    with KontentClient(ClientConfig(env_id, base_url=base_url)) as client:
        tracemalloc.start()
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        started = time.perf_counter()
        result = drain(client, token, sink)
        output = sink.finalize()  # NDJSON: the part names; XCom: the records themselves
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return {
        "deltas": result.received,
        "pages": result.pages,
        "kept": sink.kept,
        "files": output if isinstance(sink, NdjsonSink) else None,
        "peak_bytes": peak - before,
        "seconds": round(elapsed, 2),
    }


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    page_size = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    with KontentEmulator() as emu:
        env = emu.control.create_environment(page_size=page_size)
        emu.control.upsert_type(env["id"], "article", elements={"title": {"type": "text", "name": "Title"}})
        with KontentClient(ClientConfig(env["id"], base_url=emu.base_url)) as client:
            token = client.init_sync()
        emu.control.generate_changes(env["id"], count)
        from airflow.sdk import ObjectStoragePath

        with tempfile.TemporaryDirectory() as tmp:
            ndjson = measure(emu.base_url, env["id"], token, NdjsonSink(ObjectStoragePath(f"file://{tmp}/")))
            ndjson["output_bytes"] = sum(p.stat().st_size for p in Path(tmp).glob("part-*.ndjson"))
            ndjson["files"] = len(ndjson["files"])
        xcom = measure(emu.base_url, env["id"], token, XComSink(0))
    mib = 1024 * 1024
    print(f"{count} deltas, page size {page_size}")
    print(
        f"  NDJSON file://: peak {ndjson['peak_bytes'] / mib:.1f} MiB, output {ndjson['output_bytes'] / mib:.1f} MiB "
        f"in {ndjson['files']} file(s), {ndjson['pages']} pages, {ndjson['seconds']} s"
    )
    print(f"  XCom (in memory, guard off): peak {xcom['peak_bytes'] / mib:.1f} MiB, {xcom['seconds']} s")
    print(
        f"  ratio: the in-memory baseline peaks {xcom['peak_bytes'] / ndjson['peak_bytes']:.1f}x higher than NDJSON"
    )


if __name__ == "__main__":
    main()
