"""The libraries the paper finder is measured on (bench/eval_finder.py): the corpus alone, and the
corpus among ~2,000 arXiv records of the shared dump chosen as distractors.

    .venv/bin/python bench/finder_library.py            # builds both once into bench/_data/finder/
    .venv/bin/python bench/finder_library.py --rebuild  # from scratch

The distractors are chosen reproducibly (a seeded RNG over the dump in file order, newest version
of each id, as the ingest keeps them): records from pools of on-topic-looking and near-miss
subjects of the evaluation's questions (super-resolution, restoration, medical imaging, video,
editing, text-to-image, 3D, autoregressive, attention, diffusion), so that a finder meets real
papers on its topics and papers that only look like them, plus a random background of the rest.
The dump is 2025-03 .. 2026-07, later than every corpus paper, so its on-topic records are papers
a correct answer must list too (their labels are in bench/finder_questions.json).

Ingesting ~2,000 records takes several minutes on 2 loaded cores (each record is a title chunk and
one or two abstract chunks, embedded by MiniLM and the cross-lingual model); it is done once, the
corpus library first and the large one as a copy of it plus the records.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import shutil
import sys
import time
from pathlib import Path

from common import ROOT, corpus_dir

DATA = ROOT / "bench" / "_data" / "finder"
DUMP = "arxiv/arxiv_cs_cv_cl_2025-2026.jsonl.gz"
SEED = 11
TOTAL_RECORDS = 1970
# (name, pattern over lower-cased title + abstract, how many records to take from it)
POOLS: list[tuple[str, str, int]] = [
    ("super-resolution", r"super[- ]?resolution", 90),
    ("restoration", r"restor|denois|deblur|dehaz|inpaint", 60),
    ("medical", r"medical|\bmri\b|\bct\b|radiolog|patholog|clinical|x-ray|ultrasound", 90),
    ("video generation", r"video generation|text-to-video|image-to-video|video diffusion|video synthesis", 80),
    ("video other", r"\bvideo\b", 50),
    ("image editing", r"image editing|\bediting\b", 60),
    ("text-to-image", r"text-to-image|personaliz|subject-driven|customiz", 80),
    ("3d", r"gaussian splatting|\bnerf\b|3d generation|text-to-3d|3d reconstruction", 60),
    ("autoregressive", r"autoregressive", 50),
    ("attention", r"attention", 50),
    ("diffusion", r"diffusion", 200),
]


def select(dump: Path) -> list[dict]:
    """The distractor records, in a fixed order: same dump and seed, same records."""
    newest: dict[str, dict] = {}
    with gzip.open(dump, "rt", encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            newest[rec["id"]] = rec  # later lines are later crawls: the newest version wins
    ids = sorted(newest)
    text = {i: f"{newest[i].get('title', '')} {newest[i].get('summary', '')}".lower() for i in ids}
    rng = random.Random(SEED)
    chosen: list[str] = []
    taken: set[str] = set()
    for name, pattern, n in POOLS:
        rx = re.compile(pattern)
        pool = [i for i in ids if i not in taken and rx.search(text[i])]
        pick = rng.sample(pool, min(n, len(pool)))
        print(f"  pool {name!r}: {len(pool)} records, took {len(pick)}", file=sys.stderr)
        chosen += pick
        taken.update(pick)
    rest = [i for i in ids if i not in taken]
    chosen += rng.sample(rest, TOTAL_RECORDS - len(chosen))
    return [newest[i] for i in chosen]


def build(rebuild: bool = False) -> tuple[Path, Path]:
    """(corpus data dir, large data dir), built when missing."""
    from paperlens.ingest.pipeline import Ingestor, IngestRequest, open_library

    from paperlens.settings import Settings

    corpus_data, large_data = DATA / "corpus", DATA / "library"
    if rebuild and DATA.exists():
        shutil.rmtree(DATA)
    root = corpus_dir("")
    models = DATA / "models"

    def settings(path: Path) -> Settings:
        return Settings(_env_file=None, data_dir=path, models_dir=models, rate_limit_per_minute=0)

    def progress(event: dict) -> None:
        if event.get("phase") in ("start", "done", "embedding") or event.get("done", 0) % 200 == 0:
            print(f"  ingest {event}", file=sys.stderr, flush=True)

    if not (corpus_data / "built.json").exists():
        t = time.perf_counter()
        print("building the corpus library ...", file=sys.stderr, flush=True)
        with open_library(settings(corpus_data)) as lib:
            report = Ingestor(lib, settings(corpus_data), progress=progress).run(
                IngestRequest(paths=[root / "pdfs", root / "pdfs_odd", root / "seeds"]))
            lib.store.optimize()
            n = lib.catalog.count_papers()
        (corpus_data / "built.json").write_text(json.dumps(
            {"papers": n, "seconds": round(time.perf_counter() - t, 1), "counts": report.counts(),
             "sources": {Path(i.source).name: i.paper_id for i in report.items if i.kind == "pdf" and i.paper_id}},
            indent=1))
        print(f"corpus library: {n} papers in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    if not (large_data / "built.json").exists():
        t = time.perf_counter()
        records = select(root / DUMP)
        if large_data.exists():
            shutil.rmtree(large_data)
        shutil.copytree(corpus_data, large_data, ignore=shutil.ignore_patterns("paperlens.lock", "built.json"))
        dump = DATA / "distractors.jsonl.gz"
        with gzip.open(dump, "wt", encoding="utf-8") as fh:
            for rec in records:
                fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
        print(f"ingesting {len(records)} arXiv records ...", file=sys.stderr, flush=True)
        with open_library(settings(large_data)) as lib:
            report = Ingestor(lib, settings(large_data), progress=progress).run(IngestRequest(paths=[dump]))
            lib.store.optimize()
            n = lib.catalog.count_papers()
        built = json.loads((corpus_data / "built.json").read_text())
        (large_data / "built.json").write_text(json.dumps(
            {"papers": n, "records": len(records), "seconds": round(time.perf_counter() - t, 1),
             "counts": report.counts(), "sources": built["sources"]}, indent=1))
        print(f"large library: {n} papers in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    return corpus_data, large_data


def sources(data_dir: Path) -> dict[str, str]:
    """PDF file name -> paper id in a library built here."""
    return json.loads((data_dir / "built.json").read_text())["sources"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rebuild", action="store_true")
    args = ap.parse_args()
    corpus, large = build(args.rebuild)
    print(corpus, large)


if __name__ == "__main__":
    main()
