"""The emulator's mutable store: environments, the mutations that feed the change logs, and one lock.

``EmulatorStore`` mirrors ``EmulatorControl`` 1:1 (same method names, keyword parameters and return
values) so the demo seed and the HTTP control API drive exactly the same code. Every public method takes
``self.lock`` (re-entrant); readers such as the Delivery endpoints hold it while they look at
``Environment`` objects, so they never see a half-applied change.

Which host logs what (kontent-sync-api.md §7.3, §9.1): preview logs every variant change; production logs
publishes (changed) and unpublish/archive/delete of a published variant (deleted); both log model changes.

``generation`` counts mutations (and delayed changes becoming visible); the Delivery side reuses cached
selections while it is unchanged. With an environment's ``propagation_delay_s`` every outermost content
call becomes one "processing group": its log entries get one ``visible_at`` (never earlier than the
previous group's, as Kontent.ai processes changes in order) and the content as it was *before* the call is
kept, so ``visible_env`` can serve Delivery the state readers are allowed to see.
"""

from __future__ import annotations

import copy
import inspect
import re
import secrets
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from airflow_provider_kontent.testing.changelog import (
    CHANGED,
    DELETED,
    HOSTS,
    ITEM,
    LANGUAGE,
    PREVIEW,
    PRODUCTION,
    TAXONOMY,
    TYPE,
    ChangeEntry,
    ChangeLog,
    KontentClock,
)
from airflow_provider_kontent.testing.delivery import SelectionCache
from airflow_provider_kontent.testing.elements import item_system
from airflow_provider_kontent.testing.errors import ControlError
from airflow_provider_kontent.testing.faults import FaultSet, build_fault
from airflow_provider_kontent.testing.model import (
    ContentType,
    Environment,
    Item,
    Language,
    TaxonomyGroup,
    Variant,
    VariantVersion,
    definition_system,
)
from airflow_provider_kontent.testing.ratelimit import RateLimitConfig, RateLimiter
from airflow_provider_kontent.testing.tokens import new_secret

ELEMENT_TYPES = (
    "text",
    "rich_text",
    "number",
    "date_time",
    "multiple_choice",
    "asset",
    "modular_content",
    "taxonomy",
    "url_slug",
    "custom",
    "subpages",
)
V1_CHANGE_TYPE_STYLES = ("suffixed", "plain")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_CODENAME = re.compile(r"^[A-Za-z0-9_\-]+$")
REQUEST_LOG_LIMIT = 50_000

# Store methods reachable through the control API (POST /_emulator/<name>) and EmulatorControl.
CONTROL_METHODS = (
    "create_environment",
    "get_environment",
    "list_environments",
    "update_environment",
    "delete_environment",
    "revoke_key",
    "seed",
    "upsert_type",
    "rename_type",
    "delete_type",
    "upsert_taxonomy",
    "delete_taxonomy",
    "upsert_language",
    "rename_language",
    "delete_language",
    "upsert_item",
    "publish",
    "unpublish",
    "archive",
    "change_workflow_step",
    "delete_variant",
    "delete_item",
    "move_item",
    "bulk",
    "generate_changes",
    "inject_fault",
    "clear_faults",
    "faults",
    "requests",
    "clear_requests",
    "set_rate_limit",
    "propagate",
    "reset",
)
# Store methods that only read (they leave the change generation alone).
READ_METHODS = frozenset({"get_environment", "list_environments", "faults", "requests"})
# Operations allowed inside bulk(): the per-environment mutations (env_id comes from bulk itself).
BULK_OPERATIONS = (
    "upsert_type",
    "rename_type",
    "delete_type",
    "upsert_taxonomy",
    "delete_taxonomy",
    "upsert_language",
    "rename_language",
    "delete_language",
    "upsert_item",
    "publish",
    "unpublish",
    "archive",
    "change_workflow_step",
    "delete_variant",
    "delete_item",
    "move_item",
    "generate_changes",
)
# Content changes: each outermost call is one processing group for the propagation delay.
CONTENT_CHANGES = frozenset({*BULK_OPERATIONS, "bulk"})


# ---------------------------------------------------------------------------------------------- validation


