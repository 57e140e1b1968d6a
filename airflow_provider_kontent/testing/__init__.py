"""A local Kontent.ai Delivery + Sync API emulator for tests (stdlib HTTP server; no Airflow imports)."""

from airflow_provider_kontent.testing.client import EmulatorControl, EmulatorControlError
from airflow_provider_kontent.testing.emulator import KontentEmulator

__all__ = ["EmulatorControl", "EmulatorControlError", "KontentEmulator"]
