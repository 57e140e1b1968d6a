"""Typed tables on real SQLite and PostgreSQL: a column per element, typed by kind, following model changes."""

from __future__ import annotations

import json

import pytest

from airflow_provider_kontent.transfers.sql_dialects import from_json
from airflow_provider_kontent.transfers.sql_loader import SqlMirror
from airflow_provider_kontent.transfers.sql_schema import MirrorTables, ensure_schema
from airflow_provider_kontent.transfers.typed_tables import TypedTables, normalize_name

ALL_KINDS = {
    "title": {"type": "text", "name": "Title", "value": "Hello"},
    "body": {
        "type": "rich_text",
        "name": "Body",
        "value": "<p>Hi</p>",
        "modular_content": ["n1_component", "other_item"],
    },
    "price": {"type": "number", "name": "Price", "value": 9.5},
    "published": {"type": "date_time", "name": "Published", "value": "2026-05-01T10:00:00Z"},
    "colour": {"type": "multiple_choice", "name": "Colour", "value": [{"codename": "red", "name": "Red"}]},
    "topics": {"type": "taxonomy", "name": "Topics", "value": [{"codename": "tea", "name": "Tea"}]},
    "photo": {"type": "asset", "name": "Photo", "value": [{"name": "a.png", "url": "https://x/a.png"}]},
    "related": {"type": "modular_content", "name": "Related", "value": ["b", "c"]},
    "pages": {"type": "subpages", "name": "Pages", "value": []},
    "slug": {"type": "url_slug", "name": "Slug", "value": "hello"},
    "widget": {"type": "custom", "name": "Widget", "value": '{"x": 1}'},
    "name": {"type": "text", "name": "A name element", "value": "collides with the system column"},
}


def record(elements, *, id="i1", language="en-US", type="product", change="changed"):
    system = {"id": id, "language": language, "codename": f"c_{id}", "name": f"Item {id}", "type": type}
    content = {"item": {"system": system, "elements": elements}, "modular_content": {}} if elements else None
    return {
        "kind": "item",
        "change_type": change,
        "id": id,
        "language": language,
        "system": system,
        "content": content,
    }


class Typed:
    def __init__(self, db):
        self.db = db
        self.session = db.session()
        self.tables = MirrorTables(self.session.dialect)
        ensure_schema(self.session, self.tables)
        self.runs = 0

    def load(self, records):
        self.runs += 1
        mirror = SqlMirror(self.session, self.tables, typed=TypedTables(self.session, self.tables))
        return mirror.load(records, source="delta", load_run=f"r{self.runs}")

    def columns(self, table):
        if self.db.kind == "sqlite":
            return [r[1] for r in self.db.query(f'PRAGMA table_info("{table}")')]
        return [
            r[0]
            for r in self.db.query(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
                (table,),
            )
        ]

    def row(self, table, id="i1"):
        cursor_rows = self.db.query(f'SELECT * FROM "{table}" WHERE id = ?', (id,))
        return dict(zip(self.columns(table), cursor_rows[0], strict=True)) if cursor_rows else None


@pytest.fixture
def typed(sql_db):
    typed = Typed(sql_db)
    yield typed
    typed.session.close()


def as_list(value):
    return value if isinstance(value, list) else from_json(value)


def test_every_element_kind_gets_a_typed_column(typed):
    typed.load([record(ALL_KINDS)])
    row = typed.row("kontent_type_product")
    assert row["codename"] == "c_i1" and row["name"] == "Item i1"  # the system column
    assert row["name_2"] == "collides with the system column"  # the element, renamed
    assert row["title"] == "Hello" and row["body"] == "<p>Hi</p>"
    assert as_list(row["body__linked"]) == ["n1_component", "other_item"]
    assert row["price"] == 9.5
    assert str(row["published"]).startswith("2026-05-01")
    assert as_list(row["colour"]) == ["red"] and as_list(row["topics"]) == ["tea"]
    assert from_json(row["photo"]) == [{"name": "a.png", "url": "https://x/a.png"}]
    assert as_list(row["related"]) == ["b", "c"] and as_list(row["pages"]) == []
    assert row["slug"] == "hello" and json.loads(row["widget"]) == {"x": 1}
    if typed.db.kind == "postgres":  # real types where the database has them
        ((kind,),) = typed.db.query(
            "SELECT data_type FROM information_schema.columns WHERE table_name = 'kontent_type_product' "
            "AND column_name = 'topics'"
        )
        assert kind == "ARRAY"


def test_the_table_follows_the_content_model(typed):
    typed.load([record({"title": ALL_KINDS["title"], "price": ALL_KINDS["price"]})])
    # a new element adds a column; a dropped one keeps its column (the old row keeps its value)
    typed.load([record({"title": ALL_KINDS["title"], "slug": ALL_KINDS["slug"]}, id="i2")])
    assert typed.row("kontent_type_product", "i1")["price"] == 9.5
    new = typed.row("kontent_type_product", "i2")
    assert new["slug"] == "hello" and new["price"] is None
    # a changed kind keeps the old data under a telling name and adds a column of the new kind
    as_number = {"title": {"type": "number", "name": "Title", "value": 42}}
    typed.load([record(as_number, id="i3")])
    columns = typed.columns("kontent_type_product")
    assert "title_was_text" in columns and "title" in columns
    assert typed.row("kontent_type_product", "i1")["title_was_text"] == "Hello"
    assert typed.row("kontent_type_product", "i3")["title"] == 42
    # deleted variants leave the typed table too; content-less changes keep the typed row
    typed.load([record(None, id="i2", change="deleted"), {**record(None, id="i3"), "content_missing": True}])
    assert typed.row("kontent_type_product", "i2") is None
    assert typed.row("kontent_type_product", "i3")["title"] == 42


def test_names_are_normalised_and_collisions_resolved():
    assert normalize_name("Größe (cm)", set()) == "gr_e_cm"
    assert normalize_name("2fa", set()) == "e_2fa"
    assert normalize_name("", set()) == "unnamed"
    assert normalize_name("title", {"title", "title_2"}) == "title_3"
    long = "x" * 80
    first = normalize_name(long, set())
    assert len(first) == 55 and normalize_name(long, {first}) == "x" * 53 + "_2"


def test_typed_tables_are_refused_where_ddl_is_not_transactional(loader_db):
    from airflow_provider_kontent.transfers.sql_dialects import SqlLoadError

    session = loader_db.session()
    tables = MirrorTables(session.dialect)
    ensure_schema(session, tables)
    try:
        if loader_db.kind != "mariadb":
            assert TypedTables(session, tables).table_of == {}
            return
        with pytest.raises(SqlLoadError, match=r"typed_tables=True needs transactional DDL"):
            TypedTables(session, tables)
    finally:
        session.close()
