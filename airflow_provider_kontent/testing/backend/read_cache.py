"""A small LRU of values derived from the store's content, valid for one store ``generation``.

The store bumps its generation on every mutation (and when delayed changes become visible), so a value
cached at an older generation is never served. The Delivery API keeps its filtered, sorted selections
and codename indexes here, so later pages of one export only slice and render.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any


class GenerationCache:
    """LRU-bounded ``key -> (generation, value)``; callers hold the store lock."""

    def __init__(self, max_entries: int = 32) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, tuple[Hashable, Any]] = OrderedDict()
        self.hits = 0

    def lookup(self, key: Hashable, generation: Hashable, build: Callable[[], Any]) -> Any:
        """The cached value for ``key`` at ``generation``, built (and cached) on a miss."""
        cached = self._entries.get(key)
        if cached is not None and cached[0] == generation:
            self._entries.move_to_end(key)
            self.hits += 1
            return cached[1]
        value = build()
        self._entries[key] = (generation, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        self._entries.clear()
