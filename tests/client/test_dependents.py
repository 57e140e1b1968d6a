"""The client's dependent-refresh rules and the independent count, against the emulator over real HTTP."""

from __future__ import annotations

import pytest

from airflow_provider_kontent.client import KontentClient
from airflow_provider_kontent.client.dependents import (
    IncompleteExportError,
    RefreshPlan,
    check_served,
    read_scope,
    read_variants,
    type_filter,
)
from tests.client.conftest import make_config

TEXT = {"title": {"type": "text", "name": "Title"}}


class Stored:
    """What a mirror holds (the plan's ``MirrorState``)."""

    def __init__(self, codenames=None, active=None):
        self.codenames = codenames or {}
        self.active = active or {}

    def stored_codename(self, kind, entity_id):
        return self.codenames.get((kind, entity_id))

    def language_active(self, language_id):
        return self.active.get(language_id)


def change(kind, codename, *, change_type="changed", id="x1", **extra):
    return {
        "kind": kind,
        "change_type": change_type,
        "id": id,
        "system": {"id": id, "codename": codename},
        **extra,
    }


def test_the_plan_names_what_a_change_makes_stale():
    stored = Stored({("type", "t1"): "article", ("language", "l2"): "de"}, {"l2": False})
    plan = RefreshPlan()
    component = {
        **change("item", "n" + "0b2f3c4d_1111_2222_3333_444455556666"),
        "content_missing": True,
        "language": "en-US",
    }
    assert plan.observe(component, stored) is True  # consumed: a component is never stored
    assert plan.observe(change("type", "story", id="t1"), stored) is False
    plan.observe(change("taxonomy", "topics", id="x1"), stored)
    plan.observe(change("language", "de", id="l2"), stored)  # re-activated
    plan.observe(change("language", "fr", id="l3", change_type="deleted"), stored)
    assert plan.type_codenames == {"t1": {"article", "story"}}
    assert plan.reload_languages == {"de"} and plan.purge_languages == {"fr"}
    bound = {
        "system": {"codename": "page"},
        "elements": {"tags": {"type": "taxonomy", "taxonomy_group": "topics"}},
    }
    assert plan.stale_types([bound]) == {"article", "story", "page"}
    assert plan.components == {("n0b2f3c4d_1111_2222_3333_444455556666", "en-US")}
    assert type_filter({"b", "a"}) == [("system.type[in]", "a,b")]


def test_count_and_reads_agree_and_a_mismatch_refuses(kontent_emulator):
    ctl = kontent_emulator.control
    env = ctl.create_environment(feed_page_size=2)
    ctl.upsert_type(env["id"], "article", elements=TEXT)
    ctl.upsert_type(env["id"], "page", elements=TEXT)
    ids = [
        ctl.upsert_item(env["id"], f"a{n}", "article", "en-US", elements={"title": f"A{n}"}) for n in range(3)
    ]
    ctl.upsert_item(env["id"], "p0", "page", "en-US", elements={"title": "P0"})
    with KontentClient(make_config(env, kontent_emulator.base_url)) as client:
        articles = type_filter(["article"])
        assert client.count_items("en-US") == 4
        assert client.count_items("en-US", extra_params=articles) == 3
        served = list(read_scope(client, "en-US", articles))
        assert sorted(c["item"]["system"]["codename"] for c in served) == ["a0", "a1", "a2"]
        assert check_served(client, "en-US", articles, len(served), "the refresh") == 3
        fetched = list(read_variants(client, "en-US", ids[:2]))
        assert sorted(c["item"]["system"]["codename"] for c in fetched) == ["a0", "a1"]
        ctl.inject_fault("no_continuation", path=r"/items-feed$")
        cut = list(read_scope(client, "en-US", articles))  # the first page looks like the last
        with pytest.raises(
            IncompleteExportError,
            match=r"the refresh holds 2 item\(s\) in language 'en-US' but /items counts 3",
        ):
            check_served(client, "en-US", articles, len(cut), "the refresh")
