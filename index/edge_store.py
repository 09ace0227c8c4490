"""The embedded store: Qdrant's engine in-process (qdrant-edge-py), one shard in a folder.

The only module that imports qdrant_edge. Layout of `path`: the shard's own files (wal/,
segments/, edge_config.json) and ``paperlens_spec.json``, the StoreSpec it was built for.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import qdrant_edge as qe

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

SPEC_FILE = "paperlens_spec.json"
_BATCH = 512


class EdgeStore:
    def __init__(self, path: Path, spec: StoreSpec) -> None:
        self.path = Path(path)
        self.spec = spec
        self._shard: Any = None
        spec_file = self.path / SPEC_FILE
        if (self.path / "edge_config.json").exists():
            _check_spec(spec_file, spec)
        else:
            self._create(spec)
        with self._errors("open"):
            self._shard = qe.EdgeShard.load(str(self.path))

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
        with self._errors("create"):
            shard = qe.EdgeShard.create(str(tmp), _config(spec))
            for field_name, kind in PAYLOAD_INDEXES.items():
                shard.update(qe.UpdateOperation.create_field_index(field_name, _index_schema(kind)))
            shard.flush()
            shard.close()
        (tmp / SPEC_FILE).write_text(json.dumps(spec.to_json(), indent=1, sort_keys=True), encoding="utf-8")
        os.rename(tmp, self.path)

    # -- writing ---------------------------------------------------------------------------

    def upsert(self, points: list[StoredPoint]) -> None:
        with self._errors(f"upsert of {len(points)} points"):
            for start in range(0, len(points), _BATCH):
                batch = [self._point(p) for p in points[start : start + _BATCH]]
                self._shard.update(qe.UpdateOperation.upsert_points(batch))

    def delete(self, flt: StoreFilter) -> None:
        if flt.is_empty():
            raise BadInput(f"refusing to delete with an empty filter from edge store {self.path}")
        with self._errors("delete"):
            self._shard.update(qe.UpdateOperation.delete_points_by_filter(_filter(flt)))

    def set_payload(self, flt: StoreFilter, payload: dict[str, Any]) -> None:
        if flt.is_empty():
            raise BadInput(f"refusing to update every point of edge store {self.path}")
        with self._errors("set_payload"):
            self._shard.update(qe.UpdateOperation.set_payload_by_filter(_filter(flt), payload))

    def flush(self) -> None:
        with self._errors("flush"):
            self._shard.flush()

    def optimize(self) -> None:
        with self._errors("optimize"):
            self._shard.optimize()

    def close(self) -> None:
        if self._shard is None:
            return
        with self._errors("close"):
            self._shard.flush()
            self._shard.close()
        self._shard = None

    def __enter__(self) -> EdgeStore:
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
            qe.QueryRequest(
                limit=query.limit if single else query.prefetch_limit, query=_nearest(name, vec),
                filter=_filter(flt), with_payload=single, with_vector=False,
            )
            for name, vec, flt, _ in found
        ]
        with self._errors("search"):
            batches = self._shard.query_batch(qe.QueryBatchRequest(requests))
        ranked = [[ScoredRecord(str(h.id), float(h.score), dict(h.payload or {})) for h in hits] for hits in batches]
        if single:
            return ordered(ranked[0])
        return with_payloads(rrf_fuse(ranked, [w for *_, w in found], query.limit), self.retrieve)

    def retrieve(self, ids: list[str]) -> list[ScoredRecord]:
        if not ids:
            return []
        with self._errors(f"retrieve of {len(ids)} ids"):
            records = self._shard.retrieve(list(ids), with_payload=True, with_vector=False)
        by_id = {str(r.id): dict(r.payload or {}) for r in records}
        return [ScoredRecord(i, 0.0, by_id[i]) for i in ids if i in by_id]

    def scroll(
        self, flt: StoreFilter, limit: int = 256, offset: str | None = None
    ) -> tuple[list[ScoredRecord], str | None]:
        request = qe.ScrollRequest(
            offset=offset, limit=limit, filter=_filter(flt), with_payload=True, with_vector=False
        )
        with self._errors("scroll"):
            records, next_offset = self._shard.scroll(request)
        page = [ScoredRecord(str(r.id), 0.0, dict(r.payload or {})) for r in records]
        return page, None if next_offset is None else str(next_offset)

    def count(self, flt: StoreFilter | None = None) -> int:
        with self._errors("count"):
            return int(self._shard.count(qe.CountRequest(exact=True, filter=_filter(flt or StoreFilter()))))

    # -- helpers ---------------------------------------------------------------------------

    def _point(self, p: StoredPoint) -> Any:
        vectors: dict[str, Any] = {}
        for name, vec in p.dense.items():
            vectors[name] = vec.tolist() if hasattr(vec, "tolist") else vec
        for name, sv in p.sparse.items():
            if sv.indices:  # an empty text has no terms; the point simply lacks this vector
                vectors[name] = qe.SparseVector(list(sv.indices), list(sv.values))
        return qe.Point(p.id, vectors, p.payload)

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        if self._shard is None and action not in ("open", "create"):
            raise StoreError(f"edge store {self.path} is closed ({action})", path=str(self.path))
        try:
            yield
        except PaperlensError:
            raise
        except Exception as exc:  # qdrant_edge raises bare Exception with the engine's message
            message = str(exc)
            if "WouldBlock" in message or "already in use" in message.lower():
                raise StoreLocked(
                    f"edge store {self.path} is in use by another process: {message}", path=str(self.path)
                ) from exc
            raise StoreError(f"edge store {self.path}: {action} failed: {message}", path=str(self.path)) from exc


def _config(spec: StoreSpec) -> Any:
    return qe.EdgeConfig(
        vectors={
            name: qe.EdgeVectorParams(size=dim, distance=qe.Distance.Cosine) for name, dim in spec.dense_dims.items()
        },
        sparse_vectors={name: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf) for name in spec.sparse_names},
    )


def _index_schema(kind: str) -> Any:
    if kind == "keyword":
        return qe.PayloadSchemaType.Keyword
    if kind == "integer":
        return qe.IntegerIndexParams(lookup=True, range=True)
    raise StoreError(f"unknown payload index kind {kind!r} in PAYLOAD_INDEXES")




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




def _sparse(sv: SparseVec) -> Any:
    return qe.SparseVector(list(sv.indices), list(sv.values))


def _nearest(name: str, vec: Any) -> Any:
    return qe.Query.Nearest(_sparse(vec) if isinstance(vec, SparseVec) else vec, using=name)


def _filter(flt: StoreFilter) -> Any:
    must, must_not = flt.conditions()
    if not must and not must_not:
        return None
    return qe.Filter(must=[_condition(c) for c in must] or None, must_not=[_condition(c) for c in must_not] or None)


def _condition(cond: tuple[str, str, Any]) -> Any:
    key, op, value = cond
    if op == "range":
        return qe.FieldCondition(key, range=qe.RangeFloat(gte=value[0], lte=value[1]))
    return qe.FieldCondition(key, match=qe.MatchAny(value))
