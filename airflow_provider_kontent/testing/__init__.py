"""A local Kontent.ai Delivery + Sync API emulator for tests (stdlib HTTP server; no Airflow imports).

Layout (see docs/emulator.md "Layout"): ``backend/`` holds the state and its rules and knows nothing of
HTTP; ``sync_api/`` and ``delivery_api/`` turn requests into backend reads; ``control/`` declares every
control operation once (``control/operations.py``) and generates the HTTP control API, ``EmulatorStore``
and ``EmulatorControl`` from it; ``server.py`` routes and owns socket-level faults.
"""

from airflow_provider_kontent.testing.control.surfaces import (
    EmulatorControl,
    EmulatorControlError,
    EmulatorStore,
)
from airflow_provider_kontent.testing.emulator import KontentEmulator

__all__ = ["EmulatorControl", "EmulatorControlError", "EmulatorStore", "KontentEmulator"]
