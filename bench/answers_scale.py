"""Extractive answer latency at scale: compare, roundup, ask and summarize over the 10k-chunk
index of bench/search_bench.py (3,645 arXiv papers from ../shared/corpus/arxiv, title + abstract
each), timed in one process with the real query models. The target: under 2 s at 1,000 papers.

    .venv/bin/python bench/answers_scale.py [--index 10k:static] [--repeat 3]

The index's stored dense vectors come from the static model of search_bench.py (said in its
docstring); queries, the checker and the roundup's theme grouping use the real MiniLM and e5.
Results: bench/results/answers-scale.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import RESULTS, machine, write_json
from load_test import ensure_index

COMPARE = ["diffusion super-resolution", "video generation with motion control", "text-to-image personalization",
           "3D Gaussian splatting", "vision-language model hallucination"]
ROUNDUP = ["diffusion models", "video generation", "图像编辑"]  # over a week, two weeks, a month of the index
ASK = ["How can diffusion models perform super-resolution in one step?", "What is the boiling point of tungsten?",
       "Which methods reduce hallucination in vision-language models?"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--index", default="10k:static")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    from paperlens.answer.service import Answerer
    from paperlens.ingest.pipeline import open_library
    from paperlens.settings import Settings

    src = ensure_index(args.index)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        shutil.copytree(src, data, ignore=shutil.ignore_patterns("paperlens.lock", "build.json"))
        settings = Settings(_env_file=None, data_dir=data, rate_limit_per_minute=0)
        with open_library(settings) as lib:
            papers = lib.catalog.count_papers()
            ans = Answerer(lib, settings)
            ans.ask("warm-up question about diffusion")  # loads both query models
            calls = [("compare", q, lambda q=q: ans.compare(q)) for q in COMPARE]
            # Windows start at the index's median date, so they hold papers whatever dump built it.
            dates = sorted(p["date"] for p in lib.catalog.iter_papers() if p.get("date"))
            start = dt.date.fromisoformat(dates[len(dates) // 2])
            windows = [(start, start + dt.timedelta(days=d)) for d in (6, 13, 30)]
            calls += [("roundup", f"{t} {a}..{b}", lambda t=t, a=a, b=b: ans.roundup(t, a.isoformat(), b.isoformat()))
                      for t, (a, b) in zip(ROUNDUP, windows)]
            calls += [("ask", q, lambda q=q: ans.ask(q)) for q in ASK]
            ids = [p["paper_id"] for p in lib.catalog.papers(limit=5, offset=100)]
            calls += [("summarize", pid, lambda pid=pid: ans.summarize(pid)) for pid in ids]
            rows = []
            for endpoint, what, fn in calls:
                times, out = [], None
                for _ in range(args.repeat):
                    t = time.perf_counter()
                    out = fn()
                    times.append(time.perf_counter() - t)
                size = len(out.get("rows") or [p for th in out.get("themes", []) for p in th["papers"]] or out.get("sentences") or [])
                rows.append({"endpoint": endpoint, "what": what, "median_s": round(statistics.median(times), 3),
                             "max_s": round(max(times), 3), "items": size})
                print(f"{endpoint:9} {statistics.median(times):6.2f} s  {size:3} items  {what}", file=sys.stderr)
    result = {"index": args.index, "papers": papers, "machine": machine(), "rows": rows,
              "max_median_s": max(r["median_s"] for r in rows)}
    write_json(RESULTS / "answers-scale.json", result)
    print(f"{papers} papers; slowest median {result['max_median_s']} s")


if __name__ == "__main__":
    main()
