"""Kontent.ai's error body and error codes, shared by every emulator API (Sync, Delivery, control).

Kontent.ai answers every failure with ``{message, request_id, error_code, specific_code}``
(https://kontent.ai/learn/docs/apis/delivery-api/errors); every API module builds it here so the shape
can never drift between them.
"""

from __future__ import annotations

import secrets
from typing import Any

# error_code values. 100/101/102/104 (item, type, type element, taxonomy group not found), 6 (response too
# large) and 107 (bad continuation token) are documented by Kontent.ai; the others are the emulator's
# choice where the real service is undocumented.
GENERIC = 0
ROUTE_NOT_FOUND = 1
BAD_QUERY = 2
UNAUTHORIZED = 3
FORBIDDEN = 4
ENVIRONMENT_NOT_FOUND = 5
RESPONSE_TOO_LARGE = 6
ITEM_NOT_FOUND = 100
TYPE_NOT_FOUND = 101
ELEMENT_NOT_FOUND = 102
TAXONOMY_NOT_FOUND = 104
INVALID_CONTINUATION = 107
RATE_LIMITED = 10000

MALFORMED_TOKEN_MESSAGE = (
    "The continuation token specified in the 'X-Continuation' request header is malformed."
)
# Token expiry is undocumented; the emulator's TTL knob answers like a malformed token.
EXPIRED_TOKEN_MESSAGE = (
    "The continuation token specified in the 'X-Continuation' request header has expired. "
    "Initialize a new synchronization."
)


def new_request_id() -> str:
    """A fresh 16-hex-digit request id, like the ones Kontent.ai returns."""
    return secrets.token_hex(8)


def error_body(message: str, error_code: int, specific_code: int = 0) -> dict[str, Any]:
    """The standard Kontent.ai error object with a fresh request id."""
    return {
        "message": message,
        "request_id": new_request_id(),
        "error_code": error_code,
        "specific_code": specific_code,
    }


V1_RETIRED_MESSAGE = (
    "Sync API v1 was retired on 2026-01-05 and no longer answers. Use Sync API v2: "
    "POST /v2/{environment_id}/sync/init and GET /v2/{environment_id}/sync."
)
