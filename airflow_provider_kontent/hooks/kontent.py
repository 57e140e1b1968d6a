"""``KontentHook``: turns an Airflow connection into a configured Kontent.ai client.

Connection fields: ``host`` (+ ``port``) = base URL override for public and secure mode (empty for
Kontent.ai's own hosts), ``password`` = Delivery API key, extras ``environment_id``, ``mode``
(public/secure/preview), ``preview_base_url`` (the override for preview mode), ``connect_timeout``,
``read_timeout``, ``max_attempts``, ``max_retry_wait``, ``rate_limit_per_second``,
``rate_limit_per_minute`` (the request budget, see ``client.ratelimit``). Production and preview have separate
overrides so that switching a connection's mode can never read one mode's content from the other's
host. The form is declared once, in
``airflow_provider_kontent.CONN_FIELDS``/``UI_FIELD_BEHAVIOUR``: Airflow 3.2+ reads it from
``get_provider_info()``; older Airflow 3 versions call the legacy classmethods below, which are derived
from the same dictionaries.
"""

from __future__ import annotations

import difflib
import json
import logging
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from airflow_provider_kontent import CONN_FIELDS, UI_FIELD_BEHAVIOUR
from airflow_provider_kontent._compat import BaseHook, aget_connection
from airflow_provider_kontent.client import (
    ApiMode,
    AsyncKontentClient,
    ClientConfig,
    KontentAuthError,
    KontentClient,
    KontentConfigError,
    KontentConnectionError,
    KontentError,
    KontentNotFoundError,
    KontentRateLimitError,
    KontentResponseError,
    KontentServerError,
)
from airflow_provider_kontent.client.protocol import certificate_failure

__all__ = [
    "CONNECTION_EXTRAS",
    "KontentHook",
    "config_from_connection_fields",
    "explain_failure",
    "legacy_form_spec",
    "legacy_ui_field_behaviour",
]

# numeric extras and the type each is coerced to
_NUMBER_EXTRAS: dict[str, type] = {
    "connect_timeout": float,
    "read_timeout": float,
    "max_retry_wait": float,
    "max_attempts": int,
    "rate_limit_per_second": int,
    "rate_limit_per_minute": int,
}
# every extra the hook reads; the connection form (CONN_FIELDS) must offer exactly these
CONNECTION_EXTRAS = ("environment_id", "mode", "preview_base_url", *_NUMBER_EXTRAS)

log = logging.getLogger(__name__)


def _warn_unknown_extras(conn_id: str, extra: dict[str, Any]) -> None:
    """An extra the hook does not read is most likely a typo (``max_attempt``): say so, with the fix."""
    for name in sorted(set(extra) - set(CONNECTION_EXTRAS)):
        close = difflib.get_close_matches(name, CONNECTION_EXTRAS, n=1)
        hint = (
            f"; did you mean {close[0]!r}?"
            if close
            else f"; the known extras are {', '.join(CONNECTION_EXTRAS)}"
        )
        log.warning(
            "connection '%s': extra %r is not a Kontent.ai setting and is ignored%s", conn_id, name, hint
        )


