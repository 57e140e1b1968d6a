"""Kontent.ai triggers: ``triggers.sync.KontentSyncTrigger`` (the deferrable sensor's) and
``triggers.changes.KontentChangesEventTrigger`` (an ``AssetWatcher``'s, with ``kontent_changes_asset``)."""

from __future__ import annotations

__all__ = ["KontentChangesEventTrigger", "KontentSyncTrigger", "kontent_changes_asset"]


def __getattr__(name: str):
    if name == "KontentSyncTrigger":
        from airflow_provider_kontent.triggers.sync import KontentSyncTrigger

        return KontentSyncTrigger
    if name in ("KontentChangesEventTrigger", "kontent_changes_asset"):
        from airflow_provider_kontent.triggers import changes

        return getattr(changes, name)
    raise AttributeError(name)
