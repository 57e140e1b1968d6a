"""``KontentToSqlOperator``: load a pull's changes, or an init snapshot, into any SQL database.

The destination is any Airflow connection whose hook is a ``common.sql`` ``DbApiHook`` (SQLite,
PostgreSQL and MySQL/MariaDB get native upserts; others delete-then-insert). One load is one
transaction; the tables are described in ``sql_schema.py``, the rules in ``sql_loader.py``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from itertools import chain
from typing import TYPE_CHECKING, Any

from airflow_provider_kontent._compat import AirflowFailException
from airflow_provider_kontent.client.dependents import RefreshPlan
from airflow_provider_kontent.operators.base import KontentBaseOperator
from airflow_provider_kontent.outcomes import KontentTaskFailure, airflow_outcomes
from airflow_provider_kontent.tokens import TokenConflictError, token_fingerprint
from airflow_provider_kontent.transfers.sql_dialects import SqlLoadError
from airflow_provider_kontent.transfers.sql_loader import SnapshotCheck, SqlMirror
from airflow_provider_kontent.transfers.sql_rows import model_records, with_model_content
from airflow_provider_kontent.transfers.sql_schema import MirrorTables, ensure_schema
from airflow_provider_kontent.transfers.sql_token_store import SqlTokenStore, open_sql_session

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = ["KontentToSqlOperator"]


class KontentToSqlOperator(KontentBaseOperator):
    """Keep SQL tables equal to what the Delivery API serves, from a pull's or an init's output.

    :param source: the pull's summary (``pull.output``: NDJSON ``files`` or in-XCom ``records``) or the
        init's result (``init.output``; its ``snapshot`` is loaded, nothing happens without one). Templated.
    :param sql_conn_id: the destination (any ``common.sql`` ``DbApiHook`` connection). Templated.
    :param table_prefix: prefix of every table (default ``kontent_``). Templated.
    :param schema: schema (PostgreSQL) or database (MySQL) of the tables; ``None`` = the connection's default.
    :param typed_tables: also keep one table per content type with a column per element.
    :param refresh_dependents: re-read the items behind changed types, taxonomy groups, languages and
        components (see ``client/dependents.py``); off only if the mirror stores no rendered elements.
    :param batch_size: rows per ``executemany`` batch (memory stays bounded by one batch).

    Takes the token arguments of ``KontentBaseOperator``. With ``token_store="sql"`` the token row lives
    in this database and advances inside the load's transaction (compare-and-set on the token the pull
    started from); with any other store put ``KontentSyncCommitOperator`` after this task.
    :return: ``{"applied", "source", "upserts", "deletes", "skipped_inactive", "refreshed"?, "tables"}``.
    """

    template_fields: Sequence[str] = (
        *KontentBaseOperator.template_fields,
        "source",
        "sql_conn_id",
        "table_prefix",
        "schema",
    )
    ui_color = "#b5e3c4"

    def __init__(
        self,
        *,
        source: Any,
        sql_conn_id: str,
        table_prefix: str = "kontent_",
        schema: str | None = None,
        typed_tables: bool = False,
        refresh_dependents: bool = True,
        batch_size: int = 1000,
        **kwargs: Any,
    ) -> None:
        super().__init__(sql_conn_id=sql_conn_id, **kwargs)
        if batch_size < 1:
            raise ValueError(f"{self.connection_label}: batch_size must be >= 1; got {batch_size!r}")
        self.source = source
        self.table_prefix = table_prefix
        self.schema = schema
        self.typed_tables = typed_tables
        self.refresh_dependents = refresh_dependents
        self.batch_size = batch_size

    def execute(self, context: Context) -> dict[str, Any]:
        try:
            with airflow_outcomes():  # a Kontent error no retry can fix fails the task at once
                try:
                    return self._load(context)
                except SqlLoadError as err:
                    if err.retryable:  # the database may recover: Airflow's retries apply
                        raise
                    raise KontentTaskFailure(str(err)) from err
        finally:
            self.close_hook()

    def _load(self, context: Context) -> dict[str, Any]:
        source = self.source
        if not isinstance(source, Mapping):
            raise AirflowFailException(
                f"{self.connection_label}: source must be the pull's summary or the init's result "
                f"(pull.output / init.output); got {type(source).__name__}"
            )
        is_snapshot = "next_token" not in source and "snapshot" in source
        if is_snapshot and not source.get("snapshot"):
            self.log.info("The init exported no snapshot this run; nothing to load")
            return {"applied": False, "source": "snapshot", "reason": "no snapshot this run"}
        if not is_snapshot and not source.get("next_token"):
            raise AirflowFailException(
                f"{self.connection_label}: source has neither a snapshot nor a pull's next_token; pass "
                "source=pull.output or source=init.output"
            )
        session = open_sql_session(str(self.sql_conn_id))
        try:
            tables = MirrorTables(session.dialect, self.table_prefix, self.schema or None)
            ensure_schema(session, tables)
            typed = None
            if self.typed_tables:
                from airflow_provider_kontent.transfers.typed_tables import TypedTables

                typed = TypedTables(session, tables)
            mirror = SqlMirror(session, tables, batch_size=self.batch_size, typed=typed)
            store = self._sql_store(context, session)
            if is_snapshot:
                result = self._load_snapshot(mirror, source, store, context)
            else:
                result = self._load_changes(mirror, source, store, context)
        finally:
            session.close()
        out = {"source": "snapshot" if is_snapshot else "delta", **result.to_dict(), "tables": tables.raw("")}
        self.log.info("Loaded into %s: %s", self.sql_conn_id, out)
        return out

    def _sql_store(self, context: Context, session: Any) -> SqlTokenStore | None:
        if self.token_store != "sql":
            return None
        store = self.resolve_store(context)
        assert isinstance(store, SqlTokenStore)
        store.create_table(session)
        return store

    def _load_snapshot(self, mirror: SqlMirror, init_result: Mapping[str, Any], store: Any, context: Any):
        snapshot = init_result["snapshot"]
        client = self.get_hook().get_conn()
        # The snapshot holds item variants only; the content model comes from the list endpoints.
        model = model_records(client.list_types(), client.list_taxonomies(), client.list_languages())
        check = _snapshot_check(client, snapshot, init_result.get("filters") or {})
        init_token = str(init_result.get("token") or "")

        def verify(session: Any) -> bool:
            # The snapshot belongs to the init's token; if a newer run moved the token on, its rows are
            # newer than this snapshot and loading it would overwrite them.
            with store.bound(session):
                record = store.require()
                self.check_record(record, store)
                if record.token != init_token:
                    raise TokenConflictError(
                        f"refusing to load a stale snapshot: it was taken for token {token_fingerprint(init_token)} "
                        f"but {store.location} holds {record.describe()}. Another run moved the token; "
                        "nothing was loaded."
                    )
            return True

        return mirror.load(
            chain(model, _records(snapshot)),
            source="snapshot",
            load_run=str(context.get("run_id") or ""),
            token_step=verify if store is not None else None,
            snapshot=check,
            tokens=(token_fingerprint(init_token), None),
        )

    def _load_changes(self, mirror: SqlMirror, summary: Mapping[str, Any], store: Any, context: Any):
        previous_token, next_token = str(summary.get("previous_token") or ""), str(summary["next_token"])
        records: Any = _records(summary)
        counts = summary.get("counts") or {}
        refresh = None
        needs_model = (counts.get("types") or {}).get("changed") or (counts.get("taxonomies") or {}).get(
            "changed"
        )
        if needs_model or self.refresh_dependents:
            client = self.get_hook().get_conn()
            types: list[Any] = []
            if needs_model:  # Sync v2 type/taxonomy deltas carry only their system block
                types = client.list_types()
                records = with_model_content(records, types, client.list_taxonomies())
            if self.refresh_dependents:
                refresh = (client, RefreshPlan(), types)

        def advance(session: Any) -> bool:
            with store.bound(session):
                committed = self.commit_next_token(
                    store, previous_token=previous_token, next_token=next_token
                )
            return committed or previous_token == next_token

        return mirror.load(
            records,
            source="delta",
            load_run=str(context.get("run_id") or ""),
            token_step=advance if store is not None else None,
            refresh=refresh,
            tokens=(token_fingerprint(previous_token), token_fingerprint(next_token)),
        )


def _records(output: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """The records of a pull summary or snapshot: streamed from its NDJSON parts, else from XCom."""
    files = output.get("files") or []
    if files:
        return _stream(files)
    return iter(output.get("records") or [])


def _stream(files: list[Any]) -> Iterator[dict[str, Any]]:
    from airflow.sdk import ObjectStoragePath

    from airflow_provider_kontent.handoff import iter_ndjson

    for name in files:
        yield from iter_ndjson(ObjectStoragePath(str(name)))


def _snapshot_check(client: Any, snapshot: Mapping[str, Any], filters: Mapping[str, Any]) -> SnapshotCheck:
    """The independent count for each exported language, with the filters the export applied."""
    from airflow_provider_kontent.client import SyncFilters

    params: list[tuple[str, str]] = []
    excluded: set[str] = set()
    languages = [str(lang) for lang in snapshot.get("languages") or []]
    for clause in SyncFilters.from_mapping(filters or None).clauses:
        if clause.field in ("language", "system.language"):
            keep = clause.operator in ("=", "eq", "in")
            excluded.update(lang for lang in languages if (lang in clause.values) != keep)
        else:
            params.append((clause.query_key, clause.query_value))
    return SnapshotCheck(client, languages, params, excluded)
