"""The sync on a distributed Airflow: CeleryExecutor, two workers that share no disk, PostgreSQL.

The deployment (started once for the module): a PostgreSQL metadata database (also Celery's result
backend), Redis as the broker (random database number, unique queue), ``scheduler``,
``dag-processor``, ``triggerer``, ``api-server`` and two ``celery worker`` processes, each with its own
AIRFLOW_HOME, DAG copy, task-log folder and temp dir; plus the emulator and a PostgreSQL destination
(the ``kontent_mirror`` connection). Two DAGs run on their schedules (20 s) against it:

* the reference DAG ``example_dags/kontent_sync_to_sqlite.py`` itself (``KONTENT_STAGING_URL`` empty:
  records in XCom; the ``kontent_*`` tables, token in ``kontent_sync_state``), used by the scheduled-runs
  scenario and paused after it;
* ``tests/deployment/dags/kontent_distributed_sync.py`` (init -> deferrable sensor -> pull (XCom) -> load
  (its own ``content_items`` table) -> commit (one-slot pool), token in a Variable), used by the fault
  and overlapping-runs scenarios: its load and commit are separate tasks, so a fault can land between.

The tests run in order: several scheduled runs with edits in between; a worker SIGKILLed mid-pull (the
retry runs on the other worker); workers killed between load and commit; the triggerer restarted while
the sensor is deferred; the load's PostgreSQL connection terminated mid-transaction; two runs of a
``max_active_runs=2`` DAG released at once against one token. After each, the destination equals the
Delivery API and no change is left behind the stored token. A summary (wall time, runs, faults,
changes) is printed at the end; run alone with ``-m deployment -s``.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_kontent.testing import KontentEmulator
from tests.deployment.harness import AirflowDeployment, PostgresDatabase, RedisBroker

pytestmark = [pytest.mark.deployment, pytest.mark.timeout(1200)]

DAG_ID = "kontent_distributed_sync"
OVERLAP_DAG_ID = "kontent_distributed_sync_overlapping"
DAG_FILE = Path(__file__).parent / "dags" / "kontent_distributed_sync.py"
REF_DAG_ID = "kontent_sync_to_sqlite"
REF_DAG_FILE = Path(__file__).parents[2] / "example_dags" / "kontent_sync_to_sqlite.py"
WORKERS = ("worker1", "worker2")
STATS: dict[str, Any] = {"faults": {}, "changes_expected": 0, "changes_delivered": 0}


def _json_value(text: str) -> Any:
    value = json.loads(text)
    return json.loads(value) if isinstance(value, str) else value


def _fault(kind: str) -> None:
    STATS["faults"][kind] = STATS["faults"].get(kind, 0) + 1


class Cluster:
    def __init__(self, af: AirflowDeployment, emu: KontentEmulator, env: dict, dest: PostgresDatabase):
        self.af, self.emu, self.env, self.dest = af, emu, env, dest
        self.ctl = emu.control
        self.edits: list[tuple[str, str | None]] = []  # (item id, title, None = deleted), in order

    # --- content and checks -------------------------------------------------------------------
    def edit(self, codename: str, title: str) -> str:
        item_id = self.ctl.upsert_item(
            self.env["id"], codename, "article", "en-US", elements={"title": title}
        )
        self.edits.append((item_id, title))
        return item_id

    def delete(self, item_id: str) -> None:
        self.ctl.delete_item(self.env["id"], item_id)
        self.edits.append((item_id, None))

    def delivery(self) -> dict[tuple[str, str], tuple[str, str]]:
        from airflow_provider_kontent.client import ClientConfig, KontentClient

        with KontentClient(ClientConfig(self.env["id"], base_url=self.emu.base_url)) as client:
            return {
                (i["system"]["id"], i["system"]["language"]): (
                    i["system"]["codename"],
                    json.dumps(i["elements"], sort_keys=True),
                )
                for i in client.iter_items_feed()
            }

    def reference_destination(self) -> dict[tuple[str, str], tuple[str, str]]:
        """The reference DAG's ``kontent_items`` (elements are JSONB), shaped like ``delivery()``."""
        rows = self.dest.query("SELECT id, language, codename, elements FROM kontent_items")
        return {
            (r["id"], r["language"]): (r["codename"], json.dumps(r["elements"], sort_keys=True)) for r in rows
        }

    def reference_model_matches(self) -> bool:
        """``kontent_types`` and ``kontent_languages`` hold what Delivery lists."""
        from airflow_provider_kontent.client import ClientConfig, KontentClient

        with KontentClient(ClientConfig(self.env["id"], base_url=self.emu.base_url)) as client:
            types = {t["system"]["id"]: t["system"]["codename"] for t in client.list_types()}
            languages = {lang["system"]["id"] for lang in client.list_languages()}
        stored_types = {
            r["id"]: r["codename"] for r in self.dest.query("SELECT id, codename FROM kontent_types")
        }
        stored_languages = {r["id"] for r in self.dest.query("SELECT id FROM kontent_languages")}
        return stored_types == types and stored_languages == languages

    def reference_pending(self) -> int | None:
        """Changes after the token in the destination's ``kontent_sync_state`` (None: no token yet)."""
        from airflow_provider_kontent.client import ClientConfig, KontentClient

        rows = self.dest.query("SELECT token FROM kontent_sync_state WHERE sync_key = 'kontent_default'")
        if not rows or not rows[0]["token"]:
            return None
        with KontentClient(ClientConfig(self.env["id"], base_url=self.emu.base_url)) as client:
            return sum(len(page.deltas) for page in client.iter_pages(rows[0]["token"]))

    def wait_reference_delivered(self, what: str, edits: list[tuple[str, str | None]]) -> None:
        """The reference DAG's tables == Delivery, nothing pending after its token, every edit shown."""

        def equal() -> bool:
            try:
                items = self.reference_destination()
            except Exception:  # the first load has not created the tables yet
                return False
            return (
                items == self.delivery() and self.reference_model_matches() and self.reference_pending() == 0
            )

        self.af.wait_for(f"{REF_DAG_ID} tables == Delivery after {what}", equal, timeout=240, interval=1.0)
        final = dict(edits)
        shown = {
            item_id: json.loads(elements)["title"]["value"]
            for (item_id, _), (_, elements) in self.reference_destination().items()
        }
        STATS["reference_changes_expected"] = len(edits)
        STATS["reference_changes_delivered"] = sum(1 for i, _ in edits if shown.get(i) == final[i])
        assert STATS["reference_changes_delivered"] == len(edits), (final, shown)

    def destination(self) -> dict[tuple[str, str], tuple[str, str]]:
        rows = self.dest.query("SELECT id, language, codename, elements FROM content_items")
        return {(r["id"], r["language"]): (r["codename"], r["elements"]) for r in rows}

    def pending_after_stored_token(self, variable_key: str) -> int:
        """Changes after the stored token: 0 once everything loaded was also committed."""
        from airflow_provider_kontent.client import ClientConfig, KontentClient

        record = self.af.variable(variable_key)
        with KontentClient(ClientConfig(self.env["id"], base_url=self.emu.base_url)) as client:
            return sum(len(page.deltas) for page in client.iter_pages(record["token"]))

    def wait_delivered(
        self, what: str, *, variable_key: str = "kontent_sync_cursor__kontent_default"
    ) -> None:
        """Destination == Delivery and nothing pending after the stored token (never ahead of the load)."""
        self.af.wait_for(
            f"destination == Delivery after {what}",
            lambda: (
                self.destination() == self.delivery() and self.pending_after_stored_token(variable_key) == 0
            ),
            timeout=240,
            interval=1.0,
        )
        # Sync reports the last change per item, so an edit counts as delivered when the destination
        # shows its item's latest state (the title of its last edit, or no row after a deletion).
        final = dict(self.edits)
        rows = self.destination()
        shown = {
            item_id: json.loads(elements)["title"]["value"] for (item_id, _), (_, elements) in rows.items()
        }
        STATS["changes_expected"] = len(self.edits)
        STATS["changes_delivered"] = sum(
            1 for item_id, _ in self.edits if shown.get(item_id) == final[item_id]
        )
        assert STATS["changes_delivered"] == STATS["changes_expected"], (final, shown)

    # --- runs and tasks -----------------------------------------------------------------------
    def runs(self, dag_id: str = DAG_ID) -> list[dict[str, Any]]:
        return self.af.dag_runs(dag_id)

    def active_run(self, dag_id: str = DAG_ID) -> dict[str, Any] | None:
        return next((r for r in self.runs(dag_id) if r["state"] in ("queued", "running")), None)

    def runs_with(self, task_id: str, states: tuple[str, ...], dag_id: str = DAG_ID) -> set[str]:
        """Run ids whose ``task_id`` is in one of ``states`` now (to exclude them from a later wait)."""
        return {
            run["run_id"]
            for run in self.runs(dag_id)
            if (self.af.task_instances(dag_id, run["run_id"]).get(task_id) or {}).get("state") in states
        }

    def wait_task(self, task_id: str, states: tuple[str, ...], *, dag_id: str = DAG_ID,
                  exclude: set[str] = frozenset(), interval: float = 0.2,
                  timeout: float = 180) -> tuple[dict, dict]:  # fmt: skip
        """The first run not in ``exclude`` whose ``task_id`` is in one of ``states``."""

        def probe() -> tuple[dict, dict] | None:
            for run in self.runs(dag_id):
                if run["run_id"] in exclude:
                    continue
                ti = self.af.task_instances(dag_id, run["run_id"]).get(task_id)
                if ti and ti["state"] in states:
                    return run, ti
            return None

        return self.af.wait_for(f"{dag_id}.{task_id} in {states}", probe, timeout=timeout, interval=interval)

    def task_log_attempts(self, worker: str, run_id: str, task_id: str) -> list[str]:
        base = self.af.root / worker / "logs"
        return sorted(p.name for p in base.rglob(f"task_id={task_id}/*.log") if run_id in str(p))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    wall = time.monotonic()
    root = tmp_path_factory.mktemp("celery-deployment")
    broker = RedisBroker()
    meta, dest = PostgresDatabase("kontent_af").create(), PostgresDatabase("kontent_dst").create()
    dest.query(
        "CREATE TABLE content_items (id text, language text, codename text, elements text, loaded_by text,"
        " PRIMARY KEY (id, language))"
    )
    with KontentEmulator() as emu:
        env = emu.control.create_environment()
        emu.control.upsert_type(env["id"], "article", elements={"title": {"type": "text", "name": "Title"}})
        connection = {"conn_type": "kontent", "host": emu.base_url, "extra": {"environment_id": env["id"]}}
        af = AirflowDeployment(
            root,
            meta,
            executor="CeleryExecutor",
            settings={
                "AIRFLOW_CONN_KONTENT_DEFAULT": json.dumps(connection),
                "AIRFLOW_CONN_KONTENT_MIRROR": f"postgresql://postgres@127.0.0.1:5432/{dest.name}",
                "AIRFLOW__CELERY__BROKER_URL": broker.url,
                "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql://postgres@127.0.0.1:5432/{meta.name}",
                "AIRFLOW__OPERATORS__DEFAULT_QUEUE": broker.queue,
                "AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER": "1",
                "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": "120",
                # a SIGKILLed worker's running task is noticed after 20 s, a stuck queued one after 40 s
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
                "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "40",
                "KONTENT_SCHEDULE_SECONDS": "20",
                # the reference DAG: every 20 s, records in XCom (no staging files), sensor pokes 1 s
                "KONTENT_SCHEDULE_MINUTES": str(20 / 60),
                "KONTENT_STAGING_URL": "",
                "KONTENT_SENSOR_POKE_INTERVAL": "1",
                "KONTENT_SENSOR_TIMEOUT": "90",
                "KONTENT_RETRY_DELAY": "2",
                "KONTENT_COMMIT_POOL": "kontent_commit",
            },
        )
        af.add_dag(DAG_FILE)
        af.add_dag(REF_DAG_FILE)
        try:
            af.migrate()
            af.cli("pools", "set", "kontent_commit", "1", "one commit of a sync at a time")
            af.start("api-server", "api-server", "--workers", "1")
            af.wait_for_api()  # tasks reach the Execution API there: up before the first task
            af.start("scheduler", "scheduler", "--skip-serve-logs")
            af.start("dag-processor", "dag-processor")
            af.start("triggerer", "triggerer", "--skip-serve-logs")
            for name in WORKERS:
                af.start_celery_worker(name, broker.queue)
            af.wait_for_dag(DAG_ID)
            af.wait_for_dag(OVERLAP_DAG_ID)
            af.wait_for_dag(REF_DAG_ID)
            print(f"\n[celery] deployment up in {time.monotonic() - wall:.1f}s")
            yield Cluster(af, emu, env, dest)
        finally:
            dags = (REF_DAG_ID, DAG_ID, OVERLAP_DAG_ID)
            runs = {dag: len(af.dag_runs(dag)) for dag in dags} if af.components else {}
            af.close()
            broker.cleanup()
            meta.drop()
            dest.drop()
            STATS["runs"] = runs
            STATS["wall_seconds"] = round(time.monotonic() - wall, 1)
            print(f"\n[celery] summary: {json.dumps(STATS)}")


