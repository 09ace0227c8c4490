"""The HTTP API (FastAPI). `create_app(settings)` is the edge: it opens the library once and hands
it to the routes; tests pass their own settings (and may pass an open library)."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

from fastapi import FastAPI, Path as PathParam, Query, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, RedirectResponse

from paperlens.errors import BadInput
from paperlens.index.library import Library
from paperlens.ingest.pipeline import IngestRequest as PipelineRequest
from paperlens.ingest.pipeline import open_library
from paperlens.models import SearchFilters
from paperlens.settings import Settings

from . import answers, problems, security
from .deps import Jobs, Lib
from .jobs import JobRunner
from .schemas import (
    ChunkOut, IngestRequest, JobCreated, JobOut, PaperOut, PapersResponse, SearchRequest, SearchResponse,
)

log = logging.getLogger(__name__)
UI_DIR = Path(__file__).resolve().parent.parent / "ui"


class BodyLimit:
    """Caps request bodies, including chunked uploads that send no Content-Length (counted as they stream)."""

    def __init__(self, app, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            resp = problems.problem(413, "Too large", f"request body over the limit of {self.max_bytes} bytes")
            return await resp(scope, receive, send)
        seen = 0
        exceeded = False
        started = False

        async def counted():
            nonlocal seen, exceeded
            if exceeded:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    # Stop feeding the app (it sees a disconnect) and answer 413 ourselves: a
                    # form parser would otherwise turn any error we raise into a vague 400.
                    exceeded = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded(message):
            nonlocal started
            if exceeded and not started:
                return  # the app's reaction to the cut-off body is replaced by the 413 below
            started = True
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            resp = problems.problem(413, "Too large", f"request body over the limit of {self.max_bytes} bytes")
            await resp(scope, receive, send)


def create_app(settings: Settings, library: Library | None = None) -> FastAPI:
    owns_library = library is None

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        lib = library or await run_in_threadpool(open_library, settings)
        app.state.library = lib
        app.state.jobs = JobRunner(lib, settings)
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
    problems.install(app)
    app.add_middleware(BodyLimit, max_bytes=settings.max_upload_mb * 2**20)
    security.install(app, settings)  # keys, rate limit, CORS: outside the body limit

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"])
    def readyz(lib: Lib) -> dict[str, object]:
        """The store answers and the models are loaded (the library opens them at start-up)."""
        return {
            "status": "ready",
            "chunks": lib.store.count(),
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
    def paper(paper_id: str, lib: Lib) -> dict:
        return lib.paper(paper_id)

    @app.get("/api/chunks/{chunk_id}", response_model=ChunkOut, tags=["papers"])
    def chunk(chunk_id: Annotated[str, PathParam(json_schema_extra={"format": "uuid"})], lib: Lib) -> ChunkOut:
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
    def ingest(body: IngestRequest, jobs: Jobs) -> JobCreated:
        if not body.paths and not body.arxiv_ids and not body.arxiv_query:
            raise BadInput("nothing to ingest: give paths, arxiv_ids or arxiv_query", field="paths")
        for p in body.paths:
            if not Path(p).exists():
                raise BadInput(f"path {p!r} does not exist on the server", field="paths")
        request = PipelineRequest([Path(p) for p in body.paths], body.arxiv_ids, body.arxiv_query, body.max)
        return JobCreated(job_id=jobs.submit(request), status="queued")

    @app.post("/api/ingest/upload", response_model=JobCreated, status_code=202, tags=["ingest"])
    async def ingest_upload(files: list[UploadFile], jobs: Jobs) -> JobCreated:
        """Upload PDFs (multipart/form-data, field `files`); they are ingested as a job."""
        upload_dir = settings.data_dir / "uploads"
        upload_dir.mkdir(parents=True, exist_ok=True)
        paths = []
        for f in files:
            head = await f.read(5)
            if not head.startswith(b"%PDF"):
                raise BadInput(f"upload {f.filename!r} is not a PDF", field="files")
            digest = hashlib.sha256(head)
            fd, tmp = tempfile.mkstemp(dir=upload_dir, suffix=".part")
            with os.fdopen(fd, "wb") as out:
                out.write(head)
                while chunk := await f.read(1 << 20):
                    digest.update(chunk)
                    out.write(chunk)
            final = upload_dir / f"{digest.hexdigest()[:16]}.pdf"
            os.replace(tmp, final)  # atomic: a killed server leaves no half file under a real name
            paths.append(final)
        if not paths:
            raise BadInput("no files uploaded", field="files")
        return JobCreated(job_id=jobs.submit(PipelineRequest(paths)), status="queued")

    @app.get("/api/jobs/{job_id}", response_model=JobOut, tags=["ingest"])
    def job(job_id: str, jobs: Jobs) -> dict:
        return jobs.get(job_id)

    app.include_router(answers.router)

    @app.get("/", include_in_schema=False)
    def index():
        page = UI_DIR / "index.html"
        return FileResponse(page) if page.exists() else RedirectResponse("/docs")

    if UI_DIR.exists():
        from fastapi.staticfiles import StaticFiles

        app.mount("/ui", StaticFiles(directory=UI_DIR), name="ui")
    return app
