"""The continuation token as a small, self-describing record, and the places it can live.

A Sync continuation token is opaque: nothing in it says which environment, mode (public, secure,
preview) or API version it belongs to. Reusing a token with another connection would not fail loudly;
at best Kontent rejects it, at worst a preview token is drained as if it were production. So the token is
never stored bare but as a ``TokenRecord`` that carries its origin, and every reader checks that origin
against its own connection before the token is used (``TokenRecord.check_compatible``).

Where the record lives decides what survives:

* ``XComTokenStore``: the record travels along the DAG's edges inside one DAG run. It does not survive
  into the next run (and a retried task's own XComs are cleared), so it suits one-off runs only.
* ``VariableTokenStore``: an Airflow Variable, global and persistent across runs; last writer wins.
* ``AssetTokenStore``: the asset state store of a Kontent asset (Airflow 3.3+), persistent across runs
  and scoped to the asset, e.g. ``kontent_sync_asset("<environment id>")``.

Writes that advance a token are compare-and-set (``TokenStore.commit``): the store must still hold the
token the pull started from, otherwise a concurrent run moved it and the commit fails loudly instead of
skipping or repeating changes. Airflow offers no atomic compare-and-set for Variables or asset state,
so the check is read-compare-write; the remaining window is documented in docs/operators.md.
"""

from __future__ import annotations

import hashlib
import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from airflow_provider_kontent.outcomes import KontentTaskFailure

__all__ = [
    "TOKEN_KEY",
    "TOKEN_STORES",
    "AssetTokenStore",
    "KontentTokenError",
    "TokenConflictError",
    "TokenMismatchError",
    "TokenNotFoundError",
    "TokenRecord",
    "TokenStore",
    "VariableTokenStore",
    "XComTokenStore",
    "TokenRecordCorruptError",
    "default_variable_key",
    "legacy_variable_key",
    "kontent_sync_asset",
    "token_fingerprint",
]

log = logging.getLogger(__name__)

#: XCom key and asset-state key under which the record is stored.
TOKEN_KEY = "kontent_sync_token"
#: Accepted values of the operators' ``token_store`` argument.
TOKEN_STORES = ("xcom", "variable", "asset")
_RECORD_FORMAT = 1


class KontentTokenError(KontentTaskFailure):
    """A token problem that a retry cannot fix (the task fails without retrying, even in a sensor with
    ``soft_fail=True``: see ``airflow_provider_kontent.outcomes``)."""


class TokenMismatchError(KontentTokenError):
    """The stored token belongs to another environment, mode, API version or (v1) filter set."""


class TokenConflictError(KontentTokenError):
    """A commit found the store moved by someone else since the pull started."""


class TokenNotFoundError(KontentTokenError):
    """No token is stored (the init task has not run, or wrote to another store or key)."""


class TokenRecordCorruptError(TokenMismatchError):
    """The store holds something that is not a token record (e.g. a Variable edited by hand).

    Never replaced by a fresh init: that would silently drop every change since the lost token.
    """


def token_fingerprint(token: str | None) -> str:
    """A short, stable name for a token in logs and errors: ``#`` and 10 hex digits of its hash.

    Tokens are long, and their prefixes are alike (the same JSON header, base64-encoded), so a prefix
    cannot tell two tokens apart; and where Airflow masks a stored value, every occurrence of it in the
    log becomes ``***``. A fingerprint is neither: "advanced #1f0c... -> #9b7a..." stays readable.
    """
    if not token:
        return "<none>"
    return "#" + hashlib.blake2b(token.encode("utf-8"), digest_size=5).hexdigest()


def default_variable_key(kontent_conn_id: str) -> str:
    """The Variable of ``token_store="variable"`` when ``variable_key`` is not given.

    It names a *cursor* on purpose: Airflow masks the value of every Variable whose name contains a
    sensitive word such as "token" (in the UI, the REST API and every log line), and a continuation
    token is a read position, not a credential: it gives access to nothing the connection's own key
    does not already allow.
    """
    return f"kontent_sync_cursor__{kontent_conn_id}"


def legacy_variable_key(kontent_conn_id: str) -> str:
    """The default Variable name of versions up to 0.1: still read when the new one is empty."""
    return f"kontent_sync_token__{kontent_conn_id}"


def kontent_sync_asset(environment_id: str, name: str = "sync") -> Any:
    """The conventional asset of a Kontent sync: ``Asset("kontent://<environment id>/<name>")``.

    Use a different ``name`` per filter set when several syncs with different filters share an
    environment, so each keeps its own token.
    """
    from airflow.sdk import Asset

    return Asset(f"kontent://{environment_id}/{name}")


