"""``KontentSyncSensor``: wait until the stored (or given) token has changes that pass the filters."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue

from airflow_provider_kontent._compat import AirflowSensorTimeout, AirflowSkipException
from airflow_provider_kontent.operators.base import KontentBaseOperator, default_deferrable, pending_summary
from airflow_provider_kontent.tokens import short_token
from airflow_provider_kontent.triggers.sync import KontentSyncTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = ["KontentSyncSensor", "KontentSyncSensorError"]


class KontentSyncSensorError(RuntimeError):
    """The deferred wait failed (auth, bad token, server errors after retries).

    Deliberately not an ``AirflowException``: Airflow's ``resume_execution`` turns every
    ``AirflowException`` into a skip when ``soft_fail=True``, and users set ``soft_fail`` to mean "no
    changes before the timeout", not "hide a revoked key". Poke mode behaves the same way, because the
    client's errors are not ``AirflowException`` either.
    """


class KontentSyncSensor(KontentBaseOperator, BaseSensorOperator):
    """Wait for Kontent.ai changes after a token. Read-only: it never advances or stores the token.

    Each poke is ``GET /sync`` with the token (repeatable: the same token returns the same or more
    changes). With v2 filters, a page whose deltas are all filtered out is followed to look further; in
    ``poke`` mode the sensor remembers how far it looked, so later pokes do not re-read those pages.

    Modes: ``mode="poke"`` (holds a worker slot), ``mode="reschedule"`` (frees it between pokes) and
    ``deferrable=True`` (waits in the triggerer with ``KontentSyncTrigger``; default from
    ``[operators] default_deferrable``).

    Takes the token arguments of ``KontentBaseOperator`` (``kontent_conn_id``, ``token_store``,
    ``variable_key``, ``asset``, ``api_version``, ``filters``): the store is read only when ``token`` is
    not given, the ``asset`` goes to the inlets, and only changes that pass the ``filters`` count.

    :param token: wait on this token instead (templated, e.g. ``"{{ ti.xcom_pull('init')['token'] }}"``).
    :param deferrable: defer to the triggerer instead of poking.
    :param max_lookahead_pages: pages followed per poke through changes the filters drop.
    :param max_errors: (deferrable) consecutive retryable failures the trigger tolerates.
    :return: ``{"token", "pending": {array: {change_type: n}}, "total"}``; ``pending`` counts the matching
        changes on the first page that had any (a lower bound of what the pull will get).
    """

    template_fields: Sequence[str] = (*KontentBaseOperator.template_fields, "token")
    ui_color = "#dff0fb"

    def __init__(
        self,
        *,
        token: str | None = None,
        deferrable: bool | None = None,
        max_lookahead_pages: int = 10,
        max_errors: int = 3,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.token = token
        self.deferrable = default_deferrable() if deferrable is None else deferrable
        self.max_lookahead_pages = max_lookahead_pages
        self.max_errors = max_errors
        self._lookahead: tuple[str, str] | None = None  # (token, furthest token known to hold no match)

    def _resolve_token(self, context: Context) -> str:
        if self.token:
            return str(self.token)
        store = self.resolve_store(context)
        record = store.require()
        self.check_record(record, store)
        return record.token

    def poke(self, context: Context) -> bool | PokeReturnValue:
        return self._look(self._resolve_token(context), self.normalized_filters())

    def _look(self, token: str, filters: dict[str, str]) -> bool | PokeReturnValue:
        """One poke's reads: up to ``max_lookahead_pages`` pages after ``token`` (or after the furthest
        page an earlier poke found empty of matches)."""
        client = self.get_hook().get_conn()
        cursor = self._lookahead[1] if self._lookahead and self._lookahead[0] == token else token
        for _ in range(max(1, self.max_lookahead_pages)):
            page = client.sync_page(cursor, api_version=self.api_version, filters=filters or None)
            if page.deltas:
                return PokeReturnValue(
                    is_done=True, xcom_value=self._found(pending_summary(token, page.deltas))
                )
            if page.is_empty:
                break
            self.log.info("%d change(s) on this page are all filtered out; looking further", page.skipped)
            cursor = page.next_token
        self._lookahead = (token, cursor)
        self.log.info("No matching Kontent changes after token %s yet", short_token(token))
        return False

    def _found(self, result: dict[str, Any]) -> dict[str, Any]:
        self.log.info(
            "Kontent changes pending after token %s: %s", short_token(result["token"]), result["pending"]
        )
        return result

    def execute(self, context: Context) -> Any:
        # One client for all pokes of this execute (poke mode), closed when it ends: after the result,
        # an error, a reschedule (each reschedule runs execute anew) or the deferral (TaskDeferred).
        try:
            return self._wait(context)
        finally:
            self.close_hook()

    def _wait(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        token, filters = self._resolve_token(context), self.normalized_filters()
        first = self._look(token, filters)  # no deferral when the changes are already there
        if first:
            return first.xcom_value  # type: ignore[union-attr]
        timeout = float(self.timeout) if self.timeout is not None else None
        self.defer(
            trigger=KontentSyncTrigger(
                kontent_conn_id=self.kontent_conn_id,
                token=token,
                api_version=self.api_version,
                filters=filters,
                poll_interval=float(self.poke_interval),
                end_time=time.time() + timeout if timeout else None,
                max_errors=self.max_errors,
                max_lookahead_pages=self.max_lookahead_pages,
                hook_params=self.hook_params,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=timeout) if timeout else None,
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        if not event or event.get("status") != "success":
            message = (event or {}).get("message", "the trigger ended without an event")
            if event and event.get("timeout"):
                if self.soft_fail:
                    raise AirflowSkipException(
                        f"Kontent sensor timed out ({self.connection_label}): {message}"
                    )
                raise AirflowSensorTimeout(f"Kontent sensor timed out ({self.connection_label}): {message}")
            raise KontentSyncSensorError(f"Kontent sync sensor failed ({self.connection_label}): {message}")
        return self._found(
            {"token": event["token"], "pending": event.get("pending", {}), "total": event.get("total", 0)}
        )
