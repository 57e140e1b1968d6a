"""The emulator's backend: environments, the change logs their mutations feed, and one lock.

The backend knows nothing of HTTP or JSON: the API modules (``sync_api``, ``delivery_api``) read it with
the lock held, and every change arrives through an operation declared in ``control/operations.py``,
which validates the arguments' shape before calling the method of the same name here (stateful checks,
such as "this language exists", stay here and raise :class:`BackendError` naming the field).

Which host logs what (https://kontent.ai/learn/docs/apis/sync-api-v2): preview logs every variant change;
production logs publishes (changed) and unpublish/archive/delete of a published variant (deleted); both
log model changes (types, taxonomies, languages).

``generation`` counts mutations (and delayed changes becoming visible); the Delivery API reuses cached
selections while it is unchanged. Change processing lag lives in :mod:`.propagation`.
"""

from __future__ import annotations

import secrets
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from airflow_provider_kontent.testing.backend.changelog import (
    HOSTS,
    ITEM,
    ChangeEntry,
    ChangeLog,
)
from airflow_provider_kontent.testing.backend.clock import EmulatorTime, KontentClock
from airflow_provider_kontent.testing.backend.content_items import ItemOperations
from airflow_provider_kontent.testing.backend.content_model import ModelOperations
from airflow_provider_kontent.testing.backend.errors import CONFLICT, NOT_FOUND, BackendError
from airflow_provider_kontent.testing.backend.faults import FaultSet, build_fault
from airflow_provider_kontent.testing.backend.limits import check_language_count
from airflow_provider_kontent.testing.backend.model import (
    ContentType,
    Environment,
    Item,
    Language,
    TaxonomyGroup,
    VariantVersion,
    definition_system,
    item_system,
)
from airflow_provider_kontent.testing.backend.propagation import Propagation
from airflow_provider_kontent.testing.backend.read_cache import GenerationCache
from airflow_provider_kontent.testing.backend.request_log import RequestLog
from airflow_provider_kontent.testing.backend.seed_demo import DEMO_ENVIRONMENT_ID, build_demo
from airflow_provider_kontent.testing.backend.snapshots import language_dict
from airflow_provider_kontent.testing.backend.throttle import RateLimitConfig, RequestThrottle

READ = "read"  # leaves the content alone
WRITE = "write"  # changes settings or state (bumps the generation)
CONTENT = "content"  # changes content: one processing group for the propagation delay


def new_token_secret() -> bytes:
    """A fresh secret for signing one store's Sync tokens."""
    return secrets.token_bytes(32)


def _new_key(kind: str) -> str:
    return f"kontent-emulator-{kind}-{secrets.token_hex(16)}"


