"""Does the int8 embedding backend (the CPU default) find what torch finds? A known-item test at a
larger scale than the hand-written eval (bench/eval_retrieval.py, 48 queries over 79 papers).

    .venv/bin/python bench/backend_quality.py              # 2,000 papers
    .venv/bin/python bench/backend_quality.py --papers 500 # quicker

Passages: the abstracts of the last N records of the arXiv dump in ../shared/corpus/arxiv (the
dump is ordered by id; newest version per id). Queries: the same papers' titles, which the
passages do not contain, so a query must be matched by meaning. For each backend pair
(passages / queries) it reports recall@1, recall@10 and MRR@10 of the title's own abstract among
all N abstracts (dense vectors only, exact cosine), and the cosine between each backend's
passage vectors and torch's. Pairs:

- torch / torch: the reference (sentence-transformers on PyTorch).
- onnx-int8 / onnx-int8: the CPU default since embed_backend 'auto'.
- onnx-int8 / onnx: int8 passages searched with fp32 query vectors (asymmetric), for comparison.
- torch / onnx: torch passages with fp32 ONNX queries (query_backend 'auto' with embed_backend
  'torch'); should equal the reference.

Results: bench/results/backend-quality.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from common import RESULTS, corpus_dir, machine, write_json


def records(n: int) -> list[tuple[str, str]]:
    from paperlens.ingest.metadata import BadRecord, read_metadata

    files = sorted(corpus_dir("arxiv").glob("*.jsonl.gz"))
    if not files:
        sys.exit("no *.jsonl.gz in ../shared/corpus/arxiv")
    newest: dict[str, tuple[str, str]] = {}
    for rec in read_metadata(files[0]):
        if isinstance(rec, BadRecord) or not rec.meta.abstract.strip() or not rec.meta.title.strip():
            continue
        newest[rec.meta.paper_id] = (rec.meta.title, rec.meta.abstract)  # later lines: newer versions
    return list(newest.values())[-n:]


def scores(passages: np.ndarray, queries: np.ndarray, k: int = 10) -> dict[str, float]:
    sims = queries @ passages.T
    own = np.diag(sims)
    rank = (sims > own[:, None]).sum(axis=1) + 1  # 1 = the title's own abstract is the best match
    return {
        "recall@1": round(float((rank == 1).mean()), 4),
        f"recall@{k}": round(float((rank <= k).mean()), 4),
        f"mrr@{k}": round(float(np.where(rank <= k, 1.0 / rank, 0.0).mean()), 4),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--papers", type=int, default=2000)
    args = ap.parse_args()

    from paperlens.index.embedder import Embedder

    pairs = records(args.papers)
    titles = [t for t, _ in pairs]
    abstracts = [a for _, a in pairs]
    models = RESULTS / "models"
    vecs: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    seconds: dict[str, float] = {}
    for backend in ("torch", "onnx", "onnx-int8"):
        emb = Embedder("all-MiniLM-L6-v2", "cpu", 64, backend=backend, cache_dir=models, query_backend="torch")
        t = time.perf_counter()
        p = emb.encode(abstracts, show_progress=True)
        seconds[backend] = round(time.perf_counter() - t, 1)
        vecs[backend] = (p, emb.encode(titles))
        print(f"{backend}: {len(abstracts)} abstracts in {seconds[backend]} s", file=sys.stderr)
    combos = {
        "torch/torch": ("torch", "torch"),
        "onnx-int8/onnx-int8": ("onnx-int8", "onnx-int8"),
        "onnx-int8/onnx": ("onnx-int8", "onnx"),
        "torch/onnx": ("torch", "onnx"),
    }
    result = {
        "machine": machine(),
        "papers": len(pairs),
        "encode_abstracts_s": seconds,
        "retrieval": {name: scores(vecs[p][0], vecs[q][1]) for name, (p, q) in combos.items()},
        "cosine_to_torch": {
            b: {"mean": round(float(c.mean()), 4), "p05": round(float(np.percentile(c, 5)), 4),
                "min": round(float(c.min()), 4)}
            for b in ("onnx", "onnx-int8")
            for c in [(vecs[b][0] * vecs["torch"][0]).sum(axis=1)]
        },
    }
    for name, row in result["retrieval"].items():
        print(f"{name:22s} " + "  ".join(f"{k} {v:.4f}" for k, v in row.items()))
    print("cosine to torch (passages):", result["cosine_to_torch"])
    print("written", write_json(RESULTS / "backend-quality.json", result))


if __name__ == "__main__":
    main()
