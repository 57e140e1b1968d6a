"""``KontentEmulator``: run the emulator in a background thread (context manager, free port, clean stop)."""

from __future__ import annotations

import threading
from typing import Any

from airflow_provider_kontent.testing.control.surfaces import EmulatorControl, EmulatorStore
from airflow_provider_kontent.testing.server import EmulatorHTTPServer


class KontentEmulator:
    """A Kontent.ai Delivery/Sync emulator on ``host:port`` (``port=0`` picks a free port).

    ``stop()`` shuts the server down, closes keep-alive connections and the listening socket and joins
    every thread it started, so nothing is left behind after ``with KontentEmulator() as emu: ...``.
    """

    def __init__(
        self, seed: str | None = None, host: str = "127.0.0.1", port: int = 0, rate_limit: bool = False
    ) -> None:
        self.seed = seed
        self.host = host
        self.requested_port = port
        self.store = EmulatorStore(rate_limit=rate_limit)
        self.demo_environment: dict[str, Any] | None = None
        self._server: EmulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._control: EmulatorControl | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the emulator is not running")
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        host = self.host if ":" not in self.host else f"[{self.host}]"
        return f"http://{host}:{self.port}"

    @property
    def preview_url(self) -> str:
        return f"{self.base_url}/preview"

    @property
    def control(self) -> EmulatorControl:
        if self._control is None:
            self._control = EmulatorControl(self.base_url)
        return self._control

    def start(self) -> KontentEmulator:
        if self._server is not None:
            return self
        self._server = EmulatorHTTPServer((self.host, self.requested_port), self.store)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="kontent-emulator",
            daemon=True,
        )
        self._thread.start()
        self._load_seed()
        return self

    def reset(self) -> None:
        """Back to the state right after start (the seed is rebuilt when one was given)."""
        self.store.reset()
        self._load_seed()

    def _load_seed(self) -> None:
        if self.seed is not None:
            self.demo_environment = self.store.seed(self.seed)

    def stop(self) -> None:
        if self._control is not None:
            self._control.close()
            self._control = None
        if self._server is None:
            return
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = None
        self._thread = None

    def __enter__(self) -> KontentEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
