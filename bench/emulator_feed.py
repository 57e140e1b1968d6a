"""Export a 50,000-item environment through ``/items-feed`` with a plain requests loop.

Prints pages/s of the big export and, as a same-run baseline, pages/s of the same loop over a small
environment (same page size). A feed answered from a cached selection costs the same per page whatever
the environment size, so the ratio stays near 1; re-selecting every page makes it grow with the size
(and the whole export quadratic). Run: ``.venv/bin/python bench/emulator_feed.py [--items 50000]``.
"""

from __future__ import annotations

import argparse
import time

import requests

from airflow_provider_kontent.testing import KontentEmulator


def export(session: requests.Session, url: str) -> tuple[int, int, float]:
    """Follow ``X-Continuation`` until it is absent; returns (pages, items, seconds)."""
    pages = items = 0
    headers: dict[str, str] = {}
    params = {"language": "en-US", "system.language": "en-US"}
    started = time.perf_counter()
    while True:
        response = session.get(url, params=params, headers=headers, timeout=120)
        response.raise_for_status()
        pages += 1
        items += len(response.json()["items"])
        token = response.headers.get("X-Continuation")
        if not token:
            return pages, items, time.perf_counter() - started
        headers = {"X-Continuation": token}


def build(emu: KontentEmulator, count: int) -> str:
    env = emu.control.create_environment()["id"]
    emu.control.generate_changes(env, count, type="article")
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--baseline-items", type=int, default=1_000)
    args = parser.parse_args()

    with KontentEmulator() as emu, requests.Session() as session:
        small = build(emu, args.baseline_items)
        big = build(emu, args.items)
        results = {}
        for label, env in (("baseline", small), ("export", big)):
            pages, items, seconds = export(session, f"{emu.base_url}/{env}/items-feed")
            results[label] = pages / seconds
            print(
                f"{label:>8}: {items:>7,} items, {pages:>5,} pages in {seconds:7.2f}s = "
                f"{pages / seconds:8,.0f} pages/s, {items / seconds:9,.0f} items/s"
            )
        ratio = results["baseline"] / results["export"]
        print(f"per-page cost of the {args.items:,}-item export: {ratio:.2f}x the baseline's")


if __name__ == "__main__":
    main()
