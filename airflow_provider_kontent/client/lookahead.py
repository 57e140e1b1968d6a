"""Looking ahead from a continuation token without consuming it: "are there changes yet?".

A sensor, a deferred trigger and an event trigger all ask the same question, one with the blocking
client and the others with the async one, so the rules live here once, free of I/O: the caller fetches
``look.cursor`` and feeds each page back until ``look.done``.

* A page with deltas that pass the filters answers "yes" (the counts of that page are a lower bound of
  what a pull will get).
* An empty page answers "not yet".
* A page whose deltas were all filtered out (v2 filters are applied client-side) says nothing: the
  look-ahead follows its token, up to ``max_pages`` pages per look, and remembers how far it got
  (``cursor``) so that the next look does not read those pages again. Re-reading from any token is
  safe: the Sync API returns the same or more changes for a token every time.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from airflow_provider_kontent.client.models import Delta, SyncPage

__all__ = ["Lookahead", "pending_summary"]


def pending_summary(token: str, deltas: Iterable[Delta]) -> dict[str, Any]:
    """The answer "yes": counts per entity array and change type, plus the newest change time."""
    pending: dict[str, dict[str, int]] = {}
    total = 0
    newest: str | None = None
    for delta in deltas:
        per_kind = pending.setdefault(delta.kind.array, {})
        per_kind[delta.change_type.value] = per_kind.get(delta.change_type.value, 0) + 1
        total += 1
        stamp = delta.timestamp_text
        if stamp and (newest is None or stamp > newest):
            newest = stamp
    return {"token": token, "pending": pending, "total": total, "newest_timestamp": newest}


class Lookahead:
    """One look from ``token`` (starting at ``cursor``, a page known to hold no matching change).

    :param token: the token the answer is about (reported in the summary; never advanced or stored).
    :param max_pages: pages followed per look through changes the filters dropped (at least one).
    :param cursor: where to start reading; defaults to ``token``.
    """

    def __init__(self, token: str, *, max_pages: int = 10, cursor: str | None = None) -> None:
        self.token = token
        self.cursor = cursor or token
        self.pages_left = max(1, int(max_pages))
        self.found: dict[str, Any] | None = None
        #: changes on the pages read that the filters dropped
        self.skipped = 0
        self._finished = False

    @property
    def done(self) -> bool:
        """No further page is wanted in this look (found something, reached the end, or used its pages)."""
        return self._finished or self.pages_left <= 0

    def feed(self, page: SyncPage) -> None:
        """Take the page read at ``cursor``."""
        self.pages_left -= 1
        if page.deltas:
            self.found = pending_summary(self.token, page.deltas)
            self._finished = True
        elif page.is_empty:
            self._finished = True
        else:
            self.skipped += page.skipped
            self.cursor = page.next_token