def test_the_reference_dag_on_its_schedule_with_edits_in_between_keeps_the_destination_equal(cluster):
    """The reference DAG itself, scheduled every 20 s on the two workers, records handed over in XCom."""
    cluster.wait_task("init", ("success",))  # the test DAG's token starts before any edit, too
    cluster.wait_task("init", ("success",), dag_id=REF_DAG_ID)
    cluster.wait_reference_delivered("the snapshot run", [])
    start = len(cluster.edits)
    for round_ in range(3):
        created = [cluster.edit(f"r{round_}_{i}", f"round {round_} item {i}") for i in range(2)]
        if round_:
            cluster.edit("r0_0", f"updated in round {round_}")
            cluster.delete(created[0])
        cluster.wait_reference_delivered(f"edit round {round_}", cluster.edits[start:])
    cluster.af.cli("dags", "pause", REF_DAG_ID)  # the fault scenarios below use the test DAG alone
    loaded = cluster.runs_with("load_changes", ("success",), dag_id=REF_DAG_ID)
    runs = {r["run_id"]: r for r in cluster.runs(REF_DAG_ID)}
    snapshot = cluster.runs_with("load_snapshot", ("success",), dag_id=REF_DAG_ID)
    # which workers ran each run's pull and load_changes (different ones: no shared disk needed)
    workers_per_run = [
        {w for w in WORKERS for t in ("pull", "load_changes") if cluster.task_log_attempts(w, run_id, t)}
        for run_id in sorted(loaded)
    ]
    print(f"\n[celery] {REF_DAG_ID}: workers used by pull+load_changes per run: {workers_per_run}")
    STATS["reference_runs_loaded"] = len(loaded)
    # one snapshot run (its pull may already carry the first round), a loading run per later round
    assert len(snapshot) == 1 and len(loaded) >= 3, (snapshot, loaded, runs)
    assert not cluster.runs_with("pull", ("failed",), dag_id=REF_DAG_ID)
    cluster.wait_delivered("the reference DAG's edit rounds")  # the test DAG caught up too


