"""Retrieval quality on the real corpus, per search mode and per query category.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/eval_retrieval.py [--data-dir DIR] [--corpus DIR] [-k 10]

Ingests ../shared/corpus (pdfs/, pdfs_odd/, seeds/) with the product's own pipeline into DIR (a
temporary folder when not given; an existing DIR is reused: unchanged files are not re-embedded),
runs every query of bench/eval_queries.json in each mode (dense, bm25, xling, hybrid) and prints
recall@k and MRR as a Markdown table, plus the queries hybrid gets wrong.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from evaluation import (
    CATEGORIES,
    MODES,
    evaluate,
    failures,
    load_queries,
    machine,
    markdown,
)


def build(data_dir: Path, corpus: Path):
    """(library, report): the corpus ingested into data_dir exactly as `paperlens ingest` would."""
    from paperlens.ingest.pipeline import Ingestor, IngestRequest, open_library

    from paperlens.settings import Settings

    settings = Settings(data_dir=data_dir, _env_file=None)
    library = open_library(settings)
    report = Ingestor(library, settings).run(
        IngestRequest(paths=[corpus / "pdfs", corpus / "pdfs_odd", corpus / "seeds"])
    )
    library.store.optimize()
    return library, report


def fusion_searcher(
    library, *, rrf_k: int = 60, prefetch: int | None = None, xling_en: bool = True, dense_zh: bool = False,
    lane: bool = True, lane_weight: float | None = None, en_lane_weight: float | None = None, lane_titles: bool = True, cap: int | None = None,
):
    """Hybrid search re-done client side, so its knobs can be varied without touching the product.

    Each retriever ranks `prefetch` chunks on its own and the ranks are fused with RRF
    (1 / (rrf_k + rank), rank from 1), as Library.search does with the store's fusion: MiniLM
    for English queries (dense_zh: for Chinese ones too), e5 over all chunks (xling_en=False: for
    Chinese queries only), e5 over the other language's chunks only (lane, its RRF terms times
    lane_weight, or en_lane_weight for English queries; lane_titles=False skips bare 'Title' chunks in it), BM25; then at most `cap`
    chunks per paper. None means the product's setting."""
    from dataclasses import replace

    from paperlens.index.store import BM25, DENSE, XLING, HybridQuery

    from paperlens.text import is_cjk_heavy

    prefetch = prefetch or library.settings.search_prefetch
    lane_weight = library.settings.search_xling_lane_weight if lane_weight is None else lane_weight
    en_lane_weight = lane_weight if en_lane_weight is None else en_lane_weight
    cap = library.settings.search_max_chunks_per_paper if cap is None else cap

    def search(query: str, k: int) -> list[tuple[str, str]]:
        zh = is_cjk_heavy(query)
        flt = library.store_filter(None)
        runs = []  # (single-retriever query, weight)
        if not zh or dense_zh:
            runs.append((HybridQuery(dense={DENSE: library.embedder.encode_query(query).tolist()}, filter=flt), 1.0, True))
        if zh or xling_en:
            xq = library.xling.encode_query(query).tolist()
            runs.append((HybridQuery(dense={XLING: xq}, filter=flt), 1.0, True))
            if lane:
                other = replace(flt, langs=["en" if zh else "zh"])
                weight = lane_weight if zh else en_lane_weight
                runs.append((HybridQuery(dense={XLING: xq}, filter=other), weight, lane_titles))
        sv = library.bm25.encode_query(query)
        if sv.indices:
            runs.append((HybridQuery(sparse={BM25: sv}, filter=flt), 1.0, True))
        scores: dict[str, float] = {}
        payloads: dict[str, dict] = {}
        for q, weight, titles in runs:
            q.limit = q.prefetch_limit = max(prefetch, 3 * k)
            recs = [r for r in library.store.search(q) if titles or r.payload.get("section") != "Title"]
            for rank, rec in enumerate(recs, start=1):
                scores[rec.id] = scores.get(rec.id, 0.0) + weight / (rrf_k + rank)
                payloads[rec.id] = rec.payload
        ranked = sorted(scores, key=lambda c: (-scores[c], c))[: 3 * k if cap else k]
        out: list[tuple[str, str]] = []
        seen: dict[str, int] = {}
        for cid in ranked:
            pid = payloads[cid]["paper_id"]
            if cap and seen.get(pid, 0) >= cap:
                continue
            seen[pid] = seen.get(pid, 0) + 1
            out.append((pid, payloads[cid].get("title", "")))
        return out[:k]

    return search


