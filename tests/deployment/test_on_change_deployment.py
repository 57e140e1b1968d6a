"""``kontent_sync_on_change`` on a real deployment: scheduler, dag-processor, triggerer and api-server as
separate processes (LocalExecutor) on a PostgreSQL metadata database, against the emulator.

One deployment serves the module (starting it costs about a minute on two cores); the tests run in
order and each waits until the deployment is idle again. What they show:

* one edit wakes exactly one DAG run, which loads it (latency printed: edit -> run queued -> loaded);
* a burst of edits while a run is going starts at most one further run, and every change arrives;
* a triggerer SIGKILLed and restarted mid-watch loses nothing (edits made while it is down arrive) and
  costs at most one extra wake-up.

After each, the mirror (``KontentToSqlOperator``'s tables in a SQLite file, the connection
``kontent_mirror``) equals what the Delivery API serves, and its ``kontent_load_log`` says which run
loaded which change. Run alone with ``-m deployment -s`` (``-s`` shows the measured latencies).
"""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_kontent.testing import KontentEmulator
from tests.deployment.harness import AirflowDeployment, PostgresDatabase

pytestmark = [pytest.mark.deployment, pytest.mark.timeout(900)]

DAG_ID = "kontent_sync_on_change"
EXAMPLE_DAG = Path(__file__).resolve().parents[2] / "example_dags" / "kontent_sync_on_change.py"
POLL_INTERVAL = 1.0  # the trigger's; far below production values, to keep the test short
#: how long "nothing else happens" is watched before counting runs: several polls plus scheduling
SETTLE_SECONDS = 8.0
LATENCIES: list[dict[str, float]] = []


class Pipeline:
    """The deployment plus the emulator environment it syncs, and the checks the tests share."""

    def __init__(self, deployment: AirflowDeployment, emulator: KontentEmulator, env: dict[str, Any]):
        self.af, self.emu, self.env = deployment, emulator, env
        self.ctl = emulator.control
        self.mirror = Path(json.loads(deployment.settings["AIRFLOW_CONN_KONTENT_MIRROR"])["host"])
        self._settled: list[dict[str, Any]] | None = None

    # --- runs ---------------------------------------------------------------------------------
    def runs(self) -> list[dict[str, Any]]:
        return self.af.dag_runs(DAG_ID)

    def idle(self) -> bool:
        return all(run["state"] in ("success", "failed") for run in self.runs())

    def settle(self) -> list[dict[str, Any]]:
        """Wait until no run is queued or running for ``SETTLE_SECONDS`` in a row; the runs then.

        Returns at once when nothing changed since the last settle (the previous test ended with one).
        """
        if self._settled is not None and self.runs() == self._settled:
            return self._settled
        quiet_since = None
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.idle():
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since >= SETTLE_SECONDS:
                    self._settled = self.runs()
                    return self._settled
            else:
                quiet_since = None
            time.sleep(0.5)
        raise AssertionError(f"the DAG never became idle: {self.runs()}\n{self.af.diagnostics()}")

    def new_runs(self, before: list[dict[str, Any]]) -> list[dict[str, Any]]:
        known = {run["run_id"] for run in before}
        return [run for run in self.runs() if run["run_id"] not in known]

    def wait_for_new_run(self, before: list[dict[str, Any]], state: str, timeout: float = 180) -> dict:
        return self.af.wait_for(
            f"a new {DAG_ID} run in state {state}",
            lambda: next((r for r in self.new_runs(before) if r["state"] == state), None),
            timeout=timeout,
        )

    # --- content ------------------------------------------------------------------------------
    def edit(self, codename: str, title: str) -> str:
        self._settled = None  # an edit may start a run even if the run list has not changed yet
        return self.ctl.upsert_item(self.env["id"], codename, "article", "en-US", elements={"title": title})

    def loads(self) -> list[dict[str, Any]]:
        """The item changes the runs applied (``kontent_load_log``): id, run_id, source, action."""
        with closing(sqlite3.connect(self.mirror)) as conn:
            conn.row_factory = sqlite3.Row
            query = (
                "SELECT entity_id AS id, load_run AS run_id, source, action FROM kontent_load_log"
                " WHERE kind = 'item' ORDER BY seq"
            )
            return [dict(r) for r in conn.execute(query)]

    def assert_mirror_equals_delivery(self) -> int:
        from airflow_provider_kontent.client import ClientConfig, KontentClient

        with KontentClient(ClientConfig(self.env["id"], base_url=self.emu.base_url)) as client:
            delivery = {
                (item["system"]["id"], item["system"]["language"]): (
                    item["system"]["codename"],
                    item["elements"],
                )
                for item in client.iter_items_feed()
            }
        with closing(sqlite3.connect(self.mirror)) as conn:
            mirror = {
                (row[0], row[1]): (row[2], json.loads(row[3]))
                for row in conn.execute("SELECT id, language, codename, elements FROM kontent_items")
            }
        assert mirror == delivery
        return len(mirror)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    """Emulator + PostgreSQL database + Airflow components; the DAG initialized by a first manual run."""
    root = tmp_path_factory.mktemp("on-change-deployment")
    with KontentEmulator() as emu:
        ctl = emu.control
        env = ctl.create_environment()
        ctl.upsert_type(env["id"], "article", elements={"title": {"type": "text", "name": "Title"}})
        for i in range(3):  # existing content: the first run's snapshot brings it in
            ctl.upsert_item(env["id"], f"existing_{i}", "article", "en-US", elements={"title": f"E{i}"})
        connection = {"conn_type": "kontent", "host": emu.base_url, "extra": {"environment_id": env["id"]}}
        db = PostgresDatabase().create()
        deployment = AirflowDeployment(
            root,
            db,
            settings={
                "AIRFLOW_CONN_KONTENT_DEFAULT": json.dumps(connection),
                "KONTENT_WATCH_POLL_INTERVAL": str(POLL_INTERVAL),
                "KONTENT_FALLBACK_CRON": "0 0 1 1 *",  # yearly: no time-based run during the test
                "KONTENT_RETRY_DELAY": "2",
                "AIRFLOW_CONN_KONTENT_MIRROR": json.dumps(
                    {"conn_type": "sqlite", "host": str(root / "mirror.sqlite")}
                ),
            },
        )
        deployment.add_dag(EXAMPLE_DAG)
        try:
            started = time.monotonic()
            deployment.migrate()
            deployment.start("api-server", "api-server", "--workers", "1")
            deployment.wait_for_api()  # tasks reach the Execution API there
            deployment.start("scheduler", "scheduler", "--skip-serve-logs")
            deployment.start("dag-processor", "dag-processor")
            deployment.start("triggerer", "triggerer", "--skip-serve-logs")
            deployment.wait_for_dag(DAG_ID)
            deployment.wait_for_watchers(1)
            print(f"\n[deployment] migrated and started in {time.monotonic() - started:.1f}s")
            pipe = Pipeline(deployment, emu, env)
            deployment.cli("dags", "trigger", DAG_ID)  # the first run: init + snapshot
            runs = pipe.settle()
            assert runs and all(r["state"] == "success" for r in runs), runs
            assert pipe.assert_mirror_equals_delivery() == 3
            yield pipe
        finally:
            deployment.close()
            db.drop()
            if LATENCIES:
                print(f"\n[deployment] latencies (s): {json.dumps(LATENCIES)}")


