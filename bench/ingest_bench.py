"""Ingest throughput: the product pipeline against a naive serial loop, on the real PDFs.

    .venv/bin/python bench/ingest_bench.py            # all PDFs in ../shared/corpus/pdfs
    .venv/bin/python bench/ingest_bench.py --quick    # 4 small PDFs, a smoke run

Variants, each in its own fresh process (own peak memory, no warm caches shared):

- ``naive``: one paper at a time: PyMuPDF ``get_text()`` per page -> the product's chunker over
  one block per page (same token bound and overlap) -> ``encode`` of that paper's chunks with the
  same MiniLM model -> upsert of dense vectors into an EdgeStore; one flush at the end.
- ``product``: ``Ingestor.run`` (PDF parsing in child processes overlapping with embedding,
  cross-paper length-sorted batches, batched upserts, BM25 vectors, catalog), with the
  cross-lingual model off (``xling_model=''``) and on (the default).
  Its backend is the default, ``embed_backend='auto'``: int8 ONNX on a CPU, torch on CUDA.
- ``product-...@torch`` / ``@onnx`` / ``@onnx-int8``: the same with that ``embed_backend`` ('onnx':
  MiniLM exported to ONNX, run by ONNX Runtime; 'onnx-int8': that export, int8-quantized). The
  export is made once per data dir; here each run starts from an empty data dir, so the export is
  part of its model load time, which stays out of the rates. The naive loop is torch, the way a
  plain script would run the model; ``naive@onnx-int8`` runs it with the int8 model instead.
- ``parse``: ``parse_many`` alone, to show how much of the product's time is parsing.

Model loading is timed apart and left out of the rates. Results: bench/results/ingest.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from common import RESULTS, PeakMemory, corpus_dir, machine, run_variant, write_json

QUICK_PDFS = ["gan_goodfellow_2014.pdf", "sr_san_second_order_attention.pdf", "ella.pdf", "zh_ode_notes.pdf"]
WARMUP_TEXTS = ["Diffusion models denoise a noisy image step by step."] * 16


def pdf_paths(quick: bool, exclude_long: bool) -> list[Path]:
    folder = corpus_dir("pdfs")
    paths = sorted(folder.glob("*.pdf"))
    if quick:
        paths = [folder / name for name in QUICK_PDFS]
    if exclude_long:
        paths = [p for p in paths if page_count(p) <= 100]
    return paths


def page_count(path: Path) -> int:
    # The naive baseline is the only bench code that needs PyMuPDF; the product imports it in
    # ingest/pdf/spans.py alone.
    import pymupdf

    with pymupdf.open(path) as doc:
        return doc.page_count


# --- variants (each runs in its own process) ---------------------------------------------------


def run_naive(paths: list[Path], settings_kw: dict) -> dict:
    import pymupdf
    from paperlens.index.edge_store import EdgeStore
    from paperlens.index.embedder import Embedder
    from paperlens.index.store import BM25, DENSE, StoredPoint, StoreSpec
    from paperlens.ingest.chunker import chunk_document

    from paperlens.models import Block, Document, PaperMeta, paper_id_for_bytes
    from paperlens.settings import Settings

    settings = Settings(**settings_kw)
    tmp = Path(tempfile.mkdtemp(prefix="paperlens-naive-"))
    t0 = time.perf_counter()
    # torch unless the variant names a backend (naive@onnx-int8: the same loop with the int8 model,
    # to tell what the encoder gains from what the pipeline gains)
    backend = settings_kw.get("embed_backend", "torch")
    embedder = Embedder(settings.embed_model, "cpu", settings.embed_batch_size, backend=backend, cache_dir=tmp / "models")
    embedder.encode(WARMUP_TEXTS)
    load_s = time.perf_counter() - t0
    count = embedder.token_counter()
    spec = StoreSpec("naive", {DENSE: embedder.dim}, [BM25], "naive")
    phases = {"extract": 0.0, "chunk": 0.0, "encode": 0.0, "upsert": 0.0}
    pages = chunks = chars = 0
    try:
        with PeakMemory() as mem:
            store = EdgeStore(tmp / "store", spec)
            started = time.perf_counter()
            for path in paths:
                t = time.perf_counter()
                data = path.read_bytes()
                with pymupdf.open(stream=data, filetype="pdf") as pdf:
                    blocks = [Block(page.get_text(), i + 1, "") for i, page in enumerate(pdf)]
                pages += len(blocks)
                doc = Document(
                    meta=PaperMeta(paper_id=paper_id_for_bytes(data)), kind="pdf",
                    blocks=[b for b in blocks if b.text.strip()], source=str(path), content_hash="naive",
                )
                t1 = time.perf_counter()
                pieces = chunk_document(
                    doc, rev="naive", max_tokens=settings.chunk_tokens,
                    overlap_tokens=settings.chunk_overlap_tokens, count_tokens=count,
                ) if doc.blocks else []
                t2 = time.perf_counter()
                vecs = embedder.encode([c.text for c in pieces])
                t3 = time.perf_counter()
                store.upsert([
                    StoredPoint(c.chunk_id, {DENSE: v.tolist()}, {}, {"paper_id": c.paper_id, "text": c.text,
                                                                   "page_start": c.page_start})
                    for c, v in zip(pieces, vecs)
                ])
                t4 = time.perf_counter()
                phases["extract"] += t1 - t
                phases["chunk"] += t2 - t1
                phases["encode"] += t3 - t2
                phases["upsert"] += t4 - t3
                chunks += len(pieces)
                chars += sum(len(c.text) for c in pieces)
                print(f"  naive {path.name}: {len(blocks)} pages, {len(pieces)} chunks", flush=True)
            t = time.perf_counter()
            store.flush()
            phases["upsert"] += time.perf_counter() - t
            wall = time.perf_counter() - started
            stored = store.count()
            store.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {
        "variant": "naive", "embed_backend": backend, "papers": len(paths), "pages": pages, "chunks": chunks, "chunk_chars": chars,
        "stored_points": stored, "wall_s": round(wall, 2), "model_load_s": round(load_s, 2),
        "phases_s": {k: round(v, 2) for k, v in phases.items()}, **mem.report(),
    }


def run_product(paths: list[Path], settings_kw: dict) -> dict:
    from paperlens.ingest.pipeline import Ingestor, IngestRequest, open_library

    from paperlens.settings import Settings

    tmp = Path(tempfile.mkdtemp(prefix="paperlens-product-"))
    settings = Settings(**settings_kw, data_dir=tmp)
    events: list[tuple[float, str]] = []
    try:
        with PeakMemory() as mem:
            t0 = time.perf_counter()
            library = open_library(settings)
            backend = library.embedder.backend  # 'auto' resolved: int8 on a CPU, torch on CUDA
            library.embedder.encode(WARMUP_TEXTS)
            if library.xling:
                library.xling.encode_passages(WARMUP_TEXTS[:2])
            load_s = time.perf_counter() - t0
            ingestor = Ingestor(
                library, settings,
                progress=lambda e: events.append((time.perf_counter(), e["phase"])) or (
                    e["phase"] == "progress" and print(f"  product {e['done']}/{e['total']} {e.get('current', '')}",
                                                       flush=True)),
            )
            started = time.perf_counter()
            report = ingestor.run(IngestRequest(paths=list(paths)))
            wall = time.perf_counter() - started
            stored = library.store.count()
            chars, xling_points = _stored_stats(library)
            library.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    items = report.items
    return {
        "variant": "product", "xling_model": settings.xling_model, "embed_backend": backend,
        "papers": len(paths),
        "counts": report.counts(), "chunks": sum(i.chunks for i in items),
        "stored_points": stored, "xling_points": xling_points,
        "chunk_chars": chars, "wall_s": round(wall, 2), "model_load_s": round(load_s, 2),
        "embed_batches": sum(1 for _, phase in events if phase == "embedding"),
        "parse_workers": settings.resolved_parse_workers, **mem.report(),
    }


def _stored_stats(library) -> tuple[int, int]:
    """(characters of chunk text, chunks that got the cross-lingual vector) over the whole store."""
    from paperlens.index.store import StoreFilter

    chars = xling = 0
    offset = None
    while True:
        page, offset = library.store.scroll(StoreFilter(), limit=1024, offset=offset)
        for r in page:
            chars += len(r.payload.get("text", ""))
            # the payload says which chunks the library gives the cross-lingual vector
            xling += bool(library.xling and (r.payload.get("is_summary") or r.payload.get("lang") == "zh"))
        if offset is None:
            return chars, xling


def run_parse(paths: list[Path], settings_kw: dict) -> dict:
    from paperlens.ingest.pdf import parse_many

    from paperlens.settings import Settings

    s = Settings(**settings_kw)
    with PeakMemory() as mem:
        started = time.perf_counter()
        blocks = chars = 0
        for _, doc in parse_many(paths, workers=s.resolved_parse_workers, timeout_s=s.parse_timeout_s,
                                 memory_mb=s.parse_memory_mb, max_pages=s.max_pages):
            if not isinstance(doc, Exception):
                blocks += len(doc.blocks)
                chars += sum(len(b.text) for b in doc.blocks)
        wall = time.perf_counter() - started
    return {"variant": "parse", "papers": len(paths), "blocks": blocks, "text_chars": chars,
            "wall_s": round(wall, 2), "parse_workers": s.resolved_parse_workers, **mem.report()}


# --- driver -------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="4 small PDFs: a smoke run")
    ap.add_argument("--exclude-long", action="store_true", help="leave out the PDFs over 100 pages")
    ap.add_argument("--variants", default="parse,naive,product-noxling,product-xling",
                    help="comma-separated subset of parse, naive, product-noxling, product-xling; a product "
                         "variant may name a backend: product-xling@onnx, product-noxling@onnx-int8")
    ap.add_argument("--tag", default="", help="suffix of the results file (ingest-TAG.json), to keep runs apart")
    ap.add_argument("--variant", help=argparse.SUPPRESS)  # internal: run one variant in this process
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()

    paths = pdf_paths(args.quick, args.exclude_long)
    if args.variant:
        name, _, backend = args.variant.partition("@")
        kw = {"xling_model": ""} if name in ("product-noxling", "naive") else {}
        if backend:
            kw["embed_backend"] = backend
        runner = {"naive": run_naive, "product-noxling": run_product, "product-xling": run_product,
                  "parse": run_parse}[name]
        write_json(args.out, runner(paths, kw))
        return

    pages = {p.name: page_count(p) for p in paths}
    total_pages = sum(pages.values())
    print(f"{len(paths)} PDFs, {total_pages} pages", flush=True)
    info = machine()
    results = {}
    flags = (["--quick"] if args.quick else []) + (["--exclude-long"] if args.exclude_long else [])
    for name in args.variants.split(","):
        r = run_variant(Path(__file__), [*flags, "--variant", name], RESULTS / "tmp" / f"ingest-{name}.json")
        r["pages"] = total_pages
        if r.get("wall_s"):
            r["pages_per_s"] = round(total_pages / r["wall_s"], 2)
            if r.get("chunks"):
                r["chunks_per_s"] = round(r["chunks"] / r["wall_s"], 2)
        results[name] = r
        print(json.dumps({k: v for k, v in r.items() if not isinstance(v, dict)}), flush=True)
    ratios = {}
    naives = {n: r for n, r in results.items() if n.startswith("naive")}
    for name in results:
        for naive_name, naive in naives.items():
            if name.startswith("product"):
                ratios[f"{name}_vs_{naive_name}_pages_per_s"] = round(
                    results[name]["pages_per_s"] / naive["pages_per_s"], 2)
    out = {"machine": info, "loadavg_after": machine()["loadavg_1_5_15"], "quick": args.quick,
           "pdfs": pages, "results": results, "ratios": ratios, "command": " ".join(sys.argv)}
    stem = "ingest-quick" if args.quick else "ingest"
    path = write_json(RESULTS / (f"{stem}-{args.tag}.json" if args.tag else f"{stem}.json"), out)
    print("\nratios:", json.dumps(ratios), f"\nwritten {path}", flush=True)


if __name__ == "__main__":  # parse_many starts forkserver children: they re-import this module
    main()
