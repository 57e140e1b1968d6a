"""What the init, pull and commit operators and the sensor share: the token arguments and the hook.

Every task names its connection and where its token lives with the same arguments
(``kontent_conn_id``, ``token_store``, ``variable_key``, ``asset``, ``api_version``, ``filters``), owned by
``KontentBaseOperator``, so a DAG can switch stores by changing one value. The store is resolved at
execute time, after templating and dynamic task mapping, because the default Variable key depends on
the (possibly mapped) connection id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal

from airflow.sdk import BaseOperator

from airflow_provider_kontent.tokens import (
    TOKEN_STORES,
    AssetTokenStore,
    TokenRecord,
    TokenStore,
    VariableTokenStore,
    XComTokenStore,
    default_variable_key,
    legacy_variable_key,
    token_fingerprint,
)

__all__ = [
    "KontentBaseOperator",
    "add_asset",
    "as_storage_path",
    "connection_label",
    "default_deferrable",
]


def as_storage_path(value: Any, *, what: str = "output_path", where: str = "") -> Any:
    """An ``ObjectStoragePath`` from a (rendered) URL string such as ``file:///data/out/`` or ``s3://b/p/``;
    ``None`` when the argument is not set (empty), which means "deliver through XCom".

    A URL Airflow cannot open (unknown scheme, missing filesystem package) is a ``KontentConfigError``
    (a ``ValueError``; permanent, so the task is not retried) that names the argument and, through
    ``where``, the task's connection, so the failing task is obvious.
    """
    if not value:
        return None
    from airflow.sdk import ObjectStoragePath

    if isinstance(value, ObjectStoragePath):
        return value
    try:
        return ObjectStoragePath(str(value))
    except ValueError as err:
        from airflow_provider_kontent.client import KontentConfigError

        raise KontentConfigError(f"{where}{what} {str(value)!r} cannot be opened: {err}", field=what) from err


def connection_label(kontent_conn_id: Any) -> str:
    """How errors name the connection, the same wording the hook gives client errors."""
    return f"connection {str(kontent_conn_id)!r}"


def default_deferrable() -> bool:
    """``[operators] default_deferrable`` (the Airflow-wide default for deferrable operators)."""
    try:
        from airflow.sdk import conf
    except ImportError:  # Airflow < 3.2
        from airflow.configuration import conf
    return conf.getboolean("operators", "default_deferrable", fallback=False)


def validate_store_args(token_store: str, asset: Any, where: str) -> None:
    """Fail at DAG parse time, not at 3 a.m., when the store arguments cannot work."""
    if token_store not in TOKEN_STORES:
        raise ValueError(f"{where}token_store must be one of {', '.join(TOKEN_STORES)}; got {token_store!r}")
    if token_store == "asset" and asset is None:
        raise ValueError(
            f"{where}token_store='asset' needs asset=..., e.g. asset=kontent_sync_asset('<environment id>')"
        )


def add_asset(kwargs: dict[str, Any], asset: Any, where: str) -> None:
    """Put ``asset`` into the task's ``inlets`` or ``outlets`` (unless already there)."""
    if asset is None:
        return
    current = kwargs.get(where)
    if current is None:
        items: list[Any] = []
    elif isinstance(current, (list, tuple)):
        items = list(current)
    else:
        items = [current]
    if asset not in items:
        items.append(asset)
    kwargs[where] = items


