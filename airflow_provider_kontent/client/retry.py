"""Retry policy (tenacity), shared by the sync and async clients.

One attempt is: send, read the whole body, parse. So a connection cut mid-body, a non-JSON body or a
missing ``X-Continuation`` are retried exactly like a 5xx. What retries is decided by the exception's
``retryable`` flag (429, 408, 5xx, connection/timeout errors, malformed responses); 400/401/403/404
never retry, nor does a TLS certificate that fails verification.

Waits: ``Retry-After`` when the server sent one (seconds or an HTTP date), always in full: a request
is never sent again earlier than the server asked. A ``Retry-After`` longer than ``max_retry_after``
ends the retries at once (the error says so) rather than being cut short. Otherwise exponential
backoff with full jitter (tenacity's ``wait_random_exponential``: ``uniform(0, min(backoff_max,
backoff_initial * 2**(n-1)))``). The run stops after ``max_attempts`` attempts or when the next wait
would push the total sleep past ``max_retry_wait``; the last error is then raised with ``attempts``
set. Every retry is logged at
WARNING on ``airflow_provider_kontent.client`` with the reason and the wait.
"""

from __future__ import annotations

import logging
from typing import Any

from tenacity import AsyncRetrying, RetryCallState, Retrying, retry_if_exception, wait_random_exponential

from airflow_provider_kontent.client.config import ClientConfig
from airflow_provider_kontent.client.errors import KontentError, KontentResponseError
from airflow_provider_kontent.client.protocol import LOGGER_NAME

__all__ = ["LOGGER_NAME", "async_retrying", "compute_wait", "is_retryable", "retrying"]

log = logging.getLogger(LOGGER_NAME)


def is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, KontentError) and exc.retryable


def compute_wait(config: ClientConfig, attempt: int, exc: BaseException | None) -> float:
    """Seconds to sleep after attempt number ``attempt`` failed with ``exc``."""
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        return float(retry_after)
    backoff = wait_random_exponential(multiplier=config.backoff_initial, max=config.backoff_max)
    return float(backoff(_AttemptNumber(attempt)))  # type: ignore[arg-type]


class _AttemptNumber:
    """The one field of ``RetryCallState`` tenacity's wait strategies read."""

    def __init__(self, attempt_number: int) -> None:
        self.attempt_number = attempt_number


def _reason(exc: BaseException | None) -> str:
    """Why an attempt failed, for the retry log line: the status, or what went wrong on the wire."""
    if isinstance(exc, KontentResponseError):
        return f"malformed response: {exc.message}"
    if isinstance(exc, KontentError) and exc.status is not None:
        return f"HTTP {exc.status}"
    if isinstance(exc, KontentError):
        return exc.message
    return type(exc).__name__ if exc else "unknown"


def _wait_origin(exc: BaseException | None) -> str:
    return "backoff with jitter" if getattr(exc, "retry_after", None) is None else "Retry-After"


def _retry_after_too_long(config: ClientConfig, exc: BaseException | None) -> bool:
    retry_after = getattr(exc, "retry_after", None)
    return retry_after is not None and retry_after > config.max_retry_after


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
        """Bounded twice: by attempts, and by the total sleep (tenacity computes the wait first)."""
        if state.attempt_number >= self.config.max_attempts:
            return True
        if _retry_after_too_long(self.config, state.outcome.exception() if state.outcome else None):
            return True  # honoured by giving up: retrying sooner than asked is not an option
        return state.idle_for + (state.upcoming_sleep or 0.0) > self.config.max_retry_wait

    def before_sleep(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning(
            "Kontent request %s %s: attempt %d/%d failed (%s); retrying in %.2fs (%s)",
            self.method,
            self.url,
            state.attempt_number,
            self.config.max_attempts,
            _reason(exc),
            state.upcoming_sleep,
            _wait_origin(exc),
        )

    def give_up(self, state: RetryCallState) -> Any:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, KontentError):
            exc.attempts = state.attempt_number
            if _retry_after_too_long(self.config, exc) and state.attempt_number < self.config.max_attempts:
                exc.hint = (
                    f"Kontent.ai asked to wait {exc.retry_after:g}s (Retry-After), longer than "
                    f"max_retry_after={self.config.max_retry_after:g}s, so the client stopped instead of "
                    "retrying early; the task can be retried later"
                )
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
