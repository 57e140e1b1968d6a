"""Peak memory of a pull to NDJSON at 10,000 vs 100,000 deltas, without and with content: flat.

Run: ``.venv/bin/python bench/pull_memory.py [--sizes 10000 100000]`` (part of ``make bench``).

The emulator (this process) holds one environment per size. Each measurement runs in a fresh child
process, like ``tests/operators/test_pull_memory.py``: it warms up (connection, lazy imports), resets
its peak resident size (Linux ``VmHWM`` via ``/proc/self/clear_refs``), runs the pull's drain to
``NdjsonSink`` on ``file://`` (``include_content`` off, then on: content fetched across pages with a
bounded number of batches in flight) and reports how much the peak grew. The request budget is raised
out of the way: memory, not pacing, is measured here. Printed: growth per size, and the 100k/10k
ratio (flat = 1: the compaction index keeps a fixed-size set of key digests and spills the rest to a
local temporary file, ``handoff_keys.DuplicateKeyIndex``).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import banner, run_worker, spread


def worker(base_url: str, env_id: str, token: str, content: str) -> None:
    from airflow.sdk import ObjectStoragePath

    from airflow_provider_kontent.client import ClientConfig, KontentClient
    from airflow_provider_kontent.drain import drain
    from airflow_provider_kontent.handoff import NdjsonSink

    def peak_kib() -> int:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))

    config = ClientConfig(
        env_id, base_url=base_url, rate_limit_per_second=100_000, rate_limit_per_minute=10**8
    )
    with KontentClient(config) as client, tempfile.TemporaryDirectory() as tmp:
        # warm-up: one page through the same path (imports, encoder, file system, content threads)
        drain(
            client,
            token,
            NdjsonSink(ObjectStoragePath(f"file://{tmp}/warm/")),
            max_pages=1,
            include_content=content == "1",
        )
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        before = peak_kib()
        started = time.perf_counter()
        sink = NdjsonSink(ObjectStoragePath(f"file://{tmp}/"))
        result = drain(client, token, sink, include_content=content == "1")
        sink.finalize()
        seconds = time.perf_counter() - started
        growth = peak_kib() - before
        written = sum(p.stat().st_size for p in Path(tmp).glob("part-*.ndjson"))  # not warm/
    print(
        json.dumps(
            {
                "growth_kib": growth,
                "deltas": result.received,
                "content_requests": result.content_requests,
                "output_bytes": written,
                "seconds": round(seconds, 2),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs=2, default=[10_000, 100_000])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--worker", nargs=4, metavar=("BASE_URL", "ENV", "TOKEN", "CONTENT"))
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
        return

    from airflow_provider_kontent.client import ClientConfig, KontentClient
    from airflow_provider_kontent.testing import KontentEmulator

    banner("pull memory (peak RSS growth of the drain to NDJSON, child process)")
    mib = 1024.0
    with KontentEmulator() as emu:
        envs = {}
        for size in args.sizes:
            env = emu.control.create_environment()["id"]
            emu.control.upsert_type(env, "article", elements={"title": {"type": "text", "name": "Title"}})
            with KontentClient(ClientConfig(env, base_url=emu.base_url)) as client:
                token = client.init_sync()
            emu.control.generate_changes(env, size, type="article")
            envs[size] = (env, token)
        for content in ("0", "1"):
            results: dict[int, list[dict]] = {size: [] for size in args.sizes}
            for _ in range(args.rounds):
                for size, (env, token) in envs.items():
                    results[size].append(run_worker("pull_memory.py", emu.base_url, env, token, content))
            label = "with content" if content == "1" else "deltas only"
            small, large = args.sizes
            for size in args.sizes:
                first = results[size][0]
                print(
                    f"  {label:<12} {size:>7,} deltas: peak growth {spread([r['growth_kib'] / mib for r in results[size]], '{:.1f}')} MiB, "
                    f"output {first['output_bytes'] / 2**20:.1f} MiB, {first['content_requests']} content requests, "
                    f"{first['seconds']}s",
                    flush=True,
                )
            ratio = [
                b["growth_kib"] / a["growth_kib"] for a, b in zip(results[small], results[large], strict=True)
            ]
            print(
                f"  {label:<12} growth at {large:,} / at {small:,}: {spread(ratio)}x for {large // small}x the deltas"
            )


if __name__ == "__main__":
    main()
