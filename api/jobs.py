"""Ingest jobs: one worker thread runs them in order (the store takes one writer at a time).

Every job is saved in the catalog with what it needs to run (its request, its owner, its
uploads), so a job still queued when the server stops runs after the restart; a job that was
running when the server died reads 'failed' ("interrupted by a server restart"), because running
it again could take the server down the same way. Progress is kept in memory while a job runs.

Bounds: at most `ingest_queue_max` jobs wait (503 + Retry-After past it); a job runs at most
`job_timeout_s` and can be cancelled (`POST /api/jobs/{id}/cancel`); both stop it between
files (ingest/files.py: Budget), and what it finished stays ingested. A job is visible to the key
that made it and to `admin` keys; to anyone else it does not exist (404). What a client reads has
the server's paths rewritten (api/paths.py: Redactor).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from paperlens.errors import BadInput, NotFound, Overloaded, Stopped
from paperlens.index.library import Library
from paperlens.ingest.files import Budget, Scope
from paperlens.ingest.pipeline import IngestRequest, Ingestor, ReportItem
from paperlens.settings import Settings

from .paths import Redactor, api_scope
from .security import Principal
from .uploads import UploadStore

log = logging.getLogger(__name__)
PUBLIC = ("job_id", "status", "progress", "report", "error", "created_at", "finished_at")
FINISHED = ("done", "failed")


@dataclass
class JobSpec:
    """What a job runs, as saved in the catalog (server paths: never shown to a client)."""

    request: IngestRequest
    uploads: dict[str, str] = field(default_factory=dict)  # server path of an uploaded file -> its name
    failed: list[dict[str, Any]] = field(default_factory=list)  # refused before the job (bad uploads)

    def to_json(self) -> dict[str, Any]:
        r = self.request
        return {"paths": [str(p) for p in r.paths], "arxiv_ids": r.arxiv_ids, "arxiv_query": r.arxiv_query,
                "arxiv_max": r.arxiv_max, "uploads": self.uploads, "failed": self.failed}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> JobSpec:
        request = IngestRequest([Path(p) for p in d["paths"]], d["arxiv_ids"], d["arxiv_query"], d["arxiv_max"])
        return cls(request, d["uploads"], d["failed"])


class JobRunner:
    def __init__(self, library: Library, settings: Settings, uploads: UploadStore) -> None:
        self.library = library
        self.settings = settings
        self.uploads = uploads
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._live: dict[str, dict[str, Any]] = {}  # job_id -> saved body (public fields + _owner, _spec)
        self._cancel: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._recover()
        self._thread = threading.Thread(target=self._work, name="ingest-jobs", daemon=True)
        self._thread.start()

    # --- start-up --------------------------------------------------------------------------------
    def _recover(self) -> None:
        waiting = []
        for job in self.library.catalog.unfinished_jobs():
            if job["status"] == "queued" and "_spec" in job:
                waiting.append(job)
            else:  # running when the process died (or saved by a version that kept no request)
                job.update(status="failed", error="interrupted by a server restart", finished_at=time.time())
                self.library.catalog.save_job(job["job_id"], job)
        self.uploads.clean({j["job_id"] for j in waiting})
        for job in waiting:
            self._live[job["job_id"]] = job
            self._cancel[job["job_id"]] = threading.Event()
            self._queue.put(job["job_id"])
        if waiting:
            log.warning("resuming %d ingest jobs queued before the restart", len(waiting))

    # --- requests --------------------------------------------------------------------------------
    def new_id(self) -> str:
        return uuid.uuid4().hex

    def admit(self) -> None:
        """Overloaded (503 + Retry-After) when the queue is full; routes call it before reading uploads."""
        with self._lock:
            waiting = sum(1 for j in self._live.values() if j["status"] == "queued")
        if waiting >= self.settings.ingest_queue_max:
            raise Overloaded(
                f"{waiting} ingest jobs are already waiting (ingest_queue_max); retry later",
                retry_after_s=30, queued=waiting,
            )

    def submit(self, spec: JobSpec, owner: Principal, job_id: str | None = None) -> str:
        r = spec.request
        if not (r.paths or r.arxiv_ids or r.arxiv_query):
            raise BadInput("nothing to ingest: give paths, arxiv_ids or arxiv_query", field="paths")
        self.admit()
        job_id = job_id or self.new_id()
        job = {"job_id": job_id, "status": "queued", "progress": {}, "report": None, "error": None,
               "created_at": time.time(), "finished_at": None, "_owner": owner.id, "_spec": spec.to_json()}
        with self._lock:
            self._live[job_id] = job
            self._cancel[job_id] = threading.Event()
        self.library.catalog.save_job(job_id, job)
        self._queue.put(job_id)
        return job_id

    def get(self, job_id: str, who: Principal) -> dict[str, Any]:
        return self._public(self._visible(job_id, who))

    def cancel(self, job_id: str, who: Principal) -> dict[str, Any]:
        job = self._visible(job_id, who)
        if job["status"] in FINISHED:
            return self._public(job)
        with self._lock:
            live = self._live.get(job_id)
            if live is None:
                return self._public(job)
            self._cancel[job_id].set()
            queued = live["status"] == "queued"
            if queued:  # claimed here, under the lock: the worker skips it
                live["status"] = "failed"
        if queued:  # never started: it ends now
            self._finish(job_id, "failed", error="cancelled before it started")
        return self._public(self._visible(job_id, who))

    def stop(self, timeout: float = 30.0) -> None:
        """Run what is queued for up to `timeout`, then stop the job in hand after its current file;
        it and every job not reached stay queued in the catalog and run after the next start."""
        self._queue.put(None)
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._shutting_down = True
            with self._lock:
                if self._running is not None:
                    self._cancel[self._running].set()
            self._thread.join(10.0)

    # --- internals -------------------------------------------------------------------------------
    _shutting_down = False
    _running: str | None = None
    def _visible(self, job_id: str, who: Principal) -> dict[str, Any]:
        with self._lock:
            job = dict(self._live[job_id]) if job_id in self._live else None
        if job is None:
            job = self.library.catalog.job(job_id)
        # another key's job is answered exactly like a missing one
        if job is None or not (who.admin or job.get("_owner", who.id) == who.id):
            raise NotFound(f"no job {job_id!r}", job_id=job_id)
        if job["status"] in ("queued", "running") and job_id not in self._live:  # saved by a process that is gone
            job["status"], job["error"] = "failed", "interrupted by a server restart"
        return job

    def _redactor(self, job: dict[str, Any]) -> Redactor:
        spec = job.get("_spec") or {}
        roots = [*self.settings.ingest_roots, self.settings.data_dir]
        return Redactor(roots, {p: f"upload:{n}" for p, n in (spec.get("uploads") or {}).items()})

    def _public(self, job: dict[str, Any]) -> dict[str, Any]:
        redact = self._redactor(job)
        return {k: redact(job.get(k)) if k in ("progress", "report", "error") else job.get(k) for k in PUBLIC}

    def _update(self, job_id: str, **fields: Any) -> None:
        with self._lock:
            self._live[job_id].update(fields)
            snapshot = dict(self._live[job_id])
        if "status" in fields:
            self.library.catalog.save_job(job_id, snapshot)

    def _finish(self, job_id: str, status: str, **fields: Any) -> None:
        self._update(job_id, status=status, finished_at=time.time(), **fields)
        with self._lock:  # the catalog holds it from now on: memory holds only jobs not finished
            self._live.pop(job_id, None)
            self._cancel.pop(job_id, None)
        self.uploads.finish(job_id)

    def _scope(self, spec: JobSpec, job_id: str) -> Scope:
        if spec.uploads:
            return Scope([self.uploads.job_dir(job_id)])
        return api_scope(self.settings)

    def _work(self) -> None:
        while (job_id := self._queue.get()) is not None and not self._shutting_down:
            with self._lock:
                job = self._live.get(job_id)
                if job is None or job["status"] != "queued":  # cancelled while it waited
                    continue
                cancel = self._cancel[job_id]
                self._running = job_id
            spec = JobSpec.from_json(job["_spec"])
            self._update(job_id, status="running")
            ingestor = Ingestor(
                self.library, self.settings, progress=lambda ev, j=job_id: self._update(j, progress=ev),
                scope=self._scope(spec, job_id), budget=Budget(self.settings.job_timeout_s, cancel),
            )
            for item in spec.failed:
                ingestor.report.add(ReportItem(**item))
            try:
                report = ingestor.run(spec.request)
                self._finish(job_id, "done", report=report.to_dict())
            except Stopped as exc:
                if self._shutting_down:  # stopped by the server's shutdown: it runs again after the restart
                    log.warning("ingest job %s interrupted by shutdown; it will run after the next start", job_id)
                    self._update(job_id, status="queued", progress={})
                    return
                # cancelled or out of time: what it finished stays, and is reported
                log.warning("ingest job %s stopped: %s", job_id, exc.detail)
                self._finish(job_id, "failed", error=exc.detail, report=ingestor.report.to_dict())
            except Exception as exc:  # a job never takes the worker down
                log.exception("ingest job %s failed", job_id)
                self._finish(job_id, "failed", error=str(exc), report=ingestor.report.to_dict())
            finally:
                self._running = None
