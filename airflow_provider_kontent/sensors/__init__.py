"""Kontent.ai sync sensor (``from airflow_provider_kontent.sensors.sync import KontentSyncSensor``)."""

from __future__ import annotations

__all__ = ["KontentSyncSensor"]


def __getattr__(name: str):
    if name == "KontentSyncSensor":
        from airflow_provider_kontent.sensors.sync import KontentSyncSensor

        return KontentSyncSensor
    raise AttributeError(name)
