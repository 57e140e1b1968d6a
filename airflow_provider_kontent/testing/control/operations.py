"""Every control operation, declared once: name, argument schema, read/write nature, result.

This module is the only place an operation is defined. From it follow the HTTP control API
(``control_api.py``: ``POST /_emulator/<name>``, ``GET`` too for reads, input validated here), the
in-process ``EmulatorStore`` and the ``EmulatorControl`` wrapper (``surfaces.py``: one method per
operation with these arguments, in this order) and the control-API reference in ``docs/emulator.md``
(``reference.py``; a test fails when the doc and these declarations differ).

To add an operation: declare its arguments here with ``@declare``, implement the method of the same
name on the backend (``backend/``), regenerate the doc section, and test it in ``tests/emulator``.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ConfigDict, Field, ValidationError

from airflow_provider_kontent.testing.backend.errors import BackendError
from airflow_provider_kontent.testing.backend.faults import ACTIONS
from airflow_provider_kontent.testing.backend.model import ELEMENT_TYPES, V1_CHANGE_TYPE_STYLES
from airflow_provider_kontent.testing.backend.store import CONTENT, READ, WRITE
from airflow_provider_kontent.testing.control.schema import (
    Arguments,
    Bool,
    Codename,
    Integer,
    ListOf,
    Nested,
    NonEmptyStr,
    ObjectOf,
    OneOf,
    OptBool,
    OptCodename,
    OptDelay,
    OptGuid,
    OptInteger,
    OptOneOf,
    OptRegex,
    OptSeconds,
    OptStr,
    Seconds,
    backend_error,
)

__all__ = ["BULK_OPERATIONS", "CONTENT", "OPERATIONS", "READ", "WRITE", "Operation", "declare"]


@dataclass(frozen=True)
class Operation:
    """One control operation. ``nature``: READ (also answers GET), WRITE, or CONTENT (a write that is one
    processing group for the propagation delay); ``bulk``: allowed inside ``bulk``."""

    name: str
    arguments: type[Arguments]
    nature: str
    returns: str
    bulk: bool = False
    run: Callable[..., Any] | None = None  # set for operations the control layer implements (bulk)

    @property
    def summary(self) -> str:
        return " ".join((self.arguments.__doc__ or "").split())

    def validate(self, arguments: Any, prefix: str = "") -> dict[str, Any]:
        """Checked keyword arguments for the backend; errors name the field (under ``prefix``)."""
        if not isinstance(arguments, dict):
            raise BackendError(
                prefix.rstrip(".") or None, f"arguments must be a JSON object; got {arguments!r}"
            )
        try:
            model = self.arguments.model_validate(arguments)
        except ValidationError as exc:
            raise backend_error(exc, self.name, prefix) from None
        return {name: _plain(getattr(model, name)) for name in type(model).model_fields}


def _plain(value: Any) -> Any:
    """Nested argument models as the plain dicts and lists the backend works on."""
    if isinstance(value, Nested):
        return {k: _plain(v) for k, v in value.__dict__.items()} | dict(value.__pydantic_extra__ or {})
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


OPERATIONS: dict[str, Operation] = {}


def declare(
    name: str, nature: str, returns: str, bulk: bool = False, run: Callable[..., Any] | None = None
) -> Callable[[type[Arguments]], type]:
    """Register the decorated argument model as operation ``name`` (``run``: implemented here, not by
    the backend method of the same name)."""

    def register(arguments: type[Arguments]) -> type[Arguments]:
        if name in OPERATIONS:
            raise ValueError(f"control operation {name!r} is declared twice")
        OPERATIONS[name] = Operation(name, arguments, nature, returns, bulk, run)
        return arguments

    return register


# ------------------------------------------------------------------------------------- nested objects


class LanguageSpec(Nested):
    codename: Codename
    name: OptStr = None
    id: OptGuid = None
    fallback: OptStr = None
    active: Bool = True


class ElementSpec(Nested):
    model_config = ConfigDict(extra="allow")  # e.g. a date_time's display_timezone

    type: OneOf(*ELEMENT_TYPES)
    name: OptStr = None
    options: ListOf("{name, codename}", list[dict[str, Any]]) = None
    taxonomy_group: OptCodename = None


class TermSpec(Nested):
    model_config = ConfigDict(extra="ignore")

    codename: Codename
    name: OptStr = None
    terms: ListOf("{name, codename, terms?}", list["TermSpec"]) = None


TermSpec.model_rebuild()

PageSize = Integer(1, 10_000)
EnvId = NonEmptyStr

# ------------------------------------------------------------------------------------------ environments


@declare(
    "create_environment",
    WRITE,
    "environment dict: `id`, the arguments, `revoked_keys`, `pending_changes`, `stale_changes`",
)
class CreateEnvironment(Arguments):
    """Create an environment; keys are generated when not given."""

    environment_id: OptGuid = Field(None, description="GUID; generated when None")
    secure_access: Bool = False
    secure_key: OptStr = Field(None, description="generated when None")
    preview_key: OptStr = Field(None, description="generated when None")
    languages: ListOf("language objects", list[LanguageSpec], non_empty=True) = Field(
        None,
        description='`[{"codename","name"?,"id"?,"fallback"?,"active"?}]`, first = default; default en-US; at most 50',
    )
    page_size: PageSize = Field(100, description="Sync: entries per array per page")
    feed_page_size: PageSize = Field(100, description="items-feed page size")
    v1_change_types: OneOf(*V1_CHANGE_TYPE_STYLES) = "suffixed"
    url_max_length: Integer(64) = 2000
    url_too_long_status: Integer(400, 599) = 414
    rate_limit: OptBool = Field(None, description="None = the emulator's default")
    token_ttl_s: OptSeconds = Field(None, description="None/0 = tokens never expire")
    propagation_delay_s: Seconds = Field(0, description="seconds before a change reaches Sync and Delivery")
    stale_content_s: Seconds = Field(
        0, description="seconds the Delivery CDN then still serves the older content"
    )
    legacy_v1: Bool = Field(False, description="serve the retired Sync API v1 (replay and migration tests)")


@declare("get_environment", READ, "environment dict")
class GetEnvironment(Arguments):
    """One environment's settings."""

    env_id: EnvId


