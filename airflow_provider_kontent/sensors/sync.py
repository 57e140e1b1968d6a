"""``KontentSyncSensor``: wait until the stored (or given) token has changes that pass the filters."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue

from airflow_provider_kontent._compat import AirflowSensorTimeout, AirflowSkipException
from airflow_provider_kontent.client.lookahead import Lookahead
from airflow_provider_kontent.operators.base import KontentBaseOperator, default_deferrable
from airflow_provider_kontent.outcomes import KontentTaskFailure, airflow_outcomes
from airflow_provider_kontent.tokens import token_fingerprint
from airflow_provider_kontent.triggers.sync import KontentSyncTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = ["KontentSyncSensor", "KontentSyncSensorError"]


class KontentSyncSensorError(RuntimeError):
    """The deferred wait failed with an error another attempt may not repeat (server errors, network).

    Deliberately not an ``AirflowException``, so Airflow's task retries apply and ``soft_fail`` (which
    Airflow applies to ``AirflowException``) cannot hide it. Permanent failures (auth, not found,
    invalid token, configuration) end as ``KontentTaskFailure`` instead: no retries, and no skip.
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
        self._resolved: tuple[str, dict[str, str]] | None = None  # (token, filters) of this execute

    def _resolve_token(self, context: Context) -> str:
        if self.token:
            return str(self.token)
        store = self.resolve_store(context)
        record = store.require()
        self.check_record(record, store)
        return record.token

    def poke(self, context: Context) -> bool | PokeReturnValue:
        token, filters = self._resolved or (self._resolve_token(context), self.normalized_filters())
        return self._look(token, filters)

    def _look(self, token: str, filters: dict[str, str]) -> bool | PokeReturnValue:
        """One poke's reads: up to ``max_lookahead_pages`` pages after ``token`` (or after the furthest
        page an earlier poke found empty of matches)."""
        client = self.get_hook().get_conn()
        cursor = self._lookahead[1] if self._lookahead and self._lookahead[0] == token else None
        look = Lookahead(token, max_pages=self.max_lookahead_pages, cursor=cursor)
        while not look.done:
            look.feed(client.sync_page(look.cursor, api_version=self.api_version, filters=filters or None))
        if look.found is not None:
            return PokeReturnValue(is_done=True, xcom_value=self._found(look.found))
        if look.skipped:
            self.log.info("%d change(s) after the token are all filtered out", look.skipped)
        self._lookahead = (token, look.cursor)
        self.log.info("No matching Kontent changes after token %s yet", token_fingerprint(token))
        return False

    def _found(self, result: dict[str, Any]) -> dict[str, Any]:
        self.log.info(
            "Kontent changes pending after token %s: %s",
            token_fingerprint(result["token"]),
            result["pending"],
        )
        return result

    def execute(self, context: Context) -> Any:
        # One client for all pokes of this execute (poke mode), closed when it ends: after the result,
        # an error, a reschedule (each reschedule runs execute anew) or the deferral (TaskDeferred).
        # The token is resolved before the first poke, so a token-record problem fails the task
        # directly (Airflow's sensor loop would turn it into a skip under soft_fail).
        try:
            with airflow_outcomes():
                self._resolved = (self._resolve_token(context), self.normalized_filters())
                return self._wait(context)
        finally:
            self._resolved = None
            self.close_hook()

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Context) -> Any:
        # Airflow's sensor resume turns every AirflowException into a skip under soft_fail; the
        # boundary turns a permanent failure back into a failure (timeouts stay skips).
        with airflow_outcomes():
            return super().resume_execution(next_method, next_kwargs, context)

    def _wait(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        assert self._resolved is not None
        token, filters = self._resolved
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
            text = f"Kontent sync sensor failed ({self.connection_label}): {message}"
            if event and event.get("retryable") is False:
                raise KontentTaskFailure(text)  # auth, not found, invalid token, configuration
            raise KontentSyncSensorError(text)
        return self._found(
            {
                "token": event["token"],
                "pending": event.get("pending", {}),
                "total": event.get("total", 0),
                "newest_timestamp": event.get("newest_timestamp"),
            }
        )
