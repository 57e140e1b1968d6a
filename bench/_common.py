"""Shared helpers of the benchmarks: worker processes, spread over rounds, request-log rates.

Every contender runs in a process of its own (``run_worker``), so one contender's garbage, threads or
warm caches never bill another; the emulator serves them from the benchmark's main process. Rounds
interleave the contenders (ABAB..., the order flipped every round) so a slower or busier moment of
the shared machine hits both alike, and each figure is printed as the median with its min-max spread.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent


def run_worker(script: str, *args: Any, timeout: float = 900) -> dict[str, Any]:
    """Run ``bench/<script> --worker ...`` in a fresh interpreter; its last stdout line is JSON."""
    proc = subprocess.run(
        [sys.executable, str(BENCH_DIR / script), "--worker", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{script} worker failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


class PersistentWorker:
    """``bench/<script> --worker ...`` kept running: each ``run()`` asks it for one more pass.

    For contenders whose passes are short next to the machine's drift (a shared VM's CPU speed moves
    by 2x over minutes): two persistent workers asked in turn, pass after pass, see nearly the same
    machine, so the ratio of each adjacent pair is far steadier than that of separate processes
    started minutes apart. The worker reads one line per pass on stdin and answers one JSON line.
    """

    def __init__(self, script: str, *args: Any) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(BENCH_DIR / script), "--worker", *map(str, args)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )

    def run(self) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("run\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"worker exited with {self.proc.wait()}")
        return json.loads(line)

    def close(self) -> None:
        """End the worker (its stdin closes); one that does not end within a minute is killed."""
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
            self.proc.wait(timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        finally:
            if self.proc.stdout is not None:
                self.proc.stdout.close()


def serve_passes(one_pass: Any) -> None:
    """The worker side of ``PersistentWorker``: one pass per line read, its JSON result per line."""
    for _ in sys.stdin:
        print(json.dumps(one_pass()), flush=True)


def spread(values: Sequence[float], fmt: str = "{:.2f}") -> str:
    """``median (min-max)`` of one figure over the rounds."""
    if len(values) == 1:
        return fmt.format(values[0])
    return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def window_peaks(times: Iterable[float]) -> dict[str, float]:
    """From request times (epoch seconds): the busiest 1 s and 60 s windows, and the mean rate."""
    stamps = sorted(times)
    if not stamps:
        return {"requests": 0, "peak_1s": 0, "peak_60s": 0, "mean_per_s": 0.0, "seconds": 0.0}

    def peak(width: float) -> int:
        best = start = 0
        for end, stamp in enumerate(stamps):
            while stamp - stamps[start] >= width:
                start += 1
            best = max(best, end - start + 1)
        return best

    seconds = stamps[-1] - stamps[0]
    return {
        "requests": len(stamps),
        "peak_1s": peak(1.0),
        "peak_60s": peak(60.0),
        "mean_per_s": round(len(stamps) / seconds, 1) if seconds > 0 else float(len(stamps)),
        "seconds": round(seconds, 2),
    }


def banner(title: str) -> None:
    print(f"\n== {title}", flush=True)
