"""KontentToSqlOperator with the real init and pull operators, the emulator and real SQLite/PostgreSQL.

Every bad input fails the load with a message naming the connection, the table and the key, leaves the
database and the stored token as they were, and the next run, once the cause is gone, catches up. And
deleting by absence needs a second witness: a feed answer that lost its ``X-Continuation`` header (a
proxy) makes the load fail without deleting anything.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_kontent.client.dependents import IncompleteExportError
from airflow_provider_kontent.operators.sync_init import KontentSyncInitOperator
from airflow_provider_kontent.operators.sync_pull import KontentSyncPullOperator
from airflow_provider_kontent.outcomes import KontentTaskFailure
from airflow_provider_kontent.transfers.kontent_to_sql import KontentToSqlOperator
from airflow_provider_kontent.transfers.sql_dialects import SqlLoadError
from airflow_provider_kontent.transfers.sql_token_store import SqlTokenStore

TEXT = {"title": {"type": "text", "name": "Title"}}


class Sync:
    """The reference DAG's tasks, run one by one (``execute``) on one environment and one database."""

    def __init__(self, emulator: Any, db: Any, monkeypatch: pytest.MonkeyPatch, **env: Any) -> None:
        self.ctl = emulator.control
        self.env_id = self.ctl.create_environment(**env)["id"]
        self.db = db
        connection = {
            "conn_type": "kontent",
            "host": emulator.base_url,
            "extra": {"environment_id": self.env_id},
        }
        monkeypatch.setenv("AIRFLOW_CONN_KONTENT_DEFAULT", json.dumps(connection))
        self.shared = {"token_store": "sql", "sql_conn_id": db.conn_id}
        self.runs = 0

    def init(self) -> dict[str, Any]:
        return KontentSyncInitOperator(task_id="init", snapshot=True, **self.shared).execute(
            {"run_id": "init"}
        )

    def pull(self) -> dict[str, Any]:
        pull = KontentSyncPullOperator(
            task_id="pull", include_content=True, commit_token=False, **self.shared
        )
        return pull.execute({"run_id": "pull"})

    def load(self, source: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        self.runs += 1
        load = KontentToSqlOperator(task_id="load", source=source, **self.shared, **kwargs)
        return load.execute({"run_id": f"run-{self.runs}"})

    def token(self) -> str:
        return SqlTokenStore(self.db.conn_id, key="kontent_default").require().token

    def items(self) -> list[tuple]:
        return sorted(self.db.query('SELECT codename, language, name FROM "kontent_items"'))

    def started(self, count: int = 3) -> None:
        """An article type, ``count`` articles, the sync initialized and its snapshot loaded."""
        self.ctl.upsert_type(self.env_id, "article", elements=TEXT)
        for n in range(count):
            self.ctl.upsert_item(
                self.env_id, f"a{n}", "article", "en-US", name=f"A{n}", elements={"title": f"A{n}"}
            )
        assert self.load(self.init())["applied"] is True
        assert self.load(self.pull())["applied"] is True  # confirms the snapshot


@pytest.fixture
def sync(kontent_emulator, sql_db, monkeypatch) -> Sync:
    return Sync(kontent_emulator, sql_db, monkeypatch, feed_page_size=2)


def edited(sync: Sync) -> dict[str, Any]:
    """Two edits pulled (not loaded yet)."""
    sync.ctl.upsert_item(
        sync.env_id, "a0", "article", "en-US", name="A0 edited", elements={"title": "A0 edited"}
    )
    sync.ctl.upsert_item(sync.env_id, "new", "article", "en-US", name="New", elements={"title": "New"})
    return sync.pull()


def assert_caught_up(sync: Sync, summary: dict[str, Any]) -> None:
    assert sync.load(summary)["applied"] is True
    assert sync.token() == summary["next_token"]
    assert ("a0", "en-US", "A0 edited") in sync.items() and ("new", "en-US", "New") in sync.items()


def test_a_database_that_refuses_the_connection(sync, monkeypatch):
    sync.started()
    summary, before, token = edited(sync), sync.items(), sync.token()
    good = (
        sync.db.uri
        if sync.db.kind == "postgres"
        else json.dumps({"conn_type": "sqlite", "host": sync.db.uri})
    )
    monkeypatch.setenv("AIRFLOW_CONN_KONTENT_MIRROR", "postgresql://postgres@127.0.0.1:1/kontent")
    with pytest.raises(
        SqlLoadError, match=r"connection 'kontent_mirror': cannot connect to the database"
    ) as caught:
        sync.load(summary)
    assert caught.value.retryable  # no AirflowFailException: the task's retries apply
    monkeypatch.setenv("AIRFLOW_CONN_KONTENT_MIRROR", good)
    assert sync.items() == before and sync.token() == token
    assert_caught_up(sync, summary)


def test_a_table_altered_by_hand(sync):
    sync.started()
    summary, before, token = edited(sync), sync.items(), sync.token()
    sync.db.execute('ALTER TABLE "kontent_items" RENAME COLUMN name TO title')
    with pytest.raises(SqlLoadError) as caught:
        sync.load(summary)
    message = str(caught.value)
    assert (
        "connection 'kontent_mirror', table kontent_items, key {'id': " in message
        and "'language': 'en-US'" in message
    )
    sync.db.execute('ALTER TABLE "kontent_items" RENAME COLUMN title TO name')
    assert sync.items() == before and sync.token() == token
    assert_caught_up(sync, summary)


def test_a_constraint_error_mid_load(sync):
    sync.started()
    summary, before, token = edited(sync), sync.items(), sync.token()
    if sync.db.kind == "sqlite":
        sync.db.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON \"kontent_items\" WHEN NEW.codename = 'new' "
            "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
        )
    else:
        sync.db.execute("ALTER TABLE \"kontent_items\" ADD CONSTRAINT refuse CHECK (codename <> 'new')")
    with pytest.raises(
        SqlLoadError, match=r"table kontent_items, key \{'id': '[0-9a-f-]+', 'language': 'en-US'\}"
    ):
        sync.load(summary, batch_size=1)  # the first change was written before the second failed
    assert sync.items() == before and sync.token() == token
    if sync.db.kind == "sqlite":
        sync.db.execute("DROP TRIGGER refuse")
    else:
        sync.db.execute('ALTER TABLE "kontent_items" DROP CONSTRAINT refuse')
    assert_caught_up(sync, summary)


