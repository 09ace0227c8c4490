"""The vector store interface, implemented twice:

- ``EdgeStore`` (index/edge_store.py): Qdrant's engine in-process (qdrant-edge-py), on disk under
  ``data_dir``, no server. The default: HNSW search in ~1 ms at 100k points, persistence in seconds,
  where qdrant-client's local mode is brute-force numpy (131 ms/search at 100k, 600 points/s to disk).
- ``ClientStore`` (index/client_store.py): qdrant-client against a Qdrant server or cluster (URL),
  or its in-process local mode (':memory:' / a path) that speaks the same API, used in tests as the
  stand-in for a server.

Both take and return only the types below; the qdrant libraries stay inside their modules, and
what the two share (batching, guards, search-then-fuse, conversions, error mapping) is written
once in index/qdrant_store.py. The same test suite (tests/test_store_congruence.py) runs against both and compares results.

Payload of every point (the chunk): see ``PAYLOAD_INDEXES`` for the indexed fields; also text,
title, authors, date, section, page_start, page_end, char_start, char_end, links, is_summary, lang.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from paperlens.errors import BadInput, FingerprintMismatch

DENSE = "dense"  # sentence-transformers chunk vector
XLING = "xling"  # multilingual-e5 cross-lingual vector (summary chunks and Chinese chunks only)
BM25 = "bm25"  # sparse BM25 vector, IDF applied by Qdrant (modifier=idf)

# Reciprocal rank fusion constant, the same in every store so that they fuse identically.
# 60 is the value of the original RRF paper (Qdrant's own default is 2, which lets one retriever's
# top hit dominate).
RRF_K = 60


@dataclass
class SparseVec:
    indices: list[int]
    values: list[float]


@dataclass
class StoredPoint:
    id: str  # uuid string
    dense: dict[str, list[float]]  # vector name -> vector; a point may lack XLING
    sparse: dict[str, SparseVec]
    payload: dict[str, Any]


@dataclass
class StoreFilter:
    """All conditions are ANDed; list conditions match when any value matches."""

    paper_ids: list[str] = field(default_factory=list)
    doc_kinds: list[str] = field(default_factory=list)
    doc_keys: list[str] = field(default_factory=list)  # Document.key: 'pdf', 'metadata', 'digest:<page>'
    categories: list[str] = field(default_factory=list)
    author_keys: list[str] = field(default_factory=list)
    date_from: int | None = None  # inclusive, YYYYMMDD
    date_to: int | None = None  # inclusive, YYYYMMDD
    langs: list[str] = field(default_factory=list)  # chunk language: 'en' / 'zh'
    revs: list[str] = field(default_factory=list)  # only these revisions
    exclude_revs: list[str] = field(default_factory=list)  # hide these (documents being written)

    def conditions(self) -> tuple[list[tuple[str, str, Any]], list[tuple[str, str, Any]]]:
        """(must, must_not) as engine-neutral (field, 'any' | 'range', values) triples; each store
        translates them into its own filter objects."""
        must: list[tuple[str, str, Any]] = [
            (key, "any", list(values))
            for key, values in (
                ("paper_id", self.paper_ids),
                ("doc_kind", self.doc_kinds),
                ("doc_key", self.doc_keys),
                ("categories", self.categories),
                ("author_keys", self.author_keys),
                ("lang", self.langs),
                ("rev", self.revs),
            )
            if values
        ]
        if self.date_from is not None or self.date_to is not None:
            must.append(("date_int", "range", (self.date_from, self.date_to)))
        must_not = [("rev", "any", list(self.exclude_revs))] if self.exclude_revs else []
        return must, must_not

    def is_empty(self) -> bool:
        return not (
            self.paper_ids or self.doc_kinds or self.doc_keys or self.categories or self.author_keys or self.langs
            or self.date_from is not None or self.date_to is not None or self.revs or self.exclude_revs
        )


@dataclass
class HybridQuery:
    """Each dense and sparse vector becomes one prefetch of `prefetch_limit` candidates, all under
    `filter`; the store fuses them with reciprocal rank fusion (RRF) and returns `limit` results.
    With a single retriever no fusion happens and its own scores are returned."""

    dense: dict[str, list[float]] = field(default_factory=dict)
    sparse: dict[str, SparseVec] = field(default_factory=dict)
    filter: StoreFilter = field(default_factory=StoreFilter)
    # Extra retrievers with their own, narrower filter and an RRF weight:
    # (vector name, dense list or SparseVec, filter, weight). paperlens uses one to give the other
    # language its own lane in the fusion.
    lanes: list[tuple[str, Any, StoreFilter, float]] = field(default_factory=list)
    limit: int = 10
    prefetch_limit: int = 60


@dataclass
class ScoredRecord:
    id: str
    score: float
    payload: dict[str, Any]


QUANTIZATIONS = ("none", "int8", "binary")


@dataclass(frozen=True)
class VectorStorage:
    """How a collection keeps its dense vectors; each store translates it into its engine's config.

    quantization: 'none'; 'int8' (Qdrant scalar quantization: a byte a dimension, 4x smaller) or
    'binary' (a bit a dimension, 32x smaller). The quantized copy is kept in RAM and searched
    first; with `rescore`, the best `oversampling` x limit candidates are then scored again with
    the original vectors. on_disk: the originals are memory-mapped from disk instead of held in RAM
    (with quantization, only rescoring reads them). quantization and on_disk are fixed when a
    collection is created; rescore and oversampling apply to every search."""

    quantization: str = "none"
    on_disk: bool = False
    rescore: bool = True
    oversampling: float = 2.0

    def __post_init__(self) -> None:
        if self.quantization not in QUANTIZATIONS:
            raise BadInput(f"quantization {self.quantization!r} is not one of {', '.join(QUANTIZATIONS)}",
                           field="quantization")
        if not self.oversampling >= 1.0:
            raise BadInput(f"oversampling {self.oversampling!r} must be at least 1", field="oversampling")


@dataclass
class StoreSpec:
    """What a collection is built for. `fingerprint` names the embedding configuration; a store
    refuses (FingerprintMismatch) to open a collection created with another one."""

    name: str
    dense_dims: dict[str, int]  # e.g. {"dense": 384, "xling": 384}
    sparse_names: list[str]  # e.g. ["bm25"]
    fingerprint: str
    storage: VectorStorage = field(default_factory=VectorStorage)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "dense_dims": dict(self.dense_dims),
            "sparse_names": list(self.sparse_names),
            "fingerprint": self.fingerprint,
            "quantization": self.storage.quantization,
            "on_disk": self.storage.on_disk,
        }

    def check_saved(self, saved: dict[str, Any], where: str, **extra: Any) -> None:
        """Raise FingerprintMismatch when a collection's saved spec is not this one. Quantization
        changes what a search returns, so it must match too (specs saved before it existed had
        none); on_disk only moves the same vectors, so the stored layout is kept."""
        saved_quantization = saved.get("quantization", "none")
        if (saved.get("fingerprint"), saved.get("dense_dims"), sorted(saved.get("sparse_names", [])),
                saved_quantization) == (
            self.fingerprint, dict(self.dense_dims), sorted(self.sparse_names), self.storage.quantization
        ):
            return
        raise FingerprintMismatch(
            f"{where} was built with fingerprint {saved.get('fingerprint')!r} (dense {saved.get('dense_dims')}, "
            f"sparse {saved.get('sparse_names')}, quantization {saved_quantization!r}); this configuration is "
            f"{self.fingerprint!r} (dense {self.dense_dims}, sparse {self.sparse_names}, quantization "
            f"{self.storage.quantization!r}): rebuild the index or use another data dir / collection",
            stored=saved.get("fingerprint"), wanted=self.fingerprint, **extra,
        )


def retrievers(query: HybridQuery, spec: StoreSpec) -> list[tuple[str, Any, StoreFilter, float]]:
    """(vector name, dense list or SparseVec, filter, RRF weight) per retriever of `query`, checked
    against the collection; sparse vectors without terms are dropped."""
    if not query.dense and not query.sparse and not query.lanes:
        raise BadInput("a search query needs at least one dense or sparse vector")
    wanted = [(n, v, query.filter, 1.0) for n, v in query.dense.items()]
    wanted += [(n, v, query.filter, 1.0) for n, v in query.sparse.items()]
    wanted += list(query.lanes)
    out: list[tuple[str, Any, StoreFilter, float]] = []
    for name, vec, flt, weight in wanted:
        if isinstance(vec, SparseVec):
            if name not in spec.sparse_names:
                raise BadInput(f"unknown sparse vector {name!r}; collection {spec.name!r} has {spec.sparse_names}")
            if vec.indices:
                out.append((name, vec, flt, weight))
        else:
            if name not in spec.dense_dims:
                raise BadInput(f"unknown dense vector {name!r}; collection {spec.name!r} has {sorted(spec.dense_dims)}")
            out.append((name, vec.tolist() if hasattr(vec, "tolist") else vec, flt, weight))
    return out


def ordered(records: list[ScoredRecord]) -> list[ScoredRecord]:
    """By score, equal scores by id: an engine returns tied points in its segments' order, which
    differs between two builds of the same data (BM25 ties are common), and ranks feed RRF."""
    return sorted(records, key=lambda r: (-r.score, r.id))


def rrf_fuse(ranked: list[list[ScoredRecord]], weights: list[float], limit: int, k: int = RRF_K) -> list[ScoredRecord]:
    """Weighted reciprocal rank fusion: score = sum of weight / (k + rank), rank from 1.

    Done here rather than by the engine, for three reasons: both stores then fuse identically by
    construction; ties break by id, so results are deterministic; and qdrant-edge 0.9 was seen to
    ignore a third prefetch over a vector that an earlier prefetch already used (a filtered second
    pass with the cross-lingual vector, see Library.search)."""
    scores: dict[str, float] = {}
    first: dict[str, ScoredRecord] = {}
    for records, weight in zip(ranked, weights):
        for rank, rec in enumerate(ordered(records), start=1):
            scores[rec.id] = scores.get(rec.id, 0.0) + weight / (k + rank)
            first.setdefault(rec.id, rec)
    order = sorted(scores, key=lambda i: (-scores[i], i))[:limit]
    return [ScoredRecord(i, scores[i], first[i].payload) for i in order]

# field -> "keyword" | "integer"
PAYLOAD_INDEXES: dict[str, str] = {
    "paper_id": "keyword",
    "doc_kind": "keyword",
    "doc_key": "keyword",
    "rev": "keyword",
    "arxiv_id": "keyword",
    "categories": "keyword",
    "author_keys": "keyword",
    "lang": "keyword",
    "date_int": "integer",
}



def with_payloads(fused: list[ScoredRecord], retrieve: Any) -> list[ScoredRecord]:
    """Fused hits with their payloads: candidate lists are fetched as ids and scores only (60 per
    retriever), and the chunk text is read for the few hits that survive fusion."""
    payloads = {r.id: r.payload for r in retrieve([r.id for r in fused])}
    return [ScoredRecord(r.id, r.score, payloads[r.id]) for r in fused if r.id in payloads]


class Store(Protocol):
    spec: StoreSpec

    def upsert(self, points: list[StoredPoint]) -> None: ...

    def delete(self, flt: StoreFilter) -> None:
        """Delete every point matching `flt` (must not be empty)."""

    def set_payload(self, flt: StoreFilter, payload: dict[str, Any]) -> None:
        """Set these payload fields on every point matching `flt` (must not be empty)."""

    def search(self, query: HybridQuery) -> list[ScoredRecord]: ...

    def retrieve(self, ids: list[str]) -> list[ScoredRecord]:
        """Points by id (score 0.0), in the order given; unknown ids are left out."""

    def scroll(
        self, flt: StoreFilter, limit: int = 256, offset: str | None = None
    ) -> tuple[list[ScoredRecord], str | None]:
        """A page of points matching `flt` ordered by id, and the offset of the next page (None at end)."""

    def count(self, flt: StoreFilter | None = None) -> int: ...

    def flush(self) -> None:
        """Make everything written so far durable."""

    def optimize(self) -> None:
        """Build indexes after a bulk load (HNSW for the embedded engine; a no-op for a server)."""

    def close(self) -> None: ...