def test_worker_sigkilled_mid_pull_is_retried_on_the_other_worker(cluster):
    af = cluster.af
    pulled = cluster.runs_with("pull", ("running", "success", "failed", "up_for_retry"))
    # the pull's content fetch hangs long enough to kill its worker in the middle of it
    cluster.ctl.inject_fault("delay", delay=25, path=r"/items$", times=1, env_id=cluster.env["id"])
    cluster.edit("mid_pull", "killed mid-pull")
    run, _ = cluster.wait_task("pull", ("running",), exclude=pulled)
    af.wait_for("the pull's pid", lambda: af.task_instances(DAG_ID, run["run_id"])["pull"]["pid"], timeout=60)
    victim = af.wait_for(
        "the worker running the pull",
        lambda: af.component_of_pid(af.task_instances(DAG_ID, run["run_id"])["pull"]["pid"]),
        timeout=30,
    )
    # the fault is taken when the request arrives: from then on the pull is inside the content fetch
    af.wait_for("the pull to reach the content fetch", lambda: not cluster.ctl.faults(), timeout=60)
    af.kill(victim)
    _fault("worker SIGKILL mid-pull")
    other = next(w for w in WORKERS if w != victim)
    cluster.wait_delivered("a worker killed mid-pull")
    pull = af.task_instances(DAG_ID, run["run_id"])["pull"]
    assert pull["state"] == "success" and pull["try_number"] >= 2, pull
    assert cluster.task_log_attempts(other, run["run_id"], "pull"), "the retry ran on the other worker"
    af.start(victim)


