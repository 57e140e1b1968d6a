"""Where the provider's errors become Airflow outcomes: the one boundary every task and the trigger use.

Airflow decides from an exception's type what a failed task does next: an ``AirflowFailException``
fails it at once, anything else is retried ``retries`` times. The client already knows whether
another attempt could succeed (``KontentError.retryable``): a 429 or 5xx that outlasted the client's
own retries, or a network failure, may heal by the next task attempt; a 401/403 (wrong or revoked key),
a 404 (unknown environment, retired API), a 400 (invalid continuation token), a bad connection field
or a token record of another environment never will. So:

* permanent failures become ``KontentTaskFailure`` (an ``AirflowFailException``): no retries, and the
  original error is chained as its cause;
* retryable failures propagate unchanged, so Airflow's task retries apply.

Sensors add one twist. Airflow's sensor code turns an ``AirflowFailException`` raised in ``poke`` (and
any ``AirflowException`` raised when a deferred sensor resumes) into a *skip* when ``soft_fail=True``.
Users set ``soft_fail`` to mean "no changes before the timeout is fine", never "hide a revoked key", so
the boundary unwraps such a skip back into the permanent failure that caused it; a real timeout
(no cause, or a timeout cause) stays a skip.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from airflow_provider_kontent._compat import AirflowFailException, AirflowSkipException
from airflow_provider_kontent.client.errors import KontentError

__all__ = ["KontentTaskFailure", "airflow_outcomes", "is_retryable"]


class KontentTaskFailure(AirflowFailException):
    """A Kontent problem that no retry can fix: the task fails at once, whatever ``retries`` says.

    Token-record problems (``tokens.KontentTokenError``) subclass it; client errors that are not
    retryable are wrapped in it by ``airflow_outcomes`` (the client error is its ``__cause__``).
    """


def is_retryable(exc: BaseException) -> bool:
    """Whether another task attempt could succeed where this one failed.

    Client errors say so themselves; our permanent failures never heal; anything else (a bug, a
    worker hiccup, an object store that is briefly away) gets Airflow's retries as usual.
    """
    if isinstance(exc, KontentError):
        return bool(exc.retryable)
    return not isinstance(exc, AirflowFailException)


@contextmanager
def airflow_outcomes() -> Iterator[None]:
    """Run a task body (``execute``, ``execute_complete``, a sensor's resume) inside the boundary."""
    try:
        yield
    except KontentError as err:
        if err.retryable:
            raise
        raise KontentTaskFailure(str(err)) from err
    except AirflowSkipException as skip:
        # a sensor's soft_fail turned a permanent failure into a skip: undo that, keep real timeouts
        if isinstance(skip.__cause__, KontentTaskFailure):
            raise skip.__cause__ from None
        if isinstance(skip.__cause__, KontentError) and not skip.__cause__.retryable:
            raise KontentTaskFailure(str(skip.__cause__)) from skip.__cause__
        raise
