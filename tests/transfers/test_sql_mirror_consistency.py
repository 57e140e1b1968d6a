"""The SQL mirror stays equal to what the Delivery API serves, edit after edit, on SQLite and PostgreSQL.

Sync v2 reports only the object that changed. These steps change things items depend on (a type's
codename, an element's name, a taxonomy term's name, a language, a rich-text component) besides the
plain edits, and check after each one that the ``items`` table equals ``/items-feed`` per active
language, item by item, and that the typed tables hold the same titles.

``KontentToSqlOperator`` does every load (token in the destination); the pull is the provider's drain
(what ``KontentSyncPullOperator`` runs), so no scheduler run is needed per step.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_kontent.client import ClientConfig, KontentClient, item_content
from airflow_provider_kontent.client.dependents import is_component_record
from airflow_provider_kontent.drain import drain
from airflow_provider_kontent.handoff import XComSink
from airflow_provider_kontent.tokens import TokenRecord
from airflow_provider_kontent.transfers.kontent_to_sql import KontentToSqlOperator
from airflow_provider_kontent.transfers.sql_dialects import from_json
from airflow_provider_kontent.transfers.sql_token_store import SqlTokenStore

TOPICS = [{"codename": "coffee", "name": "Coffee"}, {"codename": "tea", "name": "Tea"}]


def article_elements(title_name: str = "Title") -> dict[str, dict[str, Any]]:
    return {
        "title": {"type": "text", "name": title_name},
        "body": {"type": "rich_text", "name": "Body"},
        "topics": {"type": "taxonomy", "name": "Topics", "taxonomy_group": "topics"},
    }


def component_codename(component_id: str) -> str:
    """Kontent names a rich-text component ``n`` + its id with underscores."""
    return "n" + component_id.replace("-", "_")


def component_html(component_id: str) -> str:
    return (
        '<p>Intro</p><object type="application/kenticocloud" data-type="item" data-rel="component" '
        f'data-codename="{component_codename(component_id)}"></object>'
    )


class Mirror:
    """One environment, its mirror database and the operator, stepped edit by edit."""

    def __init__(self, emulator: Any, monkeypatch: pytest.MonkeyPatch, db: Any) -> None:
        self.ctl = emulator.control
        env = self.ctl.create_environment(
            languages=[{"codename": "en-US", "name": "English"}, {"codename": "de", "name": "German"}],
            feed_page_size=3,  # several feed pages per language
        )
        self.env_id = env["id"]
        self.db = db
        connection = {
            "conn_type": "kontent",
            "host": emulator.base_url,
            "extra": {"environment_id": self.env_id},
        }
        monkeypatch.setenv("AIRFLOW_CONN_KONTENT_DEFAULT", json.dumps(connection))
        self.client = KontentClient(ClientConfig(self.env_id, base_url=emulator.base_url))
        self.store = SqlTokenStore(db.conn_id, key="kontent_default")
        self.token = ""
        self.runs = 0

    def close(self) -> None:
        self.client.close()

    def operator(self, source: dict[str, Any]) -> dict[str, Any]:
        load = KontentToSqlOperator(
            task_id="load", source=source, sql_conn_id=self.db.conn_id, token_store="sql", typed_tables=True
        )
        return load.execute({"run_id": f"run-{self.runs}"})

    def active_languages(self) -> list[str]:
        env = self.ctl.get_environment(self.env_id)
        return [lang["codename"] for lang in env["languages"] if lang.get("active", True)]

    def served(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """``(language, content)`` of every variant the items-feed serves per active language."""
        for language in self.active_languages():
            for page in self.client.iter_items_feed_pages(language):
                for item in page.items:
                    yield language, item_content(item, page.modular_content)

    def start(self) -> dict[str, Any]:
        """Sync init, then a snapshot of every variant (what the init operator exports) loaded."""
        self.token = self.client.init_sync(api_version=2)
        self.store.save(TokenRecord.new(self.token, environment_id=self.env_id, mode="public", api_version=2))
        records = [
            {
                "kind": "item",
                "change_type": "changed",
                "id": content["item"]["system"]["id"],
                "language": content["item"]["system"]["language"],
                "system": content["item"]["system"],
                "content": content,
                "content_missing": False,
            }
            for _, content in self.served()
        ]
        snapshot = {"records": records, "languages": self.active_languages()}
        return self.operator({"token": self.token, "filters": {}, "snapshot": snapshot})

    def pull(self) -> dict[str, Any]:
        sink = XComSink(10_000_000)
        result = drain(self.client, self.token, sink, include_content=True)
        return {
            "records": sink.finalize(),
            "counts": sink.counts.to_dict(),
            "previous_token": self.token,
            "next_token": result.next_token,
        }

    def sync(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """One DAG run's pull + load (the load advances the token in the destination)."""
        self.runs += 1
        summary = self.pull()
        result = self.operator(summary)
        assert result["applied"] is True
        self.token = summary["next_token"]
        assert self.store.load().token == self.token
        return summary, result

    def mirror_rows(self) -> dict[tuple[str, str], dict[str, Any]]:
        rows = self.db.query(
            'SELECT id, language, codename, type, elements, modular_content FROM "kontent_items"'
        )
        return {
            (id_, language): {
                "codename": codename,
                "type": type_,
                "elements": from_json(elements),
                "modular_content": from_json(modular) or {},
            }
            for id_, language, codename, type_, elements, modular in rows
        }

    def delivery_rows(self) -> dict[tuple[str, str], dict[str, Any]]:
        served = {}
        for language, content in self.served():
            system = content["item"]["system"]
            served[(system["id"], language)] = {
                "codename": system["codename"],
                "type": system["type"],
                "elements": content["item"]["elements"],
                "modular_content": content["modular_content"],
            }
        return served

    def typed_titles(self) -> dict[tuple[str, str], Any]:
        """``(id, language) -> title`` from every typed table that has a title column."""
        titles = {}
        registry = self.db.query(
            'SELECT t.table_name, c.column_name FROM "kontent_typed_tables" t JOIN "kontent_typed_columns" c '
            "ON c.type_codename = t.type_codename WHERE c.element_codename = 'title'"
        )
        for table, column in registry:
            for id_, language, title in self.db.query(f'SELECT id, language, "{column}" FROM "{table}"'):
                titles[(id_, language)] = title
        return titles

    def assert_in_sync(self, step: str) -> dict[tuple[str, str], dict[str, Any]]:
        mirror, served = self.mirror_rows(), self.delivery_rows()
        assert sorted(mirror) == sorted(served), step
        for key, expected in served.items():
            assert mirror[key] == expected, f"{step}: {key}"
        titles = {key: row["elements"]["title"]["value"] for key, row in served.items()}
        assert self.typed_titles() == titles, step
        return mirror

    def by_codename(self, codename: str, language: str = "en-US") -> dict[str, Any]:
        rows = [
            row
            for (_, lang), row in self.mirror_rows().items()
            if row["codename"] == codename and lang == language
        ]
        assert len(rows) == 1, (codename, language)
        return rows[0]


