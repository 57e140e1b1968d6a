"""Error bodies shared by every emulator endpoint (Sync, Delivery, control).

Kontent.ai answers every failure with ``{message, request_id, error_code, specific_code}``; both the Sync
side and the Delivery side of the emulator build them here so the shape can never drift between them.
"""

from __future__ import annotations

import secrets
from typing import Any

# error_code values. 107 (bad continuation token) and 100 (item not found) are documented by Kontent.ai;
# the others are the emulator's choice where the real service is undocumented.
GENERIC = 0
ROUTE_NOT_FOUND = 1
BAD_QUERY = 2
UNAUTHORIZED = 3
FORBIDDEN = 4
ENVIRONMENT_NOT_FOUND = 5
RATE_LIMITED = 10000
INVALID_CONTINUATION = 107

MALFORMED_TOKEN_MESSAGE = (
    "The continuation token specified in the 'X-Continuation' request header is malformed."
)
# Token expiry is undocumented (kontent-sync-api.md §11.3); the emulator's TTL knob answers like a bad token.
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


class ControlError(Exception):
    """Invalid input to the control API or the store; ``field`` names exactly what is wrong."""

    def __init__(self, field: str | None, message: str, status: int = 400) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message
        self.status = status

    def to_body(self) -> dict[str, Any]:
        body = error_body(str(self), GENERIC)
        body["field"] = self.field
        return body
