"""The control-API reference in ``docs/emulator.md``, rendered from the operation declarations.

``python -m airflow_provider_kontent.testing.control.reference docs/emulator.md`` rewrites the section
between the ``control-operations`` markers; ``tests/emulator/test_control_reference.py`` fails when the
doc and ``operations.py`` differ, so the reference cannot drift from what the API accepts.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pydantic_core import PydanticUndefined

from airflow_provider_kontent.testing.control.operations import OPERATIONS, READ, Operation
from airflow_provider_kontent.testing.control.schema import Choices

BEGIN = "<!-- control-operations:begin (generated from testing/control/operations.py; do not edit) -->"
END = "<!-- control-operations:end -->"
NATURE = {READ: "read (GET or POST)", "write": "write", "content": "content change"}


def _argument(name: str, info) -> str:
    text = f"`{name}`" if info.default is PydanticUndefined else f"`{name}={info.default!r}`"
    notes = [" / ".join(f"`{c}`" for c in meta) for meta in info.metadata if isinstance(meta, Choices)]
    notes += [info.description] if info.description else []
    return f"{text} ({'; '.join(notes)})" if notes else text


def _row(operation: Operation) -> str:
    fields = operation.arguments.model_fields
    arguments = ", ".join(_argument(name, info) for name, info in fields.items()) or "-"
    nature = NATURE[operation.nature] + (", bulk" if operation.bulk else "")
    return f"| `{operation.name}` | {nature} | {arguments} | {operation.summary} | {operation.returns} |"


def render() -> str:
    """The generated section, markers included."""
    lines = [
        BEGIN,
        "| Operation | Kind | Arguments (defaults) | What it does | Result |",
        "|---|---|---|---|---|",
        *(_row(operation) for operation in OPERATIONS.values()),
        END,
    ]
    return "\n".join(lines)


def section(text: str) -> str:
    """The generated section as it stands in ``text`` (markers included); "" when missing."""
    start, end = text.find(BEGIN), text.find(END)
    return text[start : end + len(END)] if start >= 0 and end > start else ""


def rewrite(path: Path) -> bool:
    """Replace the section in ``path``; returns whether the file changed."""
    text = path.read_text(encoding="utf-8")
    current = section(text)
    if not current:
        raise SystemExit(f"{path}: markers {BEGIN!r} ... {END!r} not found")
    updated = text.replace(current, render())
    if updated != text:
        path.write_text(updated, encoding="utf-8")
    return updated != text


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/emulator.md")
    print(f"{target}: {'updated' if rewrite(target) else 'up to date'}")
