"""Kontent.ai's documented technical limits that the emulator can reach, and the checks that enforce them.

Source: https://kontent.ai/learn/docs/architecture/technical-limits (environment and content limits) and
https://kontent.ai/learn/docs/apis/delivery-api/api-limitations (response size, URL length, rate limits).
Management-side limits (languages, elements per type, element and variant sizes) are refused by the
control API with 400 naming the field, as Kontent.ai refuses them when content is written.
"""

from __future__ import annotations

import json
import re
from typing import Any

from airflow_provider_kontent.testing.backend.errors import BackendError

MAX_LANGUAGES = 50  # languages per environment
MAX_TYPE_ELEMENTS = 250  # elements per content type
MAX_TEXT_CHARS = 100_000  # text and rich text elements
MAX_CUSTOM_CHARS = 200_000  # custom elements
MAX_LINKED_ITEMS = 1_000  # linked items (modular_content / subpages) per variant
MAX_VARIANT_BYTES = 450 * 1024  # one language variant's content
MAX_RESPONSE_ITEMS = 2_000  # Delivery: items + modular_content per response
DEFAULT_URL_MAX_LENGTH = 2_000  # Delivery REST URLs
RATE_PER_SECOND = 100  # uncached requests per environment (deliver + preview)
RATE_PER_MINUTE = 2_000

TECHNICAL_LIMITS = "https://kontent.ai/learn/docs/architecture/technical-limits"
_MARKUP = re.compile(r"<[^>]*>")


def check_language_count(field: str, count: int) -> None:
    if count > MAX_LANGUAGES:
        raise BackendError(
            field,
            f"an environment can have at most {MAX_LANGUAGES} languages; got {count} ({TECHNICAL_LIMITS})",
        )


def check_type_elements(field: str, count: int) -> None:
    if count > MAX_TYPE_ELEMENTS:
        raise BackendError(
            field,
            f"a content type can have at most {MAX_TYPE_ELEMENTS} elements; got {count} ({TECHNICAL_LIMITS})",
        )


def check_variant_content(definitions: dict[str, dict[str, Any]], elements: dict[str, Any]) -> None:
    """Per-element size limits, the linked-items limit and the variant size limit of one variant."""
    linked = 0
    for codename, value in elements.items():
        kind = definitions.get(codename, {}).get("type")
        field = f"elements.{codename}"
        if kind in ("text", "rich_text"):
            text = value.get("value") if isinstance(value, dict) else value
            if isinstance(text, str) and kind == "rich_text":
                text = _MARKUP.sub("", text)  # rich text counts its text, not its HTML markup
            if isinstance(text, str) and len(text) > MAX_TEXT_CHARS:
                raise BackendError(
                    field, f"{kind} elements hold at most {MAX_TEXT_CHARS:,} characters; got {len(text):,}"
                )
        elif kind == "custom" and isinstance(value, str) and len(value) > MAX_CUSTOM_CHARS:
            raise BackendError(
                field, f"custom elements hold at most {MAX_CUSTOM_CHARS:,} characters; got {len(value):,}"
            )
        elif kind in ("modular_content", "subpages") and isinstance(value, list):
            linked += len(value)
            if linked > MAX_LINKED_ITEMS:
                raise BackendError(
                    field, f"a variant can link at most {MAX_LINKED_ITEMS:,} items; got {linked:,}"
                )
    size = len(json.dumps(elements, separators=(",", ":"), default=str).encode("utf-8"))
    if size > MAX_VARIANT_BYTES:
        raise BackendError(
            "elements", f"a language variant holds at most 450 kB of content; got {size / 1024:.0f} kB"
        )
