"""Locust users for bench/load_test.py (which starts the server and runs locust headless).

A reader searches (weight 4) and, when the server has POST /api/summarize, asks for a summary of
a paper it might have found (weight 1), pausing 0.5-1.5 s between requests. What to send comes
from the plan file bench/load_test.py writes (PAPERLENS_LOAD_PLAN); every request's latency and
outcome is also written, raw, to the plan's samples file when locust quits, so that percentiles
are exact rather than locust's rounded ones.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

from locust import HttpUser, between, events, task

PLAN = json.loads(Path(os.environ["PAPERLENS_LOAD_PLAN"]).read_text(encoding="utf-8"))
SAMPLES: list[tuple[str, float, int, str | None]] = []  # (endpoint, ms, status, error)


@events.request.add_listener
def _record(request_type, name, response_time, response_length, response=None, exception=None, **kw) -> None:
    status = getattr(response, "status_code", 0) or 0
    SAMPLES.append((name, float(response_time), int(status), None if exception is None else str(exception)[:300]))


@events.quitting.add_listener
def _dump(environment, **kw) -> None:
    Path(PLAN["samples_out"]).write_text(json.dumps(SAMPLES), encoding="utf-8")


class Reader(HttpUser):
    wait_time = between(0.5, 1.5)

    def on_start(self) -> None:
        self.rng = random.Random()

    @task(4)
    def search(self) -> None:
        self.client.post("/api/search", json={"query": self.rng.choice(PLAN["queries"]), "k": 10}, name="/api/search")

    @task(1)
    def summarize(self) -> None:
        if not PLAN["paper_ids"]:  # the server has no /api/summarize: search instead
            return self.search()
        body = {"paper_id": self.rng.choice(PLAN["paper_ids"]), "language": "en"}
        self.client.post("/api/summarize", json=body, name="/api/summarize")