def _check_str(field: str, value: Any, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ControlError(field, f"must be a non-empty string; got {value!r}")
    return value


def _check_codename(field: str, value: Any) -> str:
    _check_str(field, value)
    if not _CODENAME.match(value):
        raise ControlError(field, f"must contain only letters, digits, '_' and '-'; got {value!r}")
    return value


def _check_bool(field: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ControlError(field, f"must be true or false; got {value!r}")
    return value


def _check_int(field: str, value: Any, minimum: int, maximum: int | None = None) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ControlError(field, f"must be an integer >= {minimum}; got {value!r}")
    if maximum is not None and value > maximum:
        raise ControlError(field, f"must be an integer <= {maximum}; got {value!r}")
    return value


def _check_seconds(field: str, value: Any) -> float:
    if (
        not isinstance(value, (int, float))
        or isinstance(value, bool)
        or value != value  # NaN
        or not 0 <= value <= 86_400 * 365
    ):
        raise ControlError(field, f"must be a number of seconds between 0 and one year; got {value!r}")
    return float(value)


def _check_guid(field: str, value: Any) -> str:
    if not isinstance(value, str) or not _GUID.match(value):
        raise ControlError(field, f"must be a GUID like 0f5b6e9a-1c2d-4e3f-8a9b-0c1d2e3f4a5b; got {value!r}")
    return value.lower()


def _new_key(kind: str) -> str:
    return f"kontent-emulator-{kind}-{secrets.token_hex(16)}"


# ----------------------------------------------------------------------------------------------- snapshots


def language_dict(lang: Language) -> dict[str, Any]:
    return {
        "id": lang.id,
        "codename": lang.codename,
        "name": lang.name,
        "fallback": lang.fallback,
        "active": lang.active,
    }


def type_dict(ctype: ContentType) -> dict[str, Any]:
    return {
        "id": ctype.id,
        "codename": ctype.codename,
        "name": ctype.name,
        "last_modified": ctype.last_modified,
        "elements": copy.deepcopy(ctype.elements),
    }


def taxonomy_dict(group: TaxonomyGroup) -> dict[str, Any]:
    return {
        "id": group.id,
        "codename": group.codename,
        "name": group.name,
        "last_modified": group.last_modified,
        "terms": copy.deepcopy(group.terms),
    }


class RequestLog:
    """What non-control requests the emulator saw (bounded; Authorization already redacted)."""

    def __init__(self) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=REQUEST_LOG_LIMIT)

    def add(self, entry: dict[str, Any]) -> None:
        self._entries.append(entry)

    def clear(self) -> None:
        self._entries.clear()

    def list(self, env_id: str | None = None) -> list[dict[str, Any]]:
        return [copy.deepcopy(e) for e in self._entries if env_id is None or e.get("env_id") == env_id]


@dataclass
class _PendingGroup:
    """Changes of one outermost content call that readers may not see before ``visible_at``."""

    visible_at: float  # time.monotonic()
    before: tuple[dict, dict, dict, list]  # (items, types, taxonomies, languages) before the call


def _locked(method):
    """Run a store method under the store lock (re-entrant, so methods may call each other).

    Mutating methods bump ``generation``; content changes also open/close a processing group.
    """
    name = method.__name__
    reads_only = name in READ_METHODS
    content_change = name in CONTENT_CHANGES

    def wrapper(self: EmulatorStore, *args: Any, **kwargs: Any) -> Any:
        with self.lock:
            if reads_only:
                return method(self, *args, **kwargs)
            outermost = content_change and self._group is None
            if outermost:
                self._open_group(args[0] if args else kwargs.get("env_id"))
            try:
                return method(self, *args, **kwargs)
            finally:
                if outermost:
                    self._close_group()
                self.generation += 1

    wrapper.__name__ = method.__name__
    wrapper.__doc__ = method.__doc__
    wrapper.__signature__ = inspect.signature(method)  # type: ignore[attr-defined]
    return wrapper


class EmulatorStore:
    """All emulator state. Public mutation methods mirror ``EmulatorControl`` 1:1."""

    def __init__(self, rate_limit: bool = False) -> None:
        self.lock = threading.RLock()
        self.clock = KontentClock()
        self.default_rate_limit = rate_limit
        self.environments: dict[str, Environment] = {}
        self.logs: dict[tuple[str, str], ChangeLog] = {}
        self.fault_set = FaultSet()
        self.request_log = RequestLog()
        self.rate_limiter = RateLimiter(enabled=rate_limit)
        self._seq = 0  # global, never reset: stale tokens can never point past new changes
        # signs Sync tokens: seqs are only meaningful in this store, so another instance's token is foreign
        self.token_secret = new_secret()
        self._generated = 0
        self.generation = 0  # bumped by every mutation; keys the Delivery selection cache
        self.selection_cache = SelectionCache()
        self._pending: dict[str, deque[_PendingGroup]] = {}
        self._watermark: dict[str, float] = {}  # env id -> visible_at of its latest pending group
        # the open processing group: (env id, visible_at, content before, seq before); visible_at 0 = at once
        self._group: tuple[str, float, tuple | None, int] | None = None
        self._codenames: dict[str, dict[str, Item]] = {}  # env id -> item codename -> item

    # ------------------------------------------------------------------------------ read side (lock held)

    @property
    def head(self) -> int:
        """The seq of the latest change (the cursor "now" for sync init)."""
        return self._seq

    def get_env(self, env_id: str) -> Environment | None:
        """The live ``Environment`` (callers hold ``self.lock`` while they use it)."""
        return self.environments.get(env_id.lower()) if isinstance(env_id, str) else None

    def log(self, env_id: str, host: str) -> ChangeLog:
        return self.logs[(env_id, host)]

    @contextmanager
    def read(self) -> Iterator[EmulatorStore]:
        """``with store.read(): ...`` holds the lock for a consistent view of the model."""
        with self.lock:
            yield self

    # --------------------------------------------------------------------------- propagation delay

    def _open_group(self, env_id: Any) -> None:
        env = self.get_env(env_id)
        if env is None:  # the method itself reports the bad env_id
            self._group = ("", 0.0, None, self._seq)
            return
        now = time.monotonic()
        watermark = self._watermark.get(env.id, 0.0)
        if env.propagation_delay_s <= 0 and watermark <= now:
            self._group = (env.id, 0.0, None, self._seq)
            return
        visible_at = max(now + env.propagation_delay_s, watermark)
        before = copy.deepcopy((env.items, env.types, env.taxonomies, env.languages))
        self._group = (env.id, visible_at, before, self._seq)

    def _close_group(self) -> None:
        group, self._group = self._group, None
        if group is None:
            return
        env_id, visible_at, before, seq_before = group
        if before is None or self._seq == seq_before or env_id not in self.environments:
            return
        self._pending.setdefault(env_id, deque()).append(_PendingGroup(visible_at, before))
        self._watermark[env_id] = visible_at

    def _visible_at(self, env: Environment) -> float:
        if self._group is not None and self._group[0] == env.id:
            return self._group[1]
        return 0.0

    def _settle(self, env_id: str, now: float) -> deque[_PendingGroup] | None:
        """Drop the processing groups that became visible by ``now``; the rest, oldest first."""
        pending = self._pending.get(env_id)
        if not pending:
            return None
        while pending and pending[0].visible_at <= now:
            pending.popleft()
            self.generation += 1  # what readers see just changed
        return pending or None

    def visible_env(self, env: Environment) -> Environment:
        """``env`` as Sync and Delivery readers see it now (lock held): the live object unless changes
        are still propagating; then the content as it was before the oldest pending group."""
        pending = self._settle(env.id, time.monotonic())
        if pending is None:
            return env
        items, types, taxonomies, languages = pending[0].before
        return replace(env, items=items, types=types, taxonomies=taxonomies, languages=languages)

    def visible_head(self, env_id: str, host: str) -> int:
        """The sync cursor "now" for readers: the head, or just before the oldest change not yet visible."""
        now = time.monotonic()
        if self._settle(env_id, now) is None:
            return self._seq
        first = self.log(env_id, host).first_invisible_seq(now)
        return self._seq if first is None else first - 1

    @_locked
    def propagate(self, env_id: str) -> int:
        """Make every pending change of ``env_id`` visible now (tests need not sleep through the delay).

        Returns how many processing groups were pending."""
        env = self._env(env_id)
        pending = self._pending.pop(env.id, None) or deque()
        self._watermark.pop(env.id, None)
        now = time.monotonic()
        for host in HOSTS:
            self.log(env.id, host).make_visible(now)
        return len(pending)

    def _env(self, env_id: Any) -> Environment:
        _check_str("env_id", env_id)
        env = self.get_env(env_id)
        if env is None:
            raise ControlError("env_id", f"environment {env_id!r} does not exist", status=404)
        return env

    def _record(
        self,
        env: Environment,
        hosts: tuple[str, ...],
        kind: str,
        key: tuple[str, ...],
        change_type: str,
        system: dict[str, Any],
        item_id: str | None = None,
        type_id: str | None = None,
    ) -> None:
        timestamp = self.clock.now()
        visible_at = self._visible_at(env)
        for host in hosts:
            self._seq += 1
            entry = ChangeEntry(
                self._seq, kind, key, change_type, timestamp, system, item_id, type_id, visible_at
            )
            self.logs[(env.id, host)].append(entry)

    def _record_model(self, env: Environment, kind: str, obj_id: str, change_type: str, system: dict) -> None:
        self._record(env, HOSTS, kind, (obj_id,), change_type, system)

    def _record_definition(
        self, env: Environment, kind: str, definition: ContentType | TaxonomyGroup, change_type: str
    ) -> None:
        """Log a change of a content type (``TYPE``) or taxonomy group (``TAXONOMY``)."""
        self._record_model(env, kind, definition.id, change_type, definition_system(definition))

    def _record_variant(
        self,
        env: Environment,
        host: str,
        item: Item,
        language: str,
        change_type: str,
        version: VariantVersion,
    ) -> None:
        system = item_system(env, item, version, language)
        self._record(env, (host,), ITEM, (item.id, language), change_type, system, item.id, item.type_id)

    # ------------------------------------------------------------------------------------ environments

    def _env_dict(self, env: Environment) -> dict[str, Any]:
        override = self.rate_limiter.overrides.get(env.id)
        return {
            "id": env.id,
            "secure_access": env.secure_access,
            "secure_key": env.secure_key,
            "preview_key": env.preview_key,
            "revoked_keys": sorted(env.revoked_keys),
            "languages": [language_dict(lang) for lang in env.languages],
            "page_size": env.page_size,
            "feed_page_size": env.feed_page_size,
            "v1_change_types": env.v1_change_types,
            "url_max_length": env.url_max_length,
            "url_too_long_status": env.url_too_long_status,
            "rate_limit": override.enabled if override else None,
            "token_ttl_s": env.token_ttl_s,
            "propagation_delay_s": env.propagation_delay_s,
            "pending_changes": len(self._settle(env.id, time.monotonic()) or ()),
        }

    def _build_languages(self, languages: Any) -> list[Language]:
        if languages is None:
            languages = [{"codename": "en-US", "name": "English"}]
        if not isinstance(languages, list) or not languages:
            raise ControlError(
                "languages", f"must be a non-empty list of language objects; got {languages!r}"
            )
        built: list[Language] = []
        for index, spec in enumerate(languages):
            field = f"languages[{index}]"
            if not isinstance(spec, dict):
                raise ControlError(field, f"must be an object with 'codename'; got {spec!r}")
            unknown = set(spec) - {"codename", "name", "id", "fallback", "active"}
            if unknown:
                raise ControlError(f"{field}.{sorted(unknown)[0]}", "unknown field")
            codename = _check_codename(f"{field}.codename", spec.get("codename"))
            if any(lang.codename == codename for lang in built):
                raise ControlError(f"{field}.codename", f"duplicate language {codename!r}")
            name = _check_str(f"{field}.name", spec.get("name", codename))
            lang_id = _check_guid(f"{field}.id", spec["id"]) if spec.get("id") else str(uuid.uuid4())
            active = _check_bool(f"{field}.active", spec.get("active", True))
            fallback = _check_str(f"{field}.fallback", spec.get("fallback"), optional=True)
            if index == 0 and not active:
                raise ControlError(f"{field}.active", "the default (first) language cannot be inactive")
            built.append(Language(lang_id, codename, name, fallback, active))
        codenames = {lang.codename for lang in built}
        for index, lang in enumerate(built):
            if lang.fallback is not None and (
                lang.fallback not in codenames or lang.fallback == lang.codename
            ):
                raise ControlError(
                    f"languages[{index}].fallback",
                    f"must name another language of the list; got {lang.fallback!r}",
                )
        return built

    @_locked
    def create_environment(
        self,
        environment_id: str | None = None,
        secure_access: bool = False,
        secure_key: str | None = None,
        preview_key: str | None = None,
        languages: list[dict[str, Any]] | None = None,
        page_size: int = 100,
        feed_page_size: int = 100,
        v1_change_types: str = "suffixed",
        url_max_length: int = 2000,
        url_too_long_status: int = 414,
        rate_limit: bool | None = None,
        token_ttl_s: float | None = None,
        propagation_delay_s: float = 0,
    ) -> dict[str, Any]:
        """Create an environment; keys are generated when not given. Returns the environment dict.

        ``token_ttl_s`` (None or 0 = never) expires sync tokens; ``propagation_delay_s`` delays the
        visibility of changes to Sync and Delivery (docs/emulator.md "Token TTL and propagation delay").
        """
        env_id = (
            _check_guid("environment_id", environment_id) if environment_id is not None else str(uuid.uuid4())
        )
        if env_id in self.environments:
            raise ControlError("environment_id", f"environment {env_id!r} already exists", status=409)
        env = Environment(
            id=env_id,
            secure_access=_check_bool("secure_access", secure_access),
            secure_key=_check_str("secure_key", secure_key, optional=True) or _new_key("secure"),
            preview_key=_check_str("preview_key", preview_key, optional=True) or _new_key("preview"),
            languages=self._build_languages(languages),
            page_size=_check_int("page_size", page_size, 1, 10_000),
            feed_page_size=_check_int("feed_page_size", feed_page_size, 1, 10_000),
            v1_change_types=self._check_style(v1_change_types),
            url_max_length=_check_int("url_max_length", url_max_length, 64),
            url_too_long_status=_check_int("url_too_long_status", url_too_long_status, 400, 599),
            token_ttl_s=self._check_ttl(token_ttl_s),
            propagation_delay_s=_check_seconds("propagation_delay_s", propagation_delay_s),
        )
        if env.secure_key == env.preview_key:
            raise ControlError("preview_key", "must differ from secure_key")
        if rate_limit is not None:
            _check_bool("rate_limit", rate_limit)
        self.environments[env_id] = env
        for host in HOSTS:
            self.logs[(env_id, host)] = ChangeLog()
        if rate_limit is not None:
            self.set_rate_limit(enabled=rate_limit, env_id=env_id)
        return self._env_dict(env)

    @staticmethod
    def _check_ttl(ttl: Any) -> float | None:
        if ttl is None:
            return None
        return _check_seconds("token_ttl_s", ttl) or None

    @staticmethod
    def _check_style(style: Any) -> str:
        if style not in V1_CHANGE_TYPE_STYLES:
            raise ControlError("v1_change_types", f"must be 'suffixed' or 'plain'; got {style!r}")
        return style

    @_locked
    def get_environment(self, env_id: str) -> dict[str, Any]:
        return self._env_dict(self._env(env_id))

    @_locked
    def list_environments(self) -> list[dict[str, Any]]:
        return [self._env_dict(env) for env in self.environments.values()]

    @_locked
    def update_environment(
        self,
        env_id: str,
        secure_access: bool | None = None,
        secure_key: str | None = None,
        preview_key: str | None = None,
        page_size: int | None = None,
        feed_page_size: int | None = None,
        v1_change_types: str | None = None,
        url_max_length: int | None = None,
        url_too_long_status: int | None = None,
        token_ttl_s: float | None = None,
        propagation_delay_s: float | None = None,
    ) -> dict[str, Any]:
        """Change settings in place (``None`` = unchanged). A replaced key stops working (401).

        ``token_ttl_s=0`` switches expiry off again. A new ``propagation_delay_s`` applies to later
        changes; pending ones keep their time (``propagate`` releases them)."""
        env = self._env(env_id)
        changes: dict[str, Any] = {}
        if secure_access is not None:
            changes["secure_access"] = _check_bool("secure_access", secure_access)
        if secure_key is not None:
            changes["secure_key"] = _check_str("secure_key", secure_key)
        if preview_key is not None:
            changes["preview_key"] = _check_str("preview_key", preview_key)
        if page_size is not None:
            changes["page_size"] = _check_int("page_size", page_size, 1, 10_000)
        if feed_page_size is not None:
            changes["feed_page_size"] = _check_int("feed_page_size", feed_page_size, 1, 10_000)
        if v1_change_types is not None:
            changes["v1_change_types"] = self._check_style(v1_change_types)
        if url_max_length is not None:
            changes["url_max_length"] = _check_int("url_max_length", url_max_length, 64)
        if url_too_long_status is not None:
            changes["url_too_long_status"] = _check_int("url_too_long_status", url_too_long_status, 400, 599)
        if token_ttl_s is not None:
            changes["token_ttl_s"] = self._check_ttl(token_ttl_s)
        if propagation_delay_s is not None:
            changes["propagation_delay_s"] = _check_seconds("propagation_delay_s", propagation_delay_s)
        if changes.get("secure_key", env.secure_key) == changes.get("preview_key", env.preview_key):
            raise ControlError("preview_key", "must differ from secure_key")
        for name, value in changes.items():
            setattr(env, name, value)
        return self._env_dict(env)

    @_locked
    def delete_environment(self, env_id: str) -> None:
        env = self._env(env_id)
        del self.environments[env.id]
        for host in HOSTS:
            self.logs.pop((env.id, host), None)
        self.rate_limiter.overrides.pop(env.id, None)
        self._pending.pop(env.id, None)
        self._watermark.pop(env.id, None)
        self._codenames.pop(env.id, None)

    @_locked
    def revoke_key(self, env_id: str, kind: str) -> dict[str, Any]:
        """Revoke the environment's current ``"secure"`` or ``"preview"`` key: it then gets 403."""
        env = self._env(env_id)
        if kind not in ("secure", "preview"):
            raise ControlError("kind", f"must be 'secure' or 'preview'; got {kind!r}")
        key = env.secure_key if kind == "secure" else env.preview_key
        if key:
            env.revoked_keys.add(key)
        return self._env_dict(env)

    @_locked
    def seed(self, name: str = "demo") -> dict[str, Any]:
        """Build a named data set (only ``"demo"``: the content engineer's ``seed.build_demo``)."""
        if name != "demo":
            raise ControlError("name", f"unknown seed {name!r}; available: 'demo'")
        try:
            from airflow_provider_kontent.testing.seed import DEMO_ENVIRONMENT_ID, build_demo
        except ImportError as exc:
            raise ControlError("name", f"the demo seed is not available: {exc}", status=501) from exc
        if DEMO_ENVIRONMENT_ID in self.environments:
            self.delete_environment(DEMO_ENVIRONMENT_ID)
        return build_demo(self)

    # --------------------------------------------------------------------------------------- model: types

    def _check_elements(self, elements: Any) -> dict[str, dict[str, Any]]:
        if elements is None:
            return {}
        if not isinstance(elements, dict):
            raise ControlError(
                "elements", f"must be an object of element codename -> definition; got {elements!r}"
            )
        checked: dict[str, dict[str, Any]] = {}
        for codename, spec in elements.items():
            field = f"elements.{codename}"
            _check_codename(field, codename)
            if not isinstance(spec, dict):
                raise ControlError(field, f"must be an object with 'type'; got {spec!r}")
            if spec.get("type") not in ELEMENT_TYPES:
                raise ControlError(
                    f"{field}.type", f"must be one of {', '.join(ELEMENT_TYPES)}; got {spec.get('type')!r}"
                )
            definition = dict(spec)
            definition["name"] = _check_str(f"{field}.name", spec.get("name", codename))
            if "options" in spec and not isinstance(spec["options"], list):
                raise ControlError(f"{field}.options", "must be a list of {name, codename}")
            group = spec.get("taxonomy_group")
            if spec["type"] == "taxonomy" and group is not None:
                _check_codename(f"{field}.taxonomy_group", group)
            checked[codename] = definition
        return checked

    def _find_type(self, env: Environment, ref: Any, field: str) -> ContentType:
        _check_str(field, ref)
        ctype = env.types.get(ref) or env.type_by_codename(ref)
        if ctype is None:
            raise ControlError(field, f"content type {ref!r} does not exist", status=404)
        return ctype

    @_locked
    def upsert_type(
        self,
        env_id: str,
        codename: str,
        name: str | None = None,
        elements: dict[str, dict[str, Any]] | None = None,
        id: str | None = None,
    ) -> dict[str, Any]:
        """Create or update a content type (by ``id`` when given, else by codename); logs a type change."""
        env = self._env(env_id)
        _check_codename("codename", codename)
        type_id = _check_guid("id", id) if id is not None else None
        by_codename = env.type_by_codename(codename)
        existing = env.types.get(type_id) if type_id else by_codename
        if by_codename is not None and by_codename is not existing:
            raise ControlError("codename", f"another content type already uses codename {codename!r}")
        checked = self._check_elements(elements)
        name = _check_str("name", name, optional=True)
        now = self.clock.now()
        if existing is None:
            existing = ContentType(type_id or str(uuid.uuid4()), codename, name or codename, now, checked)
            env.types[existing.id] = existing
        else:
            existing.codename = codename
            existing.name = name or existing.name
            if elements is not None:
                existing.elements = checked
            existing.last_modified = now
        self._record_definition(env, TYPE, existing, CHANGED)
        return type_dict(existing)

    @_locked
    def rename_type(self, env_id: str, type_id_or_codename: str, new_codename: str) -> dict[str, Any]:
        """Change a type's codename. Items keep their type (by id); v1 tokens filtered on the old name go quiet."""
        env = self._env(env_id)
        ctype = self._find_type(env, type_id_or_codename, "type_id_or_codename")
        _check_codename("new_codename", new_codename)
        clash = env.type_by_codename(new_codename)
        if clash is not None and clash is not ctype:
            raise ControlError("new_codename", f"another content type already uses codename {new_codename!r}")
        ctype.codename = new_codename
        ctype.last_modified = self.clock.now()
        self._record_definition(env, TYPE, ctype, CHANGED)
        return type_dict(ctype)

    @_locked
    def delete_type(self, env_id: str, codename: str) -> None:
        env = self._env(env_id)
        ctype = self._find_type(env, codename, "codename")
        used = sum(1 for item in env.items.values() if item.type_id == ctype.id)
        if used:
            raise ControlError(
                "codename", f"content type {codename!r} is used by {used} item(s); delete them first"
            )
        del env.types[ctype.id]
        self._record_definition(env, TYPE, ctype, DELETED)

    # ---------------------------------------------------------------------------------- model: taxonomies

    def _check_terms(self, terms: Any, field: str) -> list[dict[str, Any]]:
        if terms is None:
            return []
        if not isinstance(terms, list):
            raise ControlError(field, f"must be a list of {{name, codename, terms?}}; got {terms!r}")
        checked = []
        for index, term in enumerate(terms):
            sub = f"{field}[{index}]"
            if not isinstance(term, dict):
                raise ControlError(sub, f"must be an object; got {term!r}")
            codename = _check_codename(f"{sub}.codename", term.get("codename"))
            checked.append(
                {
                    "name": _check_str(f"{sub}.name", term.get("name", codename)),
                    "codename": codename,
                    "terms": self._check_terms(term.get("terms"), f"{sub}.terms"),
                }
            )
        return checked

    @_locked
    def upsert_taxonomy(
        self,
        env_id: str,
        codename: str,
        name: str | None = None,
        terms: list[dict[str, Any]] | None = None,
        id: str | None = None,
    ) -> dict[str, Any]:
        env = self._env(env_id)
        _check_codename("codename", codename)
        group_id = _check_guid("id", id) if id is not None else None
        by_codename = env.taxonomy_by_codename(codename)
        existing = env.taxonomies.get(group_id) if group_id else by_codename
        if by_codename is not None and by_codename is not existing:
            raise ControlError("codename", f"another taxonomy group already uses codename {codename!r}")
        checked = self._check_terms(terms, "terms")
        name = _check_str("name", name, optional=True)
        now = self.clock.now()
        if existing is None:
            existing = TaxonomyGroup(group_id or str(uuid.uuid4()), codename, name or codename, now, checked)
            env.taxonomies[existing.id] = existing
        else:
            existing.codename = codename
            existing.name = name or existing.name
            if terms is not None:
                existing.terms = checked
            existing.last_modified = now
        self._record_definition(env, TAXONOMY, existing, CHANGED)
        return taxonomy_dict(existing)

    @_locked
    def delete_taxonomy(self, env_id: str, codename: str) -> None:
        env = self._env(env_id)
        _check_str("codename", codename)
        group = env.taxonomies.get(codename) or env.taxonomy_by_codename(codename)
        if group is None:
            raise ControlError("codename", f"taxonomy group {codename!r} does not exist", status=404)
        del env.taxonomies[group.id]
        self._record_definition(env, TAXONOMY, group, DELETED)

    # ----------------------------------------------------------------------------------- model: languages

    def _record_language(self, env: Environment, lang: Language, change_type: str) -> None:
        system = {"id": lang.id, "name": lang.name, "codename": lang.codename}
        self._record_model(env, LANGUAGE, lang.id, change_type, system)

    def _find_language(self, env: Environment, codename: Any, field: str) -> Language:
        _check_str(field, codename)
        lang = env.language(codename)
        if lang is None:
            raise ControlError(field, f"language {codename!r} does not exist", status=404)
        return lang

    @_locked
    def upsert_language(
        self,
        env_id: str,
        codename: str,
        name: str | None = None,
        fallback: str | None = None,
        active: bool = True,
        id: str | None = None,
    ) -> dict[str, Any]:
        """Create or update a language; ``active=False`` deactivates it (a "deleted" language delta)."""
        env = self._env(env_id)
        _check_codename("codename", codename)
        name = _check_str("name", name, optional=True)
        _check_bool("active", active)
        if fallback is not None:
            _check_str("fallback", fallback)
            if fallback == codename or env.language(fallback) is None:
                raise ControlError("fallback", f"must name another existing language; got {fallback!r}")
        lang = env.language(codename)
        if lang is None:
            lang_id = _check_guid("id", id) if id is not None else str(uuid.uuid4())
            lang = Language(lang_id, codename, name or codename, fallback, active)
            env.languages.append(lang)
        else:
            if lang is env.default_language and not active:
                raise ControlError("active", "the default language cannot be deactivated")
            lang.name = name or lang.name
            lang.fallback = fallback if lang is not env.default_language else None
            lang.active = active
        self._record_language(env, lang, CHANGED if active else DELETED)
        return language_dict(lang)

    @_locked
    def rename_language(self, env_id: str, codename: str, new_codename: str) -> dict[str, Any]:
        env = self._env(env_id)
        lang = self._find_language(env, codename, "codename")
        _check_codename("new_codename", new_codename)
        if env.language(new_codename) is not None:
            raise ControlError("new_codename", f"language {new_codename!r} already exists")
        for other in env.languages:
            if other.fallback == codename:
                other.fallback = new_codename
        for item in env.items.values():
            if codename in item.variants:
                variant = item.variants.pop(codename)
                variant.language = new_codename
                item.variants[new_codename] = variant
        lang.codename = new_codename
        self._record_language(env, lang, CHANGED)
        return language_dict(lang)

    @_locked
    def delete_language(self, env_id: str, codename: str) -> None:
        env = self._env(env_id)
        lang = self._find_language(env, codename, "codename")
        if lang is env.default_language:
            raise ControlError("codename", "the default language cannot be deleted")
        used = sum(1 for item in env.items.values() if codename in item.variants)
        if used:
            raise ControlError(
                "codename", f"language {codename!r} has variants in {used} item(s); delete them first"
            )
        env.languages.remove(lang)
        for other in env.languages:
            if other.fallback == codename:
                other.fallback = None
        self._record_language(env, lang, DELETED)

    # --------------------------------------------------------------------------------------------- items

    def _item_by_codename(self, env: Environment, codename: str) -> Item | None:
        """``env.item_by_codename`` in O(1): a per-environment index kept by the store's own mutations
        (big ``bulk`` imports would otherwise be quadratic); a stale hit falls back to the scan."""
        index = self._codenames.get(env.id)
        if index is None:
            index = self._codenames[env.id] = {}
            for item in env.items.values():
                index.setdefault(item.codename, item)
        item = index.get(codename)
        if item is not None and (item.codename != codename or env.items.get(item.id) is not item):
            return env.item_by_codename(codename)
        return item

    def _index_item(self, env: Environment, item: Item, old_codename: str | None = None) -> None:
        index = self._codenames.get(env.id)
        if index is None:  # built from env.items on first use
            return
        if old_codename is not None and old_codename != item.codename and index.get(old_codename) is item:
            del index[old_codename]
        index[item.codename] = item

    def _unindex_item(self, env: Environment, item: Item) -> None:
        index = self._codenames.get(env.id)
        if index is not None and index.get(item.codename) is item:
            del index[item.codename]

    def _find_item(self, env: Environment, ref: Any, field: str = "item_id") -> Item:
        _check_str(field, ref)
        item = env.items.get(ref) or self._item_by_codename(env, ref)
        if item is None:
            raise ControlError(field, f"content item {ref!r} does not exist", status=404)
        return item

    def _find_variant(self, item: Item, language: Any) -> Variant:
        _check_str("language", language)
        variant = item.variants.get(language)
        if variant is None or variant.latest is None:
            raise ControlError("language", f"item {item.codename!r} has no {language!r} variant", status=404)
        return variant

    @_locked
    def upsert_item(
        self,
        env_id: str,
        codename: str,
        type: str,
        language: str,
        elements: dict[str, Any] | None = None,
        name: str | None = None,
        collection: str | None = None,
        id: str | None = None,
        publish: bool = True,
        workflow_step: str | None = None,
        is_component: bool = False,
    ) -> str:
        """Create the item if needed and write its ``language`` variant; returns the item id.

        ``elements`` merge over the previous version. ``collection`` None keeps an existing item's
        collection ("default" for a new item); a different value moves the item. ``publish`` also
        publishes the variant; ``workflow_step`` "published"/"archived" act like publish/archive.
        """
        env = self._env(env_id)
        _check_codename("codename", codename)
        ctype = env.type_by_codename(_check_str("type", type))
        if ctype is None:
            raise ControlError("type", f"content type {type!r} does not exist")
        lang = env.language(_check_str("language", language))
        if lang is None or not lang.active:
            raise ControlError("language", f"language {language!r} does not exist or is not active")
        if elements is not None:
            if not isinstance(elements, dict):
                raise ControlError(
                    "elements", f"must be an object of element codename -> value; got {elements!r}"
                )
            for element in elements:
                if element not in ctype.elements:
                    raise ControlError(
                        f"elements.{element}", f"content type {ctype.codename!r} has no such element"
                    )
        name = _check_str("name", name, optional=True)
        if collection is not None:
            _check_codename("collection", collection)
        item_id = _check_guid("id", id) if id is not None else None
        _check_bool("publish", publish)
        _check_bool("is_component", is_component)
        step = _check_str("workflow_step", workflow_step, optional=True)
        if step == "archived" and publish:
            raise ControlError("workflow_step", "'archived' cannot be combined with publish=true")
        item = env.items.get(item_id) if item_id else self._item_by_codename(env, codename)
        clash = self._item_by_codename(env, codename)
        if clash is not None and clash is not item:
            raise ControlError("codename", f"another item already uses codename {codename!r}")
        if item is not None and item.type_id != ctype.id:
            raise ControlError(
                "type", f"item {item.codename!r} is of another content type; types cannot change"
            )
        if item is None:
            item = Item(
                item_id or str(uuid.uuid4()), codename, ctype.id, collection or "default", is_component
            )
            env.items[item.id] = item
            self._index_item(env, item)
        else:
            old_codename, item.codename = item.codename, codename
            self._index_item(env, item, old_codename)
            if collection is not None and collection != item.collection:
                self._move(env, item, collection)
        self._write_variant(env, item, language, elements, name, publish or step == "published", step)
        if step == "archived":
            self.archive(env.id, item.id, language)
        return item.id

    def _write_variant(
        self,
        env: Environment,
        item: Item,
        language: str,
        elements: dict[str, Any] | None,
        name: str | None,
        publish: bool,
        step: str | None,
    ) -> None:
        variant = item.variants.get(language)
        if variant is None:
            variant = item.variants[language] = Variant(language)
        previous = variant.latest
        merged = dict(previous.elements) if previous else {}
        if elements:
            merged.update(copy.deepcopy(elements))
        if publish:
            step = "published"
        elif step is None or step in ("published", "archived"):
            step = "draft"
        version = VariantVersion(
            name=name or (previous.name if previous else item.codename),
            elements=merged,
            last_modified=self.clock.now(),
            workflow_step=step,
        )
        variant.latest = version
        variant.archived = False
        self._record_variant(env, PREVIEW, item, language, CHANGED, version)
        if publish:
            variant.published = replace(version, elements=dict(version.elements))
            self._record_variant(env, PRODUCTION, item, language, CHANGED, variant.published)

    @_locked
    def publish(self, env_id: str, item_id: str, language: str) -> None:
        env = self._env(env_id)
        item = self._find_item(env, item_id)
        variant = self._find_variant(item, language)
        variant.latest = replace(variant.latest, workflow_step="published", last_modified=self.clock.now())
        variant.archived = False
        variant.published = replace(variant.latest, elements=dict(variant.latest.elements))
        self._record_variant(env, PREVIEW, item, language, CHANGED, variant.latest)
        self._record_variant(env, PRODUCTION, item, language, CHANGED, variant.published)

    def _withdraw(self, env: Environment, item: Item, language: str, variant: Variant, step: str) -> None:
        was_published = variant.published
        variant.published = None
        variant.latest = replace(variant.latest, workflow_step=step, last_modified=self.clock.now())
        self._record_variant(env, PREVIEW, item, language, CHANGED, variant.latest)
        if was_published is not None:
            self._record_variant(env, PRODUCTION, item, language, DELETED, was_published)

    @_locked
    def unpublish(self, env_id: str, item_id: str, language: str) -> None:
        """Withdraw the published version (production: deleted); the latest version goes back to draft."""
        env = self._env(env_id)
        item = self._find_item(env, item_id)
        variant = self._find_variant(item, language)
        if variant.published is None:
            raise ControlError("language", f"the {language!r} variant of {item.codename!r} is not published")
        self._withdraw(env, item, language, variant, "draft")

    @_locked
    def archive(self, env_id: str, item_id: str, language: str) -> None:
        """Archive a variant: preview logs it changed (step "archived"); production deletes a published one."""
        env = self._env(env_id)
        item = self._find_item(env, item_id)
        variant = self._find_variant(item, language)
        variant.archived = True
        self._withdraw(env, item, language, variant, "archived")

    @_locked
    def change_workflow_step(self, env_id: str, item_id: str, language: str, step: str) -> None:
        """Move the latest version to ``step`` (a preview-only change unless it publishes or archives)."""
        env = self._env(env_id)
        item = self._find_item(env, item_id)
        variant = self._find_variant(item, language)
        _check_codename("step", step)
        if step == "published":
            self.publish(env.id, item.id, language)
        elif step == "archived":
            self.archive(env.id, item.id, language)
        else:
            variant.archived = False
            variant.latest = replace(variant.latest, workflow_step=step, last_modified=self.clock.now())
            self._record_variant(env, PREVIEW, item, language, CHANGED, variant.latest)

    @_locked
    def delete_variant(self, env_id: str, item_id: str, language: str) -> None:
        env = self._env(env_id)
        item = self._find_item(env, item_id)
        variant = self._find_variant(item, language)
        self._delete_variant(env, item, language, variant)

    def _delete_variant(self, env: Environment, item: Item, language: str, variant: Variant) -> None:
        if variant.latest is not None:
            self._record_variant(env, PREVIEW, item, language, DELETED, variant.latest)
        if variant.published is not None:
            self._record_variant(env, PRODUCTION, item, language, DELETED, variant.published)
        del item.variants[language]

    @_locked
    def delete_item(self, env_id: str, item_id: str) -> None:
        env = self._env(env_id)
        item = self._find_item(env, item_id)
        for language, variant in list(item.variants.items()):
            self._delete_variant(env, item, language, variant)
        del env.items[item.id]
        self._unindex_item(env, item)

    @_locked
    def move_item(self, env_id: str, item_id: str, collection: str) -> None:
        """Move an item to another collection: every variant changes on preview, published ones on production."""
        env = self._env(env_id)
        item = self._find_item(env, item_id)
        _check_codename("collection", collection)
        if collection != item.collection:
            self._move(env, item, collection)

    def _move(self, env: Environment, item: Item, collection: str) -> None:
        item.collection = collection
        for language, variant in item.variants.items():
            if variant.latest is not None:
                self._record_variant(env, PREVIEW, item, language, CHANGED, variant.latest)
            if variant.published is not None:
                self._record_variant(env, PRODUCTION, item, language, CHANGED, variant.published)

    # ----------------------------------------------------------------------------------------- bulk ops

    def invoke(self, name: str, arguments: Any, field_prefix: str = "") -> Any:
        """Call public method ``name`` with JSON ``arguments``; argument errors name the field."""
        if not isinstance(arguments, dict):
            raise ControlError(
                field_prefix.rstrip(".") or None, f"arguments must be a JSON object; got {arguments!r}"
            )
        method = getattr(self, name)
        parameters = inspect.signature(method).parameters
        for key in arguments:
            if key not in parameters:
                raise ControlError(f"{field_prefix}{key}", f"unknown field for {name}")
        for key, parameter in parameters.items():
            if parameter.default is inspect.Parameter.empty and key not in arguments:
                raise ControlError(f"{field_prefix}{key}", f"required field missing for {name}")
        try:
            return method(**arguments)
        except ControlError as exc:
            if field_prefix:
                raise ControlError(f"{field_prefix}{exc.field}", exc.message, exc.status) from exc
            raise

    @_locked
    def bulk(self, env_id: str, operations: list[dict[str, Any]]) -> list[Any]:
        """Apply many operations (``{"op": name, **arguments}``, env_id implied) in one call, in order.

        Not atomic: operations before a failing one stay applied; the error names ``operations[i].field``.
        """
        env = self._env(env_id)
        if not isinstance(operations, list):
            raise ControlError(
                "operations", f"must be a list of {{'op': ..., ...}} objects; got {operations!r}"
            )
        results = []
        for index, operation in enumerate(operations):
            prefix = f"operations[{index}]."
            if not isinstance(operation, dict):
                raise ControlError(f"operations[{index}]", f"must be an object; got {operation!r}")
            arguments = dict(operation)
            op = arguments.pop("op", None)
            if op not in BULK_OPERATIONS:
                raise ControlError(f"{prefix}op", f"must be one of {', '.join(BULK_OPERATIONS)}; got {op!r}")
            if "env_id" in arguments:
                raise ControlError(f"{prefix}env_id", "is implied by bulk(); remove it")
            results.append(self.invoke(op, {"env_id": env.id, **arguments}, prefix))
        return results

    @_locked
    def generate_changes(
        self,
        env_id: str,
        count: int,
        type: str = "article",
        language: str | None = None,
        publish: bool = True,
    ) -> int:
        """Create ``count`` synthetic items fast (benchmarks): one preview (+ production) change each.

        The content type is created with a ``title`` text element when it does not exist yet.
        """
        env = self._env(env_id)
        _check_int("count", count, 0, 1_000_000)
        _check_codename("type", type)
        _check_bool("publish", publish)
        lang = (
            self._find_language(env, language, "language") if language is not None else env.default_language
        )
        ctype = env.type_by_codename(type)
        if ctype is None:
            ctype = ContentType(
                str(uuid.uuid4()), type, type.replace("_", " ").title(), self.clock.now(),
                {"title": {"type": "text", "name": "Title"}},
            )  # fmt: skip
            env.types[ctype.id] = ctype
            self._record_definition(env, TYPE, ctype, CHANGED)
        for _ in range(count):
            self._generated += 1
            codename = f"generated_{self._generated}"
            item = Item(str(uuid.uuid4()), codename, ctype.id)
            env.items[item.id] = item
            self._index_item(env, item)
            title = {"title": f"Generated item {self._generated}"} if "title" in ctype.elements else None
            self._write_variant(
                env, item, lang.codename, title, f"Generated {self._generated}", publish, None
            )
        return count

    # ----------------------------------------------------------------------- faults, request log, limits

    @_locked
    def inject_fault(
        self,
        action: str,
        times: int = 1,
        method: str | None = None,
        path: str | None = None,
        env_id: str | None = None,
        status: int | None = None,
        retry_after: int | None = None,
        delay: float | None = None,
    ) -> dict[str, Any]:
        """Make the next ``times`` matching API requests fail with ``action`` (see docs/emulator.md)."""
        fault = build_fault(action, times, method, path, env_id, status, retry_after, delay)
        self.fault_set.add(fault)
        return fault.to_dict()

    @_locked
    def clear_faults(self) -> None:
        self.fault_set.clear()

    @_locked
    def faults(self) -> list[dict[str, Any]]:
        return self.fault_set.to_list()

    @_locked
    def requests(self, env_id: str | None = None) -> list[dict[str, Any]]:
        """Logged API requests (oldest first), optionally of one environment."""
        _check_str("env_id", env_id, optional=True)
        return self.request_log.list(env_id.lower() if env_id else None)

    @_locked
    def clear_requests(self) -> None:
        self.request_log.clear()

    @_locked
    def set_rate_limit(
        self,
        enabled: bool = True,
        env_id: str | None = None,
        per_second: int = 100,
        per_minute: int = 2000,
    ) -> dict[str, Any]:
        """Switch the 100/s + 2,000/min limit on or off, for every environment or for one."""
        _check_bool("enabled", enabled)
        config = RateLimitConfig(
            enabled, _check_int("per_second", per_second, 1), _check_int("per_minute", per_minute, 1)
        )
        if env_id is None:
            self.rate_limiter.default = config
        else:
            self.rate_limiter.overrides[self._env(env_id).id] = config
        return {"enabled": config.enabled, "per_second": config.per_second, "per_minute": config.per_minute}

    @_locked
    def reset(self) -> None:
        """Drop all environments, faults, the request log and rate-limit settings (back to construction)."""
        self.environments.clear()
        self.logs.clear()
        self._pending.clear()
        self._watermark.clear()
        self._codenames.clear()
        self.selection_cache.clear()
        self.fault_set.clear()
        self.request_log.clear()
        self.rate_limiter.reset(self.default_rate_limit)

    def log_request(self, entry: dict[str, Any]) -> None:
        with self.lock:
            entry.setdefault("time", time.time())
            self.request_log.add(entry)
