"""The embedded store at a field's scale: 1M and 3M chunks, per vector-storage setting.

    .venv/bin/python bench/scale_bench.py --sizes 1M --settings int8-disk          # the setting docs/scaling.md recommends
    .venv/bin/python bench/scale_bench.py --sizes 1M,3M                            # all settings, quiet machine
    .venv/bin/python bench/scale_bench.py --sizes 20k --queries 30 --base 500      # smoke run (~2 min)

What is stored. Embedding a million chunks with MiniLM takes ~16 hours on 2 cores, so the vectors
are derived from real ones: `--base` arXiv records of ../shared/corpus/arxiv (title + abstract)
are embedded with the product's CPU default encoder (MiniLM int8 ONNX), and chunk i gets

    normalize(base[b_i] + sigma * g_i / sqrt(384)),   b_i uniform over the bases, g_i ~ N(0, I)

with sigma = `--noise` (0.6: a chunk sits at cosine ~0.86 from its base record, the way a paper's
chunks sit around its abstract), from a seeded generator, so a collection is the same every run.
Each chunk carries its base record's real text (one of four sentence windows of the abstract,
as payload text and as its BM25 vector), categories and month; chunks come 12 to a paper id. Every
20th chunk (a paper's summary chunks, in the product) also has a cross-lingual vector: its dense
vector under a fixed random rotation, which keeps the geometry and so the difficulty. Queries are
the real titles of `--queries` records that are not among the bases, embedded the same way.

What is measured, each setting built in its own process and searched in another one (so the
search RSS is the store's as a server opens it, not the build's):

- build: upsert time (the store layer, 512 points a call), optimize (HNSW) time, peak RSS, disk.
- open: load time and RSS (anonymous and file-backed) after opening and after all the searches.
- p50 / p95 of `EdgeStore.search`: dense; hybrid (dense + cross-lingual + BM25, RRF, as
  Library.search sends it); hybrid filtered (category cs.CL and the later half of the months).
  The query vectors are precomputed: embedding a query costs the same at any scale
  (docs/benchmarks.md has it, 8-11 ms for both encoders on 2 cores).
- recall@10 against exact search over the very same vectors: dense and dense filtered against a
  brute-force numpy scan done while the vectors were generated; hybrid against the RRF fusion of
  the exact dense and cross-lingual top 60 with the engine's BM25 top 60 (sparse search is
  exact), i.e. what the hybrid search would return with exact vector search.

Results: bench/results/scale-<size>-<setting>.json and bench/results/scale.json; collections in
--work (default /tmp/paperlens_scale, removed after each setting unless --keep).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import sys
import time
import uuid
from pathlib import Path

import numpy as np

from common import RESULTS, PeakMemory, corpus_dir, machine, percentiles, run_variant, write_json

SEED = 20261202
DIM = 384
CHUNKS_PER_PAPER = 12
XLING_EVERY = 20
WINDOWS = 4
BATCH = 4096  # generation batch: the vectors of a batch depend only on (SEED, its start)
TOP = 60  # candidates per retriever, the product's search_prefetch
SETTINGS = {
    # name: (quantization, originals on disk, search oversampling)
    "none": ("none", False, 1.0),
    "none-disk": ("none", True, 1.0),
    "int8-disk": ("int8", True, 2.0),
    "binary-disk": ("binary", True, 3.0),
}
FILTER_CATEGORY = "cs.CL"


def size_arg(text: str) -> int:
    text = text.strip().lower()
    mult = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text.rstrip("km")) * mult)


# --- the real data the vectors come from ---------------------------------------------------------


def records() -> list[dict]:
    path = sorted(corpus_dir("arxiv").glob("*.jsonl.gz"))[0]
    out, seen = [], set()
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            if rec.get("id") in seen or not rec.get("summary") or not rec.get("title"):
                continue
            seen.add(rec["id"])
            out.append(rec)
    return out


def base_data(n_base: int, n_queries: int) -> dict:
    """Real MiniLM vectors of n_base records and of n_queries other records' titles (cached)."""
    cache = RESULTS / "scale" / f"base-{n_base}-{n_queries}.npz"
    meta_file = cache.with_suffix(".json")
    if cache.exists() and meta_file.exists():
        arrays = np.load(cache)
        return {"base": arrays["base"], "queries": arrays["queries"], **json.loads(meta_file.read_text())}
    from paperlens.index.embedder import Embedder
    from paperlens.settings import load_settings

    recs = records()
    if len(recs) < n_base + n_queries:
        sys.exit(f"the dump has {len(recs)} usable records; --base + --queries must not exceed it")
    # Spread over the dump, so bases and queries cover its months and categories alike.
    step = len(recs) // (n_base + n_queries)
    picked = recs[:: step][: n_base + n_queries]
    bases, held_out = picked[:n_base], picked[n_base:]
    settings = load_settings()
    embedder = Embedder(backend="onnx-int8", cache_dir=settings.resolved_models_dir)
    started = time.monotonic()
    texts = [f"{r['title']}\n{r['summary']}" for r in bases]
    base = np.zeros((n_base, DIM), dtype=np.float32)
    for start in range(0, n_base, 500):
        base[start : start + 500] = embedder.encode(texts[start : start + 500])
        print(f"embedded {min(start + 500, n_base)}/{n_base} base records", flush=True)
    queries = np.stack([embedder.encode_query(r["title"]) for r in held_out])
    meta = {
        "embed_s": round(time.monotonic() - started, 1),
        "texts": [r["summary"] for r in bases],
        "categories": [sorted(r.get("categories") or []) for r in bases],
        "months": [month_of(r["id"]) for r in bases],
        "query_texts": [r["title"] for r in held_out],
    }
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, base=base, queries=queries)
    meta_file.write_text(json.dumps(meta), encoding="utf-8")
    return {"base": base, "queries": queries, **meta}


