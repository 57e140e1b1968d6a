"""The client's exception family.

Callers branch on the class (auth, not found, invalid token, ...) and never on Kontent's message text,
which the API may change at any time. Every error carries what an operator needs to open a support
ticket (status, Kontent's message, ``request_id``, ``error_code``, the URL) and, by construction, never
the API key: keys travel only in the ``Authorization`` header, which no error or log line reproduces.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "KontentApiRetiredError",
    "KontentAuthError",
    "KontentBadRequestError",
    "KontentConfigError",
    "KontentConnectionError",
    "KontentError",
    "KontentInvalidTokenError",
    "KontentMalformedDeltaError",
    "KontentNotFoundError",
    "KontentRateLimitError",
    "KontentResponseError",
    "KontentServerError",
    "KontentStalledSyncError",
]


class KontentError(Exception):
    """Base class: a request to Kontent.ai (or its configuration) failed.

    ``retryable`` tells the retry policy whether another attempt could succeed (a class default that
    one error may override, e.g. a TLS certificate failure is a connection error that no retry can
    fix); ``retry_after`` is the server's ``Retry-After`` in seconds when it sent one; ``attempts`` is
    set when retries gave up. ``context`` is a caller's label for where the request came from (the hook
    sets ``connection '<conn id>'`` via ``ClientConfig.context``) and leads ``str()``, so a failed
    task names the connection to fix.
    """

    retryable: bool = False
    context: str | None = None  # class default: errors pickled before the attribute existed

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        request_id: str | None = None,
        error_code: int | None = None,
        specific_code: int | None = None,
        url: str | None = None,
        method: str | None = None,
        hint: str | None = None,
        retry_after: float | None = None,
        retryable: bool | None = None,
        context: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.request_id = request_id
        self.error_code = error_code
        self.specific_code = specific_code
        self.url = url
        self.method = method
        self.hint = hint
        self.retry_after = retry_after
        self.attempts: int | None = None
        self.context = context
        if retryable is not None:
            self.retryable = retryable

    def __str__(self) -> str:
        text = self._describe()
        return f"{self.context}: {text}" if self.context else text

    def _describe(self) -> str:
        """Status, Kontent's message and ids first, the hint, and the (long) URL last, so the reason
        stays readable in a one-line log or a UI that cuts the text short."""
        text = f"HTTP {self.status}: {self.message}" if self.status is not None else self.message
        details = []
        if self.error_code is not None:
            details.append(f"error_code={self.error_code}")
        if self.request_id:
            details.append(f"request_id={self.request_id}")
        if self.attempts is not None:
            details.append(f"attempts={self.attempts}")
        if details:
            text += f" ({', '.join(details)})"
        if self.hint:
            text += f"{'' if text.endswith('.') else '.'} {self.hint}"
        if self.url:
            text += f" [{self.method + ' ' if self.method else ''}{self.url}]"
        return text

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"

    def __reduce__(self) -> tuple:
        # Keep the keyword-only details when an error crosses a process boundary (pickling).
        return (_rebuild, (type(self), self.message, dict(self.__dict__)))


def _rebuild(cls: type[KontentError], message: str, state: dict) -> KontentError:
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.__dict__.update(state)
    return err


class KontentConfigError(KontentError, ValueError):
    """The client or connection is configured wrongly; raised before any request is sent.

    ``field`` names the offending setting (``environment_id``, ``api_key``, ``base_url``, ...).
    """

    def __init__(self, message: str, *, field: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.field = field

    def _describe(self) -> str:
        base = super()._describe()
        return f"Invalid '{self.field}': {base}" if self.field else base


class KontentBadRequestError(KontentError):
    """HTTP 400 (or another non-retryable 4xx such as 405/414): the request itself is wrong."""


class KontentInvalidTokenError(KontentBadRequestError):
    """The continuation token was rejected (HTTP 400, ``error_code`` 107): the sync must be re-initialized.

    Re-initializing marks "now"; changes made between the last good token and the new init are not
    reported by Sync, so a consumer needs a snapshot (e.g. items-feed) to cover that gap.
    """


class KontentAuthError(KontentError):
    """HTTP 401/403: the key is missing, wrong, revoked or of the wrong kind for the mode."""


class KontentNotFoundError(KontentError):
    """HTTP 404: unknown environment, wrong base URL/path, or an entity that does not exist."""


class KontentApiRetiredError(KontentNotFoundError):
    """HTTP 404 from a Sync API v1 endpoint: Kontent.ai retired Sync API v1 on 2026-01-05.

    https://kontent.ai/learn/docs/apis/sync-api/about-sync-api (the v1 removal notice). Nothing a retry can fix:
    switch the tasks to ``api_version=2``; the same ``filters`` keep working, applied client-side.
    """


class KontentRateLimitError(KontentError):
    """HTTP 429 that persisted after the configured retries."""

    retryable = True


class KontentServerError(KontentError):
    """HTTP 5xx or 408 that persisted after the configured retries."""

    retryable = True


class KontentConnectionError(KontentError):
    """The host could not be reached, timed out, or cut the connection mid-response (after retries).

    Not retried when retrying cannot help: a TLS certificate that fails verification, or a request
    the HTTP library refuses to build (invalid URL or header).
    """

    retryable = True


class KontentResponseError(KontentError):
    """A response that breaks the API contract: non-JSON body, missing ``X-Continuation``, wrong shape.

    Retried like a transient failure (a CDN or proxy glitch is the usual cause), then raised.
    """

    retryable = True


class KontentMalformedDeltaError(KontentResponseError):
    """A Sync page held deltas the client cannot use (not an object, no ``data.system``/id, or a bad
    timestamp). The same token returns the same entries, so this is not retried; pass
    ``skip_malformed=True`` to count and skip them instead."""

    retryable = False


class KontentStalledSyncError(KontentResponseError):
    """The Sync API kept answering a non-empty page with the very token it was sent, so following it
    would request the same page forever. Raised after the client's bounded repeats, outside any
    request's retries; ``retryable`` lets an Airflow task try again later (nothing was committed)."""

    retryable = True
