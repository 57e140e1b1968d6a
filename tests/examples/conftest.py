"""Make ``example_dags/`` importable the way Airflow does for its DAGs folder (it is on ``sys.path``)."""

from __future__ import annotations

import sys
from pathlib import Path

EXAMPLE_DAGS = Path(__file__).resolve().parents[2] / "example_dags"

if str(EXAMPLE_DAGS) not in sys.path:
    sys.path.insert(0, str(EXAMPLE_DAGS))