@declare("list_environments", READ, "list of environment dicts")
class ListEnvironments(Arguments):
    """Every environment."""


@declare("update_environment", WRITE, "environment dict")
class UpdateEnvironment(Arguments):
    """Change settings in place (None = unchanged); a replaced key then gets 401; a new delay applies to later changes."""

    env_id: EnvId
    secure_access: OptBool = None
    secure_key: OptStr = None
    preview_key: OptStr = None
    page_size: OptInteger(1, 10_000) = None
    feed_page_size: OptInteger(1, 10_000) = None
    v1_change_types: OptOneOf(*V1_CHANGE_TYPE_STYLES) = None
    url_max_length: OptInteger(64) = None
    url_too_long_status: OptInteger(400, 599) = None
    token_ttl_s: OptSeconds = Field(None, description="0 = no expiry")
    propagation_delay_s: OptSeconds = None
    stale_content_s: OptSeconds = None
    legacy_v1: OptBool = None


@declare("delete_environment", WRITE, "null")
class DeleteEnvironment(Arguments):
    """Drop an environment and its change logs."""

    env_id: EnvId


@declare("revoke_key", WRITE, "environment dict")
class RevokeKey(Arguments):
    """Revoke the environment's current secure or preview key: it then gets 403."""

    env_id: EnvId
    kind: OneOf("secure", "preview")


@declare("seed", WRITE, "environment dict plus `summary`")
class Seed(Arguments):
    """Build a named data set (`demo`: environment `0f5b6e9a-1c2d-4e3f-8a9b-0c1d2e3f4a5b`, rebuilt if present)."""

    name: OneOf("demo") = "demo"


# ----------------------------------------------------------------------------------------- content model


@declare("upsert_type", CONTENT, "type dict", bulk=True)
class UpsertType(Arguments):
    """Create or update a content type (by `id` when given, else by codename); at most 250 elements."""

    env_id: EnvId
    codename: Codename
    name: OptStr = None
    elements: ObjectOf("element codename -> definition", dict[Codename, ElementSpec]) = Field(
        None, description='`{codename: {"type","name"?,"options"?,"taxonomy_group"?}}`'
    )
    id: OptGuid = None


