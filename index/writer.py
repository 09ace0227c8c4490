"""The write and visibility protocol: how documents become points without ever being half-seen.

Per batch of documents (index/catalog.py draws the states):

    hide new revs -> catalog.begin -> embed + upsert + flush -> hide the revs they replace ->
    catalog.complete -> reveal new revs -> delete replaced revs -> flush -> catalog.settle -> reveal

A failure before `complete` deletes what was written and forgets the pending revisions; a kill
leaves them pending, and `recover` deletes their points at the next start.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from paperlens.models import Chunk, Document, author_keys, date_int

from .catalog import Completed
from .collection import OpenCollection
from .store import BM25, DENSE, XLING, StoredPoint, StoreFilter

log = logging.getLogger(__name__)

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


class DocumentWriter:
    def __init__(self, parts: OpenCollection) -> None:
        self.parts = parts

    def recover(self) -> int:
        """Delete the points of revisions a killed process left pending or stale."""
        unfinished = self.parts.catalog.unfinished()
        if unfinished:
            log.warning(
                "removing %d unfinished document revisions left by an interrupted ingest (e.g. %s)",
                len(unfinished), ", ".join(f"{p} ({k})" for p, k, _ in unfinished[:3]),
            )
        for paper_id, key, rev in unfinished:
            self.parts.store.delete(StoreFilter(paper_ids=[paper_id], doc_keys=[key], revs=[rev]))
        if unfinished:
            self.parts.store.flush()
            docs = [(p, k) for p, k, _ in unfinished]
            self.parts.catalog.abandon(docs)
            self.parts.catalog.settle(docs)
        return len(unfinished)

    def write(self, items: list[Pending]) -> WriteStats:
        """Embed and store several documents; each becomes visible only once all its points are in.

        Chunks of all documents are embedded in one call so the length-sorted batches span papers.
        """
        items = [p for p in items if p.chunks]
        stats = WriteStats()
        if not items:
            return stats
        revs = [p.rev for p in items]
        self.parts.hidden.hide(revs)
        self.parts.catalog.begin([(p.doc.meta, p.doc.key, p.rev, p.doc.source) for p in items])
        try:
            points = self._points(items, stats)
            for i in range(0, len(points), UPSERT_BATCH):
                self.parts.store.upsert(points[i : i + UPSERT_BATCH])
            self.parts.store.flush()
        except BaseException:
            # Leave nothing half-written behind; the catalog forgets the pending revisions.
            for p in items:
                self.parts.store.delete(StoreFilter(paper_ids=[p.doc.meta.paper_id], doc_keys=[p.doc.key], revs=[p.rev]))
            self.parts.store.flush()
            self.parts.catalog.abandon([(p.doc.meta.paper_id, p.doc.key) for p in items])
            self.parts.hidden.reveal(revs)
            raise
        stale_revs = self._stale_revs_of(items)
        self.parts.hidden.hide(stale_revs)  # the old revision disappears the moment the new one appears
        stale = self.parts.catalog.complete(
            [
                Completed(p.doc.meta, p.doc.key, p.rev, p.doc.content_hash, len(p.chunks), p.doc.source, p.doc.warnings)
                for p in items
            ]
        )
        self.parts.hidden.reveal(revs)
        self._sync_paper_fields({p.doc.meta.paper_id for p in items})
        for paper_id, key, old in stale:
            self.parts.store.delete(StoreFilter(paper_ids=[paper_id], doc_keys=[key], revs=[old]))
            stats.replaced.append(paper_id)
        if stale:
            self.parts.store.flush()
            self.parts.catalog.settle([(p, k) for p, k, _ in stale])
        self.parts.hidden.reveal(stale_revs)
        stats.documents = len(items)
        stats.chunks = len(points)
        return stats

    def _stale_revs_of(self, items: list[Pending]) -> list[str]:
        out = []
        for p in items:
            state = self.parts.catalog.doc_state(p.doc.meta.paper_id, p.doc.key)
            if state and state.complete_rev and state.complete_rev != p.rev:
                out.append(state.complete_rev)
        return out

    def _points(self, items: list[Pending], stats: WriteStats) -> list[StoredPoint]:
        flat: list[tuple[Pending, Chunk, dict[str, Any]]] = []
        for p in items:
            paper = self._payload_meta(p.doc)
            for c in p.chunks:
                flat.append((p, c, paper))
        dense_texts = [dense_text(paper["title"], c) for _, c, paper in flat]
        dense = self.parts.embedder.encode(dense_texts)
        xvecs: dict[int, np.ndarray] = {}
        if self.parts.xling:
            idx = [i for i, (p, c, _) in enumerate(flat) if wants_xling(c, p.chunks)]
            if idx:
                vecs = self.parts.xling.encode_passages([dense_text(flat[i][2]["title"], flat[i][1]) for i in idx])
                xvecs = {i: v for i, v in zip(idx, vecs)}
        stats.xling_chunks += len(xvecs)
        points = []
        for i, (p, c, paper) in enumerate(flat):
            vectors = {DENSE: dense[i].tolist()}
            if i in xvecs:
                vectors[XLING] = xvecs[i].tolist()
            sparse = {BM25: self.parts.bm25.encode_document(f"{c.section}\n{c.text}" if c.section else c.text)}
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
            paper = self.parts.catalog.paper(pid)
            if not paper or len(paper.get("documents", [])) < 2:
                continue  # one document: its chunks were written with these very fields
            authors = paper.get("authors") or []
            self.parts.store.set_payload(
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
        known = self.parts.catalog.paper(m.paper_id) or {}
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


def wants_xling(chunk: Chunk, siblings: list[Chunk]) -> bool:
    """Summary chunks and Chinese chunks get the cross-lingual vector, except a bare title when
    the document has another summary chunk (its embedding text starts with the title anyway):
    a title alone sits close to every query in e5's space and crowded the other-language lane
    (docs/retrieval.md: overall MRR 0.783 -> 0.821 without them)."""
    if chunk.section == "Title" and any(c.is_summary and c.section != "Title" for c in siblings):
        return False
    return chunk.is_summary or chunk.lang == "zh"


def dense_text(title: str, c: Chunk) -> str:
    # The title and section give a chunk the context a reader has; MiniLM truncates at 256 tokens,
    # which the chunker's bound leaves room for.
    head = " - ".join(x for x in (title, c.section) if x)
    return f"{head}\n{c.text}" if head else c.text
