"""The server store: qdrant-client against a Qdrant server or cluster, or its in-process local mode.

The only module that imports qdrant_client; what it shares with the embedded store lives in
index/qdrant_store.py. `location` is one of
  http(s)://host:port    a server or cluster (collection created with shards / replicas)
  :memory:               local mode in memory (tests)
  local:/some/path       local mode persisted in a folder (locked by us while open)
The StoreSpec lives in the collection's metadata under ``paperlens_spec``.

Local mode searches by brute force: it accepts the quantization and on-disk settings of a
collection and ignores them (it also warns about search parameters, so none are sent to it); a
server applies them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from qdrant_client import QdrantClient
from qdrant_client import models as qm
from qdrant_client.http.exceptions import ApiException

from paperlens.errors import BadInput, StoreError

from .file_lock import FileLock, store_lock
from .qdrant_store import QdrantStore, Retrieval, index_kind
from .store import PAYLOAD_INDEXES, StoreSpec, VectorStorage

SPEC_KEY = "paperlens_spec"


class ClientStore(QdrantStore):
    ENGINE_ERRORS = {
        ApiException: StoreError,  # UnexpectedResponse (the server said no), ResponseHandlingException (no answer)
        httpx.HTTPError: StoreError,  # transport failures that qdrant-client lets through
        ValueError: StoreError,  # local mode refusing a request (unknown vector, wrong size, ...)
        RuntimeError: StoreError,  # local mode closed, or its folder held by a client that is not ours
    }

    def __init__(
        self, location: str, spec: StoreSpec, api_key: str | None = None, shards: int = 1, replicas: int = 1
    ) -> None:
        self.location = location
        self.spec = spec
        self.where = f"store {location}, collection {spec.name!r}"
        self._extra = {"location": location}
        self._handle: Any = None
        self._remote = location.startswith(("http://", "https://"))
        self._params = _search_params(spec.storage) if self._remote else None
        self._lock: FileLock | None = None
        if location.startswith("local:") and len(location) > len("local:"):
            # Taken before the client's own lock, so that a second paperlens process is told
            # StoreLocked by this lock's exception type rather than by the client's message.
            self._lock = store_lock(Path(location[len("local:") :]), "store", self._extra)
        try:
            with self._errors("connect", opening=True):
                if self._remote:
                    self._handle = QdrantClient(url=location, api_key=api_key)
                elif location == ":memory:":
                    self._handle = QdrantClient(location=":memory:")
                elif self._lock is not None:
                    self._handle = QdrantClient(path=location[len("local:") :])
                else:
                    raise BadInput(
                        f"unsupported store location {location!r}: expected http(s)://..., ':memory:' or 'local:/path'",
                        field="location",
                    )
                try:
                    if self._handle.collection_exists(spec.name):
                        self._check_spec()
                    else:
                        self._create(shards, replicas)
                except BaseException:
                    self._handle.close()  # a local-mode client would keep its folder locked
                    self._handle = None
                    raise
        except BaseException:
            self._release()
            raise

    def _create(self, shards: int, replicas: int) -> None:
        storage = self.spec.storage
        self._handle.create_collection(
            self.spec.name,
            vectors_config={
                name: qm.VectorParams(size=dim, distance=qm.Distance.COSINE, on_disk=storage.on_disk or None)
                for name, dim in self.spec.dense_dims.items()
            },
            sparse_vectors_config={
                name: qm.SparseVectorParams(modifier=qm.Modifier.IDF) for name in self.spec.sparse_names
            },
            shard_number=shards if self._remote else None,
            replication_factor=replicas if self._remote else None,
            quantization_config=_quantization(storage),
            metadata={SPEC_KEY: self.spec.to_json()},
        )
        if self._remote:  # local mode has no payload indexes (it scans), and warns if asked
            for field_name, kind in PAYLOAD_INDEXES.items():
                schema = index_kind(kind, qm.PayloadSchemaType.KEYWORD,
                                    qm.IntegerIndexParams(type=qm.IntegerIndexType.INTEGER, lookup=True, range=True))
                self._handle.create_payload_index(self.spec.name, field_name, field_schema=schema, wait=True)

    def _check_spec(self) -> None:
        metadata = self._handle.get_collection(self.spec.name).config.metadata or {}
        saved = metadata.get(SPEC_KEY)
        if not isinstance(saved, dict):
            raise StoreError(
                f"collection {self.spec.name!r} at {self.location} has no {SPEC_KEY} metadata: "
                "not created by paperlens",
                location=self.location,
            )
        self.spec.check_saved(saved, f"collection {self.spec.name!r} at {self.location}", location=self.location)

    def flush(self) -> None:
        """Writes use wait=True and local mode persists each operation: nothing is pending."""

    def optimize(self) -> None:
        """A server indexes on its own; local mode has no index."""

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._release()

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()

    # -- the engine --------------------------------------------------------------------------

    def _engine_close(self) -> None:
        self._handle.close()

    def _engine_upsert(self, points: list[Any]) -> None:
        self._handle.upsert(self.spec.name, points=points, wait=True)

    def _engine_delete(self, flt: Any) -> None:
        self._handle.delete(self.spec.name, points_selector=qm.FilterSelector(filter=flt), wait=True)

    def _engine_set_payload(self, flt: Any, payload: dict[str, Any]) -> None:
        self._handle.set_payload(self.spec.name, payload=payload, points=qm.FilterSelector(filter=flt), wait=True)

    def _engine_query(self, requests: list[Retrieval]) -> list[list[Any]]:
        batch = [
            qm.QueryRequest(
                query=r.vector, using=r.using, filter=r.filter, limit=r.limit, with_payload=r.with_payload,
                with_vector=False, params=None if isinstance(r.vector, qm.SparseVector) else self._params,
            )
            for r in requests
        ]
        return [r.points for r in self._handle.query_batch_points(self.spec.name, requests=batch)]

    def _engine_retrieve(self, ids: list[str]) -> list[Any]:
        return self._handle.retrieve(self.spec.name, ids=ids, with_payload=True, with_vectors=False)

    def _engine_scroll(self, flt: Any, limit: int, offset: str | None) -> tuple[list[Any], Any]:
        return self._handle.scroll(
            self.spec.name, scroll_filter=flt, limit=limit, offset=offset, with_payload=True, with_vectors=False
        )

    def _engine_count(self, flt: Any) -> int:
        return self._handle.count(self.spec.name, count_filter=flt, exact=True).count

    def _make_filter(self, must: list[Any] | None, must_not: list[Any] | None) -> Any:
        return qm.Filter(must=must, must_not=must_not)

    def _make_match_any(self, key: str, values: list[Any]) -> Any:
        return qm.FieldCondition(key=key, match=qm.MatchAny(any=values))

    def _make_range(self, key: str, gte: Any, lte: Any) -> Any:
        return qm.FieldCondition(key=key, range=qm.Range(gte=gte, lte=lte))

    def _make_sparse(self, indices: list[int], values: list[float]) -> Any:
        return qm.SparseVector(indices=indices, values=values)

    def _make_point(self, point_id: str, vectors: dict[str, Any], payload: dict[str, Any]) -> Any:
        return qm.PointStruct(id=point_id, vector=vectors, payload=payload)


def _quantization(storage: VectorStorage) -> Any:
    # always_ram: the quantized copy is what every search reads first (the originals go where
    # on_disk says); the same placement as the embedded store's.
    if storage.quantization == "int8":
        return qm.ScalarQuantization(
            scalar=qm.ScalarQuantizationConfig(type=qm.ScalarType.INT8, quantile=0.99, always_ram=True)
        )
    if storage.quantization == "binary":
        return qm.BinaryQuantization(binary=qm.BinaryQuantizationConfig(always_ram=True))
    return None


def _search_params(storage: VectorStorage) -> Any:
    if storage.quantization == "none":
        return None
    return qm.SearchParams(
        quantization=qm.QuantizationSearchParams(rescore=storage.rescore, oversampling=storage.oversampling)
    )
