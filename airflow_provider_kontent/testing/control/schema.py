"""Argument types for the control operations: pydantic fields whose errors say what is wrong.

Each type checks strictly (``"10"`` is not a page size, ``1`` is not ``true``) in a ``BeforeValidator``
with the emulator's own message, so an error reads ``page_size: must be an integer >= 1; got 0`` and
names the exact field path (``languages[0].codename``, ``elements.body.type``), whether the call came
over HTTP or in-process. The annotation behind each check keeps the schema honest for documentation.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from airflow_provider_kontent.testing.backend.errors import BackendError

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_CODENAME = re.compile(r"^[A-Za-z0-9_\-]+$")
ONE_YEAR_S = 86_400 * 365


class Arguments(BaseModel):
    """The arguments of one control operation; unknown ones are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Nested(BaseModel):
    """An object inside an argument (a language, a term, an element definition)."""

    model_config = ConfigDict(extra="forbid")


# ------------------------------------------------------------------------------------------- checks


def _non_empty_str(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"must be a non-empty string; got {value!r}")
    return value


def _codename(value: Any) -> str:
    _non_empty_str(value)
    if not _CODENAME.match(value):
        raise ValueError(f"must contain only letters, digits, '_' and '-'; got {value!r}")
    return value


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false; got {value!r}")
    return value


def _guid(value: Any) -> str:
    if not isinstance(value, str) or not _GUID.match(value):
        raise ValueError(f"must be a GUID like 0f5b6e9a-1c2d-4e3f-8a9b-0c1d2e3f4a5b; got {value!r}")
    return value.lower()


def _seconds_up_to(maximum: float, what: str) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        if (
            not isinstance(value, (int, float))
            or isinstance(value, bool)
            or value != value  # NaN
            or not 0 <= value <= maximum
        ):
            raise ValueError(f"must be a number of seconds between 0 and {what}; got {value!r}")
        return float(value)

    return check


_seconds = _seconds_up_to(ONE_YEAR_S, "one year")


def _integer(minimum: int, maximum: int | None) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise ValueError(f"must be an integer >= {minimum}; got {value!r}")
        if maximum is not None and value > maximum:
            raise ValueError(f"must be an integer <= {maximum}; got {value!r}")
        return value

    return check


def _one_of(*choices: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value not in choices:
            if len(choices) == 2:
                raise ValueError(f"must be {choices[0]!r} or {choices[1]!r}; got {value!r}")
            raise ValueError(f"must be one of {', '.join(choices)}; got {value!r}")
        return value

    return check


def _regex(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be a regular expression string; got {value!r}")
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"invalid regular expression: {exc}") from exc
    return value


def _object(what: str) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if not isinstance(value, dict):
            raise ValueError(f"must be an object of {what}; got {value!r}")
        return value

    return check


def _list(what: str, non_empty: bool = False) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if not isinstance(value, list) or (non_empty and not value):
            raise ValueError(f"must be a {'non-empty ' if non_empty else ''}list of {what}; got {value!r}")
        return value

    return check


def _optional(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: None if value is None else check(value)


# ------------------------------------------------------------------------------------------- types

NonEmptyStr = Annotated[str, BeforeValidator(_non_empty_str)]
OptStr = Annotated[str | None, BeforeValidator(_optional(_non_empty_str))]
Codename = Annotated[str, BeforeValidator(_codename)]
OptCodename = Annotated[str | None, BeforeValidator(_optional(_codename))]
Bool = Annotated[bool, BeforeValidator(_bool)]
OptBool = Annotated[bool | None, BeforeValidator(_optional(_bool))]
Guid = Annotated[str, BeforeValidator(_guid)]
OptGuid = Annotated[str | None, BeforeValidator(_optional(_guid))]
Seconds = Annotated[float, BeforeValidator(_seconds)]
OptSeconds = Annotated[float | None, BeforeValidator(_optional(_seconds))]
OptDelay = Annotated[float | None, BeforeValidator(_optional(_seconds_up_to(300, "300")))]
OptRegex = Annotated[str | None, BeforeValidator(_optional(_regex))]


def Integer(minimum: int, maximum: int | None = None) -> Any:
    """An integer in ``[minimum, maximum]`` (bools refused)."""
    return Annotated[int, BeforeValidator(_integer(minimum, maximum))]


def OptInteger(minimum: int, maximum: int | None = None) -> Any:
    return Annotated[int | None, BeforeValidator(_optional(_integer(minimum, maximum)))]


class Choices(tuple):
    """Field metadata: the values a string argument accepts (shown in the control-API reference)."""


def OneOf(*choices: str) -> Any:
    return Annotated[str, BeforeValidator(_one_of(*choices)), Choices(choices)]


def OptOneOf(*choices: str) -> Any:
    return Annotated[str | None, BeforeValidator(_optional(_one_of(*choices))), Choices(choices)]


def ObjectOf(what: str, inner: Any = dict[str, Any], optional: bool = True) -> Any:
    check = _object(what)
    return Annotated[
        inner | None if optional else inner, BeforeValidator(_optional(check) if optional else check)
    ]


def ListOf(what: str, inner: Any = list[Any], optional: bool = True, non_empty: bool = False) -> Any:
    check = _list(what, non_empty)
    return Annotated[
        inner | None if optional else inner, BeforeValidator(_optional(check) if optional else check)
    ]


# ------------------------------------------------------------------------------------------- errors


def field_path(location: tuple[Any, ...]) -> str:
    """``("languages", 0, "codename")`` -> ``languages[0].codename`` (dict keys join with dots)."""
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part == "[key]":
            continue
        else:
            path += f".{part}" if path else str(part)
    return path


def backend_error(exc: ValidationError, operation: str, prefix: str = "") -> BackendError:
    """The first problem of ``exc`` as a :class:`BackendError` naming its field (under ``prefix``)."""
    error = exc.errors()[0]
    field = f"{prefix}{field_path(tuple(error['loc']))}" or None
    kind = error["type"]
    if kind == "value_error":
        message = str(error["ctx"]["error"])
    elif kind == "missing":
        message = f"required field missing for {operation}"
    elif kind == "extra_forbidden":
        message = f"unknown field for {operation}" if len(error["loc"]) == 1 else "unknown field"
    elif kind in ("model_type", "model_attributes_type", "dict_type"):
        message = f"must be an object; got {error['input']!r}"
    else:
        message = f"{error['msg']}; got {error['input']!r}"
    return BackendError(field, message)
