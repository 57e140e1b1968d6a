"""``KontentSyncCommitOperator``: advance the stored token after the changes were loaded."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_kontent.operators.base import KontentBaseOperator
from airflow_provider_kontent.outcomes import KontentTaskFailure, airflow_outcomes
from airflow_provider_kontent.tokens import token_fingerprint, xcom_pull_same_map_index

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = ["KontentSyncCommitOperator"]


class KontentSyncCommitOperator(KontentBaseOperator):
    """Commit the ``next_token`` of a ``KontentSyncPullOperator(commit_token=False)``.

    Place it after the tasks that load the pulled changes. If a load fails this task does not run, the
    token stays where it was, and the next run re-delivers the same changes (at-least-once). The commit
    is compare-and-set: the store must still hold the pull's ``previous_token``; if another run moved it,
    this task fails loudly rather than skipping or repeating changes. Committing twice is harmless (the
    second commit sees the new token already stored).

    The commit also confirms an init snapshot (it clears the record's ``snapshot_pending``), so place it
    after the task that loads the snapshot too: until a commit succeeds, every
    ``KontentSyncInitOperator(snapshot=True)`` run exports the full state again.

    Takes the token arguments of ``KontentBaseOperator``; use the same ``kontent_conn_id``,
    ``token_store``, ``variable_key``, ``asset``, ``api_version`` and ``filters`` as the pull (the ``asset``
    goes to the inlets).

    :param pull_task_id: task id of the pull whose summary (return value) is committed; for a mapped
        commit the pull's summary with the same map index is used.
    :param summary: the pull's summary itself (templated or an XComArg such as ``pull.output``); wins over
        ``pull_task_id``.
    :return: ``{"committed": bool, "previous_token", "next_token", "location"}``.
    """

    template_fields: Sequence[str] = (*KontentBaseOperator.template_fields, "pull_task_id", "summary")
    ui_color = "#7fbfe9"

    def __init__(
        self,
        *,
        pull_task_id: str = "pull",
        summary: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.pull_task_id = pull_task_id
        self.summary = summary

    def execute(self, context: Context) -> dict[str, Any]:
        try:
            with airflow_outcomes():
                return self._commit(context)
        finally:
            self.close_hook()  # the commit opens no client today; closing keeps that true if it ever does

    def _commit(self, context: Context) -> dict[str, Any]:
        summary = self.summary
        if summary is None:
            values = xcom_pull_same_map_index(context["ti"], self.pull_task_id, "return_value")
            summary = values[0] if values else None
        if (
            not isinstance(summary, Mapping)
            or not summary.get("next_token")
            or not summary.get("previous_token")
        ):
            raise KontentTaskFailure(
                f"{self.connection_label}: no pull summary with previous_token/next_token from task "
                f"{self.pull_task_id!r} in this run; "
                "set pull_task_id to the KontentSyncPullOperator's task id (or pass summary=pull.output)"
            )
        store = self.resolve_store(context)
        previous_token, next_token = str(summary["previous_token"]), str(summary["next_token"])
        committed = self.commit_next_token(store, previous_token=previous_token, next_token=next_token)
        if not committed:
            self.log.info(
                "Token %s was already committed in %s", token_fingerprint(next_token), store.location
            )
        return {
            "committed": committed,
            "previous_token": previous_token,
            "next_token": next_token,
            "location": store.location,
        }
