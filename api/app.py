"""The HTTP API (FastAPI). `create_app(settings)` is the edge: it opens the library once and hands
it to the routes; tests pass their own settings (and may pass an open library)."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, File, Path as PathParam, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, RedirectResponse

from paperlens.errors import BadInput
from paperlens.index.library import Library
from paperlens.ingest.pipeline import IngestRequest as PipelineRequest
from paperlens.ingest.pipeline import ReportItem, open_library
from paperlens.models import SearchFilters
from paperlens.settings import Settings

from . import answers, problems, security
from .admission import Admission, answer_slot
from .deps import Jobs, Lib, Who
from .jobs import JobRunner, JobSpec
from .paths import resolve_paths
from .schemas import (
    MAX_UPLOAD_FILES, ChunkOut, IngestRequest, JobCreated, JobOut, PaperOut, PapersResponse, SearchRequest,
    SearchResponse,
)
from .uploads import UploadStore, display_name

log = logging.getLogger(__name__)
UI_DIR = Path(__file__).resolve().parent.parent / "ui"
# /readyz asks the store for its count here, so a store busy writing never holds a probe
_PROBE = ThreadPoolExecutor(max_workers=1, thread_name_prefix="readyz")


class BodyLimit:
    """Caps request bodies, including chunked uploads that send no Content-Length (counted as they
    stream), and the time a client may take to send one (a body trickling in would otherwise hold
    its connection and its buffers for as long as the client likes). Multipart uploads may be
    `max_bytes`; any other body `max_json_bytes`: a JSON body is parsed whole in memory before a
    field can be checked, so its size is what bounds the cost of parsing it."""

    def __init__(self, app, max_bytes: int, timeout_s: float | None = None, max_json_bytes: int | None = None) -> None:
        self.app = app
        self.max_upload_bytes = max_bytes
        self.max_json_bytes = max_json_bytes or max_bytes
        self.timeout_s = timeout_s

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        multipart = headers.get(b"content-type", b"").lower().startswith(b"multipart/form-data")
        max_bytes = self.max_upload_bytes if multipart else self.max_json_bytes
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            return await self._too_large(max_bytes, multipart)(scope, receive, send)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s if self.timeout_s else None
        seen = 0
        exceeded = timed_out = body_done = False
        started = False

        async def counted():
            nonlocal seen, exceeded, timed_out, body_done
            if exceeded or timed_out:
                return {"type": "http.disconnect"}
            if body_done or deadline is None:  # after the body: listening for a disconnect, no deadline
                message = await receive()
            else:
                try:
                    message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
                except TimeoutError:
                    timed_out = True  # the app sees a disconnect; the client gets 408 below
                    return {"type": "http.disconnect"}
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                body_done = not message.get("more_body", False)
                if seen > max_bytes:
                    # Stop feeding the app (it sees a disconnect) and answer 413 ourselves: a
                    # form parser would otherwise turn any error we raise into a vague 400.
                    exceeded = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded(message):
            nonlocal started
            if (exceeded or timed_out) and not started:
                return  # the app's reaction to the cut-off body is replaced by the 413 / 408 below
            started = True
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            if not (exceeded or timed_out):
                raise
        if started:
            return
        if exceeded:
            await self._too_large(max_bytes, multipart)(scope, receive, send)
        elif timed_out:
            resp = problems.problem(
                408, "Request timeout", f"the request body did not arrive within {self.timeout_s:g} s (body_timeout_s)"
            )
            resp.headers["Connection"] = "close"
            await resp(scope, receive, send)


    @staticmethod
    def _too_large(max_bytes: int, multipart: bool):
        setting = "max_upload_mb" if multipart else "max_json_body_kb"
        return problems.problem(413, "Too large", f"request body over the limit of {max_bytes} bytes ({setting})")


def create_app(settings: Settings, library: Library | None = None, *, owns_library: bool | None = None) -> FastAPI:
    """`library`: an open one (tests, `paperlens serve`); closed at shutdown when `owns_library`
    (default: only a library the app opened itself)."""
    owns_library = library is None if owns_library is None else owns_library
    security.configured_keys(settings)  # refuses short keys before anything starts

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        lib = library or await run_in_threadpool(open_library, settings)
        app.state.library = lib
        uploads = UploadStore(settings.data_dir / "uploads", settings.max_upload_disk_mb * 2**20, settings.keep_uploads)
        app.state.jobs = JobRunner(lib, settings, uploads)  # cleans upload leftovers, resumes queued jobs
        app.state.uploads = uploads
        try:
            yield
        finally:
            app.state.jobs.stop()
            if owns_library:
                lib.close()

    app = FastAPI(
        title="paperlens",
        version="0.1.0",
        description="Search research papers by their full text: hybrid dense + BM25 + cross-lingual retrieval over Qdrant.",
        lifespan=lifespan,
        responses=problems.RESPONSES,
    )
    app.state.settings = settings
    app.state.admission = Admission(settings.answer_queue_max, settings.generation_timeout_s)
    problems.install(app)
    app.add_middleware(BodyLimit, max_bytes=settings.max_upload_mb * 2**20, timeout_s=settings.body_timeout_s,
                       max_json_bytes=settings.max_json_body_kb * 2**10)
    security.install(app, settings)  # host check, keys, rate limit, CORS: outside the body limit

    # Probes are `async def`: they run on the event loop, never waiting for a worker thread that
    # slow requests may all hold.
    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"])
    async def readyz(request: Request) -> dict[str, object]:
        """The store answers and the models are loaded (the library opens them at start-up);
        `chunks` is null when the store does not answer within a second (a large write)."""
        lib: Library = request.app.state.library
        try:
            chunks = await asyncio.wait_for(asyncio.wrap_future(_PROBE.submit(lib.store.count)), 1.0)
        except TimeoutError:
            chunks = None
        return {
            "status": "ready",
            "chunks": chunks,
            "papers": lib.catalog.count_papers(),
            "embed_model": lib.embedder.name,
            "embed_backend": lib.embedder.backend,
            "xling_model": lib.xling.name if lib.xling else None,
            "xling_backend": getattr(lib.xling, "backend", None),
        }

    @app.post("/api/search", response_model=SearchResponse, tags=["search"])
    def search(body: SearchRequest, lib: Lib) -> SearchResponse:
        f = body.filters
        filters = SearchFilters(
            date_from=f.date_from, date_to=f.date_to, categories=f.categories, authors=f.authors, paper_ids=f.paper_ids
        )
        hits = lib.search(body.query, min(body.k, settings.search_max_k), filters, mode=body.mode)
        return SearchResponse(hits=[h.to_dict() for h in hits])

    @app.get("/api/papers", response_model=PapersResponse, tags=["papers"])
    def papers(
        lib: Lib,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,  # SQLite refuses ints past 64 bits (500)
        q: Annotated[str | None, Query(max_length=200, description="substring of the title or arXiv id")] = None,
    ) -> PapersResponse:
        return PapersResponse(papers=lib.catalog.papers(limit=limit, offset=offset, query=q), total=lib.catalog.count_papers())

    @app.get("/api/papers/{paper_id}", response_model=PaperOut, tags=["papers"])
    def paper(paper_id: Annotated[str, PathParam(max_length=200)], lib: Lib) -> dict:
        return lib.paper(paper_id)

    @app.get("/api/chunks/{chunk_id}", response_model=ChunkOut, tags=["papers"])
    def chunk(chunk_id: Annotated[str, PathParam(max_length=100, json_schema_extra={"format": "uuid"})], lib: Lib) -> ChunkOut:
        import uuid

        try:
            uuid.UUID(chunk_id)
        except ValueError:
            raise BadInput(f"chunk id {chunk_id!r} is not a UUID", field="chunk_id") from None
        p = lib.chunk(chunk_id)
        return ChunkOut(
            chunk_id=p["chunk_id"], paper_id=p["paper_id"], page=p["page_start"], page_end=p["page_end"],
            section=p["section"], text=p["text"], doc_kind=p["doc_kind"], char_start=p["char_start"], char_end=p["char_end"],
        )

    @app.post("/api/ingest", response_model=JobCreated, status_code=202, tags=["ingest"])
    def ingest(body: IngestRequest, jobs: Jobs, who: Who) -> JobCreated:
        """Ingest server paths (only inside PAPERLENS_INGEST_ROOTS; 403 otherwise), arXiv ids or an arXiv query."""
        if not body.paths and not body.arxiv_ids and not body.arxiv_query:
            raise BadInput("nothing to ingest: give paths, arxiv_ids or arxiv_query", field="paths")
        paths = resolve_paths(body.paths, settings)
        spec = JobSpec(PipelineRequest(paths, body.arxiv_ids, body.arxiv_query, body.max))
        return JobCreated(job_id=jobs.submit(spec, who), status="queued")

    @app.post("/api/ingest/upload", response_model=JobCreated, status_code=202, tags=["ingest"])
    async def ingest_upload(
        files: Annotated[list[UploadFile], File(description=f"PDFs, at most {MAX_UPLOAD_FILES}")], jobs: Jobs, who: Who,
    ) -> JobCreated:
        """Upload PDFs (multipart/form-data, field `files`); they are ingested as a job. A file that
        is not a PDF is reported as failed in the job's report; a request with no PDF gets 400 and
        leaves nothing on disk."""
        if len(files) > MAX_UPLOAD_FILES:
            raise BadInput(f"{len(files)} files in one upload; at most {MAX_UPLOAD_FILES}", field="files")
        jobs.admit()  # a full queue refuses before anything is written
        uploads: UploadStore = app.state.uploads
        incoming = uploads.incoming()
        try:
            names: dict[str, str] = {}
            refused: list[dict] = []
            for i, f in enumerate(files):
                name = display_name(f.filename, i)
                head = await f.read(5)
                if not head.startswith(b"%PDF"):
                    refused.append(asdict(ReportItem("failed", f"upload:{name}", "pdf", reason=f"upload {name!r} is not a PDF")))
                    continue
                path = incoming.new_file()
                with open(path, "wb") as out:
                    incoming.reserve(len(head))
                    out.write(head)
                    while chunk := await f.read(1 << 20):
                        incoming.reserve(len(chunk))
                        out.write(chunk)
                names[str(path)] = name
            if not names:
                reasons = "; ".join(r["reason"] for r in refused) or "no files uploaded"
                raise BadInput(reasons, field="files")
            job_id = jobs.new_id()
            moved = incoming.commit(job_id)  # rename: a killed server leaves no half file under a job's name
            uploaded = {moved[p]: n for p, n in names.items()}
            spec = JobSpec(PipelineRequest([Path(p) for p in uploaded]), uploads=uploaded, failed=refused)
            return JobCreated(job_id=jobs.submit(spec, who, job_id=job_id), status="queued")
        except BaseException:
            incoming.discard()
            raise

    @app.get("/api/jobs/{job_id}", response_model=JobOut, tags=["ingest"])
    def job(job_id: Annotated[str, PathParam(max_length=64)], jobs: Jobs, who: Who) -> dict:
        """A job made by this key (any job, for an admin key)."""
        return jobs.get(job_id, who)

    @app.post("/api/jobs/{job_id}/cancel", response_model=JobOut, status_code=202, tags=["ingest"])
    def cancel_job(job_id: Annotated[str, PathParam(max_length=64)], jobs: Jobs, who: Who) -> dict:
        """Stop a job: a queued one never starts; a running one stops after the file in progress
        (what it finished stays ingested). Either then reads 'failed' with the reason."""
        return jobs.cancel(job_id, who)

    app.include_router(answers.router, dependencies=[Depends(answer_slot)])  # 503 past answer_queue_max

    @app.get("/", include_in_schema=False)
    def index():
        page = UI_DIR / "index.html"
        return FileResponse(page) if page.exists() else RedirectResponse("/docs")

    if UI_DIR.exists():
        from fastapi.staticfiles import StaticFiles

        app.mount("/ui", StaticFiles(directory=UI_DIR), name="ui")
    return app
