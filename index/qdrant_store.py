"""What both Qdrant engines share, written once: the Store protocol on top of a few engine calls.

EdgeStore (qdrant-edge, in-process) and ClientStore (qdrant-client: a server, or its local mode)
speak the same data model through two sets of Python classes. This base class holds everything
that is the same idea in both (write batching, the guards against filter-less deletes, the
search-then-fuse pipeline, retrieve in the order asked, scroll pages, the conversion of our points
and filters, and the translation of engine errors); a subclass supplies only the engine's
constructors (``_make_*``) and calls (``_engine_*``), opening and closing.

Errors: every engine call runs inside ``_errors``, which maps the engine's exception *types* to
ours (``ENGINE_ERRORS``, the httpx ``map_exceptions`` idea) and never reads a message to decide.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

from paperlens.errors import BadInput, PaperlensError, StoreError

from .store import (
    HybridQuery,
    ScoredRecord,
    SparseVec,
    StoredPoint,
    StoreFilter,
    StoreSpec,
    ordered,
    retrievers,
    rrf_fuse,
    with_payloads,
)


@contextmanager
def map_exceptions(mapping: Mapping[type[BaseException], type[PaperlensError]], context: str,
                   **extra: Any) -> Iterator[None]:
    """Re-raise a third-party exception as the paperlens error its type maps to, with `context`
    (what failed, where) before the engine's own words; our own errors pass through untouched and
    unmapped types propagate as they are (a bug, not a store failure)."""
    try:
        yield
    except PaperlensError:
        raise
    except Exception as exc:
        for source, target in mapping.items():
            if isinstance(exc, source):
                raise target(f"{context}: {exc}", **extra) from exc
        raise


@dataclass
class Retrieval:
    """One engine request of a search: a vector (already the engine's object) under a filter."""

    using: str
    vector: Any
    filter: Any
    limit: int
    with_payload: bool


class QdrantStore:
    """The Store protocol for a Qdrant engine. Subclasses set ``where`` (how messages name the
    store), ``_extra`` (machine-readable context for errors), ``_handle`` (the open engine object,
    None once closed) and implement the hooks below."""

    ENGINE_ERRORS: ClassVar[Mapping[type[BaseException], type[PaperlensError]]] = {}
    BATCH: ClassVar[int] = 256  # points per engine upsert call

    spec: StoreSpec
    where: str
    _extra: dict[str, str]
    _handle: Any

    # -- the engine's constructors -----------------------------------------------------------

    def _make_filter(self, must: list[Any] | None, must_not: list[Any] | None) -> Any:
        raise NotImplementedError

    def _make_match_any(self, key: str, values: list[Any]) -> Any:
        raise NotImplementedError

    def _make_range(self, key: str, gte: Any, lte: Any) -> Any:
        raise NotImplementedError

    def _make_sparse(self, indices: list[int], values: list[float]) -> Any:
        raise NotImplementedError

    def _make_point(self, point_id: str, vectors: dict[str, Any], payload: dict[str, Any]) -> Any:
        raise NotImplementedError

    # -- the engine's calls (run inside _errors) ---------------------------------------------

    def _engine_upsert(self, points: list[Any]) -> None:
        raise NotImplementedError

    def _engine_delete(self, flt: Any) -> None:
        raise NotImplementedError

    def _engine_set_payload(self, flt: Any, payload: dict[str, Any]) -> None:
        raise NotImplementedError

    def _engine_query(self, requests: list[Retrieval]) -> list[list[Any]]:
        """Hits (objects with id, score, payload) per request, in request order."""
        raise NotImplementedError

    def _engine_retrieve(self, ids: list[str]) -> list[Any]:
        raise NotImplementedError

    def _engine_scroll(self, flt: Any, limit: int, offset: str | None) -> tuple[list[Any], Any]:
        raise NotImplementedError

    def _engine_count(self, flt: Any) -> int:
        raise NotImplementedError

    def _engine_close(self) -> None:
        raise NotImplementedError

    # -- writing -----------------------------------------------------------------------------

    def upsert(self, points: list[StoredPoint]) -> None:
        with self._errors(f"upsert of {len(points)} points"):
            for start in range(0, len(points), self.BATCH):
                self._engine_upsert([self._point(p) for p in points[start : start + self.BATCH]])

    def delete(self, flt: StoreFilter) -> None:
        if flt.is_empty():
            raise BadInput(f"refusing to delete with an empty filter from {self.where}")
        with self._errors("delete"):
            self._engine_delete(self._filter(flt))

    def set_payload(self, flt: StoreFilter, payload: dict[str, Any]) -> None:
        if flt.is_empty():
            raise BadInput(f"refusing to update every point of {self.where}")
        with self._errors("set_payload"):
            self._engine_set_payload(self._filter(flt), payload)

    def close(self) -> None:
        if self._handle is None:
            return
        with self._errors("close"):
            self._engine_close()
        self._handle = None

    def __enter__(self) -> QdrantStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading -----------------------------------------------------------------------------

    def search(self, query: HybridQuery) -> list[ScoredRecord]:
        found = retrievers(query, self.spec)
        if not found:
            return []
        # One retriever: its own ranking, payloads included. Several: ids and scores of each
        # retriever's candidates, fused here (store.rrf_fuse says why), then the payloads of the
        # few fused hits.
        single = len(found) == 1
        requests = [
            Retrieval(name, self._vector(vec), self._filter(flt), query.limit if single else query.prefetch_limit,
                      single)
            for name, vec, flt, _ in found
        ]
        with self._errors("search"):
            responses = self._engine_query(requests)
        ranked = [[ScoredRecord(str(h.id), float(h.score), dict(h.payload or {})) for h in hits] for hits in responses]
        if single:
            return ordered(ranked[0])
        return with_payloads(rrf_fuse(ranked, [w for *_, w in found], query.limit), self.retrieve)

    def retrieve(self, ids: list[str]) -> list[ScoredRecord]:
        if not ids:
            return []
        with self._errors(f"retrieve of {len(ids)} ids"):
            records = self._engine_retrieve(list(ids))
        by_id = {str(r.id): dict(r.payload or {}) for r in records}
        return [ScoredRecord(i, 0.0, by_id[i]) for i in ids if i in by_id]

    def scroll(
        self, flt: StoreFilter, limit: int = 256, offset: str | None = None
    ) -> tuple[list[ScoredRecord], str | None]:
        with self._errors("scroll"):
            records, next_offset = self._engine_scroll(self._filter(flt), limit, offset)
        page = [ScoredRecord(str(r.id), 0.0, dict(r.payload or {})) for r in records]
        return page, None if next_offset is None else str(next_offset)

    def count(self, flt: StoreFilter | None = None) -> int:
        with self._errors("count"):
            return int(self._engine_count(self._filter(flt or StoreFilter())))

    # -- conversion --------------------------------------------------------------------------

    def _filter(self, flt: StoreFilter) -> Any:
        must, must_not = flt.conditions()
        if not must and not must_not:
            return None
        return self._make_filter([self._condition(c) for c in must] or None,
                                 [self._condition(c) for c in must_not] or None)

    def _condition(self, cond: tuple[str, str, Any]) -> Any:
        key, op, value = cond
        if op == "range":
            return self._make_range(key, value[0], value[1])
        return self._make_match_any(key, value)

    def _vector(self, vec: Any) -> Any:
        if isinstance(vec, SparseVec):
            return self._make_sparse(list(vec.indices), list(vec.values))
        return vec.tolist() if hasattr(vec, "tolist") else vec

    def _point(self, p: StoredPoint) -> Any:
        vectors: dict[str, Any] = {name: self._vector(vec) for name, vec in p.dense.items()}
        for name, sv in p.sparse.items():
            if sv.indices:  # an empty text has no terms; the point simply lacks this vector
                vectors[name] = self._vector(sv)
        return self._make_point(p.id, vectors, p.payload)

    # -- errors ------------------------------------------------------------------------------

    @contextmanager
    def _errors(self, action: str, *, opening: bool = False) -> Iterator[None]:
        if self._handle is None and not opening:
            raise StoreError(f"{self.where} is closed ({action})", **self._extra)
        with map_exceptions(self.ENGINE_ERRORS, f"{self.where}: {action} failed", **self._extra):
            yield


def index_kind(kind: str, keyword: Any, integer: Any) -> Any:
    """The engine's payload index schema for a PAYLOAD_INDEXES kind."""
    if kind == "keyword":
        return keyword
    if kind == "integer":
        return integer
    raise StoreError(f"unknown payload index kind {kind!r} in PAYLOAD_INDEXES")
