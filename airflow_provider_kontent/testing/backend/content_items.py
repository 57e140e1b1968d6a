"""Backend operations on content items: variants, workflow, collections, and synthetic bulk changes.

A mixin of :class:`~.store.Backend`. A variant keeps its latest version (what preview serves) and its
published one (what production serves); every change is logged on the hosts whose content it changes
(https://kontent.ai/learn/docs/apis/sync-api-v2: preview sees every workflow change, production only
publishing and withdrawing).
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import replace
from typing import Any

from airflow_provider_kontent.testing.backend.changelog import CHANGED, DELETED, PREVIEW, PRODUCTION, TYPE
from airflow_provider_kontent.testing.backend.errors import NOT_FOUND, BackendError
from airflow_provider_kontent.testing.backend.limits import check_variant_content
from airflow_provider_kontent.testing.backend.model import (
    ContentType,
    Environment,
    Item,
    Variant,
    VariantVersion,
)


class ItemOperations:
    """Items and their language variants (``self`` is the Backend)."""

    # ------------------------------------------------------------------------------- codename index

    def _item_by_codename(self, env: Environment, codename: str) -> Item | None:
        """``env.item_by_codename`` in O(1): a per-environment index kept by the backend's own mutations
        (big ``bulk`` imports would otherwise be quadratic); a stale hit falls back to the scan."""
        index = self._codenames.get(env.id)
        if index is None:
            index = self._codenames[env.id] = {}
            for item in env.items.values():
                index.setdefault(item.codename, item)
        item = index.get(codename)
        if item is not None and (item.codename != codename or env.items.get(item.id) is not item):
            return env.item_by_codename(codename)
        return item

    def _index_item(self, env: Environment, item: Item, old_codename: str | None = None) -> None:
        index = self._codenames.get(env.id)
        if index is None:  # built from env.items on first use
            return
        if old_codename is not None and old_codename != item.codename and index.get(old_codename) is item:
            del index[old_codename]
        index[item.codename] = item

    def _unindex_item(self, env: Environment, item: Item) -> None:
        index = self._codenames.get(env.id)
        if index is not None and index.get(item.codename) is item:
            del index[item.codename]

    def _find_item(self, env: Environment, ref: str, field: str = "item_id") -> Item:
        item = env.items.get(ref) or self._item_by_codename(env, ref)
        if item is None:
            raise BackendError(field, f"content item {ref!r} does not exist", NOT_FOUND)
        return item

    @staticmethod
    def _find_variant(item: Item, language: str) -> Variant:
        variant = item.variants.get(language)
        if variant is None or variant.latest is None:
            raise BackendError("language", f"item {item.codename!r} has no {language!r} variant", NOT_FOUND)
        return variant

    def _variant(self, env_id: str, item_id: str, language: str) -> tuple[Environment, Item, Variant]:
        env = self._env(env_id)
        item = self._find_item(env, item_id)
        return env, item, self._find_variant(item, language)

    # -------------------------------------------------------------------------------------- writing

    def upsert_item(
        self,
        env_id: str,
        codename: str,
        type: str,
        language: str,
        elements: dict[str, Any] | None = None,
        name: str | None = None,
        collection: str | None = None,
        id: str | None = None,
        publish: bool = True,
        workflow_step: str | None = None,
        is_component: bool = False,
    ) -> str:
        env = self._env(env_id)
        ctype = env.type_by_codename(type)
        if ctype is None:
            raise BackendError("type", f"content type {type!r} does not exist")
        lang = env.language(language)
        if lang is None or not lang.active:
            raise BackendError("language", f"language {language!r} does not exist or is not active")
        for element in elements or {}:
            if element not in ctype.elements:
                raise BackendError(
                    f"elements.{element}", f"content type {ctype.codename!r} has no such element"
                )
        if workflow_step == "archived" and publish:
            raise BackendError("workflow_step", "'archived' cannot be combined with publish=true")
        item = env.items.get(id) if id else self._item_by_codename(env, codename)
        clash = self._item_by_codename(env, codename)
        if clash is not None and clash is not item:
            raise BackendError("codename", f"another item already uses codename {codename!r}")
        if item is not None and item.type_id != ctype.id:
            raise BackendError(
                "type", f"item {item.codename!r} is of another content type; types cannot change"
            )
        previous = item.variants.get(language) if item is not None else None
        merged = dict(previous.latest.elements) if previous is not None and previous.latest else {}
        merged.update(elements or {})
        check_variant_content(ctype.elements, merged)
        if item is None:
            item = Item(id or str(uuid.uuid4()), codename, ctype.id, collection or "default", is_component)
            env.items[item.id] = item
            self._index_item(env, item)
        else:
            old_codename, item.codename = item.codename, codename
            self._index_item(env, item, old_codename)
            if collection is not None and collection != item.collection:
                self._move(env, item, collection)
        published = publish or workflow_step == "published"
        self._write_variant(env, item, language, elements, name, published, workflow_step)
        if workflow_step == "archived":
            self._withdraw(env, item, language, item.variants[language], "archived")
        return item.id

    def _write_variant(
        self,
        env: Environment,
        item: Item,
        language: str,
        elements: dict[str, Any] | None,
        name: str | None,
        publish: bool,
        step: str | None,
    ) -> None:
        variant = item.variants.get(language)
        if variant is None:
            variant = item.variants[language] = Variant(language)
        previous = variant.latest
        merged = dict(previous.elements) if previous else {}
        if elements:
            merged.update(copy.deepcopy(elements))
        if publish:
            step = "published"
        elif step is None or step in ("published", "archived"):
            step = "draft"
        version = VariantVersion(
            name=name or (previous.name if previous else item.codename),
            elements=merged,
            last_modified=self.clock.now(),
            workflow_step=step,
        )
        variant.latest = version
        self._record_variant(env, PREVIEW, item, language, CHANGED, version)
        if publish:
            variant.published = replace(version, elements=dict(version.elements))
            self._record_variant(env, PRODUCTION, item, language, CHANGED, variant.published)

    # ------------------------------------------------------------------------------------- workflow

    def _publish(self, env: Environment, item: Item, language: str, variant: Variant) -> None:
        variant.latest = replace(variant.latest, workflow_step="published", last_modified=self.clock.now())
        variant.published = replace(variant.latest, elements=dict(variant.latest.elements))
        self._record_variant(env, PREVIEW, item, language, CHANGED, variant.latest)
        self._record_variant(env, PRODUCTION, item, language, CHANGED, variant.published)

    def _withdraw(self, env: Environment, item: Item, language: str, variant: Variant, step: str) -> None:
        was_published = variant.published
        variant.published = None
        variant.latest = replace(variant.latest, workflow_step=step, last_modified=self.clock.now())
        self._record_variant(env, PREVIEW, item, language, CHANGED, variant.latest)
        if was_published is not None:
            self._record_variant(env, PRODUCTION, item, language, DELETED, was_published)

    def publish(self, env_id: str, item_id: str, language: str) -> None:
        env, item, variant = self._variant(env_id, item_id, language)
        self._publish(env, item, language, variant)

    def unpublish(self, env_id: str, item_id: str, language: str) -> None:
        env, item, variant = self._variant(env_id, item_id, language)
        if variant.published is None:
            raise BackendError("language", f"the {language!r} variant of {item.codename!r} is not published")
        self._withdraw(env, item, language, variant, "draft")

    def archive(self, env_id: str, item_id: str, language: str) -> None:
        env, item, variant = self._variant(env_id, item_id, language)
        self._withdraw(env, item, language, variant, "archived")

    def change_workflow_step(self, env_id: str, item_id: str, language: str, step: str) -> None:
        env, item, variant = self._variant(env_id, item_id, language)
        if step == "published":
            self._publish(env, item, language, variant)
        elif step == "archived":
            self._withdraw(env, item, language, variant, "archived")
        else:
            variant.latest = replace(variant.latest, workflow_step=step, last_modified=self.clock.now())
            self._record_variant(env, PREVIEW, item, language, CHANGED, variant.latest)

    # ------------------------------------------------------------------------------ removing, moving

    def delete_variant(self, env_id: str, item_id: str, language: str) -> None:
        env, item, variant = self._variant(env_id, item_id, language)
        self._delete_variant(env, item, language, variant)

    def _delete_variant(self, env: Environment, item: Item, language: str, variant: Variant) -> None:
        if variant.latest is not None:
            self._record_variant(env, PREVIEW, item, language, DELETED, variant.latest)
        if variant.published is not None:
            self._record_variant(env, PRODUCTION, item, language, DELETED, variant.published)
        del item.variants[language]

    def delete_item(self, env_id: str, item_id: str) -> None:
        env = self._env(env_id)
        item = self._find_item(env, item_id)
        for language, variant in list(item.variants.items()):
            self._delete_variant(env, item, language, variant)
        del env.items[item.id]
        self._unindex_item(env, item)

    def move_item(self, env_id: str, item_id: str, collection: str) -> None:
        env = self._env(env_id)
        item = self._find_item(env, item_id)
        if collection != item.collection:
            self._move(env, item, collection)

    def _move(self, env: Environment, item: Item, collection: str) -> None:
        item.collection = collection
        for language, variant in item.variants.items():
            if variant.latest is not None:
                self._record_variant(env, PREVIEW, item, language, CHANGED, variant.latest)
            if variant.published is not None:
                self._record_variant(env, PRODUCTION, item, language, CHANGED, variant.published)

    # ------------------------------------------------------------------------------ synthetic changes

    def generate_changes(
        self,
        env_id: str,
        count: int,
        type: str = "article",
        language: str | None = None,
        publish: bool = True,
    ) -> int:
        env = self._env(env_id)
        lang = (
            self._find_language(env, language, "language") if language is not None else env.default_language
        )
        ctype = env.type_by_codename(type)
        if ctype is None:
            ctype = ContentType(
                str(uuid.uuid4()), type, type.replace("_", " ").title(), self.clock.now(),
                {"title": {"type": "text", "name": "Title"}},
            )  # fmt: skip
            env.types[ctype.id] = ctype
            self._record_definition(env, TYPE, ctype, CHANGED)
        for _ in range(count):
            self._generated += 1
            item = Item(str(uuid.uuid4()), f"generated_{self._generated}", ctype.id)
            env.items[item.id] = item
            self._index_item(env, item)
            title = {"title": f"Generated item {self._generated}"} if "title" in ctype.elements else None
            self._write_variant(
                env, item, lang.codename, title, f"Generated {self._generated}", publish, None
            )
        return count