# name -> fusion_searcher arguments; 'as product' must reproduce 'hybrid'.
VARIANTS: dict[str, dict] = {
    "as product": {},
    "no other-language lane": {"lane": False},
    "no e5 for English queries": {"xling_en": False},
    "MiniLM for Chinese queries too": {"dense_zh": True},
    "RRF k=10": {"rrf_k": 10},
    "RRF k=2": {"rrf_k": 2},
    "lane weight 1": {"lane_weight": 1.0},
    "lane weight 1.5": {"lane_weight": 1.5},
    "lane weight 3": {"lane_weight": 3.0},
    "no bare Title chunks in lane": {"lane_titles": False},
    "lane weight 1 for English queries": {"en_lane_weight": 1.0},
    "lane weight 1.5 for English queries": {"en_lane_weight": 1.5},
    "prefetch 20": {"prefetch": 20},
    "prefetch 150": {"prefetch": 150},
    "no chunk cap per paper": {"cap": 0},
    "1 chunk per paper": {"cap": 1},
}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, help="index folder to build or reuse (default: a temporary one)")
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    ap.add_argument("-k", type=int, default=10)
    ap.add_argument("--modes", default=",".join(MODES), help="comma-separated search modes")
    ap.add_argument("--experiments", action="store_true",
                    help="also compare variants of the hybrid fusion (RRF constant, prefetch, retrievers)")
    args = ap.parse_args(argv)
    if not args.corpus.is_dir():
        sys.exit(f"{args.corpus} not found: the evaluation needs the real corpus (--corpus DIR)")

    tmp = None
    if args.data_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="paperlens-eval-")
        args.data_dir = Path(tmp.name)
    queries = load_queries()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]

    t0 = time.perf_counter()
    library, report = build(args.data_dir.resolve(), args.corpus)
    t_build = time.perf_counter() - t0
    try:
        t0 = time.perf_counter()
        ev = evaluate(library, queries, report, modes=modes, k=args.k)
        t_eval = time.perf_counter() - t0
        variants = None
        if args.experiments:
            searchers = {name: fusion_searcher(library, **kw) for name, kw in VARIANTS.items()}
            variants = evaluate(library, queries, report, k=args.k, searchers=searchers)
        n_papers = library.catalog.count_papers()
    finally:
        library.close()
        if tmp:
            tmp.cleanup()

    counts = {c: sum(q.category == c for q in queries) for c in CATEGORIES}
    print("# Retrieval evaluation\n")
    print(f"- machine: {machine()} (nproc {os.cpu_count()})")
    print(f"- index: {n_papers} papers from {args.corpus}; ingest {t_build:.0f} s ({report.counts()})")
    print(f"- queries: {len(queries)} ({', '.join(f'{c}: {n}' for c, n in counts.items())}); "
          f"{len(queries) * len(modes)} searches in {t_eval:.1f} s\n")
    print(markdown(ev, modes))
    if "hybrid" in modes:
        print("\n## hybrid: queries with a missed or lower-ranked relevant paper\n")
        print(failures(ev, queries, "hybrid"))
    if variants:
        print("\n## hybrid fusion variants (client-side RRF over the same index)\n")
        print(markdown(variants, VARIANTS))


if __name__ == "__main__":  # PDF parsing runs in forkserver children that re-import __main__
    main()
