"""The loader behind KontentToSqlOperator on real SQLite and PostgreSQL: schema, upserts, deletes, replays.

(These rules lived in ``example_dags/kontent_sqlite_loader.py`` before the provider took them over.)
"""

from __future__ import annotations

import pytest

from airflow_provider_kontent.transfers.sql_dialects import SqlLoadError
from airflow_provider_kontent.transfers.sql_loader import SqlMirror
from airflow_provider_kontent.transfers.sql_rows import model_records, with_model_content
from airflow_provider_kontent.transfers.sql_schema import LATEST_VERSION, MirrorTables, ensure_schema


def item(
    change="changed", *, id="i1", language="en-US", title="Hello", codename="hello", ts="2026-01-01T00:00:01Z"
):
    content = None
    if change == "changed":
        content = {
            "item": {
                "system": {
                    "id": id,
                    "codename": codename,
                    "language": language,
                    "name": title,
                    "type": "article",
                    "collection": "default",
                    "workflow": "default",
                    "workflow_step": "published",
                    "last_modified": ts,
                },
                "elements": {"title": {"type": "text", "name": "Title", "value": title}},
            },
            "modular_content": {},
        }
    return {
        "kind": "item",
        "change_type": change,
        "raw_change_type": change,
        "timestamp": ts,
        "id": id,
        "language": language,
        "codename": codename,
        "type": "article",
        "collection": "default",
        "system": {
            "id": id,
            "codename": codename,
            "language": language,
            "type": "article",
            "workflow": "default",
        },
        "elements": None,
        "content": content,
        "content_missing": False,
    }


def entity(kind, change="changed", *, id="t1", codename="article", name="Article"):
    return {
        "kind": kind,
        "change_type": change,
        "timestamp": "2026-01-01T00:00:02Z",
        "id": id,
        "language": None,
        "codename": codename,
        "system": {"id": id, "codename": codename, "name": name},
        "elements": None,
        "content": None,
    }


class Loader:
    """A mirror on the test database, with helpers to load and to read back."""

    def __init__(self, db, *, dialect=None, batch_size=1000):
        self.db = db
        self.session = db.session(dialect)
        self.tables = MirrorTables(self.session.dialect)
        ensure_schema(self.session, self.tables)
        self.mirror = SqlMirror(self.session, self.tables, batch_size=batch_size)

    def load(self, records, run="r1", source="delta", **kwargs):
        return self.mirror.load(records, source=source, load_run=run, **kwargs)

    def rows(self, sql):
        return self.db.query(sql)


@pytest.fixture
def loader(loader_db):
    loader = Loader(loader_db)
    yield loader
    loader.session.close()


def test_schema_is_versioned_and_a_newer_one_is_refused(loader_db):
    sql_db = loader_db
    session = sql_db.session()
    tables = MirrorTables(session.dialect)
    assert ensure_schema(session, tables, target=1) == 1  # an older provider's database
    assert ensure_schema(session, tables) == LATEST_VERSION  # migrated on the next load
    assert sql_db.query('SELECT version FROM "kontent_schema_version" ORDER BY version') == [(1,), (2,)]
    sql_db.execute('INSERT INTO "kontent_schema_version" (version, applied_at) VALUES (99, ?)', ("x",))
    with pytest.raises(
        SqlLoadError, match=r"connection 'kontent_mirror'.*kontent_schema_version.*version 99"
    ):
        ensure_schema(session, tables)
    session.close()


def test_upserts_item_variants_keyed_by_id_and_language(loader):
    result = loader.load([item(), item(language="de", title="Hallo")])
    assert result.upserts["item"] == 2
    loader.load([item(title="Hello again", codename="renamed")], run="r2")
    rows = loader.rows('SELECT id, language, codename, name FROM "kontent_items" ORDER BY language')
    assert rows == [("i1", "de", "hello", "Hallo"), ("i1", "en-US", "renamed", "Hello again")]


