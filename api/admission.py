"""A bound on answer requests waiting for the generation pool (api/security.py: 2 threads).

The answer routes are plain `def` routes: each one waiting for a generation thread holds one of
the server's shared worker threads, and 60 of them left /api/search and every other sync route
queued behind them. `answer_slot` (a dependency, decided on the event loop before any thread is
taken) admits at most `answer_queue_max` answer requests at once; the next gets 503 with a
Retry-After estimated from how long recent answers took.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator

from fastapi import Request

from paperlens.errors import Overloaded

GENERATION_THREADS = 2  # the size of security._POOL


class Admission:
    def __init__(self, limit: int, max_wait_s: float) -> None:
        self.limit = max(1, limit)
        self.max_wait_s = max_wait_s
        self.active = 0
        self.mean_s = 1.0  # running mean of answer times (seeded at 1 s)

    def retry_after(self) -> int:
        """Seconds until the queue has likely moved by one request's worth, at least 1."""
        wait = self.mean_s * self.active / GENERATION_THREADS
        return int(min(max(1.0, math.ceil(wait)), max(1.0, self.max_wait_s)))

    def enter(self) -> None:
        if self.active >= self.limit:
            retry = self.retry_after()
            raise Overloaded(
                f"{self.active} answer requests are running or waiting (answer_queue_max); retry in {retry} s",
                retry_after_s=retry,
            )
        self.active += 1

    def leave(self, elapsed_s: float) -> None:
        self.active -= 1
        self.mean_s = 0.8 * self.mean_s + 0.2 * elapsed_s


async def answer_slot(request: Request) -> AsyncIterator[None]:
    """Dependency of the answer routes (attached where app.py includes their router)."""
    admission: Admission = request.app.state.admission
    admission.enter()  # on the event loop: no lock needed
    t0 = time.monotonic()
    try:
        yield
    finally:
        admission.leave(time.monotonic() - t0)
