"""CPU and wall time per delta of ``KontentClient.iter_pages`` against a plain ``requests`` loop.

Run: ``.venv/bin/python bench/drain_client.py [--sizes 20000 100000] [--rounds 11]`` (part of ``make bench``).

The emulator (in this process) holds one environment per size with that many item changes after a
token. Each contender runs in a persistent process of its own (``_common.PersistentWorker``):

* ``plain``: ``requests.Session.get`` with ``X-Continuation`` and ``response.json()``, counting deltas:
  the least any client must do;
* ``client``: ``KontentClient.iter_pages`` (retries armed, malformed-delta checks, typed deltas) with
  the rate limiter raised out of the way, counting ``page.deltas``.

After a warm-up request, each round asks both workers in turn (order flipped every round) for one
pass over the same changes; a pass reports the CPU time of its process (``time.process_time``) and
the wall time of the drain alone. The ratios are taken pass by adjacent pass: on the shared 2-core
VM the same code measured 13-30 us per delta from one minute to the next, so only passes run side
by side in time are comparable. Printed per size: client/plain CPU per delta and plain/client wall
time (i.e. the client's throughput as a share of the plain loop's), median and spread over rounds.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import PersistentWorker, banner, serve_passes, spread


def _plain_drain(base_url: str, env_id: str, token: str):
    import requests

    session = requests.Session()
    url = f"{base_url}/v2/{env_id}/sync"
    session.get(url, headers={"X-Continuation": token}, timeout=60).json()  # warm-up

    def drain() -> tuple[int, int]:
        pages = deltas = 0
        cursor = token
        while True:
            response = session.get(url, headers={"X-Continuation": cursor}, timeout=60)
            response.raise_for_status()
            cursor = response.headers["X-Continuation"]
            count = sum(len(array) for array in response.json().values())
            pages += 1
            deltas += count
            if count == 0:
                return pages, deltas

    return drain


def _client_drain(base_url: str, env_id: str, token: str):
    from airflow_provider_kontent.client import ClientConfig, KontentClient

    config = ClientConfig(
        env_id, base_url=base_url, rate_limit_per_second=1_000_000, rate_limit_per_minute=100_000_000
    )
    client = KontentClient(config)
    client.sync_page(token)  # warm-up

    def drain() -> tuple[int, int]:
        pages = deltas = 0
        for page in client.iter_pages(token):
            pages += 1
            deltas += len(page.deltas)
        return pages, deltas

    return drain


def worker(kind: str, base_url: str, env_id: str, token: str) -> None:
    """One pass per request from the benchmark: CPU time of this process and wall time of the drain."""
    drain = (_plain_drain if kind == "plain" else _client_drain)(base_url, env_id, token)

    def one_pass() -> dict:
        cpu, wall = time.process_time(), time.perf_counter()
        pages, deltas = drain()
        wall = time.perf_counter() - wall
        return {"pages": pages, "deltas": deltas, "cpu": time.process_time() - cpu, "wall": wall}

    serve_passes(one_pass)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--worker", nargs=4, metavar=("KIND", "BASE_URL", "ENV", "TOKEN"))
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
        return

    from airflow_provider_kontent.client import ClientConfig, KontentClient
    from airflow_provider_kontent.testing import KontentEmulator

    banner("drain: KontentClient.iter_pages vs a plain requests loop (each in its own process)")
    with KontentEmulator() as emu:
        envs = {}
        for size in args.sizes:
            env = emu.control.create_environment()["id"]
            emu.control.upsert_type(env, "article", elements={"title": {"type": "text", "name": "Title"}})
            with KontentClient(ClientConfig(env, base_url=emu.base_url)) as client:
                token = client.init_sync()
            started = time.perf_counter()
            emu.control.generate_changes(env, size, type="article")
            print(f"generated {size:,} changes in {time.perf_counter() - started:.1f}s", flush=True)
            envs[size] = (env, token)
        # every size and contender in a persistent process, all asked round by round: the sizes are
        # interleaved too, so the per-delta flatness compares passes made side by side in time
        kinds = ("plain", "client")
        runs: dict[tuple[int, str], list[dict]] = {(size, kind): [] for size in envs for kind in kinds}
        workers = {
            (size, kind): PersistentWorker("drain_client.py", kind, emu.base_url, env, token)
            for size, (env, token) in envs.items()
            for kind in kinds
        }
        try:
            for round_no in range(args.rounds):
                for size in envs:
                    for kind in kinds if round_no % 2 == 0 else kinds[::-1]:
                        runs[size, kind].append(workers[size, kind].run())
        finally:
            for process in workers.values():
                process.close()
        per_delta = {}
        for size in envs:
            plain, client = runs[size, "plain"], runs[size, "client"]
            assert all(r["deltas"] == size for r in plain + client), (plain, client)
            cpu_ratio = [c["cpu"] / p["cpu"] for c, p in zip(client, plain, strict=True)]
            wall_ratio = [p["wall"] / c["wall"] for c, p in zip(client, plain, strict=True)]
            per_delta[size] = [c["cpu"] / size * 1e6 for c in client]
            print(
                f"{size:>7,} deltas ({client[0]['pages']:,} pages), {args.rounds} rounds:\n"
                f"  CPU per delta: plain {spread([p['cpu'] / size * 1e6 for p in plain], '{:.1f}')} us, "
                f"client {spread(per_delta[size], '{:.1f}')} us; client/plain {spread(cpu_ratio)}x (goal <= 1.2)\n"
                f"  wall: plain {spread([p['wall'] for p in plain])}s, "
                f"client {spread([c['wall'] for c in client])}s; "
                f"client throughput / plain {spread(wall_ratio)}x (goal >= 0.9)",
                flush=True,
            )
        if len(per_delta) > 1:
            small, large = min(per_delta), max(per_delta)
            flat = [b / a for a, b in zip(per_delta[small], per_delta[large], strict=True)]
            print(f"  client CPU per delta at {large:,} / at {small:,}: {spread(flat)}x (flat = 1)")


if __name__ == "__main__":
    main()
