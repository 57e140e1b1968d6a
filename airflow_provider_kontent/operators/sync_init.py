"""``KontentSyncInitOperator``: start a sync (get the first token) and store it, idempotently."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_kontent.client import item_content
from airflow_provider_kontent.handoff import (
    HandoffTooLargeError,
    NdjsonSink,
    XComSink,
    delta_record,
)
from airflow_provider_kontent.operators.base import KontentBaseOperator, as_storage_path
from airflow_provider_kontent.outcomes import KontentTaskFailure, airflow_outcomes
from airflow_provider_kontent.tokens import TokenRecord, token_fingerprint

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = ["KontentSyncInitOperator"]


class KontentSyncInitOperator(KontentBaseOperator):
    """Initialize a Kontent.ai sync and store its continuation token.

    Safe in scheduled DAGs: when the store already holds a token for this environment, mode and API
    version, it is kept (and the log says so), because a new init marks "now" and silently drops every
    change made since the stored token. Pass ``reinitialize=True`` to start over on purpose.

    Takes the token arguments of ``KontentBaseOperator`` (``kontent_conn_id``, ``token_store``,
    ``variable_key``, ``asset``, ``api_version``, ``filters``). The ``asset`` goes to the inlets (init
    emits no asset event); the ``filters`` are stored in the token record and applied by sensor and pull.

    :param reinitialize: replace a stored token with a new one (drops the changes since the old one).
    :param snapshot: after a new init, export every item through ``/items-feed`` so a first load has the
        full state; changes made during the export also appear in the next pull (at-least-once). The
        token is stored with ``snapshot_pending`` until a commit (the pull's or
        ``KontentSyncCommitOperator``'s) advances it; until then every init with ``snapshot=True`` keeps
        the token and exports again, so a snapshot whose load failed is not lost.
    :param snapshot_path: directory (``ObjectStoragePath`` or URL string, templated) for the snapshot's
        NDJSON parts; without it the snapshot records go into XCom (guarded by ``max_xcom_bytes``).
    :param snapshot_languages: languages to export (templated); default: every language of the environment.
    :param max_xcom_bytes: size limit of a snapshot returned through XCom; a bigger snapshot fails the
        task without retrying.
    :return: the token record as a dict (with ``snapshot_pending``) plus ``initialized`` (bool) and
        ``snapshot`` (dict or None; also set with ``initialized=False`` when a pending snapshot was
        exported again).
    """

    template_fields: Sequence[str] = (
        *KontentBaseOperator.template_fields,
        "snapshot_path",
        "snapshot_languages",
    )
    ui_color = "#c9e7f8"

    def __init__(
        self,
        *,
        reinitialize: bool = False,
        snapshot: bool = False,
        snapshot_path: Any = None,
        snapshot_languages: Sequence[str] | None = None,
        max_xcom_bytes: int = 1_000_000,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.reinitialize = reinitialize
        self.snapshot = snapshot
        self.snapshot_path = snapshot_path
        self.snapshot_languages = snapshot_languages
        self.max_xcom_bytes = max_xcom_bytes

    def execute(self, context: Context) -> dict[str, Any]:
        try:
            with airflow_outcomes():
                return self._initialize(context)
        except HandoffTooLargeError as err:
            # A retry would export the same too-big snapshot again: fail without retrying.
            raise KontentTaskFailure(
                f"{self.connection_label}: {err} (for this init's snapshot the directory setting is "
                "snapshot_path)"
            ) from None
        finally:
            self.close_hook()

    def _initialize(self, context: Context) -> dict[str, Any]:
        store = self.resolve_store(context)
        filters = self.normalized_filters()
        existing = store.load()
        if existing is not None and not self.reinitialize:
            self.check_record(existing, store)
            self.log.info(
                "Keeping the %s found in %s (a new init would drop every change since it; pass "
                "reinitialize=True to start over).",
                existing.describe(),
                store.location,
            )
            if self.snapshot and existing.snapshot_pending:
                self.log.warning(
                    "The snapshot taken when %s was initialized was never confirmed as loaded (no commit "
                    "has advanced the token since), so it is exported again. A snapshot taken any time "
                    "after the init, plus the changes since the token, covers every change.",
                    token_fingerprint(existing.token),
                )
                snapshot_info = self._take_snapshot(self.get_hook().get_conn(), filters)
                return {**existing.to_dict(), "initialized": False, "snapshot": snapshot_info}
            if self.snapshot:
                self.log.info(
                    "Snapshot skipped: this token has no unconfirmed snapshot (a snapshot is taken with a "
                    "new init, and again by every init until a commit advances the token)."
                )
            return {**existing.to_dict(), "initialized": False, "snapshot": None}
        if existing is not None:
            self.log.warning(
                "reinitialize=True: replacing %s in %s. Changes made since that token will not be delivered "
                "by the sync; use snapshot=True to reload the full state.",
                existing.describe(),
                store.location,
            )

        environment_id, mode = self.connection_identity()
        client = self.get_hook().get_conn()
        token = client.init_sync(api_version=self.api_version, filters=filters)
        record = TokenRecord.new(
            token,
            environment_id=environment_id,
            mode=mode,
            api_version=self.api_version,
            filters=filters,
            snapshot_pending=self.snapshot,
        )
        self.log.info("Initialized a Sync API v%s sync: token %s", self.api_version, token_fingerprint(token))
        # Snapshot after the init: a change during the export shows up in the export and in the next
        # pull, never in neither. The token is stored only once the snapshot succeeded, so a retry
        # starts cleanly. It is stored with snapshot_pending=True until a commit confirms the loads:
        # if anything after this task fails (the load of the snapshot, the XCom push of the result),
        # the next init exports again instead of leaving the destination with deltas only.
        snapshot_info = self._take_snapshot(client, filters) if self.snapshot else None
        store.save(record)
        self.log.info("Stored the token in %s", store.location)
        return {**record.to_dict(), "initialized": True, "snapshot": snapshot_info}

    def _take_snapshot(self, client: Any, filters: dict[str, str]) -> dict[str, Any]:
        from airflow_provider_kontent.client import Delta, EntityKind, SyncFilters

        sync_filters = SyncFilters.from_mapping(filters or None)
        languages = list(self.snapshot_languages or [])
        if not languages:
            languages = [
                lang["system"]["codename"]
                for lang in client.list_languages()
                if isinstance(lang, dict) and isinstance(lang.get("system"), dict)
            ]
        path = as_storage_path(self.snapshot_path, what="snapshot_path", where=f"{self.connection_label}: ")
        sink: NdjsonSink | XComSink = (
            NdjsonSink(path) if path is not None else XComSink(self.max_xcom_bytes, what="the snapshot")
        )
        try:
            for language in languages:
                for page in client.iter_items_feed_pages(language):
                    records = []
                    for item in page.items:
                        system = item.get("system") if isinstance(item, dict) else None
                        if not isinstance(system, dict):
                            continue
                        delta = Delta.from_api(
                            EntityKind.ITEM,
                            {
                                "change_type": "changed",
                                "timestamp": system.get("last_modified"),
                                "data": {"system": system},
                            },
                        )
                        if not sync_filters.matches(delta):
                            continue
                        record = delta_record(delta, item_content(item, page.modular_content))
                        record["raw_change_type"] = "snapshot"
                        records.append(record)
                    sink.write_page(records)
        except BaseException:
            sink.abort()
            raise
        info: dict[str, Any] = {"languages": languages, "items": sink.kept, "counts": sink.counts.to_dict()}
        if isinstance(sink, NdjsonSink):
            info["files"] = sink.finalize({"snapshot": True, "languages": languages})
            info["output_path"] = str(path)
        else:
            info["records"] = sink.finalize()
            info["output_path"] = None
        self.log.info("Snapshot: %d item variant(s) in %d language(s)", sink.kept, len(languages))
        return info
