"""Change processing lag: which content Sync and Delivery readers may see, per environment.

Kontent.ai processes changes one after another; a change reaches the Sync API and the Delivery API
some seconds after it was made, and the Delivery CDN may keep serving the older content for a while
longer, marking it ``X-Stale-Content`` (https://kontent.ai/learn/docs/apis/delivery-api/api-limitations
and the ``X-Stale-Content`` header in the Delivery API reference). Two per-environment knobs model it:

* ``propagation_delay_s``: each outermost content operation is one *processing group*; its change log
  entries become visible ``propagation_delay_s`` after it was made, never before the previous group.
* ``stale_content_s``: once a group is visible, Delivery requests that do not send
  ``X-KC-Wait-For-Loading-New-Content: true`` still get the content from before it (marked stale)
  for ``stale_content_s`` more seconds.

A group keeps a copy of the content as it was before it, which is what readers see until it is visible.
"""

from __future__ import annotations

import copy
from collections import deque
from dataclasses import dataclass, replace

from airflow_provider_kontent.testing.backend.model import Environment

Content = tuple[dict, dict, dict, list]  # (items, types, taxonomies, languages)


@dataclass
class PendingGroup:
    """Changes of one outermost content call that readers may not see (or only stale) before a time."""

    visible_at: float  # EmulatorTime.monotonic() from which Sync and fresh Delivery reads see the group
    fresh_at: float  # from which the Delivery CDN stops serving the content before it
    before: Content
    announced: bool = False  # readers were told (generation bump) that it became visible


@dataclass
class OpenGroup:
    env_id: str
    visible_at: float  # 0 = at once
    fresh_at: float
    before: Content | None
    seq_before: int


class Propagation:
    """Pending processing groups per environment, oldest first (callers hold the store lock)."""

    def __init__(self) -> None:
        self.pending: dict[str, deque[PendingGroup]] = {}
        self._watermark: dict[
            str, tuple[float, float]
        ] = {}  # env -> (visible_at, fresh_at) of its last group
        self.open: OpenGroup | None = None

    def clear(self, env_id: str | None = None) -> None:
        if env_id is None:
            self.pending.clear()
            self._watermark.clear()
        else:
            self.pending.pop(env_id, None)
            self._watermark.pop(env_id, None)

    def begin(self, env: Environment | None, now: float, seq: int) -> None:
        """Open the processing group of one outermost content call on ``env``."""
        if env is None:  # the operation itself reports the bad env_id
            self.open = OpenGroup("", 0.0, 0.0, None, seq)
            return
        seen, fresh = self._watermark.get(env.id, (0.0, 0.0))
        delay, stale = env.propagation_delay_s, env.stale_content_s
        if delay <= 0 and stale <= 0 and fresh <= now:
            self.open = OpenGroup(env.id, 0.0, 0.0, None, seq)
            return
        visible_at = max(now + delay, seen)
        fresh_at = max(visible_at + stale, fresh)
        before = copy.deepcopy((env.items, env.types, env.taxonomies, env.languages))
        self.open = OpenGroup(env.id, visible_at, fresh_at, before, seq)

    def end(self, seq: int, exists: bool) -> None:
        """Close the open group; it is kept only if it changed something and its environment still exists."""
        group, self.open = self.open, None
        if group is None or group.before is None or seq == group.seq_before or not exists:
            return
        self.pending.setdefault(group.env_id, deque()).append(
            PendingGroup(group.visible_at, group.fresh_at, group.before)
        )
        self._watermark[group.env_id] = (group.visible_at, group.fresh_at)

    def visible_at(self, env_id: str) -> float:
        """The ``visible_at`` of changes recorded now (0 = at once)."""
        if self.open is not None and self.open.env_id == env_id:
            return self.open.visible_at
        return 0.0

    def settle(self, env_id: str, now: float) -> tuple[deque[PendingGroup] | None, int]:
        """Drop groups that are fresh everywhere by ``now``; returns (the rest, how many views changed)."""
        pending = self.pending.get(env_id)
        if not pending:
            return None, 0
        changed = 0
        while pending and pending[0].fresh_at <= now:
            pending.popleft()
            changed += 1
        for group in pending:
            if group.visible_at > now:
                break
            if not group.announced:
                group.announced = True
                changed += 1
        return pending or None, changed

    def release(self, env_id: str) -> int:
        """Forget every pending group of ``env_id`` (the ``propagate`` operation); returns how many."""
        pending = self.pending.pop(env_id, None) or deque()
        self._watermark.pop(env_id, None)
        return len(pending)

    @staticmethod
    def counts(pending: deque[PendingGroup] | None, now: float) -> tuple[int, int]:
        """(groups not yet visible, groups visible but still stale on the CDN)."""
        waiting = sum(1 for g in pending or () if g.visible_at > now)
        return waiting, len(pending or ()) - waiting

    @staticmethod
    def view(env: Environment, pending: deque[PendingGroup] | None, now: float, fresh: bool) -> Environment:
        """``env`` as a reader sees it: Sync and fresh Delivery reads (``fresh``) see every visible group;
        CDN reads see only groups past their stale window."""
        if not pending:
            return env
        if fresh:
            group = next((g for g in pending if g.visible_at > now), None)
            if group is None:
                return env
        else:
            group = pending[0]
        items, types, taxonomies, languages = group.before
        return replace(env, items=items, types=types, taxonomies=taxonomies, languages=languages)

    @staticmethod
    def is_stale(pending: deque[PendingGroup] | None, now: float) -> bool:
        """CDN reads are stale when the oldest pending group is already visible to Sync."""
        return bool(pending) and pending[0].visible_at <= now