def month_of(arxiv_id: str) -> int:
    """YYYYMM of a new-style arXiv id (2503.11731 -> 202503)."""
    return 200000 + int(arxiv_id[:2]) * 100 + int(arxiv_id[2:4])


def window(text: str, w: int) -> str:
    """The w-th of WINDOWS sentence windows of an abstract: a chunk-sized piece of real text."""
    sentences = [s for s in text.replace("\n", " ").split(". ") if s]
    per = max(1, -(-len(sentences) // WINDOWS))
    piece = ". ".join(sentences[w * per : (w + 1) * per]) or text
    return piece[:900]


class Chunks:
    """The deterministic collection: vectors and payloads of chunks [start, stop)."""

    def __init__(self, data: dict, noise: float) -> None:
        self.base = data["base"]
        self.noise = noise
        self.texts = data["texts"]
        self.categories = data["categories"]
        self.months = data["months"]
        months = sorted(set(self.months))
        self.date_from = months[len(months) // 2] * 100 + 1  # the later half of the months
        rot, _ = np.linalg.qr(np.random.default_rng(SEED + 1).standard_normal((DIM, DIM)))
        self.rotation = rot.astype(np.float32)
        from paperlens.index.sparse import Bm25Encoder

        self._bm25 = Bm25Encoder(avg_len=220)
        self._sparse: dict[tuple[int, int], object] = {}

    def vectors(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng([SEED, start])
        n = stop - start
        b = rng.integers(0, len(self.base), n)
        v = self.base[b] + rng.standard_normal((n, DIM), dtype=np.float32) * (self.noise / np.sqrt(DIM))
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        return v.astype(np.float32), b

    def date_int(self, i: int, b: int) -> int:
        return self.months[b] * 100 + (i // CHUNKS_PER_PAPER) % 28 + 1

    def filtered(self, i: int, b: int) -> bool:
        return FILTER_CATEGORY in self.categories[b] and self.date_int(i, b) >= self.date_from

    def sparse(self, b: int, w: int):
        key = (b, w)
        if key not in self._sparse:
            self._sparse[key] = self._bm25.encode_document(window(self.texts[b], w))
        return self._sparse[key]

    def points(self, start: int, v: np.ndarray, b: np.ndarray) -> list:
        from paperlens.index.store import BM25, DENSE, XLING, StoredPoint

        out = []
        xl = v @ self.rotation.T
        for k in range(len(v)):
            i, bi = start + k, int(b[k])
            dense = {DENSE: v[k].tolist()}
            if i % XLING_EVERY == 0:
                dense[XLING] = xl[k].tolist()
            paper = i // CHUNKS_PER_PAPER
            payload = {
                "paper_id": f"scale:{paper:08d}", "chunk_id": point_id(i), "doc_kind": "pdf", "doc_key": "pdf",
                "rev": "r1", "index": i % CHUNKS_PER_PAPER, "text": window(self.texts[bi], i % WINDOWS),
                "title": f"paper {paper}", "categories": self.categories[bi], "author_keys": [],
                "date_int": self.date_int(i, bi), "lang": "en", "section": "Method", "page_start": 1,
                "page_end": 1, "is_summary": i % XLING_EVERY == 0,
            }
            out.append(StoredPoint(point_id(i), dense, {BM25: self.sparse(bi, i % WINDOWS)}, payload))
        return out


def point_id(i: int) -> str:
    return str(uuid.UUID(int=i + 1))


def index_of(pid: str) -> int:
    return uuid.UUID(pid).int - 1


class TopK:
    """Running exact top-k (index, score) per query over batches of scores."""

    def __init__(self, n_queries: int, k: int) -> None:
        self.k = k
        self.idx = np.zeros((n_queries, 0), dtype=np.int64)
        self.score = np.zeros((n_queries, 0), dtype=np.float32)

    def add(self, scores: np.ndarray, indices: np.ndarray) -> None:
        if not indices.size:
            return
        s = np.concatenate([self.score, scores], axis=1)
        i = np.concatenate([self.idx, np.broadcast_to(indices, (len(s), len(indices)))], axis=1)
        if s.shape[1] > self.k:
            part = np.argpartition(-s, self.k - 1, axis=1)[:, : self.k]
            s, i = np.take_along_axis(s, part, 1), np.take_along_axis(i, part, 1)
        order = np.argsort(-s, axis=1, kind="stable")
        self.score, self.idx = np.take_along_axis(s, order, 1), np.take_along_axis(i, order, 1)


# --- the two child processes --------------------------------------------------------------------


def spec_for(setting: str, n: int):
    from paperlens.index.store import BM25, DENSE, XLING, StoreSpec, VectorStorage

    quantization, on_disk, oversampling = SETTINGS[setting]
    storage = VectorStorage(quantization=quantization, on_disk=on_disk, oversampling=oversampling)
    return StoreSpec(f"scale-{n}-{setting}", {DENSE: DIM, XLING: DIM}, [BM25], f"scale-{setting}", storage)


def rss() -> dict[str, float]:
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
            fields[key] = round(int(value.split()[0]) / 1024, 1)  # MiB
    return fields


def disk_mib(path: Path) -> float:
    return round(sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20, 1)


def build(args: argparse.Namespace) -> dict:
    from paperlens.index.edge_store import EdgeStore

    data = base_data(args.base, args.queries)
    chunks = Chunks(data, args.noise)
    queries = data["queries"]
    exact = {name: TopK(len(queries), TOP) for name in ("dense", "dense_f", "xling", "xling_f")}
    path = Path(args.work) / f"{args.size}-{args.setting}"
    shutil.rmtree(path, ignore_errors=True)
    store = EdgeStore(path, spec_for(args.setting, args.size))
    upsert_s = 0.0
    n_filtered = 0
    started = time.monotonic()
    with PeakMemory() as peak:
        for start in range(0, args.size, BATCH):
            stop = min(start + BATCH, args.size)
            v, b = chunks.vectors(start, stop)
            idx = np.arange(start, stop)
            scores = queries @ v.T
            filt = np.array([chunks.filtered(int(i), int(bi)) for i, bi in zip(idx, b)])
            xl = idx % XLING_EVERY == 0
            n_filtered += int(filt.sum())
            exact["dense"].add(scores, idx)
            exact["dense_f"].add(scores[:, filt], idx[filt])
            exact["xling"].add(scores[:, xl], idx[xl])  # the rotation keeps dot products
            exact["xling_f"].add(scores[:, xl & filt], idx[xl & filt])
            points = chunks.points(start, v, b)
            t = time.monotonic()
            for s in range(0, len(points), 512):  # the Library's write batches
                store.upsert(points[s : s + 512])
            upsert_s += time.monotonic() - t
            if stop // BATCH % 25 == 0 or stop == args.size:
                print(f"[{args.setting}] {stop:,}/{args.size:,} chunks, upsert {upsert_s:.0f} s, "
                      f"{time.monotonic() - started:.0f} s in all, RSS {rss().get('VmRSS')} MiB", flush=True)
        t = time.monotonic()
        store.flush()
        flush_s = time.monotonic() - t
        t = time.monotonic()
        print(f"[{args.setting}] optimize (HNSW) ...", flush=True)
        store.optimize()
        optimize_s = time.monotonic() - t
        store.close()
    np.savez(path.parent / f"{path.name}-exact.npz", **{k: e.idx for k, e in exact.items()})
    return {
        "size": args.size, "setting": args.setting, "build_wall_s": round(time.monotonic() - started, 1),
        "upsert_s": round(upsert_s, 1), "flush_s": round(flush_s, 1), "optimize_s": round(optimize_s, 1),
        "build_memory": peak.report(), "disk_mib": disk_mib(path),
        "filtered_share": round(n_filtered / args.size, 3),
        "base_embed_s": data.get("embed_s"),
    }


def search(args: argparse.Namespace) -> dict:
    from paperlens.index.edge_store import EdgeStore
    from paperlens.index.sparse import Bm25Encoder
    from paperlens.index.store import BM25, DENSE, XLING, HybridQuery, StoreFilter, rrf_fuse

    data = base_data(args.base, args.queries)
    chunks = Chunks(data, args.noise)
    path = Path(args.work) / f"{args.size}-{args.setting}"
    exact = dict(np.load(path.parent / f"{path.name}-exact.npz"))
    before = rss()
    t = time.monotonic()
    store = EdgeStore(path, spec_for(args.setting, args.size))
    open_s = time.monotonic() - t
    after_open = rss()
    bm25 = Bm25Encoder(avg_len=220)
    flt = StoreFilter(categories=[FILTER_CATEGORY], date_from=chunks.date_from)
    rotation = chunks.rotation
    modes = ("dense", "hybrid", "hybrid_filtered")
    times: dict[str, list[float]] = {m: [] for m in modes}
    recall: dict[str, list[float]] = {m: [] for m in ("dense", "dense_filtered", "hybrid", "hybrid_filtered")}
    for warm in range(min(5, len(data["queries"]))):  # first touches of the files, not timed
        store.search(HybridQuery(dense={DENSE: data["queries"][warm].tolist()}, limit=10))
    for qi, (qv, text) in enumerate(zip(data["queries"], data["query_texts"])):
        dense, xling, sparse = qv.tolist(), (rotation @ qv).tolist(), bm25.encode_query(text)
        requests = {
            "dense": HybridQuery(dense={DENSE: dense}, limit=10),
            "hybrid": HybridQuery(dense={DENSE: dense, XLING: xling}, sparse={BM25: sparse}, limit=10,
                                  prefetch_limit=TOP),
            "hybrid_filtered": HybridQuery(dense={DENSE: dense, XLING: xling}, sparse={BM25: sparse}, filter=flt,
                                           limit=10, prefetch_limit=TOP),
        }
        got = {}
        for mode in modes:  # interleaved, so load changes hit every mode alike
            t = time.perf_counter()
            got[mode] = store.search(requests[mode])
            times[mode].append(time.perf_counter() - t)
        dense_f = store.search(HybridQuery(dense={DENSE: dense}, filter=flt, limit=10))
        recall["dense"].append(overlap(got["dense"], exact["dense"][qi][:10]))
        recall["dense_filtered"].append(overlap(dense_f, exact["dense_f"][qi][:10]))
        for mode, suffix, sflt in (("hybrid", "", StoreFilter()), ("hybrid_filtered", "_f", flt)):
            bm = store.search(HybridQuery(sparse={BM25: sparse}, filter=sflt, limit=TOP)) if sparse.indices else []
            lists = [as_records(exact["dense" + suffix][qi]), as_records(exact["xling" + suffix][qi]), bm]
            ideal = rrf_fuse([lst for lst in lists if lst], [1.0] * sum(1 for lst in lists if lst), 10)
            recall[mode].append(overlap(got[mode], np.array([index_of(r.id) for r in ideal])))
        if qi % 50 == 49:
            print(f"[{args.setting}] searched {qi + 1}/{len(data['queries'])}", flush=True)
    after = rss()
    store.close()
    return {
        "size": args.size, "setting": args.setting, "open_s": round(open_s, 2),
        "rss_mib": {"before_open": before, "after_open": after_open, "after_searches": after},
        "latency": {m: percentiles(times[m]) for m in modes},
        "recall_at_10": {m: round(float(np.mean(v)), 4) for m, v in recall.items()},
        "queries": len(data["queries"]),
    }


def as_records(indices: np.ndarray) -> list:
    from paperlens.index.store import ScoredRecord

    # Exact lists are already in score order; rrf_fuse re-sorts by score, so give rank-decreasing scores.
    return [ScoredRecord(point_id(int(i)), float(len(indices) - r), {}) for r, i in enumerate(indices)]


def overlap(records: list, truth: np.ndarray) -> float:
    if not len(truth):
        return 1.0
    return len({index_of(r.id) for r in records[:10]} & {int(i) for i in truth[:10]}) / min(10, len(truth))


# --- the orchestrator ---------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("phase", nargs="?", choices=["build", "search"], help=argparse.SUPPRESS)
    parser.add_argument("--sizes", default="1M,3M", help="comma-separated chunk counts (20k, 1M, 3M)")
    parser.add_argument("--settings", default=",".join(SETTINGS), help=f"comma-separated, of {', '.join(SETTINGS)}")
    parser.add_argument("--base", type=int, default=4000, help="real records whose MiniLM vectors seed the chunks")
    parser.add_argument("--queries", type=int, default=200, help="held-out titles searched")
    parser.add_argument("--noise", type=float, default=0.6, help="sigma of the noise around a base vector")
    parser.add_argument("--work", default="/tmp/paperlens_scale", help="where the collections are built")
    parser.add_argument("--keep", action="store_true", help="keep each collection after it is measured")
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--setting", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        write_json(args.out, (build if args.phase == "build" else search)(args))
        return
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    settings = [s for s in args.settings.split(",") if s]
    unknown = set(settings) - set(SETTINGS)
    if unknown:
        sys.exit(f"unknown settings {sorted(unknown)}; choose from {', '.join(SETTINGS)}")
    base_data(args.base, args.queries)  # embedded once, before any timing
    summary = {"machine": machine(), "args": {k: v for k, v in vars(args).items() if k != "out"}, "runs": []}
    script = Path(__file__).resolve()
    common = ["--base", str(args.base), "--queries", str(args.queries), "--noise", str(args.noise), "--work", args.work]
    for size in [size_arg(s) for s in args.sizes.split(",")]:
        for setting in settings:
            tag = f"scale-{size}-{setting}"
            one = ["--size", str(size), "--setting", setting, *common]
            built = run_variant(script, ["build", *one], RESULTS / f"{tag}-build.json")
            searched = run_variant(script, ["search", *one], RESULTS / f"{tag}-search.json")
            run = {**built, **searched, "machine_after": machine()}
            write_json(RESULTS / f"{tag}.json", run)
            summary["runs"].append(run)
            write_json(RESULTS / "scale.json", summary)
            lat, rec = run["latency"], run["recall_at_10"]
            print(f"== {size:,} chunks, {setting}: build {run['build_wall_s']} s (optimize {run['optimize_s']} s), "
                  f"disk {run['disk_mib']} MiB, RSS after searches {run['rss_mib']['after_searches']}, "
                  f"p50/p95 ms dense {lat['dense']['p50_ms']}/{lat['dense']['p95_ms']} hybrid "
                  f"{lat['hybrid']['p50_ms']}/{lat['hybrid']['p95_ms']} filtered {lat['hybrid_filtered']['p50_ms']}/"
                  f"{lat['hybrid_filtered']['p95_ms']}, recall@10 {rec}", flush=True)
            if not args.keep:
                shutil.rmtree(Path(args.work) / f"{size}-{setting}", ignore_errors=True)
    print(f"results: {RESULTS / 'scale.json'}")


if __name__ == "__main__":
    main()
