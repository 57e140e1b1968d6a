"""Fixtures for the operator, sensor and trigger tests: a Kontent connection on the emulator."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pendulum
import pytest

#: ``start_date`` of every test DAG.
START = pendulum.datetime(2026, 1, 1, tz="UTC")
#: task id -> "ExceptionType: message", filled by ``remember_failure`` (tests clear it around each test).
FAILURES: dict[str, str] = {}


def remember_failure(context: dict[str, Any]) -> None:
    """An ``on_failure_callback`` that keeps why a task failed, for assertions after ``dag.test()``."""
    err = context.get("exception")
    FAILURES[context["ti"].task_id] = f"{type(err).__name__}: {err}"


def db_variable(key: str) -> Any:
    """A Variable read straight from the metadata DB (JSON-decoded), as a later run would see it."""
    from airflow.models import Variable

    return Variable.get(key, default_var=None, deserialize_json=True)


def set_db_variable(key: str, value: Any) -> None:
    from airflow.models import Variable

    Variable.set(key, value, serialize_json=True)


def connection_json(
    base_url: str, env: dict[str, Any], *, mode: str = "public", key: str | None = None, **extra: Any
) -> str:
    """A connection in Airflow's JSON form; a preview connection gets ``base_url`` as its preview override."""
    if mode == "preview":
        extra = {"preview_base_url": base_url, **extra}
    return json.dumps(
        {
            "conn_type": "kontent",
            "host": None if mode == "preview" else base_url,
            "password": key,
            "extra": {"environment_id": env["id"], "mode": mode, "max_retry_wait": 5, **extra},
        }
    )


@pytest.fixture
def kontent_conn(monkeypatch, kontent_emulator, kontent_env) -> dict[str, Any]:
    """``kontent_default`` pointing at a fresh public emulator environment with an ``article`` type."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_KONTENT_DEFAULT", connection_json(kontent_emulator.base_url, kontent_env)
    )
    kontent_emulator.control.upsert_type(
        kontent_env["id"],
        "article",
        elements={"title": {"type": "text", "name": "Title"}, "body": {"type": "rich_text", "name": "Body"}},
    )
    kontent_emulator.control.upsert_type(
        kontent_env["id"], "blog", elements={"title": {"type": "text", "name": "Title"}}
    )
    return kontent_env


class EditOnFirstPoll:
    """Apply ``edit(control)`` once, right after the first ``GET .../sync`` the emulator answers.

    This lets a sensor see "nothing yet" first and the change afterwards, without sleeping in the test.
    """

    def __init__(self, control: Any, env_id: str, edit: Callable[[Any], None]) -> None:
        self.control = control
        self.env_id = env_id
        self.edit = edit
        self.done = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self.error: BaseException | None = None

    def _watch(self) -> None:
        try:
            while not self._stop.wait(0.05):
                if any(
                    r["method"] == "GET" and r["path"].endswith("/sync")
                    for r in self.control.requests(self.env_id)
                ):
                    self.edit(self.control)
                    self.done.set()
                    return
        except BaseException as err:  # surfaced by __exit__
            self.error = err

    def __enter__(self) -> EditOnFirstPoll:
        self.control.clear_requests()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.control.close()
        if self.error is not None:
            raise self.error


@pytest.fixture
def edit_on_first_poll(kontent_emulator) -> Iterator[Callable[..., EditOnFirstPoll]]:
    def make(env_id: str, edit: Callable[[Any], None]) -> EditOnFirstPoll:
        from airflow_provider_kontent.testing import EmulatorControl

        # its own control client: the watcher runs in another thread
        return EditOnFirstPoll(EmulatorControl(kontent_emulator.base_url), env_id, edit)

    yield make
