"""The SQLite loader of the reference DAG: schema, upsert/delete rules, idempotent replays."""

from __future__ import annotations

import json

import pytest
from kontent_sqlite_loader import (
    apply_records,
    connect,
    is_component_record,
    model_records,
    read_ndjson,
    table_counts,
    with_model_content,
)


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
        "system": {"id": id, "codename": codename, "language": language, "type": "article"},
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


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "sub" / "mirror.sqlite"
    conn = connect(path)
    yield path, conn
    conn.close()


def test_upserts_item_variants_keyed_by_id_and_language(db):
    path, conn = db
    result = apply_records(conn, [item(), item(language="de", title="Hallo")], load_run="r1")
    assert result.upserts["item"] == 2
    apply_records(conn, [item(title="Hello again", codename="renamed")], load_run="r2")
    rows = conn.execute(
        "SELECT id, language, codename, name, elements FROM content_items ORDER BY language"
    ).fetchall()
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
        ("i1", "de", "hello", "Hallo"),
        ("i1", "en-US", "renamed", "Hello again"),
    ]
    assert json.loads(rows[1][4])["title"]["value"] == "Hello again"
    assert table_counts(path)["content_items"] == 2


def test_deletes_only_the_deleted_variant_and_logs_changes(db):
    _, conn = db
    apply_records(conn, [item(), item(language="de")], load_run="r1", source="snapshot")
    result = apply_records(
        conn, [item("deleted", language="de")], load_run="r2", next_token="abcdefghijklmnopqrstuvwxyz"
    )
    assert result.to_dict() == {"upserts": {}, "deletes": {"item": 1}, "ignored": 0}
    assert conn.execute("SELECT language FROM content_items").fetchall() == [("en-US",)]
    log = conn.execute(
        "SELECT load_run, source, kind, language, action FROM sync_changes ORDER BY seq"
    ).fetchall()
    assert log[-1] == ("r2", "delta", "item", "de", "delete")
    assert conn.execute("SELECT next_token_prefix FROM sync_loads WHERE load_run='r2'").fetchone() == (
        "abcdefghijkl",
    )


def test_types_taxonomies_and_languages(db):
    path, conn = db
    apply_records(
        conn,
        [
            entity("type"),
            entity("taxonomy", id="x1", codename="topics"),
            entity("language", id="l1", codename="de"),
        ],
        load_run="r1",
    )
    apply_records(
        conn,
        [entity("type", "deleted"), entity("language", "deleted", id="l1", codename="de")],
        load_run="r2",
    )
    assert table_counts(path) == {
        "content_items": 0,
        "content_types": 0,
        "taxonomy_groups": 1,
        "languages": 1,
    }
    # a deleted language is a deactivated one: keep the row
    assert conn.execute("SELECT codename, active FROM languages").fetchall() == [("de", 0)]


def test_replaying_a_load_is_idempotent(db):
    """At-least-once: the same batch applied twice (failed commit, retried run) leaves the same state."""
    path, conn = db
    batch = [item(), item(id="i2", codename="second"), item("deleted", id="i3")]
    apply_records(conn, batch, load_run="r1")
    before = conn.execute("SELECT id, language, codename, elements FROM content_items ORDER BY id").fetchall()
    apply_records(conn, batch, load_run="r1")
    after = conn.execute("SELECT id, language, codename, elements FROM content_items ORDER BY id").fetchall()
    assert before == after and len(after) == 2
    # the retried run replaced its own change log instead of doubling it
    assert conn.execute("SELECT COUNT(*) FROM sync_changes WHERE load_run='r1'").fetchone() == (3,)


def test_a_failing_batch_changes_nothing(db):
    _, conn = db
    apply_records(conn, [item()], load_run="r1")

    def broken():
        yield item(title="half-applied")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        apply_records(conn, broken(), load_run="r2")
    assert conn.execute("SELECT name FROM content_items").fetchall() == [("Hello",)]
    assert conn.execute("SELECT COUNT(*) FROM sync_changes WHERE load_run='r2'").fetchone() == (0,)


