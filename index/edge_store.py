"""The embedded store: Qdrant's engine in-process (qdrant-edge-py), one shard in a folder.

The only module that imports qdrant_edge; what it shares with the server store lives in
index/qdrant_store.py. Layout of `path`: the shard's own files (wal/, segments/, edge_config.json)
and ``paperlens_spec.json``, the StoreSpec it was built for; beside it ``.<name>.lock``, held
while the store is open.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import qdrant_edge as qe

from paperlens.errors import StoreError

from .file_lock import store_lock
from .qdrant_store import QdrantStore, Retrieval, index_kind
from .store import PAYLOAD_INDEXES, StoreSpec, VectorStorage

SPEC_FILE = "paperlens_spec.json"


class EdgeStore(QdrantStore):
    # qdrant-edge 0.9 defines no exception classes (dir(qdrant_edge) has none): every engine
    # failure is a plain Exception, so that is the type mapped. The one failure that needs its own
    # error, another process holding the shard, is caught before the engine by our own lock.
    ENGINE_ERRORS = {Exception: StoreError}
    BATCH = 512

    def __init__(self, path: Path, spec: StoreSpec) -> None:
        self.path = Path(path)
        self.spec = spec
        self.where = f"edge store {self.path}"
        self._extra = {"path": str(self.path)}
        self._handle: Any = None
        self._params = _search_params(spec.storage)
        self._lock = store_lock(self.path, "edge store", self._extra)
        try:
            if (self.path / "edge_config.json").exists():
                _check_spec(self.path / SPEC_FILE, spec)
            else:
                self._create(spec)
            with self._errors("open", opening=True):
                self._handle = qe.EdgeShard.load(str(self.path))
        except BaseException:
            self._lock.release()
            raise

    def _create(self, spec: StoreSpec) -> None:
        # Built whole in a temporary folder, then renamed into place: a process killed while
        # creating leaves only the temporary folder (removed by the next create), never a shard
        # without its spec file, which would be refused at every later start.
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists() and any(self.path.iterdir()):
            raise StoreError(f"{self.path} exists but holds no Qdrant shard: move it away", path=str(self.path))
        if self.path.exists():
            self.path.rmdir()
        for stale in self.path.parent.glob(f".{self.path.name}.creating-*"):
            shutil.rmtree(stale, ignore_errors=True)
        tmp = self.path.parent / f".{self.path.name}.creating-{os.getpid()}"
        with self._errors("create", opening=True):
            shard = qe.EdgeShard.create(str(tmp), _config(spec))
            for field_name, kind in PAYLOAD_INDEXES.items():
                schema = index_kind(kind, qe.PayloadSchemaType.Keyword, qe.IntegerIndexParams(lookup=True, range=True))
                shard.update(qe.UpdateOperation.create_field_index(field_name, schema))
            shard.flush()
            shard.close()
        (tmp / SPEC_FILE).write_text(json.dumps(spec.to_json(), indent=1, sort_keys=True), encoding="utf-8")
        os.rename(tmp, self.path)

    def flush(self) -> None:
        with self._errors("flush"):
            self._handle.flush()

    def optimize(self) -> None:
        with self._errors("optimize"):
            self._handle.optimize()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._lock.release()

    # -- the engine --------------------------------------------------------------------------

    def _engine_close(self) -> None:
        self._handle.flush()
        self._handle.close()

    def _engine_upsert(self, points: list[Any]) -> None:
        self._handle.update(qe.UpdateOperation.upsert_points(points))

    def _engine_delete(self, flt: Any) -> None:
        self._handle.update(qe.UpdateOperation.delete_points_by_filter(flt))

    def _engine_set_payload(self, flt: Any, payload: dict[str, Any]) -> None:
        self._handle.update(qe.UpdateOperation.set_payload_by_filter(flt, payload))

    def _engine_query(self, requests: list[Retrieval]) -> list[list[Any]]:
        batch = [
            qe.QueryRequest(
                limit=r.limit, query=qe.Query.Nearest(r.vector, using=r.using), filter=r.filter,
                with_payload=r.with_payload, with_vector=False,
                params=None if isinstance(r.vector, qe.SparseVector) else self._params,
            )
            for r in requests
        ]
        return [list(hits) for hits in self._handle.query_batch(qe.QueryBatchRequest(batch))]

    def _engine_retrieve(self, ids: list[str]) -> list[Any]:
        return self._handle.retrieve(ids, with_payload=True, with_vector=False)

    def _engine_scroll(self, flt: Any, limit: int, offset: str | None) -> tuple[list[Any], Any]:
        return self._handle.scroll(
            qe.ScrollRequest(offset=offset, limit=limit, filter=flt, with_payload=True, with_vector=False)
        )

    def _engine_count(self, flt: Any) -> int:
        return self._handle.count(qe.CountRequest(exact=True, filter=flt))

    def _make_filter(self, must: list[Any] | None, must_not: list[Any] | None) -> Any:
        return qe.Filter(must=must, must_not=must_not)

    def _make_match_any(self, key: str, values: list[Any]) -> Any:
        return qe.FieldCondition(key, match=qe.MatchAny(values))

    def _make_range(self, key: str, gte: Any, lte: Any) -> Any:
        return qe.FieldCondition(key, range=qe.RangeFloat(gte=gte, lte=lte))

    def _make_sparse(self, indices: list[int], values: list[float]) -> Any:
        return qe.SparseVector(indices, values)

    def _make_point(self, point_id: str, vectors: dict[str, Any], payload: dict[str, Any]) -> Any:
        return qe.Point(point_id, vectors, payload)


def _config(spec: StoreSpec) -> Any:
    storage = spec.storage
    quantization = _quantization(storage)
    return qe.EdgeConfig(
        vectors={
            name: qe.EdgeVectorParams(
                size=dim, distance=qe.Distance.Cosine, quantization_config=quantization,
                # Cold: memory-mapped, read on demand; the engine's default (None) is Cached.
                memory=qe.Memory.Cold if storage.on_disk else None,
            )
            for name, dim in spec.dense_dims.items()
        },
        sparse_vectors={name: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf) for name in spec.sparse_names},
    )


def _quantization(storage: VectorStorage) -> Any:
    # The quantized copy is what every search reads first, so it is pinned in RAM; the originals
    # go where storage.on_disk says.
    if storage.quantization == "int8":
        return qe.ScalarQuantizationConfig(qe.ScalarType.Int8, quantile=0.99, memory=qe.Memory.Pinned)
    if storage.quantization == "binary":
        return qe.BinaryQuantizationConfig(memory=qe.Memory.Pinned)
    return None


def _search_params(storage: VectorStorage) -> Any:
    if storage.quantization == "none":
        return None
    return qe.SearchParams(
        quantization=qe.QuantizationSearchParams(rescore=storage.rescore, oversampling=storage.oversampling)
    )


def _check_spec(spec_file: Path, spec: StoreSpec) -> None:
    try:
        saved = json.loads(spec_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StoreError(
            f"{spec_file.parent} holds a Qdrant shard but no {SPEC_FILE}: not created by paperlens",
            path=str(spec_file.parent),
        ) from None
    except (OSError, ValueError) as exc:
        raise StoreError(f"cannot read {spec_file}: {exc}", path=str(spec_file)) from exc
    spec.check_saved(saved, f"edge store {spec_file.parent}", path=str(spec_file.parent))
