"""Hook tests share the client tests' fixtures: the autouse no-key-in-any-log guard, the scripted server."""

from tests.client.conftest import scripted_server, secret_guard, self_signed_tls  # noqa: F401  (fixtures)
