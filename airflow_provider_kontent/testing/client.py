"""``EmulatorControl``: the Python wrapper over the emulator's HTTP control API (``/_emulator/``).

Every method posts its keyword arguments to ``/_emulator/<method>`` and returns ``result``; it mirrors
``EmulatorStore`` 1:1 so a test can drive a local or a remote (CLI-started) emulator the same way.
"""

from __future__ import annotations

from typing import Any

import requests


class EmulatorControlError(RuntimeError):
    """The control API refused a call; ``field`` names the offending argument when there is one."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message
        self.field = field


class EmulatorControl:
    def __init__(self, base_url: str, timeout: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> EmulatorControl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, endpoint: str, /, **arguments: Any) -> Any:
        """POST ``arguments`` to ``/_emulator/<endpoint>``; raise :class:`EmulatorControlError` on failure."""
        url = f"{self.base_url}/_emulator/{endpoint}"
        response = self._session.post(url, json=arguments, timeout=self.timeout)
        try:
            body = response.json()
        except ValueError:
            body = {"message": response.text}
        if response.status_code != 200:
            raise EmulatorControlError(response.status_code, body.get("message", ""), body.get("field"))
        return body.get("result")

    def health(self) -> dict[str, Any]:
        response = self._session.get(f"{self.base_url}/_emulator/health", timeout=self.timeout)
        response.raise_for_status()
        return response.json()["result"]

    # environments
    def create_environment(
        self,
        environment_id: str | None = None,
        secure_access: bool = False,
        secure_key: str | None = None,
        preview_key: str | None = None,
        languages: list[dict[str, Any]] | None = None,
        page_size: int = 100,
        feed_page_size: int = 100,
        v1_change_types: str = "suffixed",
        url_max_length: int = 2000,
        url_too_long_status: int = 414,
        rate_limit: bool | None = None,
        token_ttl_s: float | None = None,
        propagation_delay_s: float = 0,
    ) -> dict[str, Any]:
        return self.call(
            "create_environment",
            environment_id=environment_id,
            secure_access=secure_access,
            secure_key=secure_key,
            preview_key=preview_key,
            languages=languages,
            page_size=page_size,
            feed_page_size=feed_page_size,
            v1_change_types=v1_change_types,
            url_max_length=url_max_length,
            url_too_long_status=url_too_long_status,
            rate_limit=rate_limit,
            token_ttl_s=token_ttl_s,
            propagation_delay_s=propagation_delay_s,
        )

    def get_environment(self, env_id: str) -> dict[str, Any]:
        return self.call("get_environment", env_id=env_id)

    def list_environments(self) -> list[dict[str, Any]]:
        return self.call("list_environments")

    def update_environment(self, env_id: str, **settings: Any) -> dict[str, Any]:
        """settings: secure_access, secure_key, preview_key, page_size, feed_page_size, v1_change_types,
        url_max_length, url_too_long_status, token_ttl_s (0 = no expiry), propagation_delay_s
        (omitted = unchanged)."""
        return self.call("update_environment", env_id=env_id, **settings)

    def delete_environment(self, env_id: str) -> None:
        self.call("delete_environment", env_id=env_id)

    def revoke_key(self, env_id: str, kind: str) -> dict[str, Any]:
        return self.call("revoke_key", env_id=env_id, kind=kind)

    def seed(self, name: str = "demo") -> dict[str, Any]:
        return self.call("seed", name=name)

    # content model
    def upsert_type(
        self,
        env_id: str,
        codename: str,
        name: str | None = None,
        elements: dict[str, dict[str, Any]] | None = None,
        id: str | None = None,
    ) -> dict[str, Any]:
        return self.call("upsert_type", env_id=env_id, codename=codename, name=name, elements=elements, id=id)

    def rename_type(self, env_id: str, type_id_or_codename: str, new_codename: str) -> dict[str, Any]:
        return self.call(
            "rename_type", env_id=env_id, type_id_or_codename=type_id_or_codename, new_codename=new_codename
        )

    def delete_type(self, env_id: str, codename: str) -> None:
        self.call("delete_type", env_id=env_id, codename=codename)

    def upsert_taxonomy(
        self,
        env_id: str,
        codename: str,
        name: str | None = None,
        terms: list[dict[str, Any]] | None = None,
        id: str | None = None,
    ) -> dict[str, Any]:
        return self.call("upsert_taxonomy", env_id=env_id, codename=codename, name=name, terms=terms, id=id)

    def delete_taxonomy(self, env_id: str, codename: str) -> None:
        self.call("delete_taxonomy", env_id=env_id, codename=codename)

    def upsert_language(
        self,
        env_id: str,
        codename: str,
        name: str | None = None,
        fallback: str | None = None,
        active: bool = True,
        id: str | None = None,
    ) -> dict[str, Any]:
        return self.call(
            "upsert_language",
            env_id=env_id,
            codename=codename,
            name=name,
            fallback=fallback,
            active=active,
            id=id,
        )

    def rename_language(self, env_id: str, codename: str, new_codename: str) -> dict[str, Any]:
        return self.call("rename_language", env_id=env_id, codename=codename, new_codename=new_codename)

    def delete_language(self, env_id: str, codename: str) -> None:
        self.call("delete_language", env_id=env_id, codename=codename)

    # items and variants
    def upsert_item(
        self,
        env_id: str,
        codename: str,
        type: str,
        language: str,
        elements: dict[str, Any] | None = None,
        name: str | None = None,
        collection: str | None = None,
        id: str | None = None,
        publish: bool = True,
        workflow_step: str | None = None,
        is_component: bool = False,
    ) -> str:
        return self.call(
            "upsert_item",
            env_id=env_id,
            codename=codename,
            type=type,
            language=language,
            elements=elements,
            name=name,
            collection=collection,
            id=id,
            publish=publish,
            workflow_step=workflow_step,
            is_component=is_component,
        )

    def publish(self, env_id: str, item_id: str, language: str) -> None:
        self.call("publish", env_id=env_id, item_id=item_id, language=language)

    def unpublish(self, env_id: str, item_id: str, language: str) -> None:
        self.call("unpublish", env_id=env_id, item_id=item_id, language=language)

    def archive(self, env_id: str, item_id: str, language: str) -> None:
        self.call("archive", env_id=env_id, item_id=item_id, language=language)

    def change_workflow_step(self, env_id: str, item_id: str, language: str, step: str) -> None:
        self.call("change_workflow_step", env_id=env_id, item_id=item_id, language=language, step=step)

    def delete_variant(self, env_id: str, item_id: str, language: str) -> None:
        self.call("delete_variant", env_id=env_id, item_id=item_id, language=language)

    def delete_item(self, env_id: str, item_id: str) -> None:
        self.call("delete_item", env_id=env_id, item_id=item_id)

    def move_item(self, env_id: str, item_id: str, collection: str) -> None:
        self.call("move_item", env_id=env_id, item_id=item_id, collection=collection)

    def bulk(self, env_id: str, operations: list[dict[str, Any]]) -> list[Any]:
        return self.call("bulk", env_id=env_id, operations=operations)

    def generate_changes(
        self,
        env_id: str,
        count: int,
        type: str = "article",
        language: str | None = None,
        publish: bool = True,
    ) -> int:
        return self.call(
            "generate_changes", env_id=env_id, count=count, type=type, language=language, publish=publish
        )

    # faults, request log, limits, reset
    def inject_fault(
        self,
        action: str,
        times: int = 1,
        method: str | None = None,
        path: str | None = None,
        env_id: str | None = None,
        status: int | None = None,
        retry_after: int | None = None,
        delay: float | None = None,
    ) -> dict[str, Any]:
        return self.call(
            "inject_fault",
            action=action,
            times=times,
            method=method,
            path=path,
            env_id=env_id,
            status=status,
            retry_after=retry_after,
            delay=delay,
        )

    def clear_faults(self) -> None:
        self.call("clear_faults")

    def faults(self) -> list[dict[str, Any]]:
        return self.call("faults")

    def requests(self, env_id: str | None = None) -> list[dict[str, Any]]:
        return self.call("requests", env_id=env_id)

    def clear_requests(self) -> None:
        self.call("clear_requests")

    def set_rate_limit(
        self, enabled: bool = True, env_id: str | None = None, per_second: int = 100, per_minute: int = 2000
    ) -> dict[str, Any]:
        return self.call(
            "set_rate_limit", enabled=enabled, env_id=env_id, per_second=per_second, per_minute=per_minute
        )

    def propagate(self, env_id: str) -> int:
        """Make every change still inside the propagation delay visible now; returns the groups released."""
        return self.call("propagate", env_id=env_id)

    def reset(self) -> None:
        self.call("reset")