def _coerce(conn_id: str, name: str, value: Any, kind: type) -> Any:
    """Extras from a URI are strings; from JSON or the UI they may be numbers. Empty means default."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        if isinstance(value, bool):  # JSON true would otherwise count as 1
            raise TypeError
        number = float(value)
        if kind is int:
            if number != int(number):
                raise ValueError
            return int(number)
        return number
    except (TypeError, ValueError):
        raise KontentConfigError(
            f"connection '{conn_id}': extra '{name}' must be a {'whole ' if kind is int else ''}number, got {value!r}",
            field=name,
        ) from None


def _base_url(host: str | None, port: int | None) -> str | None:
    """``host`` may be a full URL (kept verbatim) or a bare host name (then https).

    The port field, when set, is added to a URL that names no port of its own, so a connection
    written as host ``http://127.0.0.1`` + port ``8123`` means what it says.
    """
    host = (host or "").strip()
    if not host:
        return None
    if "://" not in host:
        return f"https://{host}:{port}" if port else f"https://{host}"
    if not port:
        return host
    parts = urlsplit(host)
    try:
        has_port = parts.port is not None
    except ValueError:
        return host  # ClientConfig reports the bad port, naming the field
    if has_port or not parts.hostname:
        return host
    return urlunsplit(parts._replace(netloc=f"{parts.netloc}:{port}"))


def config_from_connection_fields(
    conn_id: str,
    *,
    host: str | None,
    port: int | None,
    password: str | None,
    extra: dict[str, Any],
    overrides: dict[str, Any] | None = None,
) -> ClientConfig:
    """Build a ``ClientConfig`` from connection fields; every error names the connection and field.

    ``overrides`` are the task's ``hook_params``: an error in one of them names ``hook_params``, not
    the connection's extras, so the user looks in the DAG file rather than in the connection.
    """
    _warn_unknown_extras(conn_id, extra)
    mode = extra.get("mode") or ApiMode.PUBLIC.value
    values: dict[str, Any] = {
        "environment_id": extra.get("environment_id") or "",
        "mode": mode,
        "api_key": password or None,
        "base_url": _mode_base_url(conn_id, mode, host, port, extra.get("preview_base_url")),
        "context": f"connection '{conn_id}'",  # leads every API error's text
    }
    for name, kind in _NUMBER_EXTRAS.items():
        coerced = _coerce(conn_id, name, extra.get(name), kind)
        if coerced is not None:
            values[name] = coerced
    overrides = dict(overrides or {})
    values.update(overrides)
    try:
        return ClientConfig(**values)
    except KontentConfigError as exc:
        if exc.field in overrides:
            where = f"hook_params[{exc.field!r}] (set on the task, not in the connection)"
        else:
            where = {"api_key": "password (Delivery API key)", "base_url": "host (base URL override)"}.get(
                exc.field or "", f"extra '{exc.field}'"
            )
        raise KontentConfigError(f"connection '{conn_id}', {where}: {exc.message}", field=exc.field) from None
    except TypeError as exc:  # an unknown override keyword
        raise KontentConfigError(f"connection '{conn_id}', hook_params: {exc}", field="overrides") from None


def _mode_base_url(conn_id: str, mode: Any, host: str | None, port: int | None, preview: Any) -> str | None:
    """The override for the connection's mode: ``host`` for public/secure, ``preview_base_url`` for preview.

    A preview connection with only ``host`` set is refused rather than guessed: the host may well be a
    production endpoint, which would answer a preview key with published content and hide the drafts.
    """
    preview_url = str(preview).strip() if preview else ""
    if str(mode).strip().lower() != ApiMode.PREVIEW.value:
        return _base_url(host, port)
    if preview_url:
        return _base_url(preview_url, None)
    if (host or "").strip():
        raise KontentConfigError(
            f"connection '{conn_id}', host (base URL override): in preview mode the base URL override is "
            "not used, because it serves published content in public and secure mode; put the preview "
            "endpoint in the 'Preview base URL override' (extra 'preview_base_url') instead",
            field="base_url",
        )
    return None


def _extra_dict(conn_id: str, raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        raise KontentConfigError(f"connection '{conn_id}': extra is not valid JSON", field="extra") from None
    if not isinstance(value, dict):
        raise KontentConfigError(f"connection '{conn_id}': extra must be a JSON object", field="extra")
    return value


def legacy_ui_field_behaviour() -> dict[str, Any]:
    """``UI_FIELD_BEHAVIOUR`` in the legacy (snake_case) shape of ``get_ui_field_behaviour``."""
    return {key.replace("-", "_"): value for key, value in UI_FIELD_BEHAVIOUR.items()}


def legacy_form_spec() -> dict[str, dict[str, Any]]:
    """What the legacy widgets are built from: per extra field its label, description and kind
    (``integer``, or ``string`` for strings, enums and numbers, which are coerced when the config is built)."""
    spec: dict[str, dict[str, Any]] = {}
    for name, field in CONN_FIELDS.items():
        types = field.get("schema", {}).get("type", "string")
        types = [types] if isinstance(types, str) else types
        kind = "integer" if "integer" in types else "string"
        spec[name] = {"label": field["label"], "description": field.get("description", ""), "kind": kind}
    return spec


class KontentHook(BaseHook):
    """Interact with Kontent.ai (Sync API and Delivery API) through an Airflow connection.

    :param kontent_conn_id: the connection id (type ``kontent``).
    :param client_overrides: ``ClientConfig`` settings that win over the connection (e.g.
        ``max_concurrency=8`` or ``backoff_initial=0.1``).

    The hook only turns the connection into a ``ClientConfig`` and a client; all HTTP behaviour
    (retries, errors, security checks) lives in ``airflow_provider_kontent.client``.
    """

    conn_name_attr = "kontent_conn_id"
    default_conn_name = "kontent_default"
    conn_type = "kontent"
    hook_name = "Kontent.ai"

    def __init__(self, kontent_conn_id: str = default_conn_name, **client_overrides: Any) -> None:
        super().__init__()
        self.kontent_conn_id = kontent_conn_id
        self.client_overrides = client_overrides
        self._client: KontentClient | None = None

    # --- legacy connection form (Airflow < 3.2); Airflow 3.2+ uses get_provider_info() ---------------
    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return legacy_ui_field_behaviour()

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
        from flask_babel import lazy_gettext
        from wtforms import IntegerField, StringField

        return {
            name: (IntegerField if spec["kind"] == "integer" else StringField)(
                lazy_gettext(spec["label"]), widget=BS3TextFieldWidget(), description=spec["description"]
            )
            for name, spec in legacy_form_spec().items()
        }

    # --- configuration -------------------------------------------------------------------------
    def _config_from(self, conn: Any) -> ClientConfig:
        """``ClientConfig`` from an Airflow ``Connection``; the connection itself is not kept, because
        its ``repr`` shows the password."""
        return config_from_connection_fields(
            self.kontent_conn_id,
            host=conn.host,
            port=conn.port,
            password=conn.password,
            extra=_extra_dict(self.kontent_conn_id, conn.extra),
            overrides=self.client_overrides,
        )

    @cached_property
    def client_config(self) -> ClientConfig:
        """The validated settings (read once); errors name the connection and the field."""
        return self._config_from(self.get_connection(self.kontent_conn_id))

    @property
    def environment_id(self) -> str:
        return self.client_config.environment_id

    @property
    def mode(self) -> ApiMode:
        return self.client_config.mode  # type: ignore[return-value]

    def get_conn(self) -> KontentClient:
        """The hook's ``KontentClient`` (created once, then reused)."""
        if self._client is None:
            self._client = KontentClient(self.client_config)
        return self._client

    def close(self) -> None:
        """Close the cached client's connections; ``get_conn`` makes a new client afterwards."""
        if self._client is not None:
            self._client.close()
            self._client = None

    async def aget_async_client(self) -> AsyncKontentClient:
        """An ``AsyncKontentClient`` for triggers: the connection is read asynchronously, no sync calls."""
        return AsyncKontentClient(self._config_from(await aget_connection(self.kontent_conn_id)))

    # --- connection test -----------------------------------------------------------------------
    def test_connection(self) -> tuple[bool, str]:
        """Initialize a v2 sync once (harmless: it only issues a token) and explain any failure."""
        try:
            config = self.client_config
        except KontentConfigError as exc:
            return False, f"Configuration error: {exc.message}"
        except Exception as exc:  # e.g. the connection does not exist
            return False, f"Cannot load connection '{self.kontent_conn_id}': {exc}"
        quick = config.replace(
            max_attempts=min(config.max_attempts, 2), max_retry_wait=min(config.max_retry_wait, 5.0)
        )
        try:
            with KontentClient(quick) as client:
                client.init_sync(api_version=2)
        except KontentError as exc:
            return False, explain_failure(exc, quick)
        if config.mode is ApiMode.PREVIEW and _answers_without_key(quick):
            return False, (
                f"{config.effective_base_url} answered without a Delivery API key, so it is not a preview "
                "endpoint (Kontent.ai's preview API always requires the preview key): it would serve "
                "published content, not the latest drafts. Point the Preview base URL override at a preview "
                "endpoint, or leave it empty for https://preview-deliver.kontent.ai."
            )
        return True, (
            f"Connected to Kontent.ai environment {config.environment_id} ({config.mode.value} mode, "
            f"{config.effective_base_url}): Sync API v2 initialized."
        )


