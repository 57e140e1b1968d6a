"""Backend operations on the content model: content types, taxonomy groups and languages.

A mixin of :class:`~.store.Backend`; arguments arrive validated in shape (``control/operations.py``),
so what is checked here depends on the environment: existence, codename clashes, documented limits.
Every change is logged to both hosts (model changes are not workflow-bound).
"""

from __future__ import annotations

import uuid
from typing import Any

from airflow_provider_kontent.testing.backend.changelog import CHANGED, DELETED, LANGUAGE, TAXONOMY, TYPE
from airflow_provider_kontent.testing.backend.errors import NOT_FOUND, BackendError
from airflow_provider_kontent.testing.backend.limits import check_language_count, check_type_elements
from airflow_provider_kontent.testing.backend.model import ContentType, Environment, Language, TaxonomyGroup
from airflow_provider_kontent.testing.backend.snapshots import language_dict, taxonomy_dict, type_dict


class ModelOperations:
    """Types, taxonomies and languages (``self`` is the Backend)."""

    # ------------------------------------------------------------------------------------------ types

    @staticmethod
    def _type_elements(elements: dict[str, dict[str, Any]] | None) -> dict[str, dict[str, Any]]:
        if elements is None:
            return {}
        check_type_elements("elements", len(elements))
        checked = {}
        for codename, spec in elements.items():
            definition = {k: v for k, v in spec.items() if v is not None}
            definition["name"] = spec.get("name") or codename
            checked[codename] = definition
        return checked

    def _find_type(self, env: Environment, ref: str, field: str) -> ContentType:
        ctype = env.types.get(ref) or env.type_by_codename(ref)
        if ctype is None:
            raise BackendError(field, f"content type {ref!r} does not exist", NOT_FOUND)
        return ctype

    def upsert_type(
        self,
        env_id: str,
        codename: str,
        name: str | None = None,
        elements: dict[str, dict[str, Any]] | None = None,
        id: str | None = None,
    ) -> dict[str, Any]:
        env = self._env(env_id)
        by_codename = env.type_by_codename(codename)
        existing = env.types.get(id) if id else by_codename
        if by_codename is not None and by_codename is not existing:
            raise BackendError("codename", f"another content type already uses codename {codename!r}")
        checked = self._type_elements(elements)
        now = self.clock.now()
        if existing is None:
            existing = ContentType(id or str(uuid.uuid4()), codename, name or codename, now, checked)
            env.types[existing.id] = existing
        else:
            existing.codename = codename
            existing.name = name or existing.name
            if elements is not None:
                existing.elements = checked
            existing.last_modified = now
        self._record_definition(env, TYPE, existing, CHANGED)
        return type_dict(existing)

    def rename_type(self, env_id: str, type_id_or_codename: str, new_codename: str) -> dict[str, Any]:
        env = self._env(env_id)
        ctype = self._find_type(env, type_id_or_codename, "type_id_or_codename")
        clash = env.type_by_codename(new_codename)
        if clash is not None and clash is not ctype:
            raise BackendError("new_codename", f"another content type already uses codename {new_codename!r}")
        ctype.codename = new_codename
        ctype.last_modified = self.clock.now()
        self._record_definition(env, TYPE, ctype, CHANGED)
        return type_dict(ctype)

    def delete_type(self, env_id: str, codename: str) -> None:
        env = self._env(env_id)
        ctype = self._find_type(env, codename, "codename")
        used = sum(1 for item in env.items.values() if item.type_id == ctype.id)
        if used:
            raise BackendError(
                "codename", f"content type {codename!r} is used by {used} item(s); delete them first"
            )
        del env.types[ctype.id]
        self._record_definition(env, TYPE, ctype, DELETED)

    # ------------------------------------------------------------------------------------- taxonomies

    @staticmethod
    def _terms(terms: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
        return [
            {
                "name": term.get("name") or term["codename"],
                "codename": term["codename"],
                "terms": ModelOperations._terms(term.get("terms")),
            }
            for term in terms or []
        ]

    def upsert_taxonomy(
        self,
        env_id: str,
        codename: str,
        name: str | None = None,
        terms: list[dict[str, Any]] | None = None,
        id: str | None = None,
    ) -> dict[str, Any]:
        env = self._env(env_id)
        by_codename = env.taxonomy_by_codename(codename)
        existing = env.taxonomies.get(id) if id else by_codename
        if by_codename is not None and by_codename is not existing:
            raise BackendError("codename", f"another taxonomy group already uses codename {codename!r}")
        checked = self._terms(terms)
        now = self.clock.now()
        if existing is None:
            existing = TaxonomyGroup(id or str(uuid.uuid4()), codename, name or codename, now, checked)
            env.taxonomies[existing.id] = existing
        else:
            existing.codename = codename
            existing.name = name or existing.name
            if terms is not None:
                existing.terms = checked
            existing.last_modified = now
        self._record_definition(env, TAXONOMY, existing, CHANGED)
        return taxonomy_dict(existing)

    def delete_taxonomy(self, env_id: str, codename: str) -> None:
        env = self._env(env_id)
        group = env.taxonomies.get(codename) or env.taxonomy_by_codename(codename)
        if group is None:
            raise BackendError("codename", f"taxonomy group {codename!r} does not exist", NOT_FOUND)
        del env.taxonomies[group.id]
        self._record_definition(env, TAXONOMY, group, DELETED)

    # -------------------------------------------------------------------------------------- languages

    def _record_language(self, env: Environment, lang: Language, change_type: str) -> None:
        system = {"id": lang.id, "name": lang.name, "codename": lang.codename}
        self._record_model(env, LANGUAGE, lang.id, change_type, system)

    def _find_language(self, env: Environment, codename: str, field: str) -> Language:
        lang = env.language(codename)
        if lang is None:
            raise BackendError(field, f"language {codename!r} does not exist", NOT_FOUND)
        return lang

    def upsert_language(
        self,
        env_id: str,
        codename: str,
        name: str | None = None,
        fallback: str | None = None,
        active: bool = True,
        id: str | None = None,
    ) -> dict[str, Any]:
        env = self._env(env_id)
        if fallback is not None and (fallback == codename or env.language(fallback) is None):
            raise BackendError("fallback", f"must name another existing language; got {fallback!r}")
        lang = env.language(codename)
        if lang is None:
            check_language_count("codename", len(env.languages) + 1)
            lang = Language(id or str(uuid.uuid4()), codename, name or codename, fallback, active)
            env.languages.append(lang)
        else:
            if lang is env.default_language and not active:
                raise BackendError("active", "the default language cannot be deactivated")
            lang.name = name or lang.name
            lang.fallback = fallback if lang is not env.default_language else None
            lang.active = active
        self._record_language(env, lang, CHANGED if active else DELETED)
        return language_dict(lang)

    def rename_language(self, env_id: str, codename: str, new_codename: str) -> dict[str, Any]:
        env = self._env(env_id)
        lang = self._find_language(env, codename, "codename")
        if env.language(new_codename) is not None:
            raise BackendError("new_codename", f"language {new_codename!r} already exists")
        for other in env.languages:
            if other.fallback == codename:
                other.fallback = new_codename
        for item in env.items.values():
            if codename in item.variants:
                variant = item.variants.pop(codename)
                variant.language = new_codename
                item.variants[new_codename] = variant
        lang.codename = new_codename
        self._record_language(env, lang, CHANGED)
        return language_dict(lang)

    def delete_language(self, env_id: str, codename: str) -> None:
        env = self._env(env_id)
        lang = self._find_language(env, codename, "codename")
        if lang is env.default_language:
            raise BackendError("codename", "the default language cannot be deleted")
        used = sum(1 for item in env.items.values() if codename in item.variants)
        if used:
            raise BackendError(
                "codename", f"language {codename!r} has variants in {used} item(s); delete them first"
            )
        env.languages.remove(lang)
        for other in env.languages:
            if other.fallback == codename:
                other.fallback = None
        self._record_language(env, lang, DELETED)
