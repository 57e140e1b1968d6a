"""Plain-dict snapshots of model objects: what backend operations return (and the control API sends)."""

from __future__ import annotations

import copy
from typing import Any

from airflow_provider_kontent.testing.backend.model import ContentType, Language, TaxonomyGroup


def language_dict(lang: Language) -> dict[str, Any]:
    return {
        "id": lang.id,
        "codename": lang.codename,
        "name": lang.name,
        "fallback": lang.fallback,
        "active": lang.active,
    }


def type_dict(ctype: ContentType) -> dict[str, Any]:
    return {
        "id": ctype.id,
        "codename": ctype.codename,
        "name": ctype.name,
        "last_modified": ctype.last_modified,
        "elements": copy.deepcopy(ctype.elements),
    }


def taxonomy_dict(group: TaxonomyGroup) -> dict[str, Any]:
    return {
        "id": group.id,
        "codename": group.codename,
        "name": group.name,
        "last_modified": group.last_modified,
        "terms": copy.deepcopy(group.terms),
    }
