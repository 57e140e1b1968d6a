"""How the backend refuses a call: ``BackendError`` names the field at fault and the kind of refusal.

The backend knows nothing of HTTP; the control API maps ``kind`` to a status (invalid 400, not_found
404, conflict 409) and in-process callers catch the exception itself.
"""

from __future__ import annotations

INVALID = "invalid"
NOT_FOUND = "not_found"
CONFLICT = "conflict"


class BackendError(Exception):
    """Invalid input to a backend operation; ``field`` names exactly what is wrong (``languages[1].fallback``)."""

    def __init__(self, field: str | None, message: str, kind: str = INVALID) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message
        self.kind = kind

    def under(self, prefix: str) -> BackendError:
        """The same error with its field nested under ``prefix`` (e.g. ``operations[2].``)."""
        field = f"{prefix}{self.field}" if self.field else prefix.rstrip(".") or None
        return BackendError(field, self.message, self.kind)
