"""Rows per second of KontentToSqlOperator's loader against a plain ``executemany``, and its peak memory.

Run: ``.venv/bin/python bench/sql_load.py [--snapshot 50000] [--delta 10000] [--postgres URL]``.

* **Throughput**: a 50,000-variant snapshot load (into an empty mirror, replacing it: upserts, the load
  log, the count check, the prune pass) and a 10,000-change delta load (8,000 updates, 2,000 deletes)
  through ``SqlMirror.load``, the operator's transaction, on SQLite and PostgreSQL; as the baseline in
  the same run, a plain ``executemany`` ``INSERT`` of the same rows (timed from the records, JSON
  serialisation included, as a hand-written load would do it) into an empty table of the same shape, in
  one transaction: no upsert, no log, no checks. The ratio is loader time / baseline time.
* **Memory**: the loader streaming 10,000 and 100,000 records from NDJSON parts into SQLite, peak
  traced with ``tracemalloc``; flat means bounded by a batch, not by the load.

The records are synthetic (three text elements and a rich text element, about 600 bytes of JSON per
variant); the snapshot's independent count comes from a stub that returns the exported number (the real
one is one ``/items`` request per language). Figures are recorded in ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from airflow_provider_kontent.transfers.sql_dialects import SqlDialect, SqlSession, to_json
from airflow_provider_kontent.transfers.sql_loader import SnapshotCheck, SqlMirror
from airflow_provider_kontent.transfers.sql_rows import item_row
from airflow_provider_kontent.transfers.sql_schema import MirrorTables, ensure_schema

LANGUAGES = ("en-US", "de")


def variant(n: int, language: str, version: int = 0) -> dict[str, Any]:
    item_id = str(uuid.UUID(int=n))
    system = {
        "id": item_id,
        "codename": f"item_{n}",
        "language": language,
        "name": f"Item {n} v{version}",
        "type": "article",
        "collection": "default",
        "workflow": "default",
        "workflow_step": "published",
        "last_modified": "2026-05-01T10:00:00.0000000Z",
    }
    elements = {
        "title": {"type": "text", "name": "Title", "value": f"Title {n} v{version}"},
        "summary": {"type": "text", "name": "Summary", "value": "A summary of the article. " * 4},
        "author": {"type": "text", "name": "Author", "value": "Ada Lovelace"},
        "body": {"type": "rich_text", "name": "Body", "value": f"<p>Body {n}</p>", "modular_content": []},
    }
    return {
        "kind": "item",
        "change_type": "changed",
        "timestamp": system["last_modified"],
        "id": item_id,
        "language": language,
        "system": system,
        "content": {"item": {"system": system, "elements": elements}, "modular_content": {}},
        "content_missing": False,
    }


def snapshot_records(count: int) -> Iterator[dict[str, Any]]:
    for n in range(count):
        yield variant(n // 2, LANGUAGES[n % 2])


def delta_records(count: int) -> Iterator[dict[str, Any]]:
    for n in range(count):
        record = variant(n // 2, LANGUAGES[n % 2], version=1)
        if n % 5 == 4:  # every fifth change is a delete
            record = {**record, "change_type": "deleted", "content": None}
        yield record


class CountStub:
    """The independent count, answered with what the export holds (one /items request in reality)."""

    def __init__(self, per_language: dict[str, int]) -> None:
        self.per_language = per_language

    def count_items(self, language: str, *, extra_params: Any = None) -> int:
        return self.per_language.get(language, 0)


def plain_executemany(session: SqlSession, records: list[dict[str, Any]]) -> float:
    """The baseline: the same rows, serialised, one executemany INSERT into an empty table."""
    d = session.dialect
    columns = ["id", "language", "codename", "name", "type", "elements", "modular_content"]
    with session.transaction():
        session.execute("DROP TABLE IF EXISTS plain_items")
        session.execute(
            "CREATE TABLE plain_items (id VARCHAR(255), language VARCHAR(255), codename VARCHAR(255), "
            f"name TEXT, type VARCHAR(255), elements {d.column_type('json')}, modular_content "
            f"{d.column_type('json')}, PRIMARY KEY (id, language))"
        )
    marks = ", ".join(
        d.value_marker("json" if c in ("elements", "modular_content") else "text") for c in columns
    )
    sql = d.render(f"INSERT INTO plain_items ({', '.join(columns)}) VALUES ({marks})")
    started = time.perf_counter()  # a hand-written load has to turn records into rows too
    rows = []
    for record in records:
        row = item_row(record)
        rows.append(
            [row[c] if c not in ("elements", "modular_content") else to_json(row[c]) for c in columns]
        )
    with session.transaction():
        session.cursor.executemany(sql, rows)
    return time.perf_counter() - started


def loader(session: SqlSession, prefix: str) -> SqlMirror:
    tables = MirrorTables(session.dialect, prefix)
    ensure_schema(session, tables)
    return SqlMirror(session, tables)


def throughput(name: str, session: SqlSession, snapshot_n: int, delta_n: int) -> None:
    prefix = f"bench_{uuid.uuid4().hex[:6]}_"
    mirror = loader(session, prefix)
    snapshot = list(snapshot_records(snapshot_n))
    per_language = {lang: sum(1 for r in snapshot if r["language"] == lang) for lang in LANGUAGES}
    check = SnapshotCheck(CountStub(per_language), list(LANGUAGES), [])
    started = time.perf_counter()
    mirror.load(iter(snapshot), source="snapshot", load_run="bench", snapshot=check)
    snap_s = time.perf_counter() - started
    snap_base = plain_executemany(session, snapshot)
    deltas = list(delta_records(delta_n))
    started = time.perf_counter()
    mirror.load(iter(deltas), source="delta", load_run="bench")
    delta_s = time.perf_counter() - started
    delta_base = plain_executemany(session, deltas[: len([d for d in deltas if d["content"]])])
    print(f"{name}:")
    print(
        f"  snapshot {snapshot_n:,} variants: loader {snapshot_n / snap_s:,.0f} rows/s ({snap_s:.2f} s), "
        f"plain executemany {snapshot_n / snap_base:,.0f} rows/s ({snap_base:.2f} s): ratio {snap_s / snap_base:.1f}x"
    )
    upserts = len([d for d in deltas if d["content"]])
    print(
        f"  delta {delta_n:,} changes ({upserts:,} upserts, {delta_n - upserts:,} deletes): loader "
        f"{delta_n / delta_s:,.0f} rows/s ({delta_s:.2f} s), plain executemany of the {upserts:,} rows "
        f"{upserts / delta_base:,.0f} rows/s ({delta_base:.2f} s): ratio {(delta_s / delta_n) / (delta_base / upserts):.1f}x per row"
    )
    with session.transaction():
        for table in (
            "items",
            "types",
            "taxonomies",
            "languages",
            "load_log",
            "loads",
            "schema_version",
            "typed_tables",
            "typed_columns",
        ):
            session.execute(f"DROP TABLE IF EXISTS {prefix}{table}")
        session.execute("DROP TABLE IF EXISTS plain_items")


def peak_memory(count: int, tmp: Path) -> tuple[float, float]:
    """Peak traced MiB and seconds of loading ``count`` records streamed from NDJSON into SQLite."""
    from airflow_provider_kontent.transfers.kontent_to_sql import _records

    parts: list[str] = []
    handle = None
    for n, record in enumerate(snapshot_records(count)):
        if n % 25_000 == 0:  # parts of 25,000 lines, like the pull's size-capped parts
            if handle is not None:
                handle.close()
            path = tmp / f"part-{len(parts):05d}-of-{count}.ndjson"
            parts.append(f"file://{path}")
            handle = path.open("w")
        handle.write(json.dumps(record) + "\n")
    if handle is not None:
        handle.close()
    session = SqlSession(sqlite3.connect(tmp / f"memory-{count}.sqlite"), SqlDialect("sqlite"), label="bench")
    mirror = loader(session, "kontent_")
    tracemalloc.start()
    tracemalloc.reset_peak()
    before, _ = tracemalloc.get_traced_memory()
    started = time.perf_counter()
    mirror.load(_records({"files": parts}), source="delta", load_run="memory")
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    loaded = session.query("SELECT COUNT(*) FROM kontent_items")[0][0]
    session.close()
    assert loaded == count, (loaded, count)
    return (peak - before) / 1024 / 1024, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snapshot", type=int, default=50_000)
    parser.add_argument("--delta", type=int, default=10_000)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        session = SqlSession(sqlite3.connect(Path(tmp) / "bench.sqlite"), SqlDialect("sqlite"), label="bench")
        throughput("SQLite", session, args.snapshot, args.delta)
        session.close()
    try:
        import psycopg

        admin = psycopg.connect(args.postgres, autocommit=True, connect_timeout=3)
    except Exception as err:
        print(f"PostgreSQL: skipped ({type(err).__name__}: {err})")
    else:
        name = f"kontent_bench_{uuid.uuid4().hex[:8]}"
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            conn = psycopg.connect(args.postgres.rsplit("/", 1)[0] + f"/{name}")
            throughput(
                "PostgreSQL",
                SqlSession(conn, SqlDialect("postgresql", "%s"), label="bench"),
                args.snapshot,
                args.delta,
            )
            conn.close()
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.close()
    with tempfile.TemporaryDirectory() as tmp:
        small = peak_memory(10_000, Path(tmp))
        large = peak_memory(100_000, Path(tmp))
    print(
        f"memory (NDJSON -> SQLite): 10,000 records peak {small[0]:.1f} MiB ({small[1]:.1f} s); "
        f"100,000 records peak {large[0]:.1f} MiB ({large[1]:.1f} s): {large[0] / small[0]:.2f}x for 10x the records"
    )


if __name__ == "__main__":
    main()
