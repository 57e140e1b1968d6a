"""Content fetch at 50 ms latency: the pull path vs one ``fetch_items`` vs naive per-item requests.

Run: ``.venv/bin/python bench/content_fetch.py [--per-language 1000] [--rounds 3]`` (part of ``make bench``).

One environment, four languages, ``--per-language`` changed items in each (4,000 variants on Sync
pages of 100). The emulator answers every content request (``/items``) 50 ms late (its ``delay``
fault, armed for all of them), like a Delivery API across a network; Sync pages answer at once
(a second, single-round scenario delays every request). Contenders, each in its own process, all
with the default request budget (90/s, 1,800/min) and four content threads:

* ``pull``: what ``KontentSyncPullOperator(include_content=True, output_path=...)`` runs: the drain
  to NDJSON with content fetched across pages (``ContentStream``), timed from the first Sync page
  to the last record written;
* ``fetch_items``: the deltas drained first (not timed), then one ``client.fetch_items(deltas)``;
* ``naive``: the same, one id per request (``url_max_length`` of a single id), one round only and
  for the first language only (all 4,000 would take over two minutes at 1,800/min; its figures are
  also given per variant).

Printed: content requests (and their ratio to the minimum number of URL-filled batches, computed
with ``batch_ids``), wall time and its ratio to ``fetch_items``, and the request rate the emulator
logged during each run (busiest second, busiest minute, mean) against Kontent's 100/s and 2,000/min.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import banner, run_worker, spread, window_peaks

LANGUAGES = ["en-US", "de", "fr", "es"]
LATENCY = 0.05


def worker(kind: str, base_url: str, env_id: str, token: str) -> None:
    from airflow_provider_kontent.client import ClientConfig, KontentClient
    from airflow_provider_kontent.client.content import prepared_url_length
    from airflow_provider_kontent.drain import drain
    from airflow_provider_kontent.handoff import NdjsonSink

    config = ClientConfig(env_id, base_url=base_url)
    out: dict = {}
    with KontentClient(config) as client:
        client.init_sync()  # warm-up: connection, imports
        if kind == "pull":
            with tempfile.TemporaryDirectory() as tmp:
                sink = NdjsonSink(Path(tmp))
                out["start"] = time.time()
                started = time.perf_counter()
                result = drain(client, token, sink, include_content=True)
                sink.finalize()
                out["wall"] = time.perf_counter() - started
                out["end"] = time.time()
            out.update(
                content_requests=result.content_requests,
                requests=result.requests,
                missing=result.content_missing,
                kept=sink.kept,
                limiter_wait=result.rate_limit_wait_seconds,
            )
        else:
            deltas = [d for page in client.iter_pages(token) for d in page.deltas]
            if kind == "naive":  # one language only: 4,000 single-id requests take minutes at 1,800/min
                deltas = [d for d in deltas if d.language == LANGUAGES[0]]
                first = next(d for d in deltas if d.kind.value == "item")
                single = prepared_url_length(client.protocol.items_by_id_request(first.language, [first.id]))
                client = KontentClient(config.replace(url_max_length=single))
            before = client.stats.requests
            out["start"] = time.time()
            started = time.perf_counter()
            batch = client.fetch_items(deltas)
            out["wall"] = time.perf_counter() - started
            out["end"] = time.time()
            out.update(
                content_requests=batch.requests,
                requests=client.stats.requests - before,
                missing=len(batch.missing),
                kept=len(batch.items),
                limiter_wait=round(client.stats.limiter_wait_seconds, 3),
            )
    print(json.dumps(out))


def minimum_batches(base_url: str, env_id: str, token: str) -> tuple[int, int, int]:
    """(URL-filled batches for the changed variants, number of variants, batches of the first
    language alone): the fewest requests."""
    from airflow_provider_kontent.client import ClientConfig, KontentClient
    from airflow_provider_kontent.client.content import batch_ids, group_changed_items

    with KontentClient(ClientConfig(env_id, base_url=base_url)) as client:
        deltas = [d for page in client.iter_pages(token) for d in page.deltas]
        grouped = group_changed_items(deltas)
        per_language = {
            lang: len(batch_ids(ids, lambda c, lang=lang: client.protocol.items_by_id_request(lang, c), 2000))
            for lang, ids in grouped.items()
        }
    return sum(per_language.values()), sum(len(ids) for ids in grouped.values()), per_language[LANGUAGES[0]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--per-language", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--worker", nargs=4, metavar=("KIND", "BASE_URL", "ENV", "TOKEN"))
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
        return

    from airflow_provider_kontent.client import ClientConfig, KontentClient
    from airflow_provider_kontent.testing import KontentEmulator

    banner(
        f"content fetch at {LATENCY * 1000:.0f} ms latency: pull path vs one fetch_items vs naive per item"
    )
    with KontentEmulator() as emu:
        ctl = emu.control
        env = ctl.create_environment(languages=[{"codename": code} for code in LANGUAGES])["id"]
        ctl.upsert_type(env, "article", elements={"title": {"type": "text", "name": "Title"}})
        with KontentClient(ClientConfig(env, base_url=emu.base_url)) as client:
            token = client.init_sync()
        for language in LANGUAGES:
            ctl.generate_changes(env, args.per_language, type="article", language=language)
        minimum, variants, first_minimum = minimum_batches(emu.base_url, env, token)
        print(
            f"{variants:,} changed variants in {len(LANGUAGES)} languages; minimum URL-filled batches: {minimum}"
        )

        def run(kind: str, path: str | None = r"/items$") -> dict:
            ctl.clear_faults()
            ctl.inject_fault("delay", delay=LATENCY, times=10_000_000, path=path)
            ctl.clear_requests()
            result = run_worker("content_fetch.py", kind, emu.base_url, env, token)
            ctl.clear_faults()
            logged = [
                r["time"]
                for r in ctl.requests(env)
                if result["start"] - 0.01 <= r["time"] <= result["end"] + 0.5
            ]
            result["rate"] = window_peaks(logged)
            return result

        runs: dict[str, list[dict]] = {"pull": [], "fetch_items": []}
        for round_no in range(args.rounds):
            order = ("pull", "fetch_items") if round_no % 2 == 0 else ("fetch_items", "pull")
            for kind in order:
                runs[kind].append(run(kind))
        runs["naive"] = [run("naive")]
        everywhere = {kind: run(kind, None) for kind in ("pull", "fetch_items")}

        base = runs["fetch_items"]
        per_variant = (runs["naive"][0]["wall"] / runs["naive"][0]["kept"]) / (
            statistics.median(b["wall"] for b in base) / variants
        )
        print(
            f"{'contender':<12} {'content requests':>17} {'x minimum':>10} {'wall s':>22} {'x fetch_items':>20}  emulator log: peak/s, peak/min, mean/s"
        )
        for kind, rows in runs.items():
            reqs = [r["content_requests"] for r in rows]
            walls = [r["wall"] for r in rows]
            ratio = [r["wall"] / b["wall"] for r, b in zip(rows, base, strict=False)]
            least = minimum
            if kind == "naive":  # one language: its own minimum, and the wall time per variant
                least, ratio = first_minimum, [per_variant]
            rate = rows[0]["rate"]
            print(
                f"{kind:<12} {spread(reqs, '{:.0f}'):>17} {spread([q / least for q in reqs]):>10} "
                f"{spread(walls):>22} {spread(ratio):>20}  {rate['peak_1s']}/s, {rate['peak_60s']}/min, "
                f"{rate['mean_per_s']}/s (all requests: {rows[0]['requests']}; limiter wait {rows[0]['limiter_wait']}s)"
            )
            assert all(r["missing"] == 0 for r in rows), rows
        naive = runs["naive"][0]
        print(
            f"naive ran over {naive['kept']:,} variants (one language): {naive['wall'] / naive['kept'] * 1000:.1f} ms "
            f"per variant = {per_variant:.1f}x fetch_items per variant; for all {variants:,} variants it needs "
            f"{variants:,} requests, at least {variants / 1800:.1f} min at 1,800/min"
        )
        ratio = everywhere["pull"]["wall"] / everywhere["fetch_items"]["wall"]
        print(
            f"with {LATENCY * 1000:.0f} ms on every request (Sync pages too, one round): pull "
            f"{everywhere['pull']['wall']:.2f}s vs fetch_items {everywhere['fetch_items']['wall']:.2f}s = {ratio:.2f}x "
            f"(the drain's sequential pages are the floor: {everywhere['pull']['requests'] - everywhere['pull']['content_requests']} pages x {LATENCY * 1000:.0f} ms)"
        )
        print("Kontent.ai limits: 100/s and 2,000/min per environment; default client budget 90/s, 1,800/min")


if __name__ == "__main__":
    main()
