"""Which version of an item a host serves in a language: fallback chains and published vs latest.

Kontent.ai's language fallbacks (https://kontent.ai/learn/docs/apis/delivery-api/languages): a request
for language L gets the variant in L, else in the first language of L's fallback chain that has one;
inactive languages serve nothing. Production serves the published version, preview the latest one.
Both the Delivery API and Sync v1's ``language`` filter follow these rules.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_kontent.testing.backend.model import Environment, Item, VariantVersion


def served_version(variant: Any, preview: bool) -> VariantVersion | None:
    """The version a host serves: preview serves the latest, production the published one."""
    if variant is None:
        return None
    return variant.latest if preview else variant.published


def version_in(item: Item, language: str, preview: bool) -> VariantVersion | None:
    """The version of ``item`` in exactly ``language`` that the host can serve (no fallbacks)."""
    return served_version(item.variants.get(language), preview)


def serving_chain(env: Environment, language: str) -> list[str]:
    """The fallback chain of ``language`` without inactive languages (Kontent.ai serves nothing in them)."""
    chain = []
    for codename in env.fallback_chain(language):
        lang = env.language(codename)
        if lang is None or lang.active:
            chain.append(codename)
    return chain


def resolve_in_chain(item: Item, chain: list[str], preview: bool) -> tuple[str | None, VariantVersion | None]:
    """The first language of ``chain`` in which the host can serve ``item``, with that version."""
    variants = item.variants
    for codename in chain:
        variant = variants.get(codename)
        if variant is not None:
            version = variant.latest if preview else variant.published
            if version is not None:
                return codename, version
    return None, None


def resolve_language(
    env: Environment, item: Item, language: str, preview: bool
) -> tuple[str | None, VariantVersion | None]:
    """Walk the fallback chain of ``language``; return ``(served_language, version)`` or ``(None, None)``."""
    return resolve_in_chain(item, serving_chain(env, language), preview)
