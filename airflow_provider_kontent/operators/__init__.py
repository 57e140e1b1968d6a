"""Kontent.ai sync operators: init, pull and commit (import the submodules; nothing heavy here)."""

from __future__ import annotations

__all__ = ["KontentSyncCommitOperator", "KontentSyncInitOperator", "KontentSyncPullOperator"]


def __getattr__(name: str):
    # Lazy, so importing the package (e.g. for provider discovery) does not import Airflow's SDK.
    if name == "KontentSyncInitOperator":
        from airflow_provider_kontent.operators.sync_init import KontentSyncInitOperator

        return KontentSyncInitOperator
    if name == "KontentSyncPullOperator":
        from airflow_provider_kontent.operators.sync_pull import KontentSyncPullOperator

        return KontentSyncPullOperator
    if name == "KontentSyncCommitOperator":
        from airflow_provider_kontent.operators.sync_commit import KontentSyncCommitOperator

        return KontentSyncCommitOperator
    raise AttributeError(name)
