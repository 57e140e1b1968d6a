"""Hook tests share the client tests' autouse guard: no API key in any log line."""

from tests.client.conftest import secret_guard  # noqa: F401  (autouse fixture)
