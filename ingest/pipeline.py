"""The ingest pipeline: sources -> documents -> chunks -> library, with a report and progress.

    paperlens ingest PATH... [--arxiv ID ...] [--arxiv-query Q --max N]

Each path's kind is detected (PDF file, folder, arXiv metadata JSONL, digest page). PDFs are parsed
in child processes (ingest/pdf/) on a background thread while the main thread embeds the previous
batch, so parsing and embedding overlap. One bad file never stops a batch: it is reported as failed
with its reason, and everything else goes on.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from paperlens.errors import BadInput, PaperlensError, Stopped, UnsupportedSource
from paperlens.index.library import Library, Pending
from paperlens.models import Chunk, Document, PaperMeta
from paperlens.settings import Settings

from .chunker import chunk_document
from .files import Budget, Scope, read_head

log = logging.getLogger(__name__)

# Bumped when a parser's output changes, so re-ingesting the same bytes re-chunks them.
PARSE_VERSION = {"pdf": "2", "metadata": "1", "digest": "1"}
WRITE_BATCH_CHUNKS = 512  # chunks embedded per library.write call (spans papers: fuller batches)
WRITE_BATCH_DOCS = 512

PDF_SUFFIXES = {".pdf"}
METADATA_SUFFIXES = {".jsonl", ".json", ".jsonl.gz", ".json.gz", ".ndjson"}
DIGEST_SUFFIXES = {".md", ".markdown", ".txt"}


@dataclass
class ReportItem:
    status: str  # ingested | unchanged | replaced | skipped | failed
    source: str
    kind: str = ""
    paper_id: str | None = None
    title: str | None = None
    chunks: int = 0
    reason: str | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass
class Report:
    items: list[ReportItem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # about sources as a whole (e.g. a damaged page)

    def add(self, item: ReportItem) -> None:
        self.items.append(item)

    def counts(self) -> dict[str, int]:
        out = {s: 0 for s in ("ingested", "unchanged", "replaced", "skipped", "failed")}
        for it in self.items:
            out[it.status] = out.get(it.status, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        groups: dict[str, list[dict[str, Any]]] = {s: [] for s in self.counts()}
        for it in self.items:
            groups[it.status].append(asdict(it))
        return {"counts": self.counts(), **groups, "warnings": self.warnings}


@dataclass
class IngestRequest:
    paths: list[Path] = field(default_factory=list)
    arxiv_ids: list[str] = field(default_factory=list)
    arxiv_query: str | None = None
    arxiv_max: int = 20


Progress = Callable[[dict[str, Any]], None]


def suffix_of(path: Path) -> str:
    name = path.name.lower()
    return ".".join([""] + name.split(".")[-2:]) if name.endswith(".gz") else path.suffix.lower()


def detect_kind(path: Path, scope: Scope | None = None) -> str:
    """'pdf', 'metadata' or 'digest' for a file; 'dir' for a folder; UnsupportedSource otherwise
    (a FIFO, a device or a socket too: only regular files are ever opened)."""
    path = (scope or Scope()).resolve(path)
    if path.is_dir():
        return "dir"
    suffix = suffix_of(path)
    if suffix in PDF_SUFFIXES:
        return "pdf"
    if suffix in METADATA_SUFFIXES:
        return "metadata"
    if suffix in DIGEST_SUFFIXES:
        return "digest"
    head = read_head(path, 8, scope)
    if head.startswith(b"%PDF"):
        return "pdf"
    if head[:2] == b"\x1f\x8b" or head.lstrip()[:1] == b"{":
        return "metadata"
    raise UnsupportedSource(
        f"{path}: unknown kind of file (expected .pdf, arXiv metadata .jsonl[.gz], or a digest page .md/.txt)",
        path=str(path),
    )


def expand(paths: Iterable[Path], scope: Scope | None = None, budget: Budget | None = None) -> Iterator[tuple[Path, str]]:
    """(file, kind) for every path; folders are walked in sorted order (regular files only, dot
    files and folders skipped unless the scope says so), unknown files in them ignored."""
    scope = scope or Scope()
    for path in paths:
        path = scope.resolve(path)
        kind = detect_kind(path, scope)
        if kind != "dir":
            yield path, kind
            continue
        for child in scope.walk(path, budget):
            try:
                yield child, detect_kind(child, scope)
            except BadInput:
                continue


def revision(doc: Document) -> str:
    return hashlib.sha256(f"{doc.content_hash}|{PARSE_VERSION[doc.kind]}".encode()).hexdigest()[:16]


class Ingestor:
    """`scope`: which paths may be read (default: any local path, dot files skipped unless
    settings.ingest_hidden); `budget`: the job's deadline and cancel flag (default: none)."""

    def __init__(self, library: Library, settings: Settings, *, progress: Progress | None = None,
                 scope: Scope | None = None, budget: Budget | None = None) -> None:
        self.library = library
        self.settings = settings
        self.progress = progress or (lambda event: None)
        self.scope = scope or Scope(hidden=settings.ingest_hidden)
        self.budget = budget or Budget()
        self.count_tokens = library.embedder.token_counter()
        self._batch: list[tuple[Pending, ReportItem]] = []
        self._batch_chunks = 0
        self.report = Report()
        self._done = 0
        self._total = 0

    # --- entry point ---------------------------------------------------------------------------
    def run(self, request: IngestRequest) -> Report:
        files: list[tuple[Path, str]] = []
        for path in request.paths:
            try:
                files.extend(expand([path], self.scope, self.budget))
            except BadInput as exc:  # one unsupported or refused path never stops the batch
                self.report.add(ReportItem("failed", str(path), reason=exc.detail))
        pdfs = [p for p, k in files if k == "pdf"]
        self._total = len(pdfs) + sum(1 for _, k in files if k != "pdf")
        self._emit("start")
        for path, kind in files:
            if kind == "metadata":
                self._ingest_metadata(path)
            elif kind == "digest":
                self._ingest_digest(path)
        if request.arxiv_ids or request.arxiv_query:
            self._ingest_arxiv(request)
        if pdfs:
            self._ingest_pdfs(pdfs, {})
        self._flush()
        self._emit("done")
        return self.report

    # --- sources -------------------------------------------------------------------------------
    def _ingest_metadata(self, path: Path) -> None:
        from .metadata import BadRecord, read_metadata

        # The same id can appear several times in a dump (daily crawls): keep its newest version.
        try:
            newest: dict[str, Document] = {}
            limit = self.settings.max_metadata_mb * 2**20
            for rec in read_metadata(path, max_bytes=limit, budget=self.budget, scope=self.scope):
                if isinstance(rec, BadRecord):
                    self.report.add(ReportItem("failed", f"{path}:{rec.line}", "metadata", reason=rec.reason))
                    continue
                seen = newest.get(rec.meta.paper_id)
                if seen is None or (rec.meta.arxiv_version or 0) >= (seen.meta.arxiv_version or 0):
                    newest[rec.meta.paper_id] = rec
        except Stopped:
            raise
        except (OSError, PaperlensError) as exc:
            self.report.add(ReportItem("failed", str(path), "metadata", reason=str(exc)))
            self._tick(str(path))
            return
        self._total += len(newest)
        for doc in newest.values():
            self._accept(doc)
            self._tick(doc.meta.paper_id)
        self._tick(str(path))

    def _ingest_digest(self, path: Path) -> None:
        from .digest import read_digest

        try:
            result = read_digest(path, max_bytes=self.settings.max_digest_mb * 2**20, budget=self.budget,
                                 scope=self.scope)
        except Stopped:
            raise
        except (OSError, PaperlensError) as exc:
            self.report.add(ReportItem("failed", str(path), "digest", reason=str(exc)))
            self._tick(str(path))
            return
        for doc in result.documents:
            self._accept(doc)
        if not result.documents:
            self.report.add(ReportItem("skipped", str(path), "digest", reason="no paper entries found"))
        if result.warnings:
            self.report.warnings.extend(f"{path.name}: {w}" for w in result.warnings)
            log.info("%s: %d warnings, first: %s", path, len(result.warnings), result.warnings[0])
        self._tick(str(path))

    def _ingest_arxiv(self, request: IngestRequest) -> None:
        from .arxiv_source import ArxivSource

        s = self.settings
        source = ArxivSource(
            s.arxiv_api_url, s.arxiv_pdf_url, s.data_dir / "downloads",
            delay_s=s.arxiv_delay_s, retries=s.arxiv_retries,
        )
        papers = []
        try:
            if request.arxiv_ids:
                papers += source.fetch_ids(request.arxiv_ids)
            if request.arxiv_query:
                papers += source.search(request.arxiv_query, request.arxiv_max)
        except PaperlensError as exc:
            label = ", ".join(request.arxiv_ids) or request.arxiv_query or "arXiv"
            self.report.add(ReportItem("failed", f"arxiv:{label}", "arxiv", reason=str(exc)))
            return
        self._total += len(papers)
        metas: dict[Path, PaperMeta] = {}
        for paper in papers:
            self.budget.check()  # downloads are slow (arXiv asks for seconds between requests)
            self._accept(metadata_document(paper.meta))
            try:
                pdf = source.download_pdf(paper)
            except PaperlensError as exc:
                self.report.add(
                    ReportItem("failed", paper.pdf_url, "pdf", paper.meta.paper_id, paper.meta.title, reason=str(exc))
                )
                self._tick(paper.meta.paper_id)
                continue
            metas[pdf] = paper.meta
        if metas:
            self._ingest_pdfs(list(metas), metas)

    def _ingest_pdfs(self, paths: list[Path], known: dict[Path, PaperMeta]) -> None:
        from .pdf import parse_many

        s = self.settings
        results: queue.Queue = queue.Queue(maxsize=s.resolved_parse_workers * 2)
        stop = object()
        quit_ = threading.Event()  # the consumer stopped early (job cancelled or out of time)

        def produce() -> None:
            parsed = parse_many(
                paths, workers=s.resolved_parse_workers, timeout_s=s.parse_timeout_s,
                memory_mb=s.parse_memory_mb, max_pages=s.max_pages, max_bytes=s.max_pdf_mb * 2**20,
            )
            try:
                for item in parsed:
                    if quit_.is_set():
                        break
                    results.put(item)
            except BaseException as exc:  # surfaced in the consumer
                results.put(exc)
            finally:
                parsed.close()  # kills the children still parsing
                results.put(stop)

        # Parsing runs in child processes fed by this thread while the main thread embeds.
        thread = threading.Thread(target=produce, name="pdf-parse", daemon=True)
        thread.start()
        try:
            while (item := results.get()) is not stop:
                if isinstance(item, BaseException):
                    raise item
                path, parsed = item
                if isinstance(parsed, PaperlensError):
                    self.report.add(ReportItem("failed", str(path), "pdf", reason=str(parsed)))
                else:
                    if path in known:
                        parsed.meta = merge_arxiv_meta(parsed.meta, known[path])
                    self._accept(parsed)
                self._tick(str(path))
        finally:
            if thread.is_alive():  # stopped early: let the producer see it, and unblock its put()
                quit_.set()
                while thread.is_alive() or not results.empty():
                    try:
                        results.get(timeout=0.1)
                    except queue.Empty:
                        pass
            thread.join()

    # --- documents -> library ------------------------------------------------------------------
    def _accept(self, doc: Document) -> None:
        item = ReportItem("ingested", doc.source, doc.kind, doc.meta.paper_id, doc.meta.title, warnings=list(doc.warnings))
        if not doc.blocks or not any(b.text.strip() for b in doc.blocks):
            item.status = "skipped"
            item.reason = "no extractable text" + (f" ({'; '.join(doc.warnings[:3])})" if doc.warnings else "")
            self.report.add(item)
            return
        rev = revision(doc)
        state = self.library.catalog.doc_state(doc.meta.paper_id, doc.key)
        if state and state.complete_rev == rev:
            item.status, item.chunks = "unchanged", state.n_chunks
            self.report.add(item)
            return
        if state and state.complete_rev and state.arxiv_version and doc.meta.arxiv_version:
            if doc.meta.arxiv_version < state.arxiv_version:
                item.status = "skipped"
                item.reason = f"older version v{doc.meta.arxiv_version} than the indexed v{state.arxiv_version}"
                self.report.add(item)
                return
        if any(rev == p.rev for p, _ in self._batch):
            item.status, item.reason = "unchanged", "same document twice in this ingest"
            self.report.add(item)
            return
        if state and state.complete_rev:
            item.status = "replaced"
        distinct, repeated_pages = distinct_pages(doc)
        chunks = chunk_document(
            distinct, rev=rev, max_tokens=self.settings.chunk_tokens,
            overlap_tokens=self.settings.chunk_overlap_tokens, count_tokens=self.count_tokens,
        )
        chunks = self._bounded(chunks, repeated_pages, item)
        if not chunks:
            item.status, item.reason = "skipped", "no text left after cleaning"
            self.report.add(item)
            return
        item.chunks = len(chunks)
        self._batch.append((Pending(doc, chunks, rev), item))
        self._batch_chunks += len(chunks)
        if self._batch_chunks >= WRITE_BATCH_CHUNKS or len(self._batch) >= WRITE_BATCH_DOCS:
            self._flush()

    def _bounded(self, chunks: list[Chunk], repeated_pages: int, item: ReportItem) -> list[Chunk]:
        """Copies cost embedding time and add nothing to search: drop repeated chunks, then cap the
        document at max_chunks_per_document; the report says what was dropped."""
        seen: set[str] = set()
        kept = []
        for c in chunks:
            key = " ".join(c.text.split())
            if key not in seen:
                seen.add(key)
                kept.append(c)
        if repeated_pages:
            item.warnings.append(f"{repeated_pages} pages repeating an earlier page's text were not indexed")
        if len(kept) < len(chunks):
            item.warnings.append(f"{len(chunks) - len(kept)} chunks repeating an earlier chunk were not indexed")
        cap = self.settings.max_chunks_per_document
        if cap and len(kept) > cap:
            item.warnings.append(f"truncated: {len(kept) - cap} chunks past the limit of {cap} per document "
                                 "(max_chunks_per_document) were not indexed")
            kept = kept[:cap]
        return kept

    def _flush(self) -> None:
        if not self._batch:
            return
        batch, self._batch, self._batch_chunks = self._batch, [], 0
        # Two documents of one paper and kind in one batch (rare: a dump listing an id twice with
        # different content) would race for the same catalog row: keep the last.
        unique: dict[tuple[str, str], tuple[Pending, ReportItem]] = {}
        for pending, item in batch:
            key = (pending.doc.meta.paper_id, pending.doc.key)
            if key in unique:
                old_item = unique[key][1]
                old_item.status, old_item.reason = "skipped", "superseded by a later record in this ingest"
                self.report.add(old_item)
            unique[key] = (pending, item)
        self._emit("embedding", chunks=sum(len(p.chunks) for p, _ in unique.values()))
        try:
            self.library.write([p for p, _ in unique.values()])
        except PaperlensError as exc:
            for _, item in unique.values():
                item.status, item.reason = "failed", str(exc)
                self.report.add(item)
            return
        for _, item in unique.values():
            self.report.add(item)

    # --- progress ------------------------------------------------------------------------------
    def _tick(self, current: str) -> None:
        self.budget.check()  # a cancelled or overdue job stops here, between sources
        self._done += 1
        self._emit("progress", current=current)

    def _emit(self, phase: str, **extra: Any) -> None:
        self.progress({"phase": phase, "done": self._done, "total": self._total, **self.report.counts(), **extra})