def test_deletes_only_the_deleted_variant_and_logs_changes(loader):
    loader.load([item(), item(language="de")], source="snapshot")
    result = loader.load([item("deleted", language="de")], run="r2", tokens=("#0123456789", "#abcdefabcd"))
    assert result.to_dict() == {"applied": True, "upserts": {}, "deletes": {"item": 1}, "skipped_inactive": 0}
    assert loader.rows('SELECT language FROM "kontent_items"') == [("en-US",)]
    log = loader.rows('SELECT load_run, source, kind, language, action FROM "kontent_load_log" ORDER BY seq')
    assert log[-1] == ("r2", "delta", "item", "de", "delete")
    assert loader.rows("SELECT next_token FROM \"kontent_loads\" WHERE load_run = 'r2'") == [("#abcdefabcd",)]


def test_a_deactivated_language_keeps_its_row_and_loses_its_variants(loader):
    loader.load(
        [
            entity("type"),
            entity("taxonomy", id="x1", codename="topics"),
            entity("language", id="l1", codename="de"),
        ]
    )
    loader.load([item(), item(language="de")], run="r2")
    loader.load([entity("type", "deleted"), entity("language", "deleted", id="l1", codename="de")], run="r3")
    assert loader.rows('SELECT COUNT(*) FROM "kontent_types"') == [(0,)]
    assert loader.rows('SELECT codename FROM "kontent_taxonomies"') == [("topics",)]
    ((codename, active),) = loader.rows('SELECT codename, active FROM "kontent_languages"')
    assert codename == "de" and not active
    assert loader.rows('SELECT language FROM "kontent_items"') == [("en-US",)]
    # a later content-less change for a variant of the inactive language never enters the mirror
    content_less = {**item(language="de"), "content": None, "content_missing": True}
    result = loader.load([content_less], run="r4")
    assert result.skipped_inactive == 1 and not result.upserts
    assert loader.rows('SELECT language FROM "kontent_items"') == [("en-US",)]


def test_replaying_a_load_is_idempotent(loader):
    """At-least-once: the same batch applied twice (failed commit, retried run) leaves the same state."""
    batch = [item(), item(id="i2", codename="second"), item("deleted", id="i3")]
    loader.load(batch)
    before = loader.rows('SELECT id, language, codename, elements FROM "kontent_items" ORDER BY id')
    loader.load(batch)
    after = loader.rows('SELECT id, language, codename, elements FROM "kontent_items" ORDER BY id')
    assert before == after and len(after) == 2
    # the retried run replaced its own change log instead of doubling it
    assert loader.rows("SELECT COUNT(*) FROM \"kontent_load_log\" WHERE load_run = 'r1'") == [(3,)]


def test_a_failing_stream_changes_nothing(loader):
    loader.load([item()])

    def broken():
        yield item(title="half-applied")
        yield from [item(id=f"x{n}") for n in range(5)]
        raise OSError("disk full")

    loader.mirror.batch_size = 2  # some batches were written before the failure
    with pytest.raises(OSError, match="disk full"):
        loader.load(broken(), run="r2")
    assert loader.rows('SELECT name FROM "kontent_items"') == [("Hello",)]
    assert loader.rows("SELECT COUNT(*) FROM \"kontent_load_log\" WHERE load_run = 'r2'") == [(0,)]


def test_a_constraint_error_mid_load_names_table_and_key_and_changes_nothing(loader_db):
    sql_db = loader_db
    loader = Loader(sql_db, batch_size=2)
    loader.load([item()])
    if sql_db.kind == "sqlite":
        sql_db.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON \"kontent_items\" WHEN NEW.codename = 'bad' "
            "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
        )
    else:
        sql_db.execute("ALTER TABLE \"kontent_items\" ADD CONSTRAINT refuse CHECK (codename <> 'bad')")
    records = [item(id=f"i{n}", codename=f"ok{n}") for n in range(2, 6)] + [item(id="i9", codename="bad")]
    with pytest.raises(SqlLoadError) as caught:
        loader.load(records, run="r2")
    message = str(caught.value)
    assert "connection 'kontent_mirror'" in message and "table kontent_items" in message
    assert "'id': 'i9'" in message and "'language': 'en-US'" in message
    assert loader.rows('SELECT id FROM "kontent_items"') == [("i1",)]
    loader.session.close()


