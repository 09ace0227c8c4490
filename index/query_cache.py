"""Vectors of recent queries, shared by both query encoders (MiniLM and e5)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

import numpy as np


class QueryCache:
    """The vectors of the most recent distinct queries: a UI repeats queries (paging, filters,
    back button), and embedding one costs 10-20 ms on a CPU against ~0.01 ms for a lookup.
    `maxsize` 0 turns it off (the benchmarks time uncached embedding that way)."""

    def __init__(self, maxsize: int = 512) -> None:
        self.maxsize = maxsize
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def peek(self, key: str) -> np.ndarray | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
            return hit

    def get_or_compute(self, key: str, compute: Callable[[], np.ndarray]) -> np.ndarray:
        if self.maxsize <= 0:
            return compute()
        hit = self.peek(key)
        if hit is not None:
            return hit
        vec = np.array(compute(), dtype=np.float32)
        vec.flags.writeable = False  # shared by every caller of this query
        with self._lock:
            self._items[key] = vec
            self._items.move_to_end(key)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)
        return vec

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
