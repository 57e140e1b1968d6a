"""The reference DAG's SQLite mirror stays equal to what the Delivery API serves, edit after edit.

Sync v2 reports only the object that changed. These steps change things items depend on (a type's
codename, an element's name, a taxonomy term's name, a language, a rich-text component) and check
after each one that ``content_items`` equals ``/items-feed`` per active language, item by item.

The DAG's own task functions (``load_snapshot``, ``load_changes``) do the loading; the pull is the
provider's drain (what ``KontentSyncPullOperator`` runs), so no scheduler run is needed per step.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing
from typing import Any

import pytest
from kontent_sqlite_loader import is_component_record

from airflow_provider_kontent.client import ClientConfig, KontentClient, item_content
from airflow_provider_kontent.handoff import XComSink, drain
from tests.examples.conftest import load_dag, use_emulator_connection

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
    """One environment, its mirror database and the DAG's load functions, stepped edit by edit."""

    def __init__(self, emulator: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
        self.ctl = emulator.control
        env = self.ctl.create_environment(
            languages=[{"codename": "en-US", "name": "English"}, {"codename": "de", "name": "German"}],
            feed_page_size=3,  # several feed pages per language
        )
        self.env_id = env["id"]
        self.db = tmp_path / "mirror.sqlite"
        use_emulator_connection(monkeypatch, emulator.base_url, self.env_id)
        monkeypatch.setenv("AIRFLOW_VAR_KONTENT_SQLITE_PATH", str(self.db))
        monkeypatch.setenv("KONTENT_ENVIRONMENT_ID", self.env_id)
        dag = load_dag("kontent_sync_to_sqlite")
        self.load_snapshot = dag.get_task("load_snapshot").python_callable
        self.load_changes = dag.get_task("load_changes").python_callable
        self.client = KontentClient(ClientConfig(self.env_id, base_url=emulator.base_url))
        self.token = ""
        self.runs = 0

    def close(self) -> None:
        self.client.close()

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
        return self.load_snapshot({"snapshot": {"records": records}}, run_id="run-0")

    def pull(self) -> dict[str, Any]:
        sink = XComSink(10_000_000)
        result = drain(self.client, self.token, sink, include_content=True)
        return {
            "records": sink.finalize(),
            "counts": sink.counts.to_dict(),
            "next_token": result.next_token,
        }

    def sync(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """One DAG run's pull + load_changes (+ the commit: the token moves on)."""
        self.runs += 1
        summary = self.pull()
        result = self.load_changes(summary, run_id=f"run-{self.runs}")
        self.token = summary["next_token"]
        return summary, result

    def mirror_rows(self) -> dict[tuple[str, str], dict[str, Any]]:
        with closing(sqlite3.connect(self.db)) as conn:
            rows = conn.execute(
                "SELECT id, language, codename, type, elements, modular_content FROM content_items"
            ).fetchall()
        return {
            (id_, language): {
                "codename": codename,
                "type": type_,
                "elements": json.loads(elements) if elements else None,
                "modular_content": json.loads(modular or "{}"),
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

    def assert_in_sync(self, step: str) -> dict[tuple[str, str], dict[str, Any]]:
        mirror, served = self.mirror_rows(), self.delivery_rows()
        assert sorted(mirror) == sorted(served), step
        for key, expected in served.items():
            assert mirror[key] == expected, f"{step}: {key}"
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
def mirror(kontent_emulator, monkeypatch, tmp_path):
    mirror = Mirror(kontent_emulator, monkeypatch, tmp_path)
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
    assert loaded["loaded"] is True
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
    assert result["refreshed"]["deletes"] == 2  # first (de) and filler_0 (de)

    ctl.upsert_item(
        env_id, "callout", "callout", "en-US", id=callout_id, is_component=True, elements={"text": "New"}
    )
    summary, result = mirror.sync()
    assert [is_component_record(r) for r in summary["records"]] == [True]  # Sync reported the component
    rows = mirror.assert_in_sync("component edit")
    assert (callout_id, "en-US") not in rows  # never stored as an item of its own
    assert mirror.by_codename("first")["modular_content"][callout]["elements"]["text"]["value"] == "New"
    assert result["refreshed"]["components"] == 1 and result["upserts"] == {}

    # at-least-once: the same changes loaded again (a failed commit, a retried run) change nothing
    before = mirror.mirror_rows()
    mirror.load_changes(summary, run_id=f"run-{mirror.runs}")
    assert mirror.mirror_rows() == before
