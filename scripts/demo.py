"""One-command demo: the reference DAG ``kontent_sync_to_sqlite`` run for real against the emulator.

What it does (``make demo`` runs it; no Kontent.ai account, no network):

1. creates a throw-away ``AIRFLOW_HOME`` and migrates its metadata database (``airflow db migrate``);
2. starts the bundled Kontent.ai emulator with the ``demo`` seed on a free 127.0.0.1 port;
3. runs ``airflow dags test kontent_sync_to_sqlite``: init + snapshot -> SQLite (``KontentToSqlOperator``),
   then (no waiting for changes on a snapshot run) pull + load, which advances the token kept in the
   SQLite file itself (``token_store="sql"``) and confirms the snapshot: the token record has
   ``snapshot_pending`` False, so later runs pull deltas instead of exporting everything again;
4. edits content in the emulator (new items, an update, an unpublish, a delete, a new language variant,
   a content type change) and runs the DAG again: the sync picks up exactly those changes;
5. prints a before/after summary read from SQLite (the JSON tables, one typed table) and the stored
   token record, checks that every edit arrived, stops the emulator, removes the temporary files and
   exits 0 (non-zero on any failure).

``airflow dags test`` runs in a child process, so the emulator runs here in a background thread and is
reached over real HTTP, exactly like Kontent.ai would be.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_DAGS = REPO / "example_dags"
DAG_ID = "kontent_sync_to_sqlite"
TABLES = ("kontent_items", "kontent_types", "kontent_taxonomies", "kontent_languages")


class DemoError(RuntimeError):
    """A step failed; the message says which and where its log is."""


def step(message: str) -> None:
    print(f"==> {message}", flush=True)


def airflow_command() -> list[str]:
    """The ``airflow`` CLI of this interpreter's environment (the venv ``make demo`` created)."""
    script = Path(sys.executable).parent / "airflow"
    return [str(script)] if script.exists() else [sys.executable, "-m", "airflow"]


def run_airflow(args: list[str], env: dict[str, str], log: Path) -> None:
    """Run one Airflow CLI command with its output in ``log``; fail with the log's tail."""
    with log.open("w") as handle:
        proc = subprocess.run(
            [*airflow_command(), *args], env=env, stdout=handle, stderr=subprocess.STDOUT, cwd=REPO
        )
    if proc.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
        raise DemoError(f"`airflow {' '.join(args)}` exited {proc.returncode}; log {log}:\n{tail}")


def last_run_task_states(airflow_db: Path) -> tuple[str, dict[str, str]]:
    """State of the newest run of the DAG and of each of its tasks, from the metadata database."""
    with closing(sqlite3.connect(airflow_db)) as conn:
        row = conn.execute(
            "SELECT run_id, state FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1", (DAG_ID,)
        ).fetchone()
        if row is None:
            raise DemoError(f"no run of {DAG_ID} was recorded")
        tasks = conn.execute(
            "SELECT task_id, state FROM task_instance WHERE dag_id = ? AND run_id = ?", (DAG_ID, row[0])
        ).fetchall()
    return row[1], {task_id: state or "none" for task_id, state in tasks}


def run_dag(env: dict[str, str], airflow_db: Path, log: Path, expect: dict[str, str]) -> dict[str, str]:
    run_airflow(["dags", "test", DAG_ID], env, log)
    state, tasks = last_run_task_states(airflow_db)
    wrong = {t: tasks.get(t) for t, s in expect.items() if tasks.get(t) != s}
    if state != "success" or wrong:
        raise DemoError(f"run ended {state}; unexpected task states {wrong} (all: {tasks}); log {log}")
    return tasks


def table_counts(db: Path) -> dict[str, int]:
    """Rows per JSON table of the mirror."""
    return {table: query(db, f"SELECT COUNT(*) FROM {table}")[0][0] for table in TABLES}


def stored_token_record(db: Path) -> dict[str, Any]:
    """The token record in the mirror's state table (``token_store="sql"``), tokens shortened for display."""
    rows = query(db, "SELECT record FROM kontent_sync_state WHERE sync_key = 'kontent_default'")
    return shorten_tokens(json.loads(rows[0][0])) if rows else {}


