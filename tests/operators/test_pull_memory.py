"""A 50,000-delta pull to ``file://`` NDJSON keeps peak memory small and flat: bounded by a page, a write
buffer and the capped key index, so the first 10,000 of the same deltas need about as much.

The drain runs with the same code path the operator uses (a dag.test would add nothing but time), in a
child process whose peak resident memory (Linux ``VmHWM``, reset just before the drain) is read at its
end: the growth of the peak is what the pull itself needed. The emulator runs in a
process of its own, so none of its work is counted. Measuring real memory this way needs no
``tracemalloc`` (which slowed this test about threefold) and still tells a bounded pull (about 13 MiB)
from one that holds the whole delta (about 87 MiB, the in-memory XCom shape). The ceiling is generous on
purpose; exact figures live in ``bench/README.md``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest

from airflow_provider_kontent.client import ClientConfig, KontentClient
from airflow_provider_kontent.handoff import MANIFEST_NAME, iter_ndjson

COUNT = 50_000
CEILING_KIB = 32 * 1024

# Runs in the child: warm up (connection, lazy imports), then drain into NDJSON and report.
_CHILD = """
import json, sys
from airflow.sdk import ObjectStoragePath
from airflow_provider_kontent.drain import drain
from airflow_provider_kontent.handoff import NdjsonSink
from airflow_provider_kontent.client import ClientConfig, KontentClient

def peak_kib():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))

url, env_id, token, out, max_pages = sys.argv[1:6]
with KontentClient(ClientConfig(env_id, base_url=url)) as client:
    client.sync_page(token)
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # reset the peak (VmHWM) to the current resident size
    before = peak_kib()
    sink = NdjsonSink(ObjectStoragePath("file://" + out + "/"))
    result = drain(client, token, sink, max_pages=int(max_pages) or None)
    files = sink.finalize()
    after = peak_kib()
print(json.dumps({"growth_kib": after - before, "received": result.received, "pages": result.pages,
                  "complete": result.complete, "kept": sink.kept, "counts": sink.counts.to_dict(),
                  "files": files}))
"""


@pytest.fixture
def emulator_process() -> Iterator[str]:
    """A ``kontent-emulator`` on a free 127.0.0.1 port in a child process; its base URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_kontent.testing.cli", "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        first_line = proc.stdout.readline() if proc.stdout else ""
        match = re.search(r"http://127\.0\.0\.1:\d+", first_line)
        assert match, f"the emulator did not start: {first_line!r}"
        yield match.group(0)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        if proc.stdout:
            proc.stdout.close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self (Linux)")
def test_50k_deltas_to_ndjson_with_bounded_memory(emulator_process, tmp_path):
    from airflow.sdk import ObjectStoragePath

    from airflow_provider_kontent.testing import EmulatorControl

    ctl = EmulatorControl(emulator_process)
    env_id = ctl.create_environment(page_size=100)["id"]
    ctl.upsert_type(env_id, "article", elements={"title": {"type": "text", "name": "Title"}})
    with KontentClient(ClientConfig(env_id, base_url=emulator_process)) as client:
        token = client.init_sync()
    ctl.generate_changes(env_id, COUNT)
    ctl.close()

    def run_child(out, max_pages: int) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-c", _CHILD, emulator_process, env_id, token, str(out), str(max_pages)],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    child = run_child(tmp_path, 0)
    assert child.returncode == 0, child.stderr[-2000:]
    report = json.loads(child.stdout.strip().splitlines()[-1])
    assert report["received"] == COUNT and report["complete"] and report["pages"] > 100
    assert report["kept"] == COUNT and report["counts"] == {"items": {"changed": COUNT}}
    assert (tmp_path / MANIFEST_NAME).exists()
    output_kib = sum(p.stat().st_size for p in tmp_path.glob("part-*.ndjson")) / 1024
    # memory stays far below the size of the delta (the whole delta never sits in memory)
    assert 0 < report["growth_kib"] < CEILING_KIB, report["growth_kib"]
    assert report["growth_kib"] < output_kib * 0.75
    lines = sum(1 for f in report["files"] for _ in iter_ndjson(ObjectStoragePath(f)))
    assert lines == COUNT
    first = next(iter_ndjson(ObjectStoragePath(report["files"][0])))
    assert first["kind"] == "item" and first["change_type"] == "changed"

    # flat, not just small: the first 10,000 of the same deltas need about as much. A set of every
    # key's digest (~80 bytes each) would add over 3 MiB for the other 40,000 keys; the bounded
    # index adds about half a MiB (its set fills up to 16,384 digests, then spills to disk).
    small = run_child(tmp_path / "small", 100)
    assert small.returncode == 0, small.stderr[-2000:]
    small_report = json.loads(small.stdout.strip().splitlines()[-1])
    assert small_report["received"] == 10_000 and not small_report["complete"]
    assert report["growth_kib"] - small_report["growth_kib"] < 1536, (report, small_report)
