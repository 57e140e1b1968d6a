"""``kontent-emulator``: run the emulator in the foreground until Ctrl-C (or SIGTERM)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from airflow_provider_kontent.testing.emulator import KontentEmulator


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kontent-emulator",
        description="Local Kontent.ai Delivery + Sync API emulator (for tests and demos).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)")
    parser.add_argument("--seed", choices=["demo"], default=None, help="load a data set at start")
    parser.add_argument(
        "--rate-limit", action="store_true", help="enforce 100 req/s and 2,000 req/min per env"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with KontentEmulator(seed=args.seed, host=args.host, port=args.port, rate_limit=args.rate_limit) as emu:
        print(f"Production (deliver):  {emu.base_url}", flush=True)
        print(f"Preview:               {emu.preview_url}", flush=True)
        print(f"Control API:           {emu.base_url}/_emulator/", flush=True)
        if emu.demo_environment is not None:
            print(f"Demo environment:      {emu.demo_environment['id']}", flush=True)
        print("Press Ctrl-C to stop.", flush=True)
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
    print("Emulator stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
