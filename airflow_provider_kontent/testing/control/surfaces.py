"""The two Python surfaces generated from ``operations.OPERATIONS``: in-process and over HTTP.

``EmulatorStore`` is the backend with one validated method per operation (what the demo seed, the
server and in-process tests use); ``EmulatorControl`` posts the same arguments to a running emulator's
control API (``/_emulator/<name>``) with ``requests``. Both get their methods, signatures and docstrings
from the declarations, so neither can drift from the HTTP API or from each other.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import requests

from airflow_provider_kontent.testing.backend.errors import NOT_FOUND, BackendError
from airflow_provider_kontent.testing.backend.store import Backend
from airflow_provider_kontent.testing.control.operations import OPERATIONS, Operation


def signature(operation: Operation) -> inspect.Signature:
    """``(self, <arguments in declaration order>)``; required ones first, as declared."""
    parameters = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    for name, info in operation.arguments.model_fields.items():
        default = inspect.Parameter.empty if info.is_required() else info.default
        parameters.append(
            inspect.Parameter(
                name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default, annotation=info.annotation
            )
        )
    return inspect.Signature(parameters)


def _method(operation: Operation, call: Callable[[Any, str, dict[str, Any]], Any]) -> Callable[..., Any]:
    sig = signature(operation)

    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            bound = sig.bind(self, *args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{operation.name}(): {exc}") from None
        bound.apply_defaults()
        arguments = dict(bound.arguments)
        del arguments["self"]
        return call(self, operation.name, arguments)

    method.__name__ = method.__qualname__ = operation.name
    method.__doc__ = f"{operation.summary}\n\nReturns: {operation.returns}."
    method.__signature__ = sig  # type: ignore[attr-defined]
    return method


class EmulatorStore(Backend):
    """All emulator state, with one validated method per control operation (same arguments and results
    as ``EmulatorControl``); invalid input raises :class:`BackendError` naming the field."""

    def invoke(self, name: str, arguments: Any, field_prefix: str = "") -> Any:
        """Run operation ``name`` with JSON-like ``arguments`` (what the HTTP control API calls)."""
        operation = OPERATIONS.get(name)
        if operation is None:
            raise BackendError(None, f"unknown control operation {name!r}", NOT_FOUND)
        values = operation.validate(arguments, field_prefix)
        with self.operation(operation.nature, values.get("env_id")):
            try:
                if operation.run is not None:
                    return operation.run(self, **values)
                return getattr(Backend, name)(self, **values)
            except BackendError as exc:
                raise exc.under(field_prefix) if field_prefix else exc from None


class EmulatorControlError(RuntimeError):
    """The control API refused a call; ``field`` names the offending argument when there is one."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message
        self.field = field


class EmulatorControl:
    """A running emulator's control API from Python (one method per control operation)."""

    def __init__(self, base_url: str, timeout: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> EmulatorControl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, endpoint: str, /, **arguments: Any) -> Any:
        """POST ``arguments`` to ``/_emulator/<endpoint>``; raise :class:`EmulatorControlError` on failure."""
        url = f"{self.base_url}/_emulator/{endpoint}"
        response = self._session.post(url, json=arguments, timeout=self.timeout)
        try:
            body = response.json()
        except ValueError:
            body = {"message": response.text}
        if response.status_code != 200:
            raise EmulatorControlError(response.status_code, body.get("message", ""), body.get("field"))
        return body.get("result")

    def health(self) -> dict[str, Any]:
        response = self._session.get(f"{self.base_url}/_emulator/health", timeout=self.timeout)
        response.raise_for_status()
        return response.json()["result"]


def _store_call(store: EmulatorStore, name: str, arguments: dict[str, Any]) -> Any:
    return store.invoke(name, arguments)


def _control_call(control: EmulatorControl, name: str, arguments: dict[str, Any]) -> Any:
    return control.call(name, **arguments)


for _operation in OPERATIONS.values():
    setattr(EmulatorStore, _operation.name, _method(_operation, _store_call))
    setattr(EmulatorControl, _operation.name, _method(_operation, _control_call))