def _seconds(since: datetime, moment: datetime | None) -> float:
    return round((moment - since).total_seconds(), 2) if moment else float("nan")


def test_one_edit_wakes_exactly_one_run_that_loads_it(pipeline):
    before = pipeline.settle()
    edited_at = datetime.now(timezone.utc)
    item_id = pipeline.edit("fresh", "Fresh")
    run = pipeline.wait_for_new_run(before, "success")
    runs = pipeline.new_runs(before)
    pipeline.settle()
    runs = pipeline.new_runs(before)
    assert [r["run_type"] for r in runs] == ["asset_triggered"], runs
    loaded = [row for row in pipeline.loads() if row["id"] == item_id]
    assert [(row["run_id"], row["source"], row["action"]) for row in loaded] == [
        (run["run_id"], "delta", "upsert")
    ]
    load_end = pipeline.af.task_instances(DAG_ID, run["run_id"])["load_changes"]["end_date"]
    LATENCIES.append(
        {
            "edit_to_run_queued": _seconds(edited_at, run["queued_at"]),
            "edit_to_run_started": _seconds(edited_at, run["start_date"]),
            "edit_to_loaded": _seconds(edited_at, load_end),
            "edit_to_run_done": _seconds(edited_at, run["end_date"]),
        }
    )
    print(f"\n[deployment] one edit: {LATENCIES[-1]}")
    pipeline.assert_mirror_equals_delivery()


def test_a_burst_during_a_run_starts_at_most_one_more_run_and_loses_nothing(pipeline):
    before = pipeline.settle()
    first = pipeline.edit("burst_0", "B0")
    pipeline.wait_for_new_run(before, "running")
    burst = [pipeline.edit(f"burst_{i}", f"B{i}") for i in range(1, 6)]
    burst.append(pipeline.edit("fresh", "Fresh, edited again"))
    doomed = pipeline.edit("doomed", "D")
    pipeline.ctl.delete_item(pipeline.env["id"], doomed)
    pipeline.settle()
    runs = pipeline.new_runs(before)
    assert 1 <= len(runs) <= 2, runs
    assert all(r["state"] == "success" and r["run_type"] == "asset_triggered" for r in runs), runs
    loaded_ids = {row["id"] for row in pipeline.loads() if row["run_id"] in {r["run_id"] for r in runs}}
    assert {first, *burst} <= loaded_ids
    pipeline.assert_mirror_equals_delivery()
    print(f"\n[deployment] burst of {len(burst) + 2} edits during a run: {len(runs)} run(s)")


def test_a_triggerer_killed_mid_watch_loses_nothing(pipeline):
    af = pipeline.af
    before = pipeline.settle()
    af.kill("triggerer")  # SIGKILL: no shutdown code, the watcher's memory is gone
    while_down = pipeline.edit("while_down", "made while the triggerer was down")
    time.sleep(2 * POLL_INTERVAL)
    restarted_at = time.monotonic()
    af.start("triggerer")
    af.wait_for_watchers(1, timeout=120, triggerer_alive=True)
    watching_after = time.monotonic() - restarted_at
    run = pipeline.wait_for_new_run(before, "success", timeout=240)
    woke_after = time.monotonic() - restarted_at
    pipeline.settle()
    runs = pipeline.new_runs(before)
    restart_runs = len(runs)
    assert 1 <= len(runs) <= 2, runs  # at most one extra wake-up
    assert while_down in {row["id"] for row in pipeline.loads() if row["run_id"] == run["run_id"]}
    # and the restarted watcher still fires for the next edit
    before = pipeline.runs()
    after_restart = pipeline.edit("after_restart", "A")
    run = pipeline.wait_for_new_run(before, "success")
    pipeline.settle()
    assert len(pipeline.new_runs(before)) == 1
    assert after_restart in {row["id"] for row in pipeline.loads() if row["run_id"] == run["run_id"]}
    pipeline.assert_mirror_equals_delivery()
    print(
        f"\n[deployment] triggerer restart: watcher running again after {watching_after:.1f}s, the change "
        f"made while it was down loaded {woke_after:.1f}s after the restart; {restart_runs} run(s)"
    )