def test_a_record_of_an_unknown_kind(sync):
    sync.started()
    summary, before, token = edited(sync), sync.items(), sync.token()
    odd = {
        **summary,
        "records": [*summary["records"], {"kind": "webhook", "change_type": "changed", "id": "w1"}],
    }
    # no retry can fix it: the task fails at once (an AirflowFailException), naming the record
    with pytest.raises(
        KontentTaskFailure,
        match=r"connection 'kontent_mirror', record 2 of this load: unknown record kind 'webhook' \(key id='w1'\)",
    ):
        sync.load(odd)
    assert sync.items() == before and sync.token() == token
    assert_caught_up(sync, summary)


def test_an_element_kind_the_typed_tables_never_saw(sync):
    sync.started()
    summary, before, token = edited(sync), sync.items(), sync.token()
    odd = json.loads(json.dumps(summary))
    odd["records"][0]["content"]["item"]["elements"]["title"]["type"] = "hologram"
    with pytest.raises(KontentTaskFailure) as caught:  # permanent: no retries
        sync.load(odd, typed_tables=True)
    message = str(caught.value)
    assert "connection 'kontent_mirror', table kontent_type_article, key {'id': " in message
    assert "element 'title' has kind 'hologram'" in message
    assert sync.items() == before and sync.token() == token
    assert_caught_up(sync, summary)


