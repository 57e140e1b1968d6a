"""Retry policy (tenacity), shared by the sync and async clients.

One attempt is: send, read the whole body, parse. So a connection cut mid-body, a non-JSON body or a
missing ``X-Continuation`` are retried exactly like a 5xx. What retries is decided by the exception's
``retryable`` flag (429, 408, 5xx, connection/timeout errors, malformed responses); 400/401/403/404
never retry.

Waits: ``Retry-After`` when the server sent one (seconds or an HTTP date, clamped to
``max_retry_after``), otherwise exponential backoff with full jitter
(``uniform(0, min(backoff_max, backoff_initial * 2**(n-1)))``). The run stops after ``max_attempts``
attempts or when the next wait would push the total sleep past ``max_retry_wait``; the last error is
then raised with ``attempts`` set. Every retry is logged at WARNING on ``airflow_provider_kontent.client``.
"""

from __future__ import annotations

import logging
import random
from typing import Any

from tenacity import AsyncRetrying, RetryCallState, Retrying, retry_if_exception

from airflow_provider_kontent.client.config import ClientConfig
from airflow_provider_kontent.client.errors import KontentError, KontentResponseError

__all__ = ["LOGGER_NAME", "async_retrying", "compute_wait", "is_retryable", "retrying"]

LOGGER_NAME = "airflow_provider_kontent.client"
log = logging.getLogger(LOGGER_NAME)


def is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, KontentError) and exc.retryable


def compute_wait(config: ClientConfig, attempt: int, exc: BaseException | None) -> float:
    """Seconds to sleep before attempt ``attempt + 1``."""
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        return min(float(retry_after), config.max_retry_after)
    ceiling = min(config.backoff_max, config.backoff_initial * (2 ** max(0, attempt - 1)))
    return random.uniform(0, ceiling)


def _reason(exc: BaseException | None) -> str:
    if isinstance(exc, KontentResponseError):
        return f"malformed response: {exc.message}"
    if isinstance(exc, KontentError) and exc.status is not None:
        return f"HTTP {exc.status}"
    if isinstance(exc, KontentError) and exc.__cause__ is not None:
        return type(exc.__cause__).__name__
    return type(exc).__name__ if exc else "unknown"


class _Policy:
    """The tenacity callbacks bound to one config and one request (for the log line)."""

    def __init__(self, config: ClientConfig, method: str, url: str) -> None:
        self.config = config
        self.method = method
        self.url = url

    def wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        return compute_wait(self.config, state.attempt_number, exc)

    def stop(self, state: RetryCallState) -> bool:
        if state.attempt_number >= self.config.max_attempts:
            return True
        return state.idle_for + (state.upcoming_sleep or 0.0) > self.config.max_retry_wait

    def before_sleep(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning(
            "Kontent request %s %s: attempt %d/%d failed (%s); retrying in %.2fs",
            self.method,
            self.url,
            state.attempt_number,
            self.config.max_attempts,
            _reason(exc),
            state.upcoming_sleep,
        )

    def give_up(self, state: RetryCallState) -> Any:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, KontentError):
            exc.attempts = state.attempt_number
        if exc is not None and state.attempt_number > 1:
            log.warning(
                "Kontent request %s %s gave up after %d attempts (%s)",
                self.method,
                self.url,
                state.attempt_number,
                _reason(exc),
            )
        raise exc  # type: ignore[misc]

    def kwargs(self) -> dict[str, Any]:
        return {
            "retry": retry_if_exception(is_retryable),
            "wait": self.wait,
            "stop": self.stop,
            "before_sleep": self.before_sleep,
            "retry_error_callback": self.give_up,
            "reraise": True,
        }


def retrying(config: ClientConfig, method: str, url: str) -> Retrying:
    return Retrying(**_Policy(config, method, url).kwargs())


def async_retrying(config: ClientConfig, method: str, url: str) -> AsyncRetrying:
    return AsyncRetrying(**_Policy(config, method, url).kwargs())
