"""A 250,000-delta pull under the default request budget: how close it runs to 1,800/min.

Run: ``.venv/bin/python bench/budget_drain.py [--changes 250000]`` (part of ``make bench``; about
1.5 minutes: ~25 s to generate the changes, then 2,500 Sync pages that the per-minute window stretches
over ~68 s).

The pull's drain (to NDJSON, ``KontentSyncPullOperator``'s path) runs in a child process with the
default budget (90/s and 1,800/min: 90 % of Kontent.ai's 100/s and 2,000/min). 2,500 pages cannot
fit in one minute: the first 1,800 go at 90/s, then the sliding window holds the rest until the first
requests are a minute old. The emulator's request log gives the busiest second and the busiest
60-second window (which must stay at or under the budget) and the run's length against the least
the budget allows, ``60 s + (pages - 1,800) / 90``. The pull's own progress lines (INFO every 5 s:
rate and time left) are shown too.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import banner, run_worker, window_peaks


def worker(base_url: str, env_id: str, token: str) -> None:
    from airflow_provider_kontent.client import ClientConfig, KontentClient
    from airflow_provider_kontent.drain import drain
    from airflow_provider_kontent.handoff import NdjsonSink

    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    logger = logging.getLogger("airflow_provider_kontent.drain")
    logger.setLevel(logging.INFO)
    logger.addHandler(Keep())
    with (
        KontentClient(ClientConfig(env_id, base_url=base_url)) as client,
        tempfile.TemporaryDirectory() as tmp,
    ):
        start = time.time()
        result = drain(client, token, NdjsonSink(Path(tmp)))
        end = time.time()
    print(
        json.dumps(
            {
                "start": start,
                "end": end,
                "pages": result.pages,
                "deltas": result.received,
                "requests": result.requests,
                "limiter_wait": result.rate_limit_wait_seconds,
                "seconds": result.seconds,
                "progress": [line for line in lines if line.startswith("Kontent pull:")],
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--changes", type=int, default=250_000)
    parser.add_argument("--worker", nargs=3, metavar=("BASE_URL", "ENV", "TOKEN"))
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
        return

    from airflow_provider_kontent.client import ClientConfig, KontentClient
    from airflow_provider_kontent.testing import KontentEmulator

    per_second, per_minute = 90, 1800
    banner(f"{args.changes:,}-delta pull under the default budget ({per_second}/s, {per_minute:,}/min)")
    with KontentEmulator() as emu:
        ctl = emu.control
        env = ctl.create_environment()["id"]
        ctl.upsert_type(env, "article", elements={"title": {"type": "text", "name": "Title"}})
        with KontentClient(ClientConfig(env, base_url=emu.base_url)) as client:
            token = client.init_sync()
        started = time.perf_counter()
        for done in range(0, args.changes, 50_000):  # in chunks: one control call must not time out
            ctl.generate_changes(env, min(50_000, args.changes - done), type="article")
        print(f"generated {args.changes:,} changes in {time.perf_counter() - started:.1f}s", flush=True)
        ctl.clear_requests()
        result = run_worker("budget_drain.py", emu.base_url, env, token, timeout=1800)
        times = [r["time"] for r in ctl.requests(env) if r["path"].endswith("/sync")]
    rate = window_peaks(times)
    pages = result["pages"]
    least = 60.0 + max(0, pages - per_minute) / per_second if pages > per_minute else pages / per_second
    print(
        f"drained {result['deltas']:,} deltas in {pages:,} pages, {result['seconds']:.1f}s; "
        f"{result['limiter_wait']:.1f}s of it waiting on the limiter"
    )
    print(f"  busiest second: {rate['peak_1s']} requests (budget {per_second}, Kontent.ai 100)")
    print(
        f"  busiest 60 s: {rate['peak_60s']:,} requests = {rate['peak_60s'] / per_minute:.3f}x the budget "
        f"of {per_minute:,} ({rate['peak_60s'] / 2000:.3f}x Kontent.ai's 2,000)"
    )
    print(
        f"  run length {rate['seconds']:.1f}s vs the least the budget allows for {pages:,} requests, "
        f"{least:.1f}s: {least / rate['seconds']:.3f} of the budget's pace"
    )
    shown = result["progress"]
    for line in shown[:2] + (["..."] if len(shown) > 3 else []) + shown[-1:]:
        print(f"  progress: {line}")


if __name__ == "__main__":
    main()
