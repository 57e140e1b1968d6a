"""Sans-IO protocol: how requests look and how responses and errors are read.

Both the requests-based ``KontentClient`` and the httpx-based ``AsyncKontentClient`` use this module,
so the two cannot disagree about URLs, headers, parsing or error mapping. Nothing here performs I/O.
"""

from __future__ import annotations

import json
import logging
import os
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

import pendulum

try:  # msgspec ships with Airflow's task SDK; it decodes JSON ~2.5x faster than the stdlib
    from msgspec import DecodeError as _FastDecodeError
    from msgspec.json import decode as _fast_decode
except ImportError:  # pragma: no cover - the client also works without it
    _fast_decode = None
    _FastDecodeError = ValueError

from airflow_provider_kontent import __version__
from airflow_provider_kontent.client.config import ClientConfig
from airflow_provider_kontent.client.errors import (
    KontentApiRetiredError,
    KontentAuthError,
    KontentBadRequestError,
    KontentConfigError,
    KontentConnectionError,
    KontentError,
    KontentInvalidTokenError,
    KontentNotFoundError,
    KontentRateLimitError,
    KontentResponseError,
    KontentServerError,
)
from airflow_provider_kontent.client.filters import FilterStats, SyncFilters
from airflow_provider_kontent.client.models import (
    ARRAY_KINDS,
    Delta,
    MalformedDelta,
    SyncPage,
    checked_delta,
)

__all__ = [
    "INVALID_TOKEN_ERROR_CODE",
    "LOGGER_NAME",
    "SOURCE_HEADER",
    "ApiRequest",
    "ApiResponse",
    "RequestBuilder",
    "apply_client_filters",
    "certificate_failure",
    "label_error",
    "check_api_version",
    "error_from_response",
    "parse_json",
    "parse_retry_after",
    "read_outcome",
    "transport_error",
    "validate_token",
]

SOURCE_HEADER = f"airflow-provider-kontent;{__version__}"
INVALID_TOKEN_ERROR_CODE = 107
LOGGER_NAME = "airflow_provider_kontent.client"

log = logging.getLogger(LOGGER_NAME)
T = TypeVar("T")


@dataclass(frozen=True)
class ApiRequest:
    """A request to send: ``url`` has no query; ``params`` is the ordered query."""

    method: str
    url: str
    params: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def loggable_url(self) -> str:
        """The URL with its query, safe to log: keys travel only in headers."""
        return f"{self.url}?{urlencode(self.params)}" if self.params else self.url


@dataclass(frozen=True)
class ApiResponse:
    """A fully read response; ``headers`` keys are lower-cased."""

    status: int
    headers: Mapping[str, str]
    content: bytes
    url: str
    method: str = "GET"

    @classmethod
    def build(
        cls, status: int, headers: Mapping[str, str], content: bytes, url: str, method: str
    ) -> ApiResponse:
        return cls(status, {k.lower(): v for k, v in headers.items()}, content, url, method)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


