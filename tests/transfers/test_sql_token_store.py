"""token_store="sql": the token row advances in the load's own transaction, so exactly one load applies.

The race from the chaos run: two DAG runs on one token (a misconfigured ``max_active_runs``) both pull
from ``T0`` and both load. With the token in the destination, the loads are released at the same moment
on real SQLite and PostgreSQL and exactly one of them applies; the other fails and changes nothing.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from airflow_provider_kontent.tokens import TokenConflictError, TokenRecord, token_fingerprint
from airflow_provider_kontent.transfers.kontent_to_sql import KontentToSqlOperator
from airflow_provider_kontent.transfers.sql_token_store import SqlTokenStore
from tests.transfers.test_sql_loader import item


@pytest.fixture
def kontent(kontent_emulator, kontent_env, monkeypatch) -> dict[str, Any]:
    connection = {
        "conn_type": "kontent",
        "host": kontent_emulator.base_url,
        "extra": {"environment_id": kontent_env["id"]},
    }
    monkeypatch.setenv("AIRFLOW_CONN_KONTENT_DEFAULT", json.dumps(connection))
    return kontent_env


def start_sync(sql_db, env_id: str, token: str = "T0") -> SqlTokenStore:
    store = SqlTokenStore(sql_db.conn_id, key="kontent_default")
    store.save(TokenRecord.new(token, environment_id=env_id, mode="public", api_version=2))
    return store


def summary(previous: str, next_: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "previous_token": previous,
        "next_token": next_,
        "records": records,
        "counts": {"items": {"changed": 1}},
    }


def load(sql_db, source: dict[str, Any], run_id: str = "run") -> dict[str, Any]:
    operator = KontentToSqlOperator(
        task_id=f"load_{run_id}", source=source, sql_conn_id=sql_db.conn_id, token_store="sql"
    )
    return operator.execute({"run_id": run_id})


def test_store_reads_writes_and_compares_and_sets(sql_db, kontent):
    store = start_sync(sql_db, kontent["id"])
    assert store.load().token == "T0"
    assert (
        store.location == "table 'kontent_sync_state' (row 'kontent_default') of connection 'kontent_mirror'"
    )
    assert store.commit(store.load().advanced("T1"), expected_token="T0") is True
    assert store.commit(store.load().advanced("T1"), expected_token="T0") is False  # a retried commit
    with pytest.raises(TokenConflictError, match=f"should still hold {token_fingerprint('T0')}"):
        store.commit(store.load().advanced("T2"), expected_token="T0")
    assert sql_db.query('SELECT sync_key, token FROM "kontent_sync_state"') == [("kontent_default", "T1")]


def test_two_loads_released_at_once_exactly_one_applies(sql_db, kontent):
    start_sync(sql_db, kontent["id"])
    load(sql_db, summary("T0", "T0", []), "schema")  # the first run created the tables
    barrier = threading.Barrier(2)
    outcomes: dict[str, Any] = {}

    def run(name: str) -> None:
        source = summary("T0", f"T1-{name}", [item(id=f"item-{name}", codename=name)])
        barrier.wait()
        try:
            outcomes[name] = load(sql_db, source, name)
        except Exception as err:
            outcomes[name] = err

    threads = [threading.Thread(target=run, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    applied = [name for name, out in outcomes.items() if isinstance(out, dict) and out["applied"]]
    failed = [name for name, out in outcomes.items() if isinstance(out, Exception)]
    assert len(applied) == 1 and len(failed) == 1, outcomes
    (winner,), (loser,) = applied, failed
    assert isinstance(outcomes[loser], TokenConflictError), outcomes[loser]
    assert sql_db.query('SELECT token FROM "kontent_sync_state"') == [(f"T1-{winner}",)]
    assert sql_db.query('SELECT id FROM "kontent_items"') == [(f"item-{winner}",)]


def test_a_stale_load_changes_nothing_and_a_retried_one_is_not_applied_twice(sql_db, kontent):
    start_sync(sql_db, kontent["id"])
    newer = summary("T0", "T1", [item(title="newer")])
    assert load(sql_db, newer, "newer")["applied"] is True
    # the older run's load arrives late, from the same T0: it would overwrite newer rows
    older = summary("T0", "T1-old", [item(title="older"), item(id="i2")])
    with pytest.raises(TokenConflictError, match=f"should still hold {token_fingerprint('T0')}"):
        load(sql_db, older, "older")
    assert sql_db.query('SELECT id, name FROM "kontent_items"') == [("i1", "newer")]
    # the newer load retried (its task died after the commit): its token is stored, nothing is redone
    sql_db.execute('UPDATE "kontent_items" SET name = ?', ("edited by hand",))
    again = load(sql_db, newer, "newer")
    assert again["applied"] is False and "already applied" in again["reason"]
    assert sql_db.query('SELECT name FROM "kontent_items"') == [("edited by hand",)]


def test_the_loaders_compare_and_set_on_every_tested_database(loader_db):
    """The same race at the loader level, where MariaDB is covered too (through PyMySQL: the MySQL
    provider's hook needs mysqlclient, see the README)."""
    from airflow_provider_kontent.transfers.sql_loader import SqlMirror
    from airflow_provider_kontent.transfers.sql_schema import MirrorTables, ensure_schema

    setup = loader_db.session()
    store = SqlTokenStore(loader_db.conn_id, key="kontent_default")
    store.create_table(setup)
    with setup.transaction(), store.bound(setup):
        store.save(TokenRecord.new("T0", environment_id="env", mode="public", api_version=2))
    ensure_schema(setup, MirrorTables(setup.dialect))
    setup.close()
    barrier = threading.Barrier(2)
    outcomes: dict[str, Any] = {}

    def run(name: str) -> None:
        session = loader_db.session()
        mirror = SqlMirror(session, MirrorTables(session.dialect))

        own = SqlTokenStore(loader_db.conn_id, key="kontent_default")  # one per run, as in the operator

        def advance(s: Any) -> bool:
            with own.bound(s):
                return own.commit(own.require().advanced(f"T1-{name}"), expected_token="T0")

        barrier.wait()
        try:
            outcomes[name] = mirror.load(
                [item(id=f"item-{name}")], source="delta", load_run=name, token_step=advance
            )
        except Exception as err:
            outcomes[name] = err
        finally:
            session.close()

    threads = [threading.Thread(target=run, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    applied = [n for n, out in outcomes.items() if not isinstance(out, Exception) and out.applied]
    failed = [n for n, out in outcomes.items() if isinstance(out, TokenConflictError)]
    assert len(applied) == 1 and len(failed) == 1, outcomes
    assert loader_db.query('SELECT token FROM "kontent_sync_state"') == [(f"T1-{applied[0]}",)]
    assert loader_db.query('SELECT id FROM "kontent_items"') == [(f"item-{applied[0]}",)]
