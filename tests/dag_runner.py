"""Run a DAG object for real with ``dag.test()`` without putting it in a DAGs folder.

``dag.test()`` in Airflow 3 only runs DAGs that are serialized in a DAG bundle. Tests build DAGs
inline (with the emulator's URL in them), so this registers the DAG in the ``dags-folder`` bundle
first. It uses Airflow internals checked on 3.3.2 (``DagBundlesManager.sync_bundles_to_db``,
``DagBag.bag_dag`` and ``sync_bag_to_db``: the same steps the dag-processor takes for a parsed file);
keeping them in one place means one fix if they move.
"""

from __future__ import annotations

import os
from typing import Any


def register_dag(dag: Any) -> None:
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db
    from airflow.utils.session import create_session

    with create_session() as session:
        DagBundlesManager().sync_bundles_to_db(session=session)
    bag = DagBag(dag_folder=os.devnull, collect_dags=False)
    bag.bag_dag(dag)
    sync_bag_to_db(bag, "dags-folder", None)


def run_dag(dag: Any, **kwargs: Any) -> Any:
    """Register ``dag`` and run it once with ``dag.test(**kwargs)``; returns the DagRun."""
    register_dag(dag)
    return dag.test(**kwargs)