class RequestBuilder:
    """Builds the requests of one environment/mode."""

    def __init__(self, config: ClientConfig) -> None:
        self.config = config
        self.base_url = config.effective_base_url
        self.env_url = f"{self.base_url}/{config.environment_id}"

    def headers(self, **extra: str) -> dict[str, str]:
        headers = {"Accept": "application/json", "X-KC-SOURCE": SOURCE_HEADER}
        if self.config.mode.sends_key and self.config.api_key:
            headers["Authorization"] = f"Bearer {self.config.api_key}"
        headers.update(extra)
        return headers

    def _sync_base(self, api_version: int) -> str:
        check_api_version(api_version)
        if api_version == 2:
            return f"{self.base_url}/v2/{self.config.environment_id}"
        return self.env_url

    # --- Sync API ----------------------------------------------------------------------------
    def init_request(self, api_version: int = 2, query: list[tuple[str, str]] | None = None) -> ApiRequest:
        """``POST .../sync/init``; only v1 takes the filter query (v2 has no init parameters)."""
        params = list(query or []) if api_version == 1 else []
        return ApiRequest("POST", f"{self._sync_base(api_version)}/sync/init", params, self.headers())

    def sync_request(self, token: str, api_version: int = 2) -> ApiRequest:
        """``GET .../sync`` continuing from ``token`` (validated: it goes into a header verbatim)."""
        return ApiRequest(
            "GET",
            f"{self._sync_base(api_version)}/sync",
            [],
            self.headers(**{"X-Continuation": validate_token(token)}),
        )

    # --- Delivery API ------------------------------------------------------------------------
    def items_by_id_request(self, language: str, ids: list[str]) -> ApiRequest:
        params = [
            ("system.id[in]", ",".join(ids)),
            ("language", language),
            ("system.language", language),
            ("depth", "0"),
            ("limit", str(len(ids))),
        ]
        return ApiRequest(
            "GET",
            f"{self.env_url}/items",
            params,
            self.headers(**{"X-KC-Wait-For-Loading-New-Content": "true"}),
        )

    def items_feed_request(
        self, language: str | None, token: str | None, extra_params: list[tuple[str, str]] | None = None
    ) -> ApiRequest:
        params: list[tuple[str, str]] = []
        if language:
            params += [("language", language), ("system.language", language)]
        params += list(extra_params or [])
        extra = {"X-KC-Wait-For-Loading-New-Content": "true"}
        if token:
            extra["X-Continuation"] = token
        return ApiRequest("GET", f"{self.env_url}/items-feed", params, self.headers(**extra))

    def items_count_request(
        self, language: str, extra_params: list[tuple[str, str]] | None = None
    ) -> ApiRequest:
        """``GET /items`` asking only for ``pagination.total_count`` of the matching items in ``language``
        (no fallbacks): one item, no linked items. Only filters affect the count, not ``limit``."""
        params = [("language", language), ("system.language", language), *list(extra_params or [])]
        params += [("depth", "0"), ("limit", "1"), ("includeTotalCount", "true")]
        return ApiRequest(
            "GET",
            f"{self.env_url}/items",
            params,
            self.headers(**{"X-KC-Wait-For-Loading-New-Content": "true"}),
        )

    def list_request(self, endpoint: str, skip: int, limit: int) -> ApiRequest:
        params = [("skip", str(skip)), ("limit", str(limit))]
        return ApiRequest("GET", f"{self.env_url}/{endpoint}", params, self.headers())


# --- what the blocking and the async client share around one attempt ---------------------------
def check_api_version(api_version: int) -> None:
    if api_version not in (1, 2):
        raise KontentConfigError(f"must be 1 or 2, got {api_version!r}", field="api_version")


def validate_token(token: Any) -> str:
    """A continuation token goes into a header verbatim: a non-empty, single-line, printable ASCII string.

    Checked before sending so a bad value fails as a configuration error instead of being retried as
    a transport failure (HTTP libraries refuse such headers only when the request is built).
    """
    if not isinstance(token, str) or not token.strip():
        raise KontentConfigError("a continuation token is required (got an empty value)", field="token")
    if token != token.strip() or not (token.isascii() and token.isprintable()):
        raise KontentConfigError(
            "a continuation token must be single-line printable ASCII without surrounding spaces",
            field="token",
        )
    return token


def apply_client_filters(
    page: SyncPage, filters: SyncFilters, api_version: int, totals: FilterStats | None = None
) -> SyncPage:
    """Evaluate ``filters`` on a v2 page (v1 pages were filtered by the server)."""
    if api_version != 2 or filters.is_empty:
        return page
    kept, stats = filters.apply(page.deltas)
    if totals is not None:
        totals.add(stats)
    page.deltas = kept
    page.skipped = stats.skipped
    return page


def label_error(exc: KontentError, config: ClientConfig) -> KontentError:
    """Put the config's ``context`` label (e.g. the Airflow connection) on an error that has none."""
    if exc.context is None and config.context:
        exc.context = config.context
    return exc


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and what caused it, outermost first (urllib3 keeps the cause in ``.reason``)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        reason = getattr(current, "reason", None)
        current = current.__cause__ or current.__context__
        if current is None and isinstance(reason, BaseException):
            current = reason
    return chain


