"""The library: one object that owns the data dir (lock, catalog, vector store, embedders).

Everything that reads or writes indexed papers goes through it: the ingest pipeline writes
documents with ``write``; the API and CLI search with ``search`` and read chunks and papers. It
is a facade over the modules that each hold one concern:

    file_lock.py    the data dir belongs to one process
    collection.py   fingerprint, backend resolution, which store holds the collection
    writer.py       the write / visibility protocol (Pending, WriteStats, recover)
    visibility.py   the revisions search must not see
    searcher.py     the search lanes and hits
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from paperlens.errors import NotFound
from paperlens.models import Hit, SearchFilters
from paperlens.settings import Settings

from .catalog import Catalog
from .collection import OpenCollection, collection_spec, fingerprint, open_store, resolve_backend
from .embedder import Embedder, load_embedder
from .file_lock import data_dir_lock
from .searcher import Searcher, encode_query
from .sparse import Bm25Encoder
from .store import Store, StoreFilter, StoreSpec
from .visibility import HiddenRevisions
from .writer import DocumentWriter, Pending, WriteStats

# Names other layers import from here: the Library's own vocabulary.
__all__ = ["Library", "Pending", "WriteStats", "encode_query", "fingerprint", "open_store", "resolve_backend"]


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
        self._lock = data_dir_lock(settings.data_dir)
        try:
            self.xling = xling if xling is not None else _load_xling(settings)
            xdim = self.xling.dim if self.xling else 0
            self.embedder = embedder or load_embedder(
                settings, backend=resolve_backend(settings, xdim, chunker_version))
            self.fingerprint = fingerprint(settings, self.embedder.dim, xdim, chunker_version, self.embedder.backend)
            self.spec = collection_spec(settings, self.fingerprint, self.embedder.dim, xdim)
            self.store = (store_factory or (lambda spec: open_store(settings, spec)))(self.spec)
            self.catalog = Catalog(settings.data_dir / f"catalog-{self.spec.name}.sqlite3")
        except BaseException:
            self._lock.release()
            raise
        self.bm25 = Bm25Encoder(avg_len=settings.chunk_tokens)
        self._hidden = HiddenRevisions()
        parts = OpenCollection(self.store, self.catalog, self.embedder, self.xling, self.bm25, self._hidden)
        self._writer = DocumentWriter(parts)
        self._searcher = Searcher(settings, parts)
        self.recovered = self.recover()

    # --- lifecycle -----------------------------------------------------------------------------
    def recover(self) -> int:
        """Delete the points of revisions a killed process left pending or stale."""
        return self._writer.recover()

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
        return self._writer.write(items)

    # --- reading -------------------------------------------------------------------------------
    def hidden_revs(self) -> list[str]:
        return self._hidden.snapshot()

    def store_filter(self, filters: SearchFilters | None) -> StoreFilter:
        return self._searcher.store_filter(filters)

    def search(self, query: str, k: int = 10, filters: SearchFilters | None = None, *, mode: str = "hybrid",
               max_per_paper: int | None = None) -> list[Hit]:
        """mode: 'hybrid' (dense + BM25 + cross-lingual, RRF), 'dense', 'bm25' or 'xling'.
        max_per_paper: chunks of one paper in the result (default search_max_chunks_per_paper; 0:
        no cap, for a question asked of one paper)."""
        return self._searcher.search(query, k, filters, mode=mode, max_per_paper=max_per_paper)

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


def _load_xling(settings: Settings):
    if not settings.xling_model:
        return None
    from .xling import XlingEmbedder

    return XlingEmbedder(settings.xling_model, backend=settings.xling_backend,
                         cache_dir=settings.resolved_models_dir)
