"""Drain 100,000 Sync v2 deltas (1,000 pages of 100) through the emulator with a plain requests loop.

Prints pages/s and deltas/s, and as a same-run baseline the rate of an empty-page loop, so the ratio
shows what content costs on top of HTTP + token handling. Run: ``.venv/bin/python bench/emulator_drain.py``.
"""

from __future__ import annotations

import argparse
import time

import requests

from airflow_provider_kontent.testing import KontentEmulator


def drain(session: requests.Session, url: str, token: str) -> tuple[int, int, str]:
    pages = deltas = 0
    while True:
        response = session.get(url, headers={"X-Continuation": token}, timeout=60)
        response.raise_for_status()
        token = response.headers["X-Continuation"]
        count = sum(len(array) for array in response.json().values())
        if count == 0:
            return pages, deltas, token
        pages += 1
        deltas += count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--changes", type=int, default=100_000)
    parser.add_argument("--empty-pages", type=int, default=1_000)
    args = parser.parse_args()

    with KontentEmulator() as emu, requests.Session() as session:
        env = emu.control.create_environment()["id"]
        emu.control.upsert_type(env, "article", elements={"title": {"type": "text", "name": "Title"}})
        init = session.post(f"{emu.base_url}/v2/{env}/sync/init", timeout=60)
        token = init.headers["X-Continuation"]

        started = time.perf_counter()
        emu.control.generate_changes(env, args.changes, type="article")
        generated = time.perf_counter() - started
        print(f"generated {args.changes:,} changes in {generated:.2f}s (one control call)")

        url = f"{emu.base_url}/v2/{env}/sync"
        started = time.perf_counter()
        pages, deltas, token = drain(session, url, token)
        elapsed = time.perf_counter() - started
        print(f"drain:      {pages:,} pages, {deltas:,} deltas in {elapsed:.2f}s")
        print(f"            {pages / elapsed:,.0f} pages/s, {deltas / elapsed:,.0f} deltas/s")

        started = time.perf_counter()
        for _ in range(args.empty_pages):
            response = session.get(url, headers={"X-Continuation": token}, timeout=60)
            response.raise_for_status()
            token = response.headers["X-Continuation"]
        empty = time.perf_counter() - started
        empty_rate = args.empty_pages / empty
        print(
            f"empty-page: {args.empty_pages:,} pages in {empty:.2f}s = {empty_rate:,.0f} pages/s (baseline)"
        )
        print(f"content cost: a full page takes {empty_rate / (pages / elapsed):.1f}x an empty one")


if __name__ == "__main__":
    main()