def distinct_pages(doc: Document) -> tuple[Document, int]:
    """The document without the pages whose text repeats an earlier page's (whitespace aside), and
    how many were dropped: 500 copies of one page are one page of content."""
    pages: dict[int, list[str]] = {}
    for b in doc.blocks:
        if b.page > 0:
            pages.setdefault(b.page, []).append(" ".join(b.text.split()))
    seen: set[str] = set()
    repeated: set[int] = set()
    for page, texts in pages.items():
        key = hashlib.sha256("\n".join(texts).encode()).hexdigest()
        if key in seen and any(texts):
            repeated.add(page)
        seen.add(key)
    if not repeated:
        return doc, 0
    return dataclasses.replace(doc, blocks=[b for b in doc.blocks if b.page not in repeated]), len(repeated)


def metadata_document(meta: PaperMeta) -> Document:
    """A 'metadata' document (title + abstract) from an arXiv API record."""
    from paperlens.models import Block

    blocks = [Block(meta.title, 0, "Title")] if meta.title else []
    if meta.abstract:
        blocks.append(Block(meta.abstract, 0, "Abstract"))
    canon = f"{meta.arxiv_id}|{meta.arxiv_version}|{meta.title}|{meta.abstract}|{','.join(meta.authors)}"
    return Document(
        meta=meta, kind="metadata", blocks=blocks, source=meta.links.get("arxiv", meta.paper_id),
        content_hash=hashlib.sha256(canon.encode()).hexdigest(),
    )


