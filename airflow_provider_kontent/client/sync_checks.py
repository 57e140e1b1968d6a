"""Checks on what the Sync API sends that a well-formed response can still get wrong.

Malformed deltas (``models.delta_problem``) fail the sync or, when the caller allows it, are skipped
and counted; a token that does not advance over a non-empty page stops the sync after a bounded
number of repeats. Shared by the blocking and the async client; nothing here performs I/O.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from airflow_provider_kontent.client.config import ClientConfig
from airflow_provider_kontent.client.errors import KontentMalformedDeltaError, KontentStalledSyncError
from airflow_provider_kontent.client.models import SyncPage
from airflow_provider_kontent.client.protocol import LOGGER_NAME, label_error

__all__ = ["MAX_TOKEN_REPEATS", "MalformedStats", "TokenProgress", "check_malformed"]

log = logging.getLogger(LOGGER_NAME)

#: non-empty pages in a row answered with the token they were sent before the client gives up
MAX_TOKEN_REPEATS = 3


@dataclass
class MalformedStats:
    """Malformed deltas one client saw (and skipped, when allowed); logged once per client."""

    seen: int = 0
    skipped: int = 0
    logged: bool = False


def check_malformed(page: SyncPage, *, skip: bool, stats: MalformedStats, config: ClientConfig) -> SyncPage:
    """Fail on a page's malformed deltas, or (``skip``) count them and go on; logged once with a sample.

    The error names the connection (``config.context``), Kontent's request id and the URL, and says
    how to skip such deltas if the user decides they are expendable.
    """
    if not page.malformed:
        return page
    count = len(page.malformed)
    first = page.malformed[0]
    stats.seen += count
    where = f"{first.array}[{first.index}]"
    if not stats.logged:
        stats.logged = True
        log.warning(
            "Kontent Sync page (request_id=%s) has %d malformed delta(s)%s; first at %s: %s; sample: %s",
            page.request_id,
            count,
            ", skipping them (skip_malformed)" if skip else "",
            where,
            first.reason,
            first.sample,
        )
    if skip:
        stats.skipped += count
        return page
    raise label_error(
        KontentMalformedDeltaError(
            f"the Sync page has {count} malformed delta(s); first at {where}: {first.reason}; "
            f"sample: {first.sample}",
            request_id=page.request_id,
            url=page.url,
            method="GET",
            hint="Kontent.ai sent deltas the client cannot key; pass skip_malformed=True to count and "
            "skip them (they are then not delivered)",
        ),
        config,
    )


class TokenProgress:
    """Stops a sync that does not move: a non-empty page answered with the token it was sent.

    Following such a token requests the same page forever, so after ``max_repeats`` such pages in a
    row ``check`` raises ``KontentStalledSyncError`` (one repeat may be a glitch worth another try).
    """

    def __init__(self, config: ClientConfig, max_repeats: int = MAX_TOKEN_REPEATS) -> None:
        self.config = config
        self.max_repeats = max_repeats
        self.repeats = 0

    def check(self, sent: str, page: SyncPage) -> None:
        if page.is_empty or page.next_token != sent:
            self.repeats = 0
            return
        self.repeats += 1
        if self.repeats > self.max_repeats:
            raise label_error(
                KontentStalledSyncError(
                    f"the Sync API answered {self.repeats} non-empty pages in a row with the same "
                    "X-Continuation token it was sent, so the sync cannot advance",
                    request_id=page.request_id,
                    url=page.url,
                    method="GET",
                    hint="The token was not committed; the task may retry later. Report the request id "
                    "to Kontent.ai support if it persists",
                ),
                self.config,
            )
