"""Quantization and on-disk vectors as settings: what reaches each engine, the fingerprint, and a
real Library on a quantized collection. The stores' behaviour on quantized collections is the
congruence suite's (tests/test_store_congruence.py)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from pydantic import ValidationError

from paperlens.errors import StoreError
from paperlens.index.client_store import ClientStore
from paperlens.index.collection import fingerprint, vector_storage
from paperlens.index.store import BM25, DENSE, HybridQuery, SparseVec, StoreSpec, VectorStorage
from paperlens.ingest.pipeline import IngestRequest, Ingestor, open_library
from paperlens.settings import Settings

from qdrant_server import FakeQdrant
from support import make_settings, write_jsonl
from test_pipeline import RECORDS


def test_quantization_names_its_own_collection(tmp_path) -> None:
    def fp(**kw) -> str:
        return fingerprint(Settings(data_dir=tmp_path, _env_file=None, **kw), 384, 384, "chunker-test", "onnx-int8")

    plain = fp()
    assert plain == fp(store_quantization="none")  # collections built before the setting keep their name
    assert len({plain, fp(store_quantization="int8"), fp(store_quantization="binary")}) == 3
    # these move the same vectors or act at search time: the collection stays the same
    assert plain == fp(store_on_disk=True) == fp(store_rescore=False) == fp(store_oversampling=4.0)


def test_settings_refuse_bad_storage_values(tmp_path) -> None:
    with pytest.raises(ValidationError, match="store_quantization"):
        Settings(data_dir=tmp_path, _env_file=None, store_quantization="int4")
    with pytest.raises(ValidationError, match="store_oversampling"):
        Settings(data_dir=tmp_path, _env_file=None, store_oversampling=0.5)
    s = Settings(data_dir=tmp_path, _env_file=None, store_quantization="int8", store_on_disk=True,
                 store_oversampling=3.0)
    assert vector_storage(s) == VectorStorage("int8", on_disk=True, rescore=True, oversampling=3.0)


def test_library_on_a_quantized_collection(tmp_path, embedder, xling) -> None:
    src = write_jsonl(tmp_path / "meta.jsonl", RECORDS)
    found = {}
    for quantization in ("none", "int8"):
        settings = make_settings(tmp_path / "data", store_quantization=quantization, store_on_disk=True)
        with open_library(settings, embedder=embedder, xling=xling) as lib:
            report = Ingestor(lib, settings).run(IngestRequest(paths=[src]))
            assert report.counts()["ingested"] == 3
            hits = lib.search("diffusion model for super-resolution", k=5)
            found[quantization] = (lib.spec.name, [(h.chunk_id, round(h.score, 6)) for h in hits])
            config = json.loads((settings.data_dir / "qdrant-edge" / lib.spec.name / "edge_config.json").read_text())
        for params in config["vectors"].values():
            assert params["memory"] == "cold"
            assert ("quantization_config" in params) == (quantization == "int8")
    assert found["none"][0] != found["int8"][0]  # two collections side by side in one data dir
    # rescored with the originals: the same hits with the same fused scores
    assert found["int8"][1] == found["none"][1] and found["none"][1][0]


SPEC = StoreSpec("chunks_remote", {DENSE: 8}, [BM25], "fp-remote",
                 VectorStorage(quantization="int8", on_disk=True, oversampling=3.0))


def test_server_gets_quantization_on_disk_and_search_parameters() -> None:
    with FakeQdrant() as server:
        store = ClientStore(server.url, SPEC, shards=3, replicas=2)
        created = server.collections[SPEC.name]
        assert created["vectors"][DENSE] == {"size": 8, "distance": "Cosine", "on_disk": True}
        assert created["quantization_config"] == {"scalar": {"type": "int8", "quantile": 0.99, "always_ram": True}}
        assert (created["shard_number"], created["replication_factor"]) == (3, 2)
        assert created["sparse_vectors"][BM25]["modifier"] == "idf"
        assert json.loads(json.dumps(created["metadata"]["paperlens_spec"]))["quantization"] == "int8"
        store.search(HybridQuery(dense={DENSE: [0.1] * 8}, sparse={BM25: SparseVec([1, 2], [1.0, 1.0])}))
        (batch,) = server.bodies("POST", "/points/query/batch")
        dense, sparse = batch["searches"]
        assert dense["params"]["quantization"] == {"rescore": True, "oversampling": 3.0}
        assert not sparse.get("params")
        store.close()


def test_server_errors_become_store_errors_by_type() -> None:
    with FakeQdrant(fail={"/count"}) as server:
        store = ClientStore(server.url, replace(SPEC, storage=VectorStorage()))
        with pytest.raises(StoreError, match="count failed") as err:
            store.count()
        assert type(err.value.__cause__).__name__ == "UnexpectedResponse"
        created = server.collections["chunks_remote"]
        assert "quantization_config" not in created or created["quantization_config"] is None
        assert created["vectors"][DENSE].get("on_disk") in (None, False)
        store.close()