@declare("rename_type", CONTENT, "type dict", bulk=True)
class RenameType(Arguments):
    """Change a type's codename; items keep their type (v1 filters on the old codename go quiet)."""

    env_id: EnvId
    type_id_or_codename: NonEmptyStr
    new_codename: Codename


@declare("delete_type", CONTENT, "null", bulk=True)
class DeleteType(Arguments):
    """Delete a content type (refused while items use it)."""

    env_id: EnvId
    codename: NonEmptyStr


@declare("upsert_taxonomy", CONTENT, "taxonomy dict", bulk=True)
class UpsertTaxonomy(Arguments):
    """Create or update a taxonomy group."""

    env_id: EnvId
    codename: Codename
    name: OptStr = None
    terms: ListOf("{name, codename, terms?}", list[TermSpec]) = Field(
        None, description='`[{"codename","name"?,"terms"?}]`'
    )
    id: OptGuid = None


@declare("delete_taxonomy", CONTENT, "null", bulk=True)
class DeleteTaxonomy(Arguments):
    """Delete a taxonomy group."""

    env_id: EnvId
    codename: NonEmptyStr


@declare("upsert_language", CONTENT, "language dict", bulk=True)
class UpsertLanguage(Arguments):
    """Create or update a language; `active=False` deactivates it (a "deleted" language delta); at most 50."""

    env_id: EnvId
    codename: Codename
    name: OptStr = None
    fallback: OptStr = None
    active: Bool = True
    id: OptGuid = None


@declare("rename_language", CONTENT, "language dict", bulk=True)
class RenameLanguage(Arguments):
    """Change a language's codename (variants and fallbacks follow)."""

    env_id: EnvId
    codename: NonEmptyStr
    new_codename: Codename


@declare("delete_language", CONTENT, "null", bulk=True)
class DeleteLanguage(Arguments):
    """Delete a language (not the default; refused while variants exist)."""

    env_id: EnvId
    codename: NonEmptyStr


# ------------------------------------------------------------------------------------------------- items


class _VariantRef(Arguments):
    env_id: EnvId
    item_id: NonEmptyStr = Field(description="id or codename")
    language: NonEmptyStr


@declare("upsert_item", CONTENT, "item id", bulk=True)
class UpsertItem(Arguments):
    """Create the item if needed and write its `language` variant; text up to 100,000 characters,
    custom elements 200,000, 1,000 linked items and 450 kB per variant."""

    env_id: EnvId
    codename: Codename
    type: NonEmptyStr
    language: NonEmptyStr
    elements: ObjectOf("element codename -> value") = Field(
        None, description="merged over the previous version"
    )
    name: OptStr = None
    collection: OptCodename = Field(
        None, description='new item: "default"; existing: unchanged unless given, then a move'
    )
    id: OptGuid = None
    publish: Bool = True
    workflow_step: OptStr = Field(None, description='"published"/"archived" act like publish/archive')
    is_component: Bool = False


@declare("publish", CONTENT, "null", bulk=True)
class Publish(_VariantRef):
    """Publish the latest version of a variant."""


@declare("unpublish", CONTENT, "null", bulk=True)
class Unpublish(_VariantRef):
    """Withdraw the published version (production: deleted); the latest goes back to draft."""


@declare("archive", CONTENT, "null", bulk=True)
class Archive(_VariantRef):
    """Archive a variant (preview: changed, step "archived"; production: deleted if it was published)."""


@declare("change_workflow_step", CONTENT, "null", bulk=True)
class ChangeWorkflowStep(_VariantRef):
    """Move the latest version to `step` ("published"/"archived" act like publish/archive)."""

    step: Codename


@declare("delete_variant", CONTENT, "null", bulk=True)
class DeleteVariant(_VariantRef):
    """Delete one language variant."""


