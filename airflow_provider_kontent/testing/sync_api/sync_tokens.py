"""Sync API continuation tokens: stateless and signed.

A token carries everything a sync request needs (environment, host, API version, v1 filters, cursor) so
the emulator keeps no per-token state and any earlier token can be replayed, as with Kontent.ai. The
HMAC makes tampered or invented tokens fail as "malformed" instead of silently reading from an arbitrary
cursor. The secret belongs to one store (``EmulatorStore.token_secret``), not to the process: cursors are
positions in one store's change log, so a token from another emulator instance (even for an environment
with the same id, e.g. two ``seed="demo"`` emulators) must be rejected rather than read as a cursor into
an unrelated log.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from typing import Any


class InvalidToken(ValueError):
    """The token is not one this emulator issued for this environment, host and API version."""


@dataclass(frozen=True)
class SyncToken:
    env_id: str
    host: str  # "production" | "preview"
    version: int  # 1 | 2
    cursor: int
    filters: tuple[tuple[str, str, tuple[str, ...]], ...] = field(default=())
    # issue time (the emulator's epoch seconds): what an environment's token TTL measures
    issued_at: float = 0.0

    def age(self, now: float) -> float:
        """Seconds since this token was issued (``now``: the emulator's epoch seconds)."""
        return now - self.issued_at


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(payload: str, secret: bytes) -> str:
    return _b64(hmac.new(secret, payload.encode("utf-8"), hashlib.sha256).digest()[:18])


def encode(token: SyncToken, secret: bytes) -> str:
    """An opaque token; a fresh nonce makes every issued token distinct, even at the same cursor."""
    body: dict[str, Any] = {
        "e": token.env_id,
        "h": "v" if token.host == "preview" else "p",
        "v": token.version,
        "c": token.cursor,
        "n": secrets.token_hex(4),
        "t": round(token.issued_at, 3),
    }
    if token.filters:
        body["f"] = [[name, op, list(values)] for name, op, values in token.filters]
    payload = _b64(json.dumps(body, separators=(",", ":")).encode("utf-8"))
    return f"{payload}.{_sign(payload, secret)}"


def decode(text: str, env_id: str, host: str, version: int, secret: bytes) -> SyncToken:
    """Verify and unpack ``text`` (signed with ``secret``); raise :class:`InvalidToken` for anything
    foreign (another store, environment, host or API version) or tampered."""
    payload, dot, signature = text.strip().partition(".")
    expected = _sign(payload, secret).encode("utf-8")
    if not dot or not payload or not hmac.compare_digest(signature.encode("utf-8"), expected):
        raise InvalidToken("bad signature")
    try:
        body = json.loads(_unb64(payload))
        token = SyncToken(
            env_id=str(body["e"]),
            host={"p": "production", "v": "preview"}[body["h"]],
            version=int(body["v"]),
            cursor=int(body["c"]),
            filters=tuple((str(n), str(o), tuple(str(v) for v in vals)) for n, o, vals in body.get("f", [])),
            issued_at=float(body.get("t", 0.0)),
        )
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise InvalidToken("undecodable") from exc
    if (token.env_id, token.host, token.version) != (env_id, host, version):
        raise InvalidToken("foreign token")
    return token
