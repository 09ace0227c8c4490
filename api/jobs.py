"""Ingest jobs: one worker thread runs them in order (the store takes one writer at a time);
progress is kept in memory while a job runs and every state change is saved in the catalog, so
`GET /api/jobs/{id}` answers after a restart too (a job cut off by a restart reads 'failed')."""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from typing import Any

from paperlens.errors import NotFound
from paperlens.index.library import Library
from paperlens.ingest.pipeline import IngestRequest, Ingestor
from paperlens.settings import Settings

log = logging.getLogger(__name__)


class JobRunner:
    def __init__(self, library: Library, settings: Settings) -> None:
        self.library = library
        self.settings = settings
        self._queue: queue.Queue[tuple[str, IngestRequest] | None] = queue.Queue()
        self._live: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._work, name="ingest-jobs", daemon=True)
        self._thread.start()

    def submit(self, request: IngestRequest) -> str:
        job_id = uuid.uuid4().hex
        job = {"job_id": job_id, "status": "queued", "progress": {}, "report": None, "error": None,
               "created_at": time.time(), "finished_at": None}
        with self._lock:
            self._live[job_id] = job
        self.library.catalog.save_job(job_id, job)
        self._queue.put((job_id, request))
        return job_id

    def get(self, job_id: str) -> dict[str, Any]:
        with self._lock:
            if job_id in self._live:
                return dict(self._live[job_id])
        job = self.library.catalog.job(job_id)
        if job is None:
            raise NotFound(f"no job {job_id!r}", job_id=job_id)
        if job["status"] in ("queued", "running"):  # saved by a process that is gone
            job["status"], job["error"] = "failed", "interrupted by a server restart"
        return job

    def idle(self) -> bool:
        with self._lock:
            return all(j["status"] in ("done", "failed") for j in self._live.values())

    def stop(self, timeout: float = 30.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout)

    def _update(self, job_id: str, **fields: Any) -> None:
        with self._lock:
            self._live[job_id].update(fields)
            snapshot = dict(self._live[job_id])
        if "status" in fields:
            self.library.catalog.save_job(job_id, snapshot)

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            job_id, request = item
            self._update(job_id, status="running")
            try:
                ingestor = Ingestor(self.library, self.settings, progress=lambda ev: self._update(job_id, progress=ev))
                report = ingestor.run(request)
                self._update(job_id, status="done", report=report.to_dict(), finished_at=time.time())
            except Exception as exc:  # a job never takes the worker down
                log.exception("ingest job %s failed", job_id)
                self._update(job_id, status="failed", error=str(exc), finished_at=time.time())