def test_a_snapshot_cut_short_by_a_lost_header_deletes_nothing(sync):
    sync.ctl.upsert_type(sync.env_id, "article", elements=TEXT)
    for n in range(5):
        sync.ctl.upsert_item(
            sync.env_id, f"a{n}", "article", "en-US", name=f"A{n}", elements={"title": f"A{n}"}
        )
    assert sync.load(sync.init())["applied"] is True  # not confirmed yet: the next init exports again
    before = sync.items()
    assert len(before) == 5
    sync.ctl.inject_fault("no_continuation", path=r"/items-feed$")  # the first page looks like the last
    cut = sync.init()
    assert cut["snapshot"]["items"] == 2
    with pytest.raises(
        IncompleteExportError, match=r"the snapshot holds 2 item\(s\) in language 'en-US' but /items counts 5"
    ):
        sync.load(cut)
    assert sync.items() == before
    assert sync.load(sync.init())["applied"] is True  # the next run's export is whole again
    assert sync.items() == before


def test_a_refresh_cut_short_by_a_lost_header_deletes_nothing(sync):
    sync.started(count=5)
    before, token = sync.items(), sync.token()
    sync.ctl.rename_type(sync.env_id, "article", "story")  # every article must be re-read
    summary = sync.pull()
    sync.ctl.inject_fault("no_continuation", path=r"/items-feed$")
    with pytest.raises(IncompleteExportError, match=r"the dependent refresh holds 2 item\(s\).*counts 5"):
        sync.load(summary)
    assert sync.items() == before and sync.token() == token
    assert sync.load(summary)["applied"] is True
    assert sync.db.query('SELECT DISTINCT type FROM "kontent_items"') == [("story",)]
    assert sync.items() == before


def test_a_reexported_snapshot_replaces_the_mirror_in_batches(sync):
    sync.ctl.upsert_type(sync.env_id, "article", elements=TEXT)
    ids = [
        sync.ctl.upsert_item(
            sync.env_id, f"a{n}", "article", "en-US", name=f"A{n}", elements={"title": f"A{n}"}
        )
        for n in range(5)
    ]
    assert sync.load(sync.init())["applied"] is True  # not confirmed: the next init exports again
    for item_id in ids[1:]:
        sync.ctl.delete_item(sync.env_id, item_id)
    result = sync.load(sync.init(), batch_size=2)  # the prune deletes in batches of two
    assert result["deletes"] == {"item": 4}
    assert sync.items() == [("a0", "en-US", "A0")]
    deleted = sync.db.query("SELECT COUNT(*) FROM \"kontent_load_log\" WHERE action = 'delete'")
    assert deleted == [(4,)]


def test_variants_of_an_inactive_language_never_enter_the_mirror(kontent_emulator, sql_db, monkeypatch):
    """The chaos finding: a content-less change of a variant whose language is (then) inactive was stored
    as a row without elements. Here the edit and the deactivation arrive in one pull; a later pull's
    content-less change of such a variant is the loader test's case (test_sql_loader.py)."""
    languages = [{"codename": "en-US", "name": "English"}, {"codename": "de", "name": "German"}]
    sync = Sync(kontent_emulator, sql_db, monkeypatch, languages=languages)
    sync.ctl.upsert_type(sync.env_id, "article", elements=TEXT)
    sync.ctl.upsert_item(sync.env_id, "a0", "article", "en-US", name="A0", elements={"title": "A0"})
    sync.ctl.upsert_item(sync.env_id, "a0", "article", "de", name="A0 de", elements={"title": "A0 de"})
    assert sync.load(sync.init())["applied"] is True
    assert sync.load(sync.pull())["applied"] is True
    sync.ctl.upsert_item(sync.env_id, "new", "article", "de", name="Neu", elements={"title": "Neu"})
    sync.ctl.upsert_language(sync.env_id, "de", name="German", active=False)
    summary = sync.pull()
    german = [r for r in summary["records"] if r["kind"] == "item" and r["language"] == "de"]
    assert german and all(r["content"] is None for r in german)  # Delivery no longer serves them
    result = sync.load(summary)
    assert result["deletes"]["language"] == 1
    assert sync.items() == [("a0", "en-US", "A0")]
    ((active,),) = sync.db.query("SELECT active FROM \"kontent_languages\" WHERE codename = 'de'")
    assert not active