@pytest.fixture
def mirror(kontent_emulator, monkeypatch, sql_db):
    mirror = Mirror(kontent_emulator, monkeypatch, sql_db)
    yield mirror
    mirror.close()


def test_mirror_equals_delivery_after_every_kind_of_edit(mirror):
    ctl, env_id = mirror.ctl, mirror.env_id
    ctl.upsert_taxonomy(env_id, "topics", name="Topics", terms=TOPICS)
    ctl.upsert_type(env_id, "article", name="Article", elements=article_elements())
    ctl.upsert_type(env_id, "page", name="Page", elements={"title": {"type": "text", "name": "Title"}})
    ctl.upsert_type(env_id, "callout", name="Callout", elements={"text": {"type": "text", "name": "Text"}})
    callout_id = str(uuid.uuid4())
    ctl.upsert_item(
        env_id, "callout", "callout", "en-US", id=callout_id, is_component=True, elements={"text": "Note"}
    )
    ctl.upsert_item(
        env_id,
        "first",
        "article",
        "en-US",
        elements={"title": "First", "body": component_html(callout_id), "topics": ["coffee"]},
    )
    ctl.upsert_item(env_id, "first", "article", "de", elements={"title": "Erste", "topics": ["tea"]})
    ctl.upsert_item(env_id, "about", "page", "en-US", elements={"title": "About"})
    for n in range(3):
        ctl.upsert_item(env_id, f"filler_{n}", "page", "en-US", elements={"title": f"Filler {n}"})

    loaded = mirror.start()
    assert loaded["applied"] is True and loaded["source"] == "snapshot"
    mirror.assert_in_sync("snapshot")
    callout = component_codename(callout_id)
    assert mirror.by_codename("first")["modular_content"][callout]["elements"]["text"]["value"] == "Note"

    ctl.upsert_item(env_id, "second", "article", "en-US", elements={"title": "Second", "topics": ["tea"]})
    mirror.sync()
    mirror.assert_in_sync("create")

    ctl.upsert_item(env_id, "first", "article", "en-US", elements={"title": "First, edited"})
    mirror.sync()
    mirror.assert_in_sync("update")
    assert mirror.by_codename("first")["elements"]["title"]["value"] == "First, edited"

    ctl.unpublish(env_id, "about", "en-US")
    mirror.sync()
    mirror.assert_in_sync("unpublish")

    ctl.delete_item(env_id, "second")
    mirror.sync()
    mirror.assert_in_sync("delete")

    ctl.upsert_item(env_id, "filler_0", "page", "de", elements={"title": "Füller"})
    mirror.sync()
    mirror.assert_in_sync("new language variant")

    ctl.rename_type(env_id, "article", "story")
    _, result = mirror.sync()
    rows = mirror.assert_in_sync("type rename")
    assert {row["type"] for row in rows.values() if row["codename"] == "first"} == {"story"}
    assert result["refreshed"]["upserts"] >= 2  # both variants of "first" were re-read
    # the renamed type keeps its typed table
    assert mirror.db.query(
        'SELECT type_codename, table_name FROM "kontent_typed_tables" WHERE table_name = ?',
        ("kontent_type_article",),
    ) == [("story", "kontent_type_article")]

    ctl.upsert_type(env_id, "story", elements=article_elements(title_name="Headline"))
    mirror.sync()
    mirror.assert_in_sync("element rename")
    assert mirror.by_codename("first")["elements"]["title"]["name"] == "Headline"

    ctl.upsert_taxonomy(env_id, "topics", terms=[{"codename": "coffee", "name": "Coffee beans"}, TOPICS[1]])
    mirror.sync()
    mirror.assert_in_sync("term rename")
    assert mirror.by_codename("first")["elements"]["topics"]["value"] == [
        {"codename": "coffee", "name": "Coffee beans"}
    ]

    ctl.upsert_language(env_id, "de", name="German", active=False)
    _, result = mirror.sync()
    rows = mirror.assert_in_sync("language deactivation")
    assert {language for _, language in rows} == {"en-US"}
    assert result["deletes"] == {"language": 1, "item": 2}  # first (de) and filler_0 (de)

    ctl.upsert_item(
        env_id, "callout", "callout", "en-US", id=callout_id, is_component=True, elements={"text": "New"}
    )
    summary, result = mirror.sync()
    assert [is_component_record(r) for r in summary["records"]] == [True]  # Sync reported the component
    rows = mirror.assert_in_sync("component edit")
    assert (callout_id, "en-US") not in rows  # never stored as an item of its own
    assert mirror.by_codename("first")["modular_content"][callout]["elements"]["text"]["value"] == "New"
    assert result["refreshed"]["components"] == 1 and result["upserts"] == {}

    # at-least-once with another token store: the same changes loaded again change nothing
    before = mirror.mirror_rows()
    replay = KontentToSqlOperator(task_id="replay", source=summary, sql_conn_id=mirror.db.conn_id)
    assert replay.execute({"run_id": "replay"})["applied"] is True
    assert mirror.mirror_rows() == before
