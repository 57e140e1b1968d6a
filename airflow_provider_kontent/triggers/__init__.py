"""Kontent.ai sync trigger (``from airflow_provider_kontent.triggers.sync import KontentSyncTrigger``)."""

from __future__ import annotations

__all__ = ["KontentSyncTrigger"]


def __getattr__(name: str):
    if name == "KontentSyncTrigger":
        from airflow_provider_kontent.triggers.sync import KontentSyncTrigger

        return KontentSyncTrigger
    raise AttributeError(name)