def test_missing_content_keeps_stored_elements(loader):
    loader.load([item()])
    no_content = {**item(title="x"), "content": None, "content_missing": True}
    loader.load([no_content], run="r2")
    ((elements, missing),) = loader.rows('SELECT elements, content_missing FROM "kontent_items"')
    assert "Hello" in str(elements) and missing


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (
            {"kind": "asset", "change_type": "changed", "id": "a1"},
            r"unknown record kind 'asset' \(key id='a1'\)",
        ),
        (
            {**item(), "change_type": "moved"},
            r"table kontent_items: unknown change_type 'moved' \(key id='i1'\)",
        ),
        (
            {**item(), "id": None, "system": {}, "content": None},
            r"table kontent_items: the record has no id/language",
        ),
    ],
)
def test_unknown_records_fail_the_load_naming_the_key(loader, record, expected):
    loader.load([item(id="i0")])
    with pytest.raises(SqlLoadError, match=expected) as caught:
        loader.load([item(id="i5"), record], run="r2")
    assert "connection 'kontent_mirror'" in str(caught.value)
    assert loader.rows('SELECT id FROM "kontent_items"') == [("i0",)]


def test_model_records_fill_the_content_model_and_deltas_get_full_definitions(loader):
    article = {
        "system": {"id": "t1", "codename": "article", "name": "Article"},
        "elements": {"title": {"type": "text"}},
    }
    topics = {
        "system": {"id": "x1", "codename": "topics", "name": "Topics"},
        "terms": [{"codename": "a", "terms": []}],
    }
    english = {"system": {"id": "l1", "codename": "en-US", "name": "English"}}
    loader.load(model_records([article], [topics], [english]), source="snapshot")
    counts = [
        loader.rows(f'SELECT COUNT(*) FROM "kontent_{t}"')[0][0] for t in ("types", "taxonomies", "languages")
    ]
    assert counts == [1, 1, 1]
    renamed = {
        **article,
        "system": {**article["system"], "name": "Story"},
        "elements": {"body": {"type": "rich_text"}},
    }
    loader.load(with_model_content([entity("type", name="Story")], [renamed], []), run="r2")
    ((name, elements),) = loader.rows('SELECT name, elements FROM "kontent_types"')
    assert name == "Story" and "rich_text" in str(elements)


def test_v1_suffixed_change_types_apply_like_plain_ones(loader):
    assert loader.load([{**item(), "change_type": "changed_item"}]).upserts["item"] == 1
    assert loader.load([{**item("deleted"), "change_type": "DELETED_ITEM"}], run="r2").deletes["item"] == 1
    assert loader.rows('SELECT COUNT(*) FROM "kontent_items"') == [(0,)]


def test_any_other_database_gets_delete_then_insert(sqlite_db):
    """The generic path (no native upsert) runs for real: same results, kept columns included."""
    loader = Loader(sqlite_db, dialect="generic", batch_size=2)
    assert loader.session.dialect.upsert_style == "delete_insert"
    loader.load([item(), item(language="de"), item(id="i2")])
    loader.load(
        [{**item(title="x"), "content": None, "content_missing": True}, item("deleted", id="i2")], run="r2"
    )
    rows = loader.rows('SELECT id, language, elements FROM "kontent_items" ORDER BY language')
    assert [(r[0], r[1]) for r in rows] == [("i1", "de"), ("i1", "en-US")]
    assert "Hello" in rows[1][2]  # the content-less change kept the stored elements
    loader.session.close()