def test_workers_killed_between_load_and_commit_lose_nothing(cluster):
    af = cluster.af
    for _attempt in range(3):
        loaded = cluster.runs_with("load", ("success",))
        cluster.edit(f"before_commit_{_attempt}", "loaded, not committed")
        run, _ = cluster.wait_task("load", ("success",), exclude=loaded, interval=0.1)
        for name in WORKERS:
            af.signal(name, signal.SIGSTOP)  # freeze both at once, then kill them
        commit = af.task_instances(DAG_ID, run["run_id"]).get("commit") or {}
        for name in WORKERS:
            af.kill(name)
        landed = commit.get("state") != "success"
        for name in WORKERS:
            af.start(name)
        if landed:
            _fault("workers SIGKILL between load and commit")
            cluster.wait_delivered("workers killed between load and commit")
            return
        cluster.wait_delivered("a commit that beat the kill")
    pytest.fail("the commit always finished before the workers could be killed")


def test_triggerer_restarted_while_the_sensor_is_deferred(cluster):
    af = cluster.af
    run, _ = cluster.wait_task("wait_for_changes", ("deferred",), timeout=120)
    af.kill("triggerer")
    cluster.edit("while_deferred", "the sensor's trigger was restarted")
    af.start("triggerer")
    _fault("triggerer restart while the sensor is deferred")
    cluster.wait_delivered("a triggerer restart")
    sensor = af.task_instances(DAG_ID, run["run_id"])["wait_for_changes"]
    assert sensor["state"] in ("success", "skipped"), sensor


