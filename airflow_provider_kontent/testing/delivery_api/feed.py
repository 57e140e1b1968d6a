"""``GET /{env}/items-feed``: a full export in pages, continued by a keyset ``X-Continuation`` token.

https://kontent.ai/learn/docs/apis/delivery-api/items-feed guarantees every item is enumerated; the
token carries the sort position of the last item sent, checksummed with the environment, host and
exact query, so changes during an export never make it skip or repeat an unchanged item.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from airflow_provider_kontent.testing.delivery_api.items import Assembler
from airflow_provider_kontent.testing.delivery_api.query_filters import (
    Order,
    parse_filters,
    parse_order,
    sort_key,
)
from airflow_provider_kontent.testing.delivery_api.request import (
    CONTINUATION_HEADER,
    REQUEST_CHARGE_HEADER,
    DeliveryError,
    DeliveryRequest,
    Response,
)
from airflow_provider_kontent.testing.delivery_api.selection import Served, select, subject
from airflow_provider_kontent.testing.kontent_errors import INVALID_CONTINUATION

# Paging is keyset, not offset: a continuation token carries the sort position of the last item sent
# (order key, codename, id), and the next page starts at the first selected item after it. Kontent.ai
# guarantees that an items-feed export enumerates every item; with an offset, a delete before the
# position would shift later items back and skip one that never changed. An item whose position moves
# behind the cursor after it was sent is not sent again (the Sync API reports such changes).

Position = tuple[tuple[Any, ...], str, str]


def _position(request: DeliveryRequest, served: Served, order: Order) -> Position:
    """Where ``served`` sits in a selection sorted by ``order`` (see :func:`select_now`)."""
    key = sort_key(subject(request, served, order.scope, order.prop))
    return key, served.item.codename, served.item.id


def _compare(a: Position, b: Position, descending: bool) -> int:
    """-1/0/1 in selection order: present values first (ascending or descending), missing ones last,
    ties by codename then id ascending in both directions."""
    (key_a, *tie_a), (key_b, *tie_b) = a, b
    if key_a[0] != key_b[0]:
        return -1 if key_a[0] < key_b[0] else 1
    if key_a != key_b:
        result = -1 if key_a < key_b else 1
        return -result if descending else result
    return (tie_a > tie_b) - (tie_a < tie_b)


def _first_after(request: DeliveryRequest, selected: list[Served], order: Order, cursor: Position) -> int:
    """Index of the first selected item strictly after ``cursor`` (binary search: O(log n) positions)."""
    low, high = 0, len(selected)
    while low < high:
        middle = (low + high) // 2
        if _compare(_position(request, selected[middle], order), cursor, order.descending) <= 0:
            low = middle + 1
        else:
            high = middle
    return low


def _checksum(request: DeliveryRequest, cursor: Any) -> str:
    """Binds a continuation token to its environment, host and exact query (clients resend it unchanged)
    and guards the cursor against edits."""
    canonical = json.dumps([request.env.id, request.preview, request.query, cursor], separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _encode_continuation(request: DeliveryRequest, cursor: Position) -> str:
    key, codename, item_id = cursor
    body = [list(key), codename, item_id]
    raw = json.dumps({"k": body, "c": _checksum(request, body)}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _valid_key(key: Any) -> bool:
    """A sort key as :func:`query_filters.sort_key` builds it: ``[1]`` or ``[0, 0, number]`` / ``[0, 1, str]``."""
    if key == [1]:
        return True
    if not isinstance(key, list) or len(key) != 3 or key[0] != 0 or key[1] not in (0, 1):
        return False
    value = key[2]
    if key[1] == 0:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, str)


def _decode_continuation(request: DeliveryRequest, token: str) -> Position:
    cursor: Position | None = None
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        body = data["k"]
        if (
            isinstance(body, list)
            and len(body) == 3
            and _valid_key(body[0])
            and all(isinstance(part, str) for part in body[1:])
            and data["c"] == _checksum(request, body)
        ):
            cursor = (tuple(body[0]), body[1], body[2])
    except (ValueError, TypeError, KeyError, binascii.Error, UnicodeError):
        cursor = None
    if cursor is None:
        raise DeliveryError(
            400,
            "The continuation token specified in the 'X-Continuation' request header is malformed or "
            "belongs to a different query.",
            INVALID_CONTINUATION,
        )
    return cursor


def items_feed(request: DeliveryRequest) -> Response:
    filters = parse_filters(request.query)
    order = parse_order(request.param("order"))
    token = (request.header(CONTINUATION_HEADER) or "").strip()
    cursor = _decode_continuation(request, token) if token else None
    selected = select(request, filters, order)
    start = 0 if cursor is None else _first_after(request, selected, order, cursor)
    page_size = max(1, request.env.feed_page_size)
    page = selected[start : start + page_size]
    assembler = Assembler(request, depth=0, linked=False)
    items = assembler.items(page)
    headers = {REQUEST_CHARGE_HEADER: str(len(items) + len(assembler.modular_content))}
    if start + page_size < len(selected):
        headers[CONTINUATION_HEADER] = _encode_continuation(request, _position(request, page[-1], order))
    return 200, {"items": items, "modular_content": assembler.modular_content}, headers
