"""``KontentSyncPullOperator``: drain the changes since the stored token and hand them downstream."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pendulum

from airflow_provider_kontent.client.models import parse_timestamp
from airflow_provider_kontent.drain import drain
from airflow_provider_kontent.handoff import HandoffTooLargeError, NdjsonSink, XComSink
from airflow_provider_kontent.operators.base import KontentBaseOperator, as_storage_path
from airflow_provider_kontent.outcomes import KontentTaskFailure, airflow_outcomes
from airflow_provider_kontent.tokens import TokenStore, token_fingerprint

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = ["KontentSyncPullOperator", "PullCheckpoint"]

XCOM_RETURN_KEY = "return_value"
#: Task-state key of the commit an attempt is about to make (see ``_start_tokens``).
_CHECKPOINT_KEY = "kontent_pull_commit"


class KontentSyncPullOperator(KontentBaseOperator):
    """Pull every change since the token, compacted to the last change per key.

    Pages ``GET /sync`` until an empty page (or ``max_pages``; the next run resumes from there), applies
    the filters, keeps the last change per key, optionally fetches the full items, and delivers the
    result either in XCom (``records`` in the returned summary, size-guarded) or as NDJSON parts under
    ``output_path`` written page by page. By default the new token is committed once the output is
    safely written; with ``commit_token=False`` a ``KontentSyncCommitOperator`` after the loading tasks
    commits it (at-least-once delivery).

    Takes the token arguments of ``KontentBaseOperator`` (``kontent_conn_id``, ``token_store``,
    ``variable_key``, ``asset``, ``api_version``, ``filters``). Here the ``asset`` goes to the outlets and
    receives an asset event with the counts; ``filters`` are applied client-side for v2 (server-side
    for v1).

    :param token: start from this token instead of the stored one (templated).
    :param max_pages: page budget per run; ``None`` drains until an empty page.
    :param include_content: fetch the full content item (and its components) of every changed item.
    :param output_path: directory for NDJSON output (``ObjectStoragePath`` or URL string such as
        ``"file:///data/kontent/{{ run_id }}/"`` or ``"s3://conn@bucket/prefix/{{ run_id }}/"``; templated).
        ``None`` returns the records in XCom.
    :param max_xcom_bytes: size guard for records returned in XCom (0 disables it).
    :param commit_token: commit the new token after the output is written (default); ``False`` leaves it
        to ``KontentSyncCommitOperator``.
    :param part_max_bytes: start a new NDJSON part after this many bytes.
    :param skip_malformed: deltas the client cannot use (not an object, no ``data.system`` id, a bad
        timestamp) fail the pull by default, naming the connection, request id and URL; ``True``
        skips them, counted in the summary's ``malformed_skipped`` and logged once with a sample.
    :return: the summary dict (see docs/operators.md).
    """

    template_fields: Sequence[str] = (*KontentBaseOperator.template_fields, "token", "output_path")
    ui_color = "#9fd3f2"
    asset_attachment = "outlets"

    def __init__(
        self,
        *,
        token: str | None = None,
        max_pages: int | None = None,
        include_content: bool = False,
        output_path: Any = None,
        max_xcom_bytes: int = 1_000_000,
        commit_token: bool = True,
        part_max_bytes: int = 64 * 1024 * 1024,
        skip_malformed: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if max_pages is not None and (
            isinstance(max_pages, bool) or not isinstance(max_pages, int) or max_pages < 1
        ):
            raise ValueError(
                f"{self.connection_label}: max_pages must be a whole number >= 1, or None; got {max_pages!r}"
            )
        self.token = token
        self.max_pages = max_pages
        self.include_content = include_content
        self.output_path = output_path
        self.max_xcom_bytes = max_xcom_bytes
        self.commit_token = commit_token
        self.part_max_bytes = part_max_bytes
        self.skip_malformed = skip_malformed

    def execute(self, context: Context) -> dict[str, Any]:
        try:
            with airflow_outcomes():
                return self._pull(context)
        finally:
            self.close_hook()

    def _pull(self, context: Context) -> dict[str, Any]:
        store = self.resolve_store(context)
        filters = self.normalized_filters()
        previous_token, expected_token = self._start_tokens(context, store)
        environment_id, mode = self.connection_identity()

        path = as_storage_path(self.output_path, where=f"{self.connection_label}: ")
        sink: NdjsonSink | XComSink = (
            NdjsonSink(path, part_max_bytes=self.part_max_bytes)
            if path is not None
            else XComSink(self.max_xcom_bytes)
        )
        self.log.info(
            "Pulling changes since token %s from %s", token_fingerprint(previous_token), store.location
        )
        try:
            result = drain(
                self.get_hook().get_conn(),
                previous_token,
                sink,
                api_version=self.api_version,
                filters=filters,
                max_pages=self.max_pages,
                include_content=self.include_content,
                skip_malformed=self.skip_malformed,
            )
        except HandoffTooLargeError as err:
            raise KontentTaskFailure(f"{self.connection_label}: {err}") from None
        except BaseException:
            sink.abort()
            raise

        summary: dict[str, Any] = {
            "environment_id": environment_id,
            "mode": mode,
            "api_version": self.api_version,
            "filters": filters,
            "token_store": store.kind,
            "pages": result.pages,
            "deltas": result.received,
            "skipped": result.skipped,
            "complete": result.complete,
            "previous_token": result.previous_token,
            "next_token": result.next_token,
            "newest_timestamp": result.newest_timestamp,
            "lag_seconds": _lag_seconds(result.newest_timestamp),
            "content_requests": result.content_requests,
            "content_missing": result.content_missing,
            "malformed_skipped": result.malformed_skipped,
            "requests": result.requests,
            "rate_limit_wait_seconds": result.rate_limit_wait_seconds,
            "throttled": result.throttled,
            "seconds": result.seconds,
        }
        if isinstance(sink, NdjsonSink):
            files = sink.finalize(
                {
                    "environment_id": environment_id,
                    "api_version": self.api_version,
                    "pages": result.pages,
                    "drain_complete": result.complete,
                    "newest_timestamp": result.newest_timestamp,
                }
            )
            summary.update(output_path=str(path), files=files, superseded=sink.superseded)
        else:
            summary.update(output_path=None, files=[], records=sink.finalize())
        summary.update(counts=sink.counts.to_dict(), kept=sink.kept)

        self.log.info(
            "Pulled %d delta(s) in %d page(s): %d kept %s, %d filtered out%s%s",
            result.received,
            result.pages,
            sink.kept,
            summary["counts"],
            result.skipped,
            f", {result.malformed_skipped} malformed skipped" if result.malformed_skipped else "",
            "" if result.complete else f"; stopped by max_pages={self.max_pages}, the next run resumes",
        )
        self.log.info(
            "Kontent requests: %d (%d for content) in %.1fs, %.1fs of it waiting on the rate limit "
            "(budget %d/s, %d/min for this environment)%s",
            result.requests,
            result.content_requests,
            result.seconds,
            result.rate_limit_wait_seconds,
            self.get_hook().client_config.rate_limit_per_second,
            self.get_hook().client_config.rate_limit_per_minute,
            f"; {result.throttled} answered 429 (rate lowered, Retry-After honoured)"
            if result.throttled
            else "",
        )
        summary["committed"] = False
        if self.commit_token:
            # The hand-off must be durable before the token moves: the summary (with the records, for
            # XCom delivery) is pushed now, so an XCom that cannot be stored fails the task with the
            # token unmoved. Returning it below overwrites it with the final "committed" value.
            context["ti"].xcom_push(key=XCOM_RETURN_KEY, value=summary)
            self._remember_commit(context, drain_from=result.previous_token, next_token=result.next_token)
            summary["committed"] = self.commit_next_token(
                store, previous_token=expected_token, next_token=result.next_token
            )
        else:
            self.log.info(
                "commit_token=False: the token stays at %s until KontentSyncCommitOperator commits %s",
                token_fingerprint(result.previous_token),
                token_fingerprint(result.next_token),
            )
        self._emit_asset_event(context, summary)
        return summary

    def _start_tokens(self, context: Context, store: TokenStore) -> tuple[str, str]:
        """(the token the drain starts from, the token the store must still hold when committing).

        They differ only when earlier attempts of this task instance committed (or were about to
        commit) and then died before finishing (worker lost, XCom push failed): their output may never
        have reached anyone, and a retry writes to the same output path (removing their parts first),
        so the retry pulls again from the *first* attempt's starting token (a token can be read again)
        and commits over whichever of their tokens the store holds. See ``PullCheckpoint``.
        """
        record = store.load()
        if record is not None:
            self.check_record(record, store)
        checkpoint = PullCheckpoint.from_state(_checkpoint_value(context))
        if self.token:
            token = str(self.token)
            if record is not None and record.token != token:
                if (
                    checkpoint is not None
                    and checkpoint.drain_from == token
                    and checkpoint.holds(record.token)
                ):
                    self._warn_recovery(token, record.token)
                    return token, record.token
                self.log.info(
                    "Starting from the given token %s, not the stored %s",
                    token_fingerprint(token),
                    token_fingerprint(record.token),
                )
            return token, token
        if record is None:
            record = store.require()
        if checkpoint is not None and checkpoint.holds(record.token):
            self._warn_recovery(checkpoint.drain_from, record.token)
            return checkpoint.drain_from, record.token
        return record.token, record.token

    def _warn_recovery(self, drain_from: str, stored: str) -> None:
        self.log.warning(
            "An earlier attempt of this task committed %s (or was about to) but did not finish; pulling "
            "again from %s, where the first of those attempts started, so that none of their changes are "
            "lost (they may be delivered twice).",
            token_fingerprint(stored),
            token_fingerprint(drain_from),
        )

    def _remember_commit(self, context: Context, *, drain_from: str, next_token: str) -> None:
        """Record in the task state store (Airflow 3.3+) which commit this attempt is about to make.

        The record accumulates over the attempts of one task instance as long as they drain from the
        same token, so a third attempt still recognises the token the first one committed.
        """
        state = _task_state(context)
        if state is None:
            return
        previous = PullCheckpoint.from_state(state.get(_CHECKPOINT_KEY, None))
        state.set(_CHECKPOINT_KEY, PullCheckpoint.next(previous, drain_from, next_token).to_state())

    def _emit_asset_event(self, context: Context, summary: dict[str, Any]) -> None:
        """Put the counts on the outlet asset event(s) so asset-triggered DAGs can see what arrived."""
        from airflow.sdk import Asset

        extra = {
            key: summary[key]
            for key in (
                "environment_id",
                "counts",
                "kept",
                "deltas",
                "pages",
                "complete",
                "output_path",
                "newest_timestamp",
                "lag_seconds",
                "committed",
            )
        }
        events = context.get("outlet_events")
        if events is None:
            return
        for outlet in self.outlets or []:
            if isinstance(outlet, Asset):
                events[outlet].extra = extra


@dataclass(frozen=True)
class PullCheckpoint:
    """What the attempts of one pull task instance committed, or were about to commit.

    ``drain_from`` is the token the first of those attempts started draining from; ``candidates`` are
    the ``next_token`` values they committed or were about to commit. When a retry finds the store
    holding any candidate, every change since ``drain_from`` may have been lost with a dead attempt's
    output, so the retry drains from ``drain_from`` again and commits over the stored candidate.
    Keeping the first start (rather than only the last attempt's) matters when an attempt dies after
    committing and the next dies between recording and committing: the store then holds the first
    attempt's token while the last record names another one.

    Stored in the task state store as ``{"drain_from": ..., "commit_candidates": [...]}``; the
    one-attempt shape ``{"previous_token", "next_token"}`` of earlier versions is still read.
    """

    drain_from: str
    candidates: tuple[str, ...]

    @classmethod
    def from_state(cls, value: Any) -> PullCheckpoint | None:
        if not isinstance(value, Mapping):
            return None
        drain_from = value.get("drain_from") or value.get("previous_token")
        candidates = value.get("commit_candidates")
        if candidates is None:
            candidates = [value.get("next_token")]
        if not drain_from or not isinstance(candidates, (list, tuple)):
            return None
        kept = tuple(str(token) for token in candidates if token)
        return cls(str(drain_from), kept) if kept else None

    @classmethod
    def next(cls, previous: PullCheckpoint | None, drain_from: str, next_token: str) -> PullCheckpoint:
        """The record after an attempt that drained from ``drain_from`` is about to commit ``next_token``."""
        if previous is None or previous.drain_from != drain_from:
            return cls(drain_from, (next_token,))
        if next_token in previous.candidates:
            return previous
        return cls(drain_from, (*previous.candidates, next_token))

    def holds(self, token: str) -> bool:
        """Whether ``token`` is one an earlier attempt committed or was about to commit."""
        return token in self.candidates

    def to_state(self) -> dict[str, Any]:
        return {"drain_from": self.drain_from, "commit_candidates": list(self.candidates)}


def _task_state(context: Context) -> Any:
    """The task state store (survives retries of one task instance); None before Airflow 3.3."""
    return context.get("task_state_store")  # type: ignore[call-overload]


def _checkpoint_value(context: Context) -> Any:
    state = _task_state(context)
    return state.get(_CHECKPOINT_KEY, None) if state is not None else None


def _lag_seconds(newest: str | None) -> float | None:
    """How far the newest delivered change is behind now (freshness of the sync)."""
    parsed = parse_timestamp(newest)
    if parsed is None:
        return None
    return round((pendulum.now("UTC") - parsed).total_seconds(), 3)