class Backend(ModelOperations, ItemOperations):
    """All emulator state. Operations take validated arguments; readers hold ``lock``."""

    def __init__(self, rate_limit: bool = False) -> None:
        self.lock = threading.RLock()
        self.time = EmulatorTime()
        self.clock = KontentClock(self.time)
        self.default_rate_limit = rate_limit
        self.environments: dict[str, Environment] = {}
        self.logs: dict[tuple[str, str], ChangeLog] = {}
        self.fault_set = FaultSet()
        self.request_log = RequestLog()
        self.throttle = RequestThrottle(enabled=rate_limit)
        self._seq = 0  # global, never reset: stale tokens can never point past new changes
        # signs Sync tokens: seqs are only meaningful in this store, so another instance's token is foreign
        self.token_secret = new_token_secret()
        self._generated = 0
        self.generation = 0  # bumped by every mutation; keys the Delivery selection cache
        self.selection_cache = GenerationCache()
        self.propagation = Propagation()
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
    def read(self) -> Iterator[Backend]:
        """``with store.read(): ...`` holds the lock for a consistent view of the model."""
        with self.lock:
            yield self

    @contextmanager
    def operation(self, nature: str, env_id: Any = None) -> Iterator[None]:
        """Run one operation under the lock (re-entrant, so operations may nest).

        Writes bump ``generation``; the outermost content operation is one processing group."""
        with self.lock:
            if nature == READ:
                yield
                return
            outermost = nature == CONTENT and self.propagation.open is None
            if outermost:
                self.propagation.begin(self.get_env(env_id), self.time.monotonic(), self._seq)
            try:
                yield
            finally:
                if outermost:
                    group = self.propagation.open
                    self.propagation.end(self._seq, group is not None and group.env_id in self.environments)
                self.generation += 1

    # --------------------------------------------------------------------------- propagation delay

    def _settle(self, env_id: str):
        pending, changed = self.propagation.settle(env_id, self.time.monotonic())
        self.generation += changed  # what readers see just changed
        return pending

    def visible_env(self, env: Environment, fresh: bool = True) -> Environment:
        """``env`` as readers see it now (lock held): the live object unless changes are still propagating.

        ``fresh`` (Sync, and Delivery requests with ``X-KC-Wait-For-Loading-New-Content: true``) sees
        every change that is visible; otherwise the CDN may still serve content from before it."""
        return Propagation.view(env, self._settle(env.id), self.time.monotonic(), fresh)

    def is_stale(self, env: Environment) -> bool:
        """Whether a CDN (non-waiting) Delivery read of ``env`` now gets content older than Sync reports."""
        return Propagation.is_stale(self._settle(env.id), self.time.monotonic())

    def visible_head(self, env_id: str, host: str) -> int:
        """The sync cursor "now" for readers: the head, or just before the oldest change not yet visible."""
        now = self.time.monotonic()
        if self._settle(env_id) is None:
            return self._seq
        first = self.log(env_id, host).first_invisible_seq(now)
        return self._seq if first is None else first - 1

    def propagate(self, env_id: str) -> int:
        env = self._env(env_id)
        count = self.propagation.release(env.id)
        now = self.time.monotonic()
        for host in HOSTS:
            self.log(env.id, host).make_visible(now)
        return count

    def advance_time(self, seconds: float) -> float:
        return self.time.advance(seconds)

    # --------------------------------------------------------------------------------------- recording

    def _env(self, env_id: str) -> Environment:
        env = self.get_env(env_id)
        if env is None:
            raise BackendError("env_id", f"environment {env_id!r} does not exist", NOT_FOUND)
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
        visible_at = self.propagation.visible_at(env.id)
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
        override = self.throttle.overrides.get(env.id)
        waiting, stale = Propagation.counts(self._settle(env.id), self.time.monotonic())
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
            "legacy_v1": env.legacy_v1,
            "url_max_length": env.url_max_length,
            "url_too_long_status": env.url_too_long_status,
            "rate_limit": override.enabled if override else None,
            "token_ttl_s": env.token_ttl_s,
            "propagation_delay_s": env.propagation_delay_s,
            "stale_content_s": env.stale_content_s,
            "pending_changes": waiting,
            "stale_changes": stale,
        }

    @staticmethod
    def _build_languages(languages: list[dict[str, Any]] | None) -> list[Language]:
        """Languages from validated specs; checks what spans the list (duplicates, fallbacks, the limit)."""
        if languages is None:
            languages = [{"codename": "en-US", "name": "English"}]
        check_language_count("languages", len(languages))
        built: list[Language] = []
        for index, spec in enumerate(languages):
            field = f"languages[{index}]"
            codename = spec["codename"]
            if any(lang.codename == codename for lang in built):
                raise BackendError(f"{field}.codename", f"duplicate language {codename!r}")
            active = spec.get("active", True)
            if index == 0 and not active:
                raise BackendError(f"{field}.active", "the default (first) language cannot be inactive")
            lang_id = spec.get("id") or str(uuid.uuid4())
            built.append(
                Language(lang_id, codename, spec.get("name") or codename, spec.get("fallback"), active)
            )
        codenames = {lang.codename for lang in built}
        for index, lang in enumerate(built):
            if lang.fallback is not None and (
                lang.fallback not in codenames or lang.fallback == lang.codename
            ):
                raise BackendError(
                    f"languages[{index}].fallback",
                    f"must name another language of the list; got {lang.fallback!r}",
                )
        return built

    def create_environment(
        self,
        environment_id: str | None = None,
        secure_access: bool = False,
        secure_key: str | None = None,
        preview_key: str | None = None,
        languages: list[dict[str, Any]] | None = None,
        rate_limit: bool | None = None,
        **settings: Any,
    ) -> dict[str, Any]:
        env_id = environment_id or str(uuid.uuid4())
        if env_id in self.environments:
            raise BackendError("environment_id", f"environment {env_id!r} already exists", CONFLICT)
        env = Environment(
            id=env_id,
            secure_access=secure_access,
            secure_key=secure_key or _new_key("secure"),
            preview_key=preview_key or _new_key("preview"),
            languages=self._build_languages(languages),
            **settings,
        )
        env.token_ttl_s = env.token_ttl_s or None
        if env.secure_key == env.preview_key:
            raise BackendError("preview_key", "must differ from secure_key")
        self.environments[env_id] = env
        for host in HOSTS:
            self.logs[(env_id, host)] = ChangeLog()
        if rate_limit is not None:
            self.throttle.overrides[env_id] = RateLimitConfig(enabled=rate_limit)
        return self._env_dict(env)

    def get_environment(self, env_id: str) -> dict[str, Any]:
        return self._env_dict(self._env(env_id))

    def list_environments(self) -> list[dict[str, Any]]:
        return [self._env_dict(env) for env in self.environments.values()]

    def update_environment(self, env_id: str, **settings: Any) -> dict[str, Any]:
        env = self._env(env_id)
        changes = {name: value for name, value in settings.items() if value is not None}
        if "token_ttl_s" in changes:
            changes["token_ttl_s"] = changes["token_ttl_s"] or None  # 0 = no expiry
        if changes.get("secure_key", env.secure_key) == changes.get("preview_key", env.preview_key):
            raise BackendError("preview_key", "must differ from secure_key")
        for name, value in changes.items():
            setattr(env, name, value)
        return self._env_dict(env)

    def delete_environment(self, env_id: str) -> None:
        env = self._env(env_id)
        del self.environments[env.id]
        for host in HOSTS:
            self.logs.pop((env.id, host), None)
        self.throttle.overrides.pop(env.id, None)
        self.propagation.clear(env.id)
        self._codenames.pop(env.id, None)

    def revoke_key(self, env_id: str, kind: str) -> dict[str, Any]:
        env = self._env(env_id)
        key = env.secure_key if kind == "secure" else env.preview_key
        if key:
            env.revoked_keys.add(key)
        return self._env_dict(env)

    def seed(self, name: str = "demo") -> dict[str, Any]:
        if DEMO_ENVIRONMENT_ID in self.environments:
            self.delete_environment(DEMO_ENVIRONMENT_ID)
        return build_demo(self)

    # ----------------------------------------------------------------------- faults, request log, limits

    def inject_fault(self, **arguments: Any) -> dict[str, Any]:
        fault = build_fault(**arguments)
        self.fault_set.add(fault)
        return fault.to_dict()

    def clear_faults(self) -> None:
        self.fault_set.clear()

    def faults(self) -> list[dict[str, Any]]:
        return self.fault_set.to_list()

    def requests(self, env_id: str | None = None) -> list[dict[str, Any]]:
        return self.request_log.list(env_id.lower() if env_id else None)

    def clear_requests(self) -> None:
        self.request_log.clear()

    def set_rate_limit(
        self, enabled: bool = True, env_id: str | None = None, per_second: int = 100, per_minute: int = 2000
    ) -> dict[str, Any]:
        config = RateLimitConfig(enabled, per_second, per_minute)
        if env_id is None:
            self.throttle.default = config
        else:
            self.throttle.overrides[self._env(env_id).id] = config
        return {"enabled": config.enabled, "per_second": config.per_second, "per_minute": config.per_minute}

    def reset(self) -> None:
        self.environments.clear()
        self.logs.clear()
        self.propagation.clear()
        self._codenames.clear()
        self.selection_cache.clear()
        self.fault_set.clear()
        self.request_log.clear()
        self.throttle.reset(self.default_rate_limit)
        self.time.reset()

    def log_request(self, entry: dict[str, Any]) -> None:
        with self.lock:
            self.request_log.add(entry)