def _now_iso() -> str:
    # Fixed microsecond precision so the strings also sort chronologically.
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def _normalize_filters(filters: Mapping[str, Any] | None) -> dict[str, str]:
    """Filters as the client validates and spells them, so equal filter sets compare equal."""
    from airflow_provider_kontent.client import SyncFilters

    return SyncFilters.from_mapping(filters).to_dict()


@dataclass(frozen=True)
class TokenRecord:
    """A continuation token plus where it came from; stored as a small JSON dict."""

    token: str
    environment_id: str
    mode: str
    api_version: int
    filters: dict[str, str] = field(default_factory=dict)
    created_at: str = field(default_factory=_now_iso)
    advanced_at: str = field(default_factory=_now_iso)
    #: The init took a snapshot with this token and no commit has confirmed it was loaded yet. The next
    #: init with ``snapshot=True`` exports again instead of trusting a snapshot that may have been lost
    #: (a failed load, a lost XCom). Not part of ``check_compatible``: it says nothing about the origin.
    snapshot_pending: bool = False

    @classmethod
    def new(
        cls,
        token: str,
        *,
        environment_id: str,
        mode: str,
        api_version: int,
        filters: Mapping[str, Any] | None = None,
        snapshot_pending: bool = False,
    ) -> TokenRecord:
        now = _now_iso()
        return cls(
            token=token,
            environment_id=str(environment_id),
            mode=str(mode),
            api_version=int(api_version),
            filters=_normalize_filters(filters),
            created_at=now,
            advanced_at=now,
            snapshot_pending=bool(snapshot_pending),
        )

    def advanced(self, token: str, *, filters: Mapping[str, Any] | None = None) -> TokenRecord:
        """The same sync moved on to ``token`` (and, for v2, possibly to new client-side filters).

        Only a commit advances a token, and a commit runs after the tasks that load the pulled changes
        (and the init's snapshot), so the advanced record no longer has a snapshot pending.
        """
        changes: dict[str, Any] = {"token": token, "advanced_at": _now_iso(), "snapshot_pending": False}
        if filters is not None:
            changes["filters"] = _normalize_filters(filters)
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {"format": _RECORD_FORMAT, **asdict(self)}

    @classmethod
    def from_dict(cls, value: Any, *, source: str = "the token store") -> TokenRecord:
        """Parse a stored record; anything else is a clear error naming where it came from."""
        if isinstance(value, str):
            raise TokenRecordCorruptError(
                f"{source} holds a bare string, not a Kontent token record. Tokens are stored as JSON "
                "records (token, environment, mode, API version, filters); re-initialize with "
                "KontentSyncInitOperator(reinitialize=True) or pass the token explicitly with token=..."
            )
        if not isinstance(value, Mapping):
            raise TokenRecordCorruptError(
                f"{source} holds {type(value).__name__}, not a Kontent token record"
            )
        missing = [name for name in ("token", "environment_id", "mode", "api_version") if not value.get(name)]
        if missing:
            raise TokenRecordCorruptError(f"{source} holds a token record without {', '.join(missing)}")
        token = value["token"]
        if not isinstance(token, str) or any(ch.isspace() or not ch.isprintable() for ch in token):
            raise TokenRecordCorruptError(
                f"{source} holds a token record whose token is not a continuation token (it contains "
                "white space or control characters, e.g. from a hand edit); it was left untouched"
            )
        try:
            api_version = int(value["api_version"])
        except (TypeError, ValueError):
            raise TokenRecordCorruptError(
                f"{source} holds a token record with a non-numeric api_version"
            ) from None
        filters = value.get("filters") or {}
        if not isinstance(filters, Mapping):
            raise TokenRecordCorruptError(f"{source} holds a token record whose filters are not a mapping")
        return cls(
            token=str(value["token"]),
            environment_id=str(value["environment_id"]),
            mode=str(value["mode"]),
            api_version=api_version,
            filters={str(k): str(v) for k, v in filters.items()},
            created_at=str(value.get("created_at") or ""),
            advanced_at=str(value.get("advanced_at") or ""),
            # records written before the field existed have no snapshot pending
            snapshot_pending=value.get("snapshot_pending") is True,
        )

    def check_compatible(
        self,
        *,
        environment_id: str,
        mode: str,
        api_version: int,
        filters: Mapping[str, Any] | None,
        source: str = "the stored token",
    ) -> str | None:
        """Raise ``TokenMismatchError`` when this token cannot serve the caller's sync.

        Environment, mode and API version are baked into what a token means, so a difference is always
        an error. Filters are an error only for v1, where the server stored them in the token; for v2
        they are applied client-side, so a change is allowed and returned as a warning text (changes
        that the old filters skipped before are not re-delivered).
        """
        problems = []
        if self.environment_id != str(environment_id):
            problems.append(f"environment {self.environment_id!r} (this task uses {environment_id!r})")
        if self.mode != str(mode):
            problems.append(f"mode {self.mode!r} (this task uses {mode!r})")
        if self.api_version != int(api_version):
            problems.append(f"Sync API v{self.api_version} (this task uses v{api_version})")
        wanted = _normalize_filters(filters)
        filters_differ = wanted != self.filters
        if filters_differ and self.api_version == 1:
            problems.append(f"v1 filters {self.filters} baked into the token (this task uses {wanted})")
        if problems:
            raise TokenMismatchError(
                f"{source} was created for " + "; ".join(problems) + ". Using it would sync the wrong "
                "content. Point this task at the right connection/store, or start a new sync with "
                "KontentSyncInitOperator(reinitialize=True)."
            )
        if filters_differ:
            return (
                f"{source} was last used with filters {self.filters}; this task applies {wanted}. "
                "The new filters take effect from now on; changes the old filters skipped are not re-delivered."
            )
        return None

    def describe(self) -> str:
        pending = ", its snapshot not yet confirmed by a commit" if self.snapshot_pending else ""
        return (
            f"token {token_fingerprint(self.token)} (environment {self.environment_id}, mode {self.mode}, "
            f"v{self.api_version}, created {self.created_at}, last advanced {self.advanced_at}{pending})"
        )