class KontentBaseOperator(BaseOperator):
    """The six token arguments, their validation, templating and asset wiring, plus the shared helpers.

    Operators subclass it directly (``class X(KontentBaseOperator)``); the sensor puts it first:
    ``class X(KontentBaseOperator, BaseSensorOperator)``. A subclass's ``__init__`` takes only its own
    arguments and passes ``**kwargs`` on.

    It is a ``BaseOperator`` subclass, not a plain mixin, on purpose: Airflow's
    ``.partial()``/``.expand()`` validation (``validate_mapping_kwargs``) and ``default_args`` filling
    only see the ``__init__`` parameters of classes built by ``BaseOperatorMeta`` (it records them on the
    wrapped ``__init__`` while walking the MRO). A plain mixin's ``__init__`` is skipped, so
    ``.expand(kontent_conn_id=[...])`` would fail with "unexpected keyword argument".

    :param kontent_conn_id: Kontent connection (templated).
    :param token_store: ``"variable"`` (default), ``"asset"`` (Airflow 3.3+) or ``"xcom"`` (one run only).
    :param variable_key: Variable name for ``token_store="variable"`` (templated); default
        ``kontent_sync_cursor__<kontent_conn_id>`` (a record under the earlier default
        ``kontent_sync_token__<kontent_conn_id>`` is still read while the new one is empty).
    :param asset: the Kontent asset whose state holds the token for ``token_store="asset"``; added to the
        task's inlets, or outlets where the class sets ``asset_attachment = "outlets"`` (the pull).
    :param api_version: Sync API version, 2 (default) or 1 (legacy; filters go to the server).
    :param filters: e.g. ``{"system.type[in]": "article,blog", "language": "de"}`` (templated).
    :param hook_params: client settings that win over the connection for this task, e.g.
        ``{"max_concurrency": 8, "max_attempts": 8}`` (any ``ClientConfig`` field except the key, which
        only ever comes from the connection so it cannot land in a serialized DAG).
    """

    #: Subclasses extend this: ``(*KontentBaseOperator.template_fields, "token")``.
    template_fields: Sequence[str] = ("kontent_conn_id", "variable_key", "filters")
    template_fields_renderers = {"filters": "json"}
    #: Where ``asset`` goes: inlets (state access, no asset event) or outlets (emits an event).
    asset_attachment: ClassVar[Literal["inlets", "outlets"]] = "inlets"

    def __init__(
        self,
        *,
        kontent_conn_id: str = "kontent_default",
        token_store: str = "variable",
        variable_key: str | None = None,
        asset: Any = None,
        api_version: int = 2,
        filters: Mapping[str, Any] | None = None,
        hook_params: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        where = f"{connection_label(kontent_conn_id)}: "
        validate_store_args(token_store, asset, where)
        if hook_params and "api_key" in hook_params:
            raise ValueError(
                f"{where}hook_params cannot carry api_key: put the key in the connection's password field"
            )
        if api_version not in (1, 2):
            raise ValueError(f"{where}api_version must be 1 or 2; got {api_version!r}")
        add_asset(kwargs, asset, self.asset_attachment)
        super().__init__(**kwargs)
        self.kontent_conn_id = kontent_conn_id
        self.token_store = token_store
        self.variable_key = variable_key
        self.asset = asset
        self.api_version = api_version
        self.filters = filters
        self.hook_params = dict(hook_params or {})

    @property
    def connection_label(self) -> str:
        """``connection '<id>'``: how every error of these tasks names the connection (after templating)."""
        return connection_label(self.kontent_conn_id)

    # The hook is created lazily in execute (never at parse time) and after templating/mapping.
    def get_hook(self) -> Any:
        hook = getattr(self, "_kontent_hook", None)
        if hook is None or hook.kontent_conn_id != self.kontent_conn_id:
            from airflow_provider_kontent.hooks.kontent import KontentHook

            hook = KontentHook(kontent_conn_id=self.kontent_conn_id, **self.hook_params)
            self._kontent_hook = hook
        return hook

    def close_hook(self) -> None:
        """Close the hook's client (its ``requests.Session`` and keep-alive sockets) if one was opened.

        Called in ``finally`` at the end of ``execute`` so that a long-lived process (``dag.test``, a
        sensor poking for hours, many tasks in one worker) does not accumulate sessions. Inside one
        ``execute`` the cached hook and client are reused; a later ``get_conn()`` opens a fresh client.
        """
        hook = getattr(self, "_kontent_hook", None)
        if hook is not None:
            hook.close()

    def normalized_filters(self) -> dict[str, str]:
        """Validated filters (a bad operator or empty value fails before any request)."""
        from airflow_provider_kontent.client import KontentConfigError, SyncFilters

        try:
            return SyncFilters.from_mapping(self.filters or None).to_dict()
        except KontentConfigError as err:
            if not err.context:  # name the connection like the hook does for the client's errors
                err.context = self.connection_label
            raise

    def connection_identity(self) -> tuple[str, str]:
        hook = self.get_hook()
        mode = hook.mode
        return hook.environment_id, getattr(mode, "value", str(mode))

    def resolve_store(self, context: Mapping[str, Any]) -> TokenStore:
        if self.token_store == "variable":
            if self.variable_key:
                return VariableTokenStore(self.variable_key)
            return VariableTokenStore(
                default_variable_key(self.kontent_conn_id),
                legacy_key=legacy_variable_key(self.kontent_conn_id),
            )
        if self.token_store == "asset":
            return AssetTokenStore(context, self.asset)
        task = context.get("task", self)
        upstream = task.get_flat_relative_ids(upstream=True)
        return XComTokenStore(context["ti"], upstream)

    def check_record(self, record: TokenRecord, store: TokenStore) -> None:
        """Refuse a record from another environment/mode/version; warn about changed v2 filters."""
        environment_id, mode = self.connection_identity()
        warning = record.check_compatible(
            environment_id=environment_id,
            mode=mode,
            api_version=self.api_version,
            filters=self.filters or None,
            source=f"the token in {store.location} (read with {self.connection_label})",
        )
        if warning:
            self.log.warning("%s", warning)

    def commit_next_token(self, store: TokenStore, *, previous_token: str, next_token: str) -> bool:
        """Advance the stored record from ``previous_token`` to ``next_token`` (compare-and-set)."""
        current = store.load()
        filters = self.normalized_filters()
        if current is None:
            environment_id, mode = self.connection_identity()
            record = TokenRecord.new(
                next_token,
                environment_id=environment_id,
                mode=mode,
                api_version=self.api_version,
                filters=filters,
            )
            if store.kind == "xcom":  # single-run store: nothing a concurrent run could have moved
                store.save(record)
                return True
        else:
            self.check_record(current, store)
            # advanced() clears snapshot_pending: a commit runs after the loads, so the init's snapshot
            # was handed on and the next init with snapshot=True need not export again.
            record = current.advanced(next_token, filters=filters)
        committed = store.commit(record, expected_token=previous_token)
        if committed:
            self.log.info(
                "Committed token %s -> %s in %s",
                token_fingerprint(previous_token),
                token_fingerprint(next_token),
                store.location,
            )
        return committed
