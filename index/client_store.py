"""The server store: qdrant-client against a Qdrant server or cluster, or its in-process local mode.

The only module that imports qdrant_client. `location` is one of
  http(s)://host:port    a server or cluster (collection created with shards / replicas)
  :memory:               local mode in memory (tests)
  local:/some/path       local mode persisted in a folder
The StoreSpec lives in the collection's metadata under ``paperlens_spec``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from qdrant_client import QdrantClient
from qdrant_client import models as qm

from paperlens.errors import BadInput, PaperlensError, StoreError, StoreLocked
from paperlens.index.store import (
    PAYLOAD_INDEXES,
    ordered,
    rrf_fuse,
    with_payloads,
    HybridQuery,
    ScoredRecord,
    SparseVec,
    StoredPoint,
    StoreFilter,
    StoreSpec,
    retrievers,
)

SPEC_KEY = "paperlens_spec"
_BATCH = 256


class ClientStore:
    def __init__(
        self, location: str, spec: StoreSpec, api_key: str | None = None, shards: int = 1, replicas: int = 1
    ) -> None:
        self.location = location
        self.spec = spec
        self._client: Any = None
        self._remote = location.startswith(("http://", "https://"))
        with self._errors("connect", opening=True):
            if self._remote:
                self._client = QdrantClient(url=location, api_key=api_key)
            elif location == ":memory:":
                self._client = QdrantClient(location=":memory:")
            elif location.startswith("local:") and len(location) > len("local:"):
                self._client = QdrantClient(path=location[len("local:") :])
            else:
                raise BadInput(
                    f"unsupported store location {location!r}: expected http(s)://..., ':memory:' or 'local:/path'",
                    field="location",
                )
            try:
                if self._client.collection_exists(spec.name):
                    self._check_spec()
                else:
                    self._create(shards, replicas)
            except BaseException:
                self._client.close()  # a local-mode client would keep its folder locked
                self._client = None
                raise

    def _create(self, shards: int, replicas: int) -> None:
        self._client.create_collection(
            self.spec.name,
            vectors_config={
                name: qm.VectorParams(size=dim, distance=qm.Distance.COSINE)
                for name, dim in self.spec.dense_dims.items()
            },
            sparse_vectors_config={
                name: qm.SparseVectorParams(modifier=qm.Modifier.IDF) for name in self.spec.sparse_names
            },
            shard_number=shards if self._remote else None,
            replication_factor=replicas if self._remote else None,
            metadata={SPEC_KEY: self.spec.to_json()},
        )
        if self._remote:  # local mode has no payload indexes (it scans), and warns if asked
            for field_name, kind in PAYLOAD_INDEXES.items():
                self._client.create_payload_index(
                    self.spec.name, field_name, field_schema=_index_schema(kind), wait=True
                )

    def _check_spec(self) -> None:
        metadata = self._client.get_collection(self.spec.name).config.metadata or {}
        saved = metadata.get(SPEC_KEY)
        if not isinstance(saved, dict):
            raise StoreError(
                f"collection {self.spec.name!r} at {self.location} has no {SPEC_KEY} metadata: "
                "not created by paperlens",
                location=self.location,
            )
        self.spec.check_saved(saved, f"collection {self.spec.name!r} at {self.location}", location=self.location)

    # -- writing ---------------------------------------------------------------------------

    def upsert(self, points: list[StoredPoint]) -> None:
        with self._errors(f"upsert of {len(points)} points"):
            for start in range(0, len(points), _BATCH):
                batch = [_point(p) for p in points[start : start + _BATCH]]
                self._client.upsert(self.spec.name, points=batch, wait=True)

    def delete(self, flt: StoreFilter) -> None:
        if flt.is_empty():
            raise BadInput(f"refusing to delete with an empty filter from collection {self.spec.name!r}")
        with self._errors("delete"):
            self._client.delete(self.spec.name, points_selector=qm.FilterSelector(filter=_filter(flt)), wait=True)

    def set_payload(self, flt: StoreFilter, payload: dict[str, Any]) -> None:
        if flt.is_empty():
            raise BadInput(f"refusing to update every point of collection {self.spec.name!r}")
        with self._errors("set_payload"):
            self._client.set_payload(self.spec.name, payload=payload, points=qm.FilterSelector(filter=_filter(flt)), wait=True)

    def flush(self) -> None:
        """Writes use wait=True and local mode persists each operation: nothing is pending."""

    def optimize(self) -> None:
        """A server indexes on its own; local mode has no index."""

    def close(self) -> None:
        if self._client is None:
            return
        with self._errors("close"):
            self._client.close()
        self._client = None

    def __enter__(self) -> ClientStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading ---------------------------------------------------------------------------

    def search(self, query: HybridQuery) -> list[ScoredRecord]:
        found = retrievers(query, self.spec)
        if not found:
            return []
        single = len(found) == 1
        requests = [
            qm.QueryRequest(
                query=_sparse(vec) if isinstance(vec, SparseVec) else vec, using=name, filter=_filter(flt),
                limit=query.limit if single else query.prefetch_limit, with_payload=single, with_vector=False,
            )
            for name, vec, flt, _ in found
        ]
        with self._errors("search"):
            responses = self._client.query_batch_points(self.spec.name, requests=requests)
        ranked = [
            [ScoredRecord(str(h.id), float(h.score), dict(h.payload or {})) for h in r.points] for r in responses
        ]
        if single:
            return ordered(ranked[0])
        return with_payloads(rrf_fuse(ranked, [w for *_, w in found], query.limit), self.retrieve)

    def retrieve(self, ids: list[str]) -> list[ScoredRecord]:
        if not ids:
            return []
        with self._errors(f"retrieve of {len(ids)} ids"):
            records = self._client.retrieve(self.spec.name, ids=list(ids), with_payload=True, with_vectors=False)
        by_id = {str(r.id): dict(r.payload or {}) for r in records}
        return [ScoredRecord(i, 0.0, by_id[i]) for i in ids if i in by_id]

    def scroll(
        self, flt: StoreFilter, limit: int = 256, offset: str | None = None
    ) -> tuple[list[ScoredRecord], str | None]:
        with self._errors("scroll"):
            records, next_offset = self._client.scroll(
                self.spec.name, scroll_filter=_filter(flt), limit=limit, offset=offset,
                with_payload=True, with_vectors=False,
            )
        page = [ScoredRecord(str(r.id), 0.0, dict(r.payload or {})) for r in records]
        return page, None if next_offset is None else str(next_offset)

    def count(self, flt: StoreFilter | None = None) -> int:
        with self._errors("count"):
            result = self._client.count(self.spec.name, count_filter=_filter(flt or StoreFilter()), exact=True)
        return int(result.count)

    # -- helpers ---------------------------------------------------------------------------

    @contextmanager
    def _errors(self, action: str, opening: bool = False) -> Iterator[None]:
        if self._client is None and not opening:
            raise StoreError(f"store {self.location} is closed ({action})", location=self.location)
        try:
            yield
        except PaperlensError:
            raise
        except Exception as exc:  # UnexpectedResponse, connection errors, local-mode ValueError/RuntimeError
            message = str(exc)
            if "already accessed by another instance" in message:
                raise StoreLocked(f"store {self.location} is in use by another process: {message}",
                                  location=self.location) from exc
            raise StoreError(
                f"store {self.location}, collection {self.spec.name!r}: {action} failed: {message}",
                location=self.location,
            ) from exc


def _point(p: StoredPoint) -> qm.PointStruct:
    vectors: dict[str, Any] = {}
    for name, vec in p.dense.items():
        vectors[name] = vec.tolist() if hasattr(vec, "tolist") else vec
    for name, sv in p.sparse.items():
        if sv.indices:  # an empty text has no terms; the point simply lacks this vector
            vectors[name] = _sparse(sv)
    return qm.PointStruct(id=p.id, vector=vectors, payload=p.payload)


def _sparse(sv: SparseVec) -> qm.SparseVector:
    return qm.SparseVector(indices=list(sv.indices), values=list(sv.values))


def _index_schema(kind: str) -> Any:
    if kind == "keyword":
        return qm.PayloadSchemaType.KEYWORD
    if kind == "integer":
        return qm.IntegerIndexParams(type=qm.IntegerIndexType.INTEGER, lookup=True, range=True)
    raise StoreError(f"unknown payload index kind {kind!r} in PAYLOAD_INDEXES")






def _filter(flt: StoreFilter) -> qm.Filter | None:
    must, must_not = flt.conditions()
    if not must and not must_not:
        return None
    return qm.Filter(must=[_condition(c) for c in must] or None, must_not=[_condition(c) for c in must_not] or None)


def _condition(cond: tuple[str, str, Any]) -> qm.FieldCondition:
    key, op, value = cond
    if op == "range":
        return qm.FieldCondition(key=key, range=qm.Range(gte=value[0], lte=value[1]))
    return qm.FieldCondition(key=key, match=qm.MatchAny(any=value))
