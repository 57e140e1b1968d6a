"""Client configuration and the checks that must pass before any request is sent.

Everything a request depends on is validated here, once, so that a wrong setting fails fast with a
message naming the setting instead of surfacing later as a confusing HTTP error.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field, fields
from enum import Enum
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_kontent.client.errors import KontentConfigError

__all__ = [
    "DEFAULT_PREVIEW_URL",
    "DEFAULT_PRODUCTION_URL",
    "ApiMode",
    "ClientConfig",
    "is_loopback_host",
]

DEFAULT_PRODUCTION_URL = "https://deliver.kontent.ai"
DEFAULT_PREVIEW_URL = "https://preview-deliver.kontent.ai"

_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_EMPTY_GUID = "00000000-0000-0000-0000-000000000000"


class ApiMode(str, Enum):
    """Which Delivery API flavour to talk to.

    ``public``: production host, no key. ``secure``: production host with a secure-access key.
    ``preview``: preview host (latest, unpublished content) with a preview key.
    """

    PUBLIC = "public"
    SECURE = "secure"
    PREVIEW = "preview"

    @property
    def sends_key(self) -> bool:
        return self is not ApiMode.PUBLIC


def is_loopback_host(host: str | None) -> bool:
    """True for ``localhost`` and loopback IP literals: the only hosts a key may reach over plain http.

    Deliberately narrow: ``*.localhost`` names, ``localhost.localdomain`` or ``127.0.0.1.example.com``
    go through DNS on many systems and may resolve anywhere, so they count as remote.
    """
    if not host:
        return False
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _positive_number(
    name: str, value: Any, *, allow_zero: bool = False, integer: bool = False
) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise KontentConfigError(f"must be a number, got {value!r}", field=name)
    if integer and int(value) != value:
        raise KontentConfigError(f"must be a whole number, got {value!r}", field=name)
    if value < 0 or (value == 0 and not allow_zero):
        raise KontentConfigError(f"must be {'>= 0' if allow_zero else '> 0'}, got {value!r}", field=name)
    return int(value) if integer else float(value)


def _checked_api_key(key: Any) -> str | None:
    """The key travels in an HTTP header: refuse anything a header cannot carry verbatim.

    Checked here so a bad key fails with a message naming the setting, instead of an HTTP-library
    error whose text (or ``args``) would quote the header value, i.e. the key itself.
    """
    if key is None:
        return None
    if not isinstance(key, str):
        raise KontentConfigError(f"must be a string, got {type(key).__name__}", field="api_key")
    key = key.strip()
    if key and not (key.isascii() and key.isprintable() and " " not in key):
        raise KontentConfigError(
            "contains spaces, line breaks or non-ASCII characters (value not shown)", field="api_key"
        )
    return key or None


def _checked_context(context: Any) -> str | None:
    """A single-line label (it leads error texts); empty means none."""
    if context is None:
        return None
    if not isinstance(context, str):
        raise KontentConfigError(f"must be a string, got {type(context).__name__}", field="context")
    context = context.strip()
    if not context.isprintable():
        raise KontentConfigError("must be a single line of printable characters", field="context")
    return context or None


def _checked_base_url(base_url: str | None, mode: ApiMode) -> str | None:
    """Validate a base URL override; the key may go only over https or to a loopback host.

    Credentials in the URL are refused in every mode: the base URL appears in logs, error messages
    and ``repr(config)``, so anything secret in it would leak there.
    """
    base = (base_url or "").strip().rstrip("/")
    if not base:
        return None
    if any(c.isspace() or c == "\\" or not c.isprintable() for c in base):
        raise KontentConfigError(
            "must not contain spaces, backslashes or control characters", field="base_url"
        )
    parts = urlsplit(base)
    try:
        parts.port  # noqa: B018  (raises ValueError for a port that is not a number in range)
    except ValueError:
        raise KontentConfigError(f"has an invalid port: {base!r}", field="base_url") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise KontentConfigError(
            f"must be an absolute http(s) URL such as https://proxy.example.com, got {base!r}",
            field="base_url",
        )
    if "@" in parts.netloc:
        raise KontentConfigError(
            "must not contain credentials (user:password@); put the Delivery API key in api_key",
            field="base_url",
        )
    if parts.query or parts.fragment:
        raise KontentConfigError("must not contain a query or fragment", field="base_url")
    if parts.scheme == "http" and mode.sends_key and not is_loopback_host(parts.hostname):
        raise KontentConfigError(
            f"is plain http on a non-loopback host ({parts.hostname}); the Delivery API key would "
            "travel unencrypted. Use https (plain http is allowed only for 127.0.0.0/8, ::1 and localhost).",
            field="base_url",
        )
    # urlsplit already lower-cased the scheme; keep the rest verbatim (a proxy path may be case-sensitive)
    return parts.scheme + base[len(parts.scheme) :]


@dataclass(frozen=True)
class ClientConfig:
    """All settings of a Kontent client.

    ``base_url`` replaces the host for the selected mode verbatim (e.g. the emulator's
    ``http://127.0.0.1:PORT`` for public/secure, ``http://127.0.0.1:PORT/preview`` for preview, or an
    https proxy). ``api_key`` is excluded from ``repr`` and is only ever sent as a Bearer header.

    Retry knobs: ``max_attempts`` (1 = no retry), ``max_retry_wait`` (total seconds one request may
    sleep between attempts), ``backoff_initial``/``backoff_max`` (exponential backoff with full jitter),
    ``max_retry_after`` (the longest ``Retry-After`` honoured; longer values are clamped to it).
    Content fetch: ``max_concurrency`` threads, ``url_max_length`` for ``system.id[in]`` batches.
    Every request of a client passes a sliding-window limiter of ``rate_limit_per_second`` and
    ``rate_limit_per_minute`` (defaults 90 and 1,800: under Kontent.ai's 100/s and 2,000/min).

    ``context`` is an optional label that leads the text of every API error the client raises (the
    Airflow hook sets ``connection '<conn id>'``); the client itself knows nothing about Airflow. It
    is shown in errors and ``repr``, so it must never hold anything secret.
    """

    environment_id: str
    mode: ApiMode | str = ApiMode.PUBLIC
    api_key: str | None = field(default=None, repr=False)
    base_url: str | None = None
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    max_attempts: int = 5
    max_retry_wait: float = 120.0
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    max_retry_after: float = 60.0
    max_concurrency: int = 4
    url_max_length: int = 2000
    rate_limit_per_second: int = 90
    rate_limit_per_minute: int = 1800
    context: str | None = None

    def __post_init__(self) -> None:
        env = self.environment_id.strip() if isinstance(self.environment_id, str) else ""
        if not _GUID.fullmatch(env) or env == _EMPTY_GUID:
            raise KontentConfigError(
                f"must be a Kontent.ai environment GUID like 8d20758c-d74c-4f59-ae04-ee928c0816b7, "
                f"got {self.environment_id!r}",
                field="environment_id",
            )
        object.__setattr__(self, "environment_id", env)

        try:
            mode = ApiMode(self.mode.lower() if isinstance(self.mode, str) else self.mode)
        except ValueError:
            raise KontentConfigError(
                f"must be one of public, secure, preview; got {self.mode!r}", field="mode"
            ) from None
        object.__setattr__(self, "mode", mode)

        object.__setattr__(self, "api_key", _checked_api_key(self.api_key))
        if mode.sends_key and not self.api_key:
            kind = "preview" if mode is ApiMode.PREVIEW else "secure-access"
            raise KontentConfigError(
                f"mode '{mode.value}' needs a {kind} Delivery API key, but none is set", field="api_key"
            )
        object.__setattr__(self, "base_url", _checked_base_url(self.base_url, mode))
        object.__setattr__(self, "context", _checked_context(self.context))

        for name in ("connect_timeout", "read_timeout", "backoff_initial", "backoff_max"):
            object.__setattr__(self, name, _positive_number(name, getattr(self, name)))
        for name in ("max_retry_wait", "max_retry_after"):
            object.__setattr__(self, name, _positive_number(name, getattr(self, name), allow_zero=True))
        for name in (
            "max_attempts",
            "max_concurrency",
            "url_max_length",
            "rate_limit_per_second",
            "rate_limit_per_minute",
        ):
            object.__setattr__(self, name, _positive_number(name, getattr(self, name), integer=True))

    @property
    def rate_windows(self) -> list[tuple[float, int]]:
        """The request budget as ``(seconds, limit)`` windows, the key of the shared limiter."""
        return [(1.0, self.rate_limit_per_second), (60.0, self.rate_limit_per_minute)]

    @property
    def effective_base_url(self) -> str:
        """The root URL requests go to (no trailing slash)."""
        if self.base_url:
            return self.base_url
        return DEFAULT_PREVIEW_URL if self.mode is ApiMode.PREVIEW else DEFAULT_PRODUCTION_URL

    def replace(self, **changes: Any) -> ClientConfig:
        """A copy with some settings changed (validated again)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return ClientConfig(**values)
