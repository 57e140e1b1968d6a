"""Apache Airflow provider for the Kontent.ai Sync API.

``get_provider_info`` is read by every Airflow component at start-up, so this module imports
nothing heavy: no Airflow, no requests.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "get_provider_info"]

# The connection form, declared once here and reused by the hook's legacy form methods
# (see hooks/kontent.py) so the two can never drift apart.
CONN_FIELDS: dict[str, dict] = {
    "environment_id": {
        "label": "Environment ID",
        "description": "The Kontent.ai environment GUID (Environment settings > General).",
        "schema": {"type": "string"},
    },
    "mode": {
        "label": "API mode",
        "description": "public: published content, no key. secure: published content with a secure-access "
        "Delivery API key. preview: latest content, needs a preview Delivery API key.",
        "schema": {"type": "string", "enum": ["public", "secure", "preview"], "default": "public"},
    },
    "preview_base_url": {
        "label": "Preview base URL override",
        "description": "Preview mode only: empty = https://preview-deliver.kontent.ai. The base URL override "
        "above is for public and secure mode, so one override never serves the other mode's content.",
        "schema": {"type": ["string", "null"]},
    },
    "connect_timeout": {
        "label": "Connect timeout (s)",
        "description": "Seconds to wait for the TCP/TLS connection; empty = 10.",
        "schema": {"type": ["number", "null"], "minimum": 0},
    },
    "read_timeout": {
        "label": "Read timeout (s)",
        "description": "Seconds to wait for a response; empty = 60.",
        "schema": {"type": ["number", "null"], "minimum": 0},
    },
    "max_attempts": {
        "label": "Max attempts per request",
        "description": "Attempts for a request that fails with 408, 429, 5xx or a network error "
        "(1 = no retry); empty = 5.",
        "schema": {"type": ["integer", "null"], "minimum": 1},
    },
    "max_retry_wait": {
        "label": "Max total retry wait (s)",
        "description": "Upper bound on the time one request may spend waiting between retries; empty = 120.",
        "schema": {"type": ["number", "null"], "minimum": 0},
    },
    "rate_limit_per_second": {
        "label": "Request budget per second",
        "description": "Most requests per second Airflow sends to this environment (Sync and content "
        "together). Kontent.ai allows 100/s per environment, shared with your website; default 90.",
        "schema": {"type": ["integer", "null"], "minimum": 1},
    },
    "rate_limit_per_minute": {
        "label": "Request budget per minute",
        "description": "Most requests per minute Airflow sends to this environment. Kontent.ai allows "
        "2,000/min per environment, shared with your website; default 1800. Lower it to leave more room.",
        "schema": {"type": ["integer", "null"], "minimum": 1},
    },
}

UI_FIELD_BEHAVIOUR: dict[str, dict] = {
    # The port stays visible: it completes a base URL override that names no port, and it is the way
    # round an Airflow 3.3 bug: the Test button sends a stored empty port as 0, which the test endpoint
    # refuses as "differs from the stored connection" (apache/airflow#73298); a stored 0 matches and
    # means "no port" to the hook (see the README's troubleshooting).
    "hidden-fields": ["schema", "login"],
    "relabeling": {
        "host": "Base URL override",
        "port": "Port (of the base URL override)",
        "password": "Delivery API key",
    },
    "placeholders": {
        "host": "empty = https://deliver.kontent.ai (public and secure mode)",
        "port": "empty or 0 = the URL's own port",
        "password": "secure-access or preview key; empty for public mode",
        "environment_id": "8d20758c-d74c-4f59-ae04-ee928c0816b7",
        "mode": "public",
        "preview_base_url": "empty = https://preview-deliver.kontent.ai",
        "connect_timeout": "10",
        "read_timeout": "60",
        "max_attempts": "5",
        "max_retry_wait": "120",
    },
}


def get_provider_info() -> dict:
    """Describe the provider to Airflow's ProvidersManager (validated against provider_info.schema.json)."""
    return {
        "package-name": "airflow-provider-kontent",
        "name": "Kontent.ai",
        "description": "Incremental content sync from the Kontent.ai headless CMS (Sync API v2 and v1).",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "Kontent.ai",
                "external-doc-url": "https://kontent.ai/learn/docs/apis/sync-api-v2/synchronization",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {"integration-name": "Kontent.ai", "python-modules": ["airflow_provider_kontent.hooks.kontent"]}
        ],
        "operators": [
            {
                "integration-name": "Kontent.ai",
                "python-modules": [
                    "airflow_provider_kontent.operators.sync_init",
                    "airflow_provider_kontent.operators.sync_pull",
                    "airflow_provider_kontent.operators.sync_commit",
                ],
            }
        ],
        "transfers": [
            {
                "source-integration-name": "Kontent.ai",
                "target-integration-name": "Common SQL",
                "python-module": "airflow_provider_kontent.transfers.kontent_to_sql",
            }
        ],
        "sensors": [
            {"integration-name": "Kontent.ai", "python-modules": ["airflow_provider_kontent.sensors.sync"]}
        ],
        "triggers": [
            {
                "integration-name": "Kontent.ai",
                "python-modules": [
                    "airflow_provider_kontent.triggers.sync",
                    "airflow_provider_kontent.triggers.changes",
                ],
            }
        ],
        "connection-types": [
            {
                "connection-type": "kontent",
                "hook-class-name": "airflow_provider_kontent.hooks.kontent.KontentHook",
                "hook-name": "Kontent.ai",
                "ui-field-behaviour": UI_FIELD_BEHAVIOUR,
                "conn-fields": CONN_FIELDS,
            }
        ],
    }