def _answers_without_key(config: ClientConfig) -> bool:
    """Whether ``config``'s base URL initializes a sync with no key at all: a preview endpoint never does."""
    keyless = config.replace(mode=ApiMode.PUBLIC, api_key=None, max_attempts=1)
    try:
        with KontentClient(keyless) as client:
            client.init_sync(api_version=2)
    except KontentError:
        return False
    return True


def explain_failure(exc: KontentError, config: ClientConfig) -> str:
    """A sentence a person can act on, plus the technical details (status, request id)."""
    details = f" [{exc}]"
    env, base, mode = config.environment_id, config.effective_base_url, config.mode
    if isinstance(exc, KontentNotFoundError):
        return (
            f"Environment {env} was not found at {base}. Check the environment ID and the base URL.{details}"
        )
    if isinstance(exc, KontentAuthError):
        if mode is ApiMode.PREVIEW:
            text = "The preview Delivery API key was rejected: use a key with preview access for this environment."
        elif mode is ApiMode.SECURE:
            text = (
                "The secure-access Delivery API key was rejected: check the key and that it is not revoked."
            )
        else:
            text = (
                "The environment requires a Delivery API key (secure access is enabled): set mode to "
                "'secure' and put the key in the password field."
            )
        return text + details
    if isinstance(exc, KontentConnectionError) and certificate_failure(exc) is not None:
        return (
            f"The TLS certificate of {base} could not be verified (verification is never turned off): "
            f"use a host with a trusted certificate, or add its CA to REQUESTS_CA_BUNDLE.{details}"
        )
    if isinstance(exc, KontentConnectionError):
        return f"Cannot reach {base}: check the base URL, DNS, proxy and firewall.{details}"
    if isinstance(exc, KontentResponseError):
        return f"{base} did not answer like the Kontent.ai Delivery API: check the base URL.{details}"
    if isinstance(exc, KontentRateLimitError):
        return f"Kontent.ai rate limit hit; try again later.{details}"
    if isinstance(exc, KontentServerError):
        return f"Kontent.ai answered with a server error; try again later.{details}"
    return f"Kontent.ai request failed.{details}"
