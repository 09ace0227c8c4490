"""The embedding backends: the ONNX export gives the torch model's vectors, and never shares a
collection with it."""

from __future__ import annotations

import numpy as np
import pytest
from paperlens.index.embedder import Embedder, QueryCache
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
def models_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def onnx_embedder(models_dir) -> Embedder:
    return Embedder("all-MiniLM-L6-v2", "cpu", 3, backend="onnx", cache_dir=models_dir)


def test_onnx_vectors_match_torch_per_text(embedder, onnx_embedder):
    # batch_size 3 over 7 texts of very different lengths: the length sort and its undoing are
    # exercised across several batches.
    ref = embedder.encode(TEXTS)
    got = onnx_embedder.encode(TEXTS)
    assert got.shape == ref.shape == (len(TEXTS), 384)
    assert got.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    cosine = (ref * got).sum(axis=1)
    assert (cosine > 0.99).all(), dict(zip(TEXTS, cosine.round(5)))


def test_onnx_query_and_token_counts_match_torch(embedder, onnx_embedder):
    q = "score distillation for text-to-3D"
    assert float(embedder.encode_query(q) @ onnx_embedder.encode_query(q)) > 0.99
    count_torch, count_onnx = embedder.token_counter(), onnx_embedder.token_counter()
    for text in TEXTS:
        assert count_onnx(text) == count_torch(text)
    assert count_onnx(TEXTS[4]) > 256  # the counter never saturates at the model's window


def test_export_is_reused(onnx_embedder, models_dir):
    exports = sorted(models_dir.glob("*.onnx"))
    assert len(exports) == 1, exports  # no temporary file left behind either
    before = exports[0].stat().st_mtime_ns
    again = Embedder("all-MiniLM-L6-v2", "cpu", 8, backend="onnx", cache_dir=models_dir)
    assert exports[0].stat().st_mtime_ns == before
    assert float(again.encode_query("GAN") @ onnx_embedder.encode_query("GAN")) > 0.9999


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
