"""``make demo`` end to end: scripts/demo.py as a subprocess, on its own Airflow home and emulator."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_demo_runs_end_to_end_and_prints_the_summary(tmp_path):
    # A clean environment, as on a fresh machine: nothing of this test session's Airflow settings leaks in.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "KONTENT_"))}
    env["TMPDIR"] = str(tmp_path)  # the demo's temporary directory; must be empty again afterwards
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "demo.py")],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=280,
    )
    output = proc.stdout
    assert proc.returncode == 0, f"stdout:\n{output}\nstderr:\n{proc.stderr[-4000:]}"

    counts = dict(
        re.findall(
            r"^\s+(kontent_items|kontent_types|kontent_taxonomies|kontent_languages)\s+(\d+\s+\d+)$",
            output,
            re.M,
        )
    )
    # demo seed: 295 published variants, 6 types, 2 taxonomy groups, 3 active languages; run 2 adds 2 items
    # and 1 variant, removes 1 unpublished variant and a deleted item's 3 variants
    assert counts["kontent_items"].split() == ["295", "294"]
    assert counts["kontent_types"].split() == ["6", "6"]
    assert counts["kontent_languages"].split() == ["3", "3"]
    # one typed table: the edited item's type gained a new item, and the edit is in its row
    typed = re.search(r"^\s+(kontent_type_\w+)\s+(\d+)\s+(\d+)\s+\(typed table\)$", output, re.M)
    assert typed and int(typed.group(3)) == int(typed.group(2)) + 1, output
    assert re.search(r"^  edited row \[en-US\]: name '.+' -> '.+ \(edited\)'$", output, re.M)
    assert "What changed in run 2 (9 changes applied to SQLite)" in output
    for change in ("delete     item", "upsert     item      demo_new_item_1 [en-US]", "upsert     type"):
        assert change in output
    # run 1 did not wait for changes after its snapshot: it committed, which confirmed the snapshot
    assert "snapshot_pending False: the next run pulls changes only" in output
    assert re.search(r"^\s+snapshot_pending\s+False\s+-> False$", output, re.M)
    assert re.search(r"^\s+token\s+\S+\.\.\.\S+\s+-> \S+\.\.\.\S+\s+\(changed\)$", output, re.M)
    assert re.search(r"^\s+environment_id\s+0f5b6e9a-1c2d-4e3f-8a9b-0c1d2e3f4a5b\s+->", output, re.M)
    assert "All edits arrived" in output
    assert "not-a-real-secret" not in output + proc.stderr  # the seed's API keys never show up
    # nothing left behind: the temporary Airflow home and database were removed
    assert list(tmp_path.iterdir()) == []