class TokenStore(ABC):
    """Where a ``TokenRecord`` lives; bound to one task's context."""

    kind: str = ""

    @property
    @abstractmethod
    def location(self) -> str:
        """Human-readable location for logs and errors (never contains a secret)."""

    @abstractmethod
    def _read(self) -> Any:
        """The raw stored value, or None."""

    @abstractmethod
    def _write(self, value: dict[str, Any]) -> None: ...

    def load(self) -> TokenRecord | None:
        value = self._read()
        if value is None:
            return None
        return TokenRecord.from_dict(value, source=self.location)

    def require(self) -> TokenRecord:
        record = self.load()
        if record is None:
            raise TokenNotFoundError(
                f"no Kontent sync token in {self.location}. Run KontentSyncInitOperator with the same "
                "token_store/variable_key/asset first, or pass token=... explicitly."
            )
        return record

    def save(self, record: TokenRecord) -> None:
        """Unconditional write (used by init)."""
        self._write(record.to_dict())

    def commit(self, record: TokenRecord, *, expected_token: str) -> bool:
        """Compare-and-set: write ``record`` only if the store still holds ``expected_token``.

        Returns False (and writes nothing) when the store already holds ``record.token``: a retried
        commit whose first attempt had written. The exception is a commit from a token to itself (a
        drain that found nothing) over a record with ``snapshot_pending``: it writes ``record`` to
        confirm the snapshot and returns True. Raises ``TokenConflictError`` when the store holds any
        other token, i.e. a concurrent run or a re-initialization moved it since the pull started.
        """
        current = self.load()
        if current is not None and current.token == record.token:
            if current.snapshot_pending and not record.snapshot_pending and expected_token == record.token:
                # A drain that found nothing may hand back the token it started from (whether Kontent
                # does is unconfirmed); the commit still confirms that the snapshot was handed on.
                self._write(record.to_dict())
                log.info("%s: snapshot of %s confirmed", self.location, token_fingerprint(record.token))
                return True
            log.info("%s already holds %s; nothing to commit", self.location, token_fingerprint(record.token))
            return False
        if current is None or current.token != expected_token:
            found = "nothing" if current is None else current.describe()
            raise TokenConflictError(
                f"refusing to commit: {self.location} should still hold {token_fingerprint(expected_token)} (the "
                f"token this pull started from) but holds {found}. Another run or a re-initialization moved "
                "it; committing now would skip or repeat changes. Check for overlapping DAG runs "
                "(max_active_runs=1 is recommended) and re-run."
            )
        self._write(record.to_dict())
        return True