def shorten_tokens(value: Any) -> Any:
    """Tokens are long and opaque: show both ends only (they are not secret; the API key never gets here)."""
    if isinstance(value, dict):
        return {
            k: (
                f"{v[:8]}...{v[-12:]}"
                if isinstance(v, str) and "token" in k and len(v) > 24
                else shorten_tokens(v)
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [shorten_tokens(v) for v in value]
    return value


def check_snapshot_confirmed(record: dict[str, Any]) -> None:
    """Run 1's commit must have confirmed the snapshot, or every later run would export it again."""
    if record.get("snapshot_pending") is not False or record.get("advanced_at") == record.get("created_at"):
        raise DemoError(f"run 1 did not commit the token after loading the snapshot: {record}")
    print(
        f"    token committed at {record['advanced_at']} (initialized {record['created_at']}); "
        "snapshot_pending False: the next run pulls changes only"
    )


def query(db: Path, sql: str, *args: Any) -> list[tuple]:
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute(sql, args).fetchall()


def make_edits(ctl: Any, env: dict[str, Any], db: Path) -> dict[str, Any]:
    """The batch of edits between the two runs, chosen from what the first run loaded."""
    env_id = env["id"]
    default_lang = env["languages"][0]["codename"]
    items = query(
        db,
        "SELECT id, codename, name, type FROM kontent_items WHERE language = ? ORDER BY codename",
        default_lang,
    )
    if len(items) < 4:
        raise DemoError(
            f"the first run loaded only {len(items)} {default_lang} items; expected the demo seed"
        )
    variants = set(query(db, "SELECT id, language FROM kontent_items"))
    updated, unpublished, deleted, translated = items[0], items[1], items[2], items[3]

    ctl.upsert_item(env_id, updated[1], updated[3], default_lang, name=f"{updated[2]} (edited)")
    ctl.unpublish(env_id, unpublished[0], default_lang)
    ctl.delete_item(env_id, deleted[0])
    new_ids = [
        ctl.upsert_item(env_id, f"demo_new_item_{n}", updated[3], default_lang, name=f"Demo new item {n}")
        for n in (1, 2)
    ]
    other_langs = [lang["codename"] for lang in env["languages"][1:] if lang.get("active", True)]
    new_lang = next((lang for lang in other_langs if (translated[0], lang) not in variants), None)
    if new_lang is None:  # every variant exists already: add a language and translate into it
        new_lang = "fr-FR"
        ctl.upsert_language(env_id, new_lang, name="French")
    ctl.upsert_item(env_id, translated[1], translated[3], new_lang, name=f"{translated[2]} ({new_lang})")
    type_name = query(db, "SELECT name FROM kontent_types WHERE codename = ?", updated[3])
    renamed_type = f"{type_name[0][0] if type_name else updated[3]} (renamed)"
    ctl.upsert_type(env_id, updated[3], name=renamed_type)
    return {
        "default_lang": default_lang,
        "updated": updated[0],
        "updated_name": updated[2],
        "unpublished": unpublished[0],
        "deleted": deleted[0],
        "new": new_ids,
        "translated": (translated[0], new_lang),
        "type": (updated[3], renamed_type),
    }


def check_edits(db: Path, edits: dict[str, Any]) -> list[str]:
    """Every edit must be visible in SQLite after the second run; returns what is wrong."""
    lang = edits["default_lang"]
    problems = []

    def exists(item_id: str, language: str) -> bool:
        return bool(query(db, "SELECT 1 FROM kontent_items WHERE id = ? AND language = ?", item_id, language))

    name = query(db, "SELECT name FROM kontent_items WHERE id = ? AND language = ?", edits["updated"], lang)
    if not name or not name[0][0].endswith("(edited)"):
        problems.append(f"the update of {edits['updated']} is missing (name {name})")
    if exists(edits["unpublished"], lang):
        problems.append(f"the unpublished variant {edits['unpublished']}/{lang} is still there")
    if query(db, "SELECT 1 FROM kontent_items WHERE id = ?", edits["deleted"]):
        problems.append(f"the deleted item {edits['deleted']} is still there")
    problems += [f"new item {i} is missing" for i in edits["new"] if not exists(i, lang)]
    if not exists(*edits["translated"]):
        problems.append(f"the new language variant {edits['translated']} is missing")
    codename, type_name = edits["type"]
    if query(db, "SELECT name FROM kontent_types WHERE codename = ?", codename) != [(type_name,)]:
        problems.append(f"the content type change of {codename!r} is missing")
    table = typed_table(db, codename)
    typed = query(db, f"SELECT name FROM {table} WHERE id = ? AND language = ?", edits["updated"], lang)
    if not typed or not typed[0][0].endswith("(edited)"):
        problems.append(f"the update of {edits['updated']} is missing from the typed table {table}")
    return problems


def typed_table(db: Path, type_codename: str) -> str:
    """The typed table KontentToSqlOperator keeps for a content type."""
    rows = query(db, "SELECT table_name FROM kontent_typed_tables WHERE type_codename = ?", type_codename)
    if not rows:
        raise DemoError(f"no typed table for content type {type_codename!r}")
    return rows[0][0]


def typed_snapshot(db: Path, table: str) -> tuple[int, list[str]]:
    """Rows and columns of a typed table."""
    with closing(sqlite3.connect(db)) as conn:
        cursor = conn.execute(f"SELECT * FROM {table}")
        return len(cursor.fetchall()), [c[0] for c in cursor.description]


def print_summary(
    before: dict[str, int],
    after: dict[str, int],
    db: Path,
    token_before: dict[str, Any],
    token_after: dict[str, Any],
    typed: tuple[str, int, dict[str, Any]],
) -> None:
    table, typed_before, edited = typed
    typed_after, columns = typed_snapshot(db, table)
    print("\nRows per table (SQLite)   after run 1   after run 2")
    for name, count in after.items():
        print(f"  {name:<22}{before.get(name, 0):>12}{count:>14}")
    print(f"  {table:<22}{typed_before:>12}{typed_after:>14}   (typed table)")
    print(f"\nTyped table {table}: columns {', '.join(columns)}")
    lang = edited["default_lang"]
    name = query(db, f"SELECT name FROM {table} WHERE id = ? AND language = ?", edited["updated"], lang)
    print(f"  edited row [{lang}]: name {edited['updated_name']!r} -> {name[0][0] if name else None!r}")
    run_id = query(
        db, "SELECT load_run FROM kontent_loads WHERE source = 'delta' ORDER BY loaded_at DESC LIMIT 1"
    )
    changes = query(
        db,
        "SELECT kind, action, codename, language FROM kontent_load_log WHERE source = 'delta' AND load_run = ? "
        "ORDER BY kind, action, codename, language",
        run_id[0][0] if run_id else "",
    )
    print(f"\nWhat changed in run 2 ({len(changes)} changes applied to SQLite):")
    for kind, action, codename, language in changes:
        print(f"  {action:<10} {kind:<9} {codename or '?'}{f' [{language}]' if language else ''}")
    print("\nStored token record (table kontent_sync_state in the SQLite file), after run 1 -> after run 2:")
    keys = set(token_before) | set(token_after)
    width = max((len(key) for key in keys), default=0) + 1
    for key in sorted(keys):
        old, new = token_before.get(key), token_after.get(key)
        mark = "   (changed)" if old != new else ""
        print(f"  {key:<{width}}{old!s:<36} -> {new!s}{mark}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary AIRFLOW_HOME and database")
    args = parser.parse_args(argv)

    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="kontent-demo-"))
    airflow_home = workdir / "airflow"
    airflow_home.mkdir()
    airflow_db = airflow_home / "airflow.db"
    sqlite_db = workdir / "kontent.sqlite"
    succeeded = False
    try:
        from airflow_provider_kontent.testing import KontentEmulator

        with KontentEmulator(seed="demo") as emu:
            env_data = emu.demo_environment
            step(f"emulator with the 'demo' seed at {emu.base_url} (environment {env_data['id']})")
            mode = "secure" if env_data.get("secure_access") else "public"
            connection = {
                "conn_type": "kontent",
                "host": emu.base_url,
                "extra": {"environment_id": env_data["id"], "mode": mode},
            }
            if mode == "secure":
                connection["password"] = env_data["secure_key"]
            env = {
                **os.environ,
                "AIRFLOW_HOME": str(airflow_home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(EXAMPLE_DAGS),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_db}",
                "AIRFLOW_CONN_KONTENT_DEFAULT": json.dumps(connection),
                "AIRFLOW_CONN_KONTENT_MIRROR": json.dumps({"conn_type": "sqlite", "host": str(sqlite_db)}),
                "KONTENT_STAGING_URL": f"file://{workdir}/staging",
                "KONTENT_SENSOR_TIMEOUT": "3",  # only run 2 waits, and its edits are there at once
                "KONTENT_SENSOR_POKE_INTERVAL": "1",
            }
            step(f"migrating a fresh Airflow metadata database in {airflow_home}")
            run_airflow(["db", "migrate"], env, workdir / "db-migrate.log")

            step(f"run 1: airflow dags test {DAG_ID} (init, snapshot -> SQLite, pull, load + token)")
            run_dag(
                env,
                airflow_db,
                workdir / "run1.log",
                {
                    "init": "success",
                    "load_snapshot": "success",
                    "wait_for_changes": "skipped",  # a snapshot run goes straight to the pull
                    "load_changes": "success",
                },
            )
            before = table_counts(sqlite_db)
            print(f"    loaded: {before}")

            token_before = stored_token_record(sqlite_db)
            check_snapshot_confirmed(token_before)
            step(
                "editing content in the emulator: 2 new items, an update, an unpublish, a delete, "
                "a new language variant, a content type change"
            )
            edits = make_edits(emu.control, env_data, sqlite_db)
            table = typed_table(sqlite_db, edits["type"][0])
            typed_before = typed_snapshot(sqlite_db, table)[0]

            step(f"run 2: airflow dags test {DAG_ID} (sensor, pull with content, load + token)")
            run_dag(env, airflow_db, workdir / "run2.log", {"pull": "success", "load_changes": "success"})
            after = table_counts(sqlite_db)

            token_after = stored_token_record(sqlite_db)
            typed = (table, typed_before, edits)
            print_summary(before, after, sqlite_db, token_before, token_after, typed)
            problems = check_edits(sqlite_db, edits)
            if problems:
                raise DemoError("the second run did not deliver every edit: " + "; ".join(problems))
        print(f"\nAll edits arrived. Demo finished in {time.monotonic() - started:.0f} s.")
        succeeded = True
        return 0
    except DemoError as exc:
        print(f"\nDEMO FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep or not succeeded:
            print(f"(kept {workdir}: SQLite database, Airflow home and logs)", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
