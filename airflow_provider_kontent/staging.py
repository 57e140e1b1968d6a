"""Refuse a staging path that only one machine can see when tasks may run on several.

The pull and the init's snapshot can write NDJSON to ``output_path``/``snapshot_path`` for the next task
(the load) to read. With ``file://`` that is the local disk of the worker that ran the task. Under the
LocalExecutor every task runs on the same machine, so that works; under a distributed executor
(CeleryExecutor, KubernetesExecutor, EdgeExecutor, ...) the load usually lands on another worker and
would fail much later with a missing file, or worse, the files pile up on a disk nobody cleans. So a
task that is about to stage to ``file://`` under such an executor fails at its start with an
explanation instead. Set ``[kontent] shared_local_staging = True`` (environment variable
``AIRFLOW__KONTENT__SHARED_LOCAL_STAGING=True``) when that path is a file system every worker mounts
(NFS, a shared volume).
"""

from __future__ import annotations

from typing import Any

from airflow_provider_kontent.outcomes import KontentTaskFailure

__all__ = ["LocalStagingError", "check_staging_reachable", "distributed_executors"]

#: Executors that run every task of a deployment on one machine.
LOCAL_EXECUTORS = frozenset({"LocalExecutor", "SequentialExecutor", "DebugExecutor"})
_LOCAL_PROTOCOLS = frozenset({"file", "local", ""})


class LocalStagingError(KontentTaskFailure):
    """A ``file://`` staging path under a distributed executor (fails without retry: config error)."""


def _conf() -> Any:
    try:
        from airflow.sdk import conf
    except ImportError:  # Airflow < 3.2
        from airflow.configuration import conf
    return conf


def distributed_executors() -> list[str]:
    """The configured executors (``[core] executor``) that may run tasks on other machines."""
    names = []
    for entry in str(_conf().get("core", "executor", fallback="") or "").split(","):
        entry = entry.strip()
        if not entry:
            continue
        class_name = entry.split(":")[-1].rsplit(".", 1)[-1]  # "alias:module.Class" or "Class"
        if class_name not in LOCAL_EXECUTORS:
            names.append(class_name)
    return names


def check_staging_reachable(path: Any, *, what: str, where: str = "") -> None:
    """Raise ``LocalStagingError`` when ``path`` is on the local disk and the executor is distributed."""
    protocol = getattr(path, "protocol", None)
    protocols = set(protocol) if isinstance(protocol, (tuple, list)) else {protocol}
    if not protocols & _LOCAL_PROTOCOLS:
        return
    remote = distributed_executors()
    if not remote or _conf().getboolean("kontent", "shared_local_staging", fallback=False):
        return
    raise LocalStagingError(
        f"{where}{what} {str(path)!r} is on this worker's local disk, but tasks run with "
        f"{', '.join(remote)}: the task that reads it may run on another machine and would not find it. "
        "Stage to storage every worker reaches (e.g. s3://<conn id>@bucket/prefix/ or gs://...), or leave "
        f"{what} empty to hand the records over in XCom (small syncs). If that path is a file system all "
        "workers mount, set [kontent] shared_local_staging = True (AIRFLOW__KONTENT__SHARED_LOCAL_STAGING)."
    )