class VariableTokenStore(TokenStore):
    """An Airflow Variable holding the record as JSON: persistent across runs, last writer wins.

    :param key: the Variable name.
    :param legacy_key: a name an earlier version wrote by default; read (never written) while ``key``
        is empty, so a deployment that upgrades keeps its position. The next commit writes ``key``.
    """

    kind = "variable"

    def __init__(self, key: str, *, legacy_key: str | None = None) -> None:
        self.key = key
        self.legacy_key = legacy_key if legacy_key != key else None
        self._told_legacy = False

    @property
    def location(self) -> str:
        return f"Variable {self.key!r}"

    def _read(self) -> Any:
        from airflow.sdk import Variable

        # Read the text and decode it here: Variable.get(deserialize_json=True) answers the default
        # for text that is not JSON, which would look like "no token" and start a new sync.
        key, raw = self.key, Variable.get(self.key, default=None)
        if raw is None and self.legacy_key:
            raw = Variable.get(self.legacy_key, default=None)
            if raw is not None:
                key = self.legacy_key
                if not self._told_legacy:
                    self._told_legacy = True
                    log.warning(
                        "Variable %r is empty; reading the token from %r, the default name of earlier "
                        "versions. The next commit writes %r (the old Variable is then unused and can be "
                        "deleted).",
                        self.key,
                        self.legacy_key,
                        self.key,
                    )
        if raw is None or not isinstance(raw, str):
            return raw
        try:
            return json.loads(raw)
        except ValueError as err:
            raise TokenRecordCorruptError(
                f"Variable {key!r} holds text that is not JSON ({err.__class__.__name__}: {err}), not a "
                "Kontent token record; it was left untouched. Restore the record, or delete the Variable "
                "and re-initialize (KontentSyncInitOperator) if losing the position is acceptable."
            ) from None

    def _write(self, value: dict[str, Any]) -> None:
        from airflow.sdk import Variable

        Variable.set(self.key, value, description="Kontent.ai Sync continuation token", serialize_json=True)


class AssetTokenStore(TokenStore):
    """The asset state store of a Kontent asset (Airflow 3.3+): persistent across runs, per asset."""

    kind = "asset"

    def __init__(self, context: Mapping[str, Any], asset: Any) -> None:
        self.asset = asset
        stores = context.get("asset_state_store")
        if stores is None:
            raise KontentTokenError(
                "token_store='asset' needs the asset state store, which Airflow provides from 3.3 on, for "
                f"tasks that have the asset as an inlet or outlet (asset: {getattr(asset, 'uri', asset)!r}). "
                "On older Airflow use token_store='variable'."
            )
        try:
            self._accessor = stores[asset]
        except KeyError as err:
            raise KontentTokenError(
                f"asset {getattr(asset, 'uri', asset)!r} is not an inlet or outlet of this task, so its state "
                "store is not available"
            ) from err

    @property
    def location(self) -> str:
        return f"asset state of {getattr(self.asset, 'uri', self.asset)!r}"

    def _read(self) -> Any:
        return self._accessor.get(TOKEN_KEY, None)

    def _write(self, value: dict[str, Any]) -> None:
        self._accessor.set(TOKEN_KEY, value)


class XComTokenStore(TokenStore):
    """The record in XCom, handed along the DAG's edges within one DAG run.

    Reading looks at the ``kontent_sync_token`` XCom of every upstream task and takes the most recently
    advanced record, so a commit downstream of a pull downstream of an init sees the newest token.
    Nothing here survives into the next DAG run.
    """

    kind = "xcom"

    def __init__(self, ti: Any, upstream_task_ids: Iterable[str]) -> None:
        self.ti = ti
        self.upstream_task_ids = sorted(upstream_task_ids)

    @property
    def location(self) -> str:
        return f"XCom {TOKEN_KEY!r} of the upstream tasks of {self.ti.task_id!r} in this DAG run"

    def _read(self) -> Any:
        best: dict[str, Any] | None = None
        for task_id in self.upstream_task_ids:
            for value in xcom_pull_same_map_index(self.ti, task_id, TOKEN_KEY):
                if isinstance(value, Mapping) and (
                    best is None or str(value.get("advanced_at", "")) >= str(best.get("advanced_at", ""))
                ):
                    best = dict(value)
        return best

    def _write(self, value: dict[str, Any]) -> None:
        self.ti.xcom_push(key=TOKEN_KEY, value=value)


def xcom_pull_same_map_index(ti: Any, task_id: str, key: str) -> list[Any]:
    """XCom values of ``task_id``: the same map index when both are mapped, else the unmapped value."""
    map_index = getattr(ti, "map_index", -1)
    values = []
    if map_index is not None and map_index >= 0:
        values.append(ti.xcom_pull(task_ids=task_id, key=key, map_indexes=map_index))
    values.append(ti.xcom_pull(task_ids=task_id, key=key, map_indexes=-1))
    return [v for v in values if v is not None]
