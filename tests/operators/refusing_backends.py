"""Storage that refuses a chosen write, for tests of what a failed hand-off leaves behind.

* ``RefusingObjectStore``: a small fsspec filesystem for the test scheme ``refusing://``. Like S3 or GCS,
  a file becomes visible only when its upload completes (when it is closed), and the test chooses file
  names whose opening for writing is denied or whose upload is refused. Registered with fsspec and
  attached to Airflow's object storage, so ``ObjectStoragePath("refusing://bucket/out/")`` (and an
  operator's ``output_path="refusing://..."``) writes here.
* ``RefusingXCom``: a custom XCom backend (a ``BaseXCom`` subclass, what ``[core] xcom_backend`` names)
  that refuses to store chosen keys of chosen tasks, as a backend whose remote storage is down would.
  The task runner reads ``[core] xcom_backend`` once at import, so ``install_xcom_backend`` puts the
  class where the task runner looks it up.
"""

from __future__ import annotations

from io import BytesIO
from typing import Any, ClassVar

from fsspec.implementations.memory import MemoryFile, MemoryFileSystem
from fsspec.utils import stringify_path

SCHEME = "refusing"


class _Upload(MemoryFile):
    """A file being written: stored in the filesystem only when closed (the upload completes)."""

    def __init__(self, fs: RefusingObjectStore, path: str) -> None:
        super().__init__(fs, path)
        self._done = False

    def close(self) -> None:
        if self._done:
            return
        self._done = True
        name = self.path.rsplit("/", 1)[-1]
        if name in self.fs.refuse_upload:
            self.fs.refused.append(name)
            raise OSError(f"the object store refused the upload of {self.path!r} (injected)")
        self.commit()


class RefusingObjectStore(MemoryFileSystem):
    """In-memory object store whose writes of chosen file names fail (see the module docstring)."""

    protocol = (SCHEME,)
    store: ClassVar[dict[str, Any]] = {}
    pseudo_dirs: ClassVar[list[str]] = [""]
    #: file names (last path segment) whose open for writing raises PermissionError
    refuse_open: ClassVar[set[str]] = set()
    #: file names whose upload (the close of the written file) raises OSError
    refuse_upload: ClassVar[set[str]] = set()
    #: names whose write was refused so far (to check that the injection happened)
    refused: ClassVar[list[str]] = []

    @classmethod
    def _strip_protocol(cls, path: Any) -> str:
        text = stringify_path(path)
        if text.startswith(f"{SCHEME}://"):
            text = text[len(SCHEME) + 3 :]
        return super()._strip_protocol(text)

    @classmethod
    def reset(cls) -> None:
        cls.store.clear()
        cls.pseudo_dirs[:] = [""]
        cls.refuse_open.clear()
        cls.refuse_upload.clear()
        cls.refused.clear()

    @classmethod
    def names(cls) -> list[str]:
        """Every stored (uploaded) file, as ``bucket/dir/name`` paths."""
        return sorted(path.lstrip("/") for path in cls.store)

    def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> BytesIO:
        if "w" in mode or "x" in mode:
            stripped = self._strip_protocol(path)
            name = stripped.rsplit("/", 1)[-1]
            if name in self.refuse_open:
                self.refused.append(name)
                raise PermissionError(f"write access to {stripped!r} denied (injected)")
            return _Upload(self, stripped)
        return super()._open(path, mode, **kwargs)


def register_object_store() -> None:
    """Make ``refusing://`` known to fsspec and to Airflow's ObjectStoragePath (idempotent)."""
    import fsspec
    from airflow.sdk.io import attach

    fsspec.register_implementation(SCHEME, RefusingObjectStore, clobber=True)
    attach(SCHEME, fs=RefusingObjectStore())


def make_refusing_xcom() -> type:
    from airflow.sdk.bases.xcom import BaseXCom

    class RefusingXCom(BaseXCom):
        """Stores like ``BaseXCom`` except the ``(task_id, key)`` pairs in ``refuse``."""

        refuse: ClassVar[set[tuple[str, str]]] = set()
        #: the values it refused, in order
        refused: ClassVar[list[Any]] = []

        @staticmethod
        def serialize_value(
            value: Any,
            *,
            key: str | None = None,
            task_id: str | None = None,
            dag_id: str | None = None,
            run_id: str | None = None,
            map_index: int | None = None,
        ) -> str:
            if (task_id, key) in RefusingXCom.refuse:
                RefusingXCom.refused.append(value)
                raise OSError(f"the XCom backend could not store {key!r} of task {task_id!r} (injected)")
            return BaseXCom.serialize_value(
                value, key=key, task_id=task_id, dag_id=dag_id, run_id=run_id, map_index=map_index
            )

    return RefusingXCom


def install_xcom_backend(monkeypatch: Any, backend: type) -> None:
    """Use ``backend`` as the XCom backend of tasks run in this process (``dag.test``)."""
    from airflow.sdk.execution_time import task_runner

    monkeypatch.setattr(task_runner, "XCom", backend)