def merge_arxiv_meta(parsed: PaperMeta, arxiv: PaperMeta) -> PaperMeta:
    """A PDF fetched from arXiv: arXiv's record is authoritative for ids, title, authors and dates."""
    return PaperMeta(
        paper_id=arxiv.paper_id, title=arxiv.title or parsed.title, authors=arxiv.authors or parsed.authors,
        arxiv_id=arxiv.arxiv_id, arxiv_version=arxiv.arxiv_version, date=arxiv.date or parsed.date,
        categories=arxiv.categories, abstract=arxiv.abstract or parsed.abstract,
        links={**parsed.links, **arxiv.links}, extra={**parsed.extra, **arxiv.extra},
    )


def request_from(paths: list[str], arxiv_ids: list[str], arxiv_query: str | None, arxiv_max: int) -> IngestRequest:
    if not paths and not arxiv_ids and not arxiv_query:
        raise BadInput("nothing to ingest: give paths, arXiv ids or an arXiv query", field="paths")
    return IngestRequest([Path(p) for p in paths], list(arxiv_ids), arxiv_query, arxiv_max)


def open_library(settings: Settings, **kwargs: Any) -> Library:
    """The library as this ingest code writes it: bound to the chunker's version (fingerprint)."""
    from .chunker import CHUNKER_VERSION

    return Library(settings, chunker_version=CHUNKER_VERSION, **kwargs)
