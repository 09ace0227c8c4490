"""Which collection a data dir uses: the fingerprint of what builds its vectors, the embedding
backend 'auto' resolves to, and the store that holds it.

The collection name carries the fingerprint, so vectors of two configurations never mix: a change
of model, chunker, backend or quantization makes a new collection (re-ingest) instead of
corrupting the old one.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from paperlens.errors import ModelError
from paperlens.settings import Settings

from .catalog import Catalog
from .embedder import BACKENDS, Embedder, machine_backend, model_dim
from .sparse import Bm25Encoder
from .store import BM25, DENSE, XLING, Store, StoreSpec, VectorStorage
from .visibility import HiddenRevisions

log = logging.getLogger(__name__)

SPARSE_VERSION = "bm25-v1"
XLING_RULE = "summary-and-zh-no-bare-title"  # which chunks get the cross-lingual vector (writer.wants_xling)


@dataclass
class OpenCollection:
    """An open collection and what every reader and writer of it shares: the store, the catalog
    beside it, the encoders that make its vectors, and the revisions search must not see."""

    store: Store
    catalog: Catalog
    embedder: Embedder
    xling: Any | None
    bm25: Bm25Encoder
    hidden: HiddenRevisions


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
    # A quantized collection answers a search differently (approximate candidates, rescored); left
    # out when unquantized for the same reason as 'torch'. on_disk, rescore and oversampling are
    # not in it: the first moves the same vectors, the other two are applied at each search.
    if settings.store_quantization != "none":
        spec["quantization"] = settings.store_quantization
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def vector_storage(settings: Settings) -> VectorStorage:
    return VectorStorage(
        quantization=settings.store_quantization, on_disk=settings.store_on_disk,
        rescore=settings.store_rescore, oversampling=settings.store_oversampling,
    )


def collection_spec(settings: Settings, fp: str, dense_dim: int, xling_dim: int) -> StoreSpec:
    dims = {DENSE: dense_dim}
    if xling_dim:
        dims[XLING] = xling_dim
    return StoreSpec(
        name=f"{settings.collection}-{fp}", dense_dims=dims, sparse_names=[BM25], fingerprint=fp,
        storage=vector_storage(settings),
    )


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


def open_store(settings: Settings, spec: StoreSpec) -> Store:
    """Unset qdrant_url: the embedded engine on disk. A URL, ':memory:' or 'local:PATH': qdrant-client.
    Each engine is imported only when chosen: a server deployment never loads qdrant-edge."""
    if settings.qdrant_url:
        from .client_store import ClientStore

        return ClientStore(
            settings.qdrant_url, spec, api_key=settings.qdrant_api_key,
            shards=settings.qdrant_shards, replicas=settings.qdrant_replicas,
        )
    from .edge_store import EdgeStore

    return EdgeStore(settings.data_dir / "qdrant-edge" / spec.name, spec)