def certificate_failure(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    """The failed TLS certificate check behind ``exc`` (anywhere in its cause chain), if any."""
    return next((e for e in _causes(exc) if isinstance(e, ssl.SSLCertVerificationError)), None)


def transport_error(
    exc: BaseException, request: ApiRequest, *, permanent: tuple[type[BaseException], ...] = ()
) -> KontentConnectionError:
    """Turn an HTTP library's transport failure into ``KontentConnectionError``.

    The message names the library's exception class and the root cause (``Connection refused``,
    ``certificate verify failed: ...``) but never the library's own text, which can quote request
    headers. A failed certificate check and the ``permanent`` classes (request-building errors of
    the library) are not retryable: sending the same request again cannot succeed.
    """
    root = _causes(exc)[-1]
    cert_failure = certificate_failure(exc)
    if cert_failure is not None:
        detail = f"TLS certificate verification failed: {cert_failure.verify_message or cert_failure.reason}"
    elif isinstance(root, OSError) and isinstance(root.errno, int) and root.errno > 0:
        detail = os.strerror(root.errno)  # asyncio words the same refusal differently; errno does not
    elif isinstance(root, OSError) and root.strerror:
        detail = root.strerror  # e.g. name resolution (negative gai error codes)
    else:
        detail = type(root).__name__
    return KontentConnectionError(
        f"connection failed: {type(exc).__name__} ({detail})",
        url=request.loggable_url,
        method=request.method,
        retryable=not (cert_failure is not None or isinstance(exc, permanent)),
    )


def read_outcome(
    response: ApiResponse, parse: Callable[[ApiResponse], T], *, sync_endpoint: bool = False
) -> T:
    """The result of one attempt: the parsed body, or the exception the retry policy judges.

    A body shorter than ``Content-Length`` (a connection cut mid-body) raises a retryable error, so
    an attempt only succeeds when the whole response arrived and parsed.
    """
    check_complete(response)
    log.debug("Kontent %s %s -> %s", response.method, response.url, response.status)
    if response.status >= 400:
        raise error_from_response(response, sync_endpoint=sync_endpoint)
    return parse(response)


# --- response parsing --------------------------------------------------------------------------
def decode_json(content: bytes) -> Any:
    """JSON bytes to Python values, with msgspec when installed (same result as ``json.loads``; what
    msgspec refuses, such as ``NaN``, is handed to the stdlib, so both accept exactly the same input)."""
    if _fast_decode is not None:
        try:
            return _fast_decode(content)
        except _FastDecodeError:
            pass
    return json.loads(content.decode("utf-8"))


def parse_json(response: ApiResponse) -> Any:
    """Decode a JSON body or raise ``KontentResponseError`` (retryable: usually a proxy glitch)."""
    try:
        return decode_json(response.content)
    except (UnicodeDecodeError, ValueError):
        snippet = response.content[:80].decode("utf-8", "replace")
        raise KontentResponseError(
            f"response body is not JSON (starts with {snippet!r})",
            status=response.status,
            url=response.url,
            method=response.method,
            request_id=response.header("x-request-id"),
        ) from None


def check_complete(response: ApiResponse) -> None:
    """Raise when fewer bytes arrived than ``Content-Length`` announced (a connection cut mid-body)."""
    declared = response.header("content-length")
    if (
        declared
        and declared.isdigit()
        and not response.header("content-encoding")
        and len(response.content) < int(declared)
    ):
        raise KontentConnectionError(
            f"connection cut mid-body ({len(response.content)} of {declared} bytes)",
            url=response.url,
            method=response.method,
        )


def continuation_token(response: ApiResponse, *, required: bool = True) -> str | None:
    token = response.header("x-continuation")
    if required and not token:
        raise KontentResponseError(
            "response has no X-Continuation header",
            status=response.status,
            url=response.url,
            method=response.method,
        )
    return token or None


def parse_init(response: ApiResponse) -> str:
    """The first token of a sync; the body (empty arrays) must still be JSON."""
    token = continuation_token(response)
    parse_json(response)  # validate that a JSON body came with it
    return token  # type: ignore[return-value]


def parse_sync_page(response: ApiResponse) -> SyncPage:
    """A Sync page: the four arrays (each optional) and the token; a page without a token is malformed.

    Entries that are not usable deltas (``models.delta_problem``) go to ``page.malformed`` instead of
    ``page.deltas``; ``check_malformed`` decides whether they fail the request.
    """
    token = continuation_token(response)
    body = parse_object(response)
    deltas: list[Delta] = []
    malformed: list[MalformedDelta] = []
    received = 0
    for array, kind in ARRAY_KINDS.items():
        entries = body.get(array)
        if entries is None:
            continue
        if not isinstance(entries, list):
            raise KontentResponseError(
                f"'{array}' is not an array", status=response.status, url=response.url, method=response.method
            )
        received += len(entries)
        for index, entry in enumerate(entries):
            checked = checked_delta(kind, entry)
            if type(checked) is str:
                malformed.append(MalformedDelta(array, index, checked, _sample(entry)))
            else:
                deltas.append(checked)  # type: ignore[arg-type]
    return SyncPage(
        deltas=deltas,
        next_token=token,  # type: ignore[arg-type]
        request_id=response.header("x-request-id"),
        received=received,
        malformed=malformed,
        url=response.url,
    )


def _sample(entry: Any, limit: int = 300) -> str:
    text = json.dumps(entry, default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + "..."


def parse_object(response: ApiResponse) -> dict[str, Any]:
    """A JSON object body; any other JSON value breaks the API contract (retryable, like non-JSON)."""
    body = parse_json(response)
    if not isinstance(body, dict):
        raise KontentResponseError(
            f"expected a JSON object, got {type(body).__name__}",
            status=response.status,
            url=response.url,
            method=response.method,
        )
    return body


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds: an integer/decimal number or an HTTP date; None when unusable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=pendulum.UTC)
    return max(0.0, (when - pendulum.now("UTC")).total_seconds())


def is_v1_sync_url(url: str | None) -> bool:
    """``…/{env}/sync[/init]`` without the ``/v2/`` segment of the live Sync API."""
    path = urlsplit(url or "").path
    return "/v2/" not in path and (path.endswith("/sync") or path.endswith("/sync/init"))


def error_from_response(response: ApiResponse, *, sync_endpoint: bool = False) -> KontentError:
    """Map an error response to the exception family, keeping Kontent's message and ids."""
    body: Any = None
    try:
        body = decode_json(response.content) if response.content else None
    except (UnicodeDecodeError, ValueError):
        body = None
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        message = body["message"]
    else:
        text = response.content[:200].decode("utf-8", "replace").strip()
        message = text or "(empty body)"
        body = body if isinstance(body, dict) else {}
    error_code = body.get("error_code") if isinstance(body.get("error_code"), int) else None
    specific = body.get("specific_code") if isinstance(body.get("specific_code"), int) else None
    request_id = body.get("request_id") or response.header("x-request-id")
    kwargs: dict[str, Any] = {
        "status": response.status,
        "request_id": str(request_id) if request_id else None,
        "error_code": error_code,
        "specific_code": specific,
        "url": response.url,
        "method": response.method,
    }
    status = response.status
    if status == 400 and sync_endpoint and error_code == INVALID_TOKEN_ERROR_CODE:
        return KontentInvalidTokenError(
            message,
            hint="The continuation token is invalid or expired: re-initialize the sync (init_sync) and take "
            "a snapshot (e.g. items-feed), because changes since the last good token are not reported",
            **kwargs,
        )
    if status in (401, 403):
        return KontentAuthError(
            message,
            hint="Check the Delivery API key and that the mode (public/secure/preview) matches it",
            **kwargs,
        )
    if status == 404 and sync_endpoint and is_v1_sync_url(response.url):
        return KontentApiRetiredError(
            message,
            hint="Sync API v1 was retired by Kontent.ai on 2026-01-05: use api_version=2 (the same filters "
            "keep working, applied client-side) and start a new sync, because v1 tokens are not valid on v2",
            **kwargs,
        )
    if status == 404:
        return KontentNotFoundError(message, hint="Check the environment ID and the base URL", **kwargs)
    if status == 429:
        return KontentRateLimitError(
            message, retry_after=parse_retry_after(response.header("retry-after")), **kwargs
        )
    if status >= 500 or status == 408:
        return KontentServerError(
            message, retry_after=parse_retry_after(response.header("retry-after")), **kwargs
        )
    return KontentBadRequestError(message, **kwargs)