def test_missing_content_keeps_stored_elements_and_unknown_records_are_ignored(db):
    _, conn = db
    apply_records(conn, [item()], load_run="r1")
    no_content = {**item(title="x"), "content": None, "content_missing": True}
    result = apply_records(
        conn,
        [
            no_content,
            {"kind": "asset", "change_type": "changed", "id": "a"},
            {**item(), "change_type": "moved"},
        ],
        load_run="r2",
    )
    assert result.ignored == 2 and result.upserts["item"] == 1
    elements, missing = conn.execute("SELECT elements, content_missing FROM content_items").fetchone()
    assert json.loads(elements)["title"]["value"] == "Hello" and missing == 1


def test_read_ndjson_streams_records(tmp_path):
    first, second = tmp_path / "a.ndjson", tmp_path / "b.ndjson"
    first.write_text(json.dumps(item()) + "\n\n" + json.dumps(item(id="i2")) + "\n")
    second.write_text(json.dumps(entity("type")) + "\n")
    assert [r["id"] for r in read_ndjson([first, str(second)])] == ["i1", "i2", "t1"]


def test_model_records_fill_the_content_model_and_deltas_get_full_definitions(db):
    path, conn = db
    article = {
        "system": {"id": "t1", "codename": "article", "name": "Article"},
        "elements": {"title": {"type": "text"}},
    }
    topics = {
        "system": {"id": "x1", "codename": "topics", "name": "Topics"},
        "terms": [{"codename": "a", "terms": []}],
    }
    english = {"system": {"id": "l1", "codename": "en-US", "name": "English"}}
    apply_records(conn, model_records([article], [topics], [english]), load_run="r1", source="snapshot")
    assert table_counts(path) == {
        "content_items": 0,
        "content_types": 1,
        "taxonomy_groups": 1,
        "languages": 1,
    }
    renamed = {
        **article,
        "system": {**article["system"], "name": "Story"},
        "elements": {"body": {"type": "rich_text"}},
    }
    delta = entity("type", name="Story")
    apply_records(conn, with_model_content([delta], [renamed], []), load_run="r2")
    name, elements = conn.execute("SELECT name, elements FROM content_types").fetchone()
    assert name == "Story" and json.loads(elements) == {"body": {"type": "rich_text"}}


def test_a_reexported_snapshot_prunes_rows_it_no_longer_holds(db):
    _, conn = db
    apply_records(conn, [item(), item(id="i2")], load_run="r1", source="snapshot", prune_items=True)
    result = apply_records(conn, [item(id="i2")], load_run="r1", source="snapshot", prune_items=True)
    assert result.deletes["item"] == 1
    assert conn.execute("SELECT id FROM content_items").fetchall() == [("i2",)]


def test_component_deltas_are_recognised_and_items_are_not():
    codename = "n" + "0b2f3c4d-1111-2222-3333-444455556666".replace("-", "_")
    component = {
        **item(codename=codename),
        "content": None,
        "content_missing": True,
        "system": {"id": "c1", "codename": codename, "language": "en-US", "type": "callout"},
    }
    assert is_component_record(component)
    assert is_component_record({**component, "change_type": "deleted", "content_missing": False})
    # a real item always has workflow fields, even when its content could not be fetched
    workflow = {**component["system"], "workflow": "default", "workflow_step": "published"}
    assert not is_component_record({**component, "system": workflow})
    assert not is_component_record(item())  # fetched content: an item


def test_v1_suffixed_change_types_apply_like_plain_ones(db):
    _, conn = db
    result = apply_records(conn, [{**item(), "change_type": "changed_item"}], load_run="r1")
    assert result.upserts["item"] == 1
    result = apply_records(conn, [{**item("deleted"), "change_type": "DELETED_ITEM"}], load_run="r2")
    assert result.deletes["item"] == 1
    assert conn.execute("SELECT COUNT(*) FROM content_items").fetchone() == (0,)
