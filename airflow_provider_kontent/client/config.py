"""Client configuration and the checks that must pass before any request is sent.

Everything a request depends on is validated here, once, so that a wrong setting fails fast with a
message naming the setting instead of surfacing later as a confusing HTTP error.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field, fields
from enum import Enum
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

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
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
    """True for ``localhost`` and loopback IPs: the only hosts a key may be sent to over plain http."""
    if not host:
        return False
    if host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _positive_number(name: str, value, *, allow_zero: bool = False, integer: bool = False):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise KontentConfigError(f"must be a number, got {value!r}", field=name)
    if integer and int(value) != value:
        raise KontentConfigError(f"must be a whole number, got {value!r}", field=name)
    if value < 0 or (value == 0 and not allow_zero):
        raise KontentConfigError(f"must be {'>= 0' if allow_zero else '> 0'}, got {value!r}", field=name)
    return int(value) if integer else float(value)


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

    def __post_init__(self) -> None:
        env = (self.environment_id or "").strip() if isinstance(self.environment_id, str) else ""
        if not _GUID.match(env) or env == _EMPTY_GUID:
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

        key = self.api_key.strip() if isinstance(self.api_key, str) else self.api_key
        object.__setattr__(self, "api_key", key or None)
        if mode.sends_key and not self.api_key:
            kind = "preview" if mode is ApiMode.PREVIEW else "secure-access"
            raise KontentConfigError(
                f"mode '{mode.value}' needs a {kind} Delivery API key, but none is set", field="api_key"
            )
        if self.api_key and any(c in self.api_key for c in "\r\n"):
            raise KontentConfigError("contains a line break", field="api_key")

        base = (self.base_url or "").strip().rstrip("/")
        if base:
            parts = urlsplit(base)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise KontentConfigError(
                    f"must be an absolute http(s) URL such as https://proxy.example.com, got {base!r}",
                    field="base_url",
                )
            if parts.query or parts.fragment:
                raise KontentConfigError("must not contain a query or fragment", field="base_url")
            if parts.scheme == "http" and mode.sends_key and not is_loopback_host(parts.hostname):
                raise KontentConfigError(
                    f"is plain http on a non-loopback host ({parts.hostname}); the Delivery API key would "
                    "travel unencrypted. Use https (plain http is allowed only for 127.0.0.1/localhost).",
                    field="base_url",
                )
        object.__setattr__(self, "base_url", base or None)

        for name in (
            "connect_timeout",
            "read_timeout",
            "backoff_initial",
            "backoff_max",
            "rate_limit_per_second",
        ):
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
    def effective_base_url(self) -> str:
        """The root URL requests go to (no trailing slash)."""
        if self.base_url:
            return self.base_url
        return DEFAULT_PREVIEW_URL if self.mode is ApiMode.PREVIEW else DEFAULT_PRODUCTION_URL

    def replace(self, **changes) -> ClientConfig:
        """A copy with some settings changed (validated again)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return ClientConfig(**values)