def test_postgres_connection_cut_mid_load(cluster):
    af = cluster.af
    locker = cluster.dest.connect()
    locker.autocommit = False
    try:
        with locker.cursor() as cur:
            cur.execute("LOCK TABLE content_items IN ACCESS EXCLUSIVE MODE")  # the load will wait inside
        loaded = cluster.runs_with("load", ("success",))
        cluster.edit("cut_mid_load", "connection cut mid-load")
        backend = af.wait_for(
            "the load waiting inside its transaction",
            lambda: cluster.dest.query(
                "SELECT pid FROM pg_stat_activity WHERE application_name LIKE 'kontent_load%%'"
                " AND wait_event_type = 'Lock'"
            ),
            timeout=180,
        )[0]["pid"]
        cluster.dest.query("SELECT pg_terminate_backend(%s)", (backend,))
        _fault("destination connection terminated mid-load")
    finally:
        locker.rollback()
        locker.close()
    cluster.wait_delivered("a connection cut mid-load")
    run, load = cluster.wait_task("load", ("success",), exclude=loaded)
    assert load["try_number"] >= 2, load


def test_two_runs_at_once_against_one_token_the_second_commit_is_refused(cluster):
    af, key = cluster.af, "kontent_sync_cursor__overlapping"
    af.cli("dags", "trigger", OVERLAP_DAG_ID)  # the first run initializes its own token...
    cluster.wait_task("init", ("success",), dag_id=OVERLAP_DAG_ID)
    cluster.edit("overlap_seed", "for the first overlapping run")  # ...and loads this change
    af.wait_for("the overlapping DAG's first run", lambda: any(
        r["state"] == "success" for r in cluster.runs(OVERLAP_DAG_ID)), timeout=240)  # fmt: skip
    cluster.wait_delivered("the overlapping DAG's first run", variable_key=key)
    token_before = af.variable(key)["token"]
    cluster.edit("overlap", "two runs pull this at once")
    triggers = [
        subprocess.Popen([sys.executable, "-m", "airflow", "dags", "trigger", OVERLAP_DAG_ID], env=af.env,
                         cwd=af.root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(2)
    ]  # fmt: skip
    for proc in triggers:
        assert proc.wait(timeout=180) == 0
    _fault("two runs released at once against one token")
    done = af.wait_for(
        "both overlapping runs to finish",
        lambda: (runs := cluster.runs(OVERLAP_DAG_ID)[1:]) and len(runs) == 2
        and all(r["state"] in ("success", "failed") for r in runs) and runs,
        timeout=300,
    )  # fmt: skip
    commits = [af.task_instances(OVERLAP_DAG_ID, r["run_id"])["commit"]["state"] for r in done]
    pulls_from = {
        _json_value(r["value"]).get("previous_token")
        for r in af.db.query(
            "SELECT x.value::text AS value FROM xcom x WHERE x.dag_id = %s AND x.task_id = 'pull'"
            " AND x.key = 'return_value' AND x.run_id = ANY(%s)",
            (OVERLAP_DAG_ID, [r["run_id"] for r in done]),
        )
    }
    assert pulls_from == {token_before}, "both runs pulled from the same stored token"
    assert sorted(commits) == ["failed", "success"], commits
    failed = next(r for r, state in zip(done, commits, strict=True) if state == "failed")
    logs = [p.read_text() for w in WORKERS for p in (af.root / w / "logs").rglob("task_id=commit/*.log")
            if failed["run_id"] in str(p)]  # fmt: skip
    assert any("TokenConflictError" in text for text in logs), "the refused commit names the conflict"
    cluster.wait_delivered("two overlapping runs", variable_key=key)