@declare("delete_item", CONTENT, "null", bulk=True)
class DeleteItem(Arguments):
    """Delete an item with every variant."""

    env_id: EnvId
    item_id: NonEmptyStr


@declare("move_item", CONTENT, "null", bulk=True)
class MoveItem(Arguments):
    """Move an item to another collection (every variant changes)."""

    env_id: EnvId
    item_id: NonEmptyStr
    collection: Codename


def run_bulk(store: Any, env_id: str, operations: list[Any]) -> list[Any]:
    """``bulk``: each operation validated against its own declaration, errors under ``operations[i].``."""
    env_id = store.get_environment(env_id)["id"]
    results = []
    for index, operation in enumerate(operations):
        prefix = f"operations[{index}]."
        if not isinstance(operation, dict):
            raise BackendError(f"operations[{index}]", f"must be an object; got {operation!r}")
        arguments = dict(operation)
        op = arguments.pop("op", None)
        if op not in BULK_OPERATIONS:
            raise BackendError(f"{prefix}op", f"must be one of {', '.join(BULK_OPERATIONS)}; got {op!r}")
        if "env_id" in arguments:
            raise BackendError(f"{prefix}env_id", "is implied by bulk(); remove it")
        results.append(store.invoke(op, {"env_id": env_id, **arguments}, prefix))
    return results


@declare("bulk", CONTENT, "list of results", run=run_bulk)
class Bulk(Arguments):
    """Apply operations in order (`[{"op": <a bulk operation>, ...arguments without env_id}]`); not atomic:
    an error names `operations[i].field`."""

    env_id: EnvId
    operations: ListOf("{'op': ..., ...} objects", list[Any], optional=False)


@declare("generate_changes", CONTENT, "count", bulk=True)
class GenerateChanges(Arguments):
    """Create `count` synthetic items fast (benchmarks); the type gets a `title` text element if missing."""

    env_id: EnvId
    count: Integer(0, 1_000_000)
    type: Codename = "article"
    language: OptStr = Field(None, description="None = the default language")
    publish: Bool = True


# ------------------------------------------------------------------------ faults, requests, limits, time


@declare("inject_fault", WRITE, "fault dict")
class InjectFault(Arguments):
    """Make the next `times` API requests matching `method`, `path` (a regex searched in the path) and `env_id` fail with `action`."""

    action: OneOf(*ACTIONS)
    times: Integer(1) = 1
    method: OptStr = None
    path: OptRegex = None
    env_id: OptStr = None
    status: OptInteger(400, 599) = Field(None, description="for `status`")
    retry_after: OptInteger(0) = None
    delay: OptDelay = Field(None, description="for `delay`")


@declare("clear_faults", WRITE, "null")
class ClearFaults(Arguments):
    """Drop every injected fault."""


@declare("faults", READ, "list of fault dicts")
class Faults(Arguments):
    """The faults still armed."""


@declare("requests", READ, '`[{"method","path","query","headers","status","time","env_id","host","fault"}]`')
class Requests(Arguments):
    """Logged API requests, oldest first."""

    env_id: OptStr = None


@declare("clear_requests", WRITE, "null")
class ClearRequests(Arguments):
    """Empty the request log."""


@declare("set_rate_limit", WRITE, "config dict")
class SetRateLimit(Arguments):
    """Switch the per-environment rate limit on or off, for every environment (`env_id=None`) or one."""

    enabled: Bool = True
    env_id: OptStr = None
    per_second: Integer(1) = 100
    per_minute: Integer(1) = 2000


@declare("propagate", WRITE, "number of pending groups released")
class Propagate(Arguments):
    """Make every change of the environment still inside the propagation delay or stale window visible now."""

    env_id: EnvId


@declare("advance_time", WRITE, "seconds the emulator's clock is ahead of real time")
class AdvanceTime(Arguments):
    """Move the emulator's clock forward (propagation delays, stale windows, token ages), so tests need not sleep."""

    seconds: Seconds


@declare("reset", WRITE, "null")
class Reset(Arguments):
    """Drop environments, faults, the request log, rate-limit settings and the clock offset."""


BULK_OPERATIONS = tuple(name for name, op in OPERATIONS.items() if op.bulk)
