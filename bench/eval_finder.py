"""Paper finding for comparisons and roundups: recall of the papers a correct answer must list,
precision of what is listed, and latency, for three finders over two libraries.

    .venv/bin/python bench/finder_library.py          # once: builds bench/_data/finder/{corpus,library}
    .venv/bin/python bench/eval_finder.py             # all questions, both libraries -> bench/results/finder.json
    .venv/bin/python bench/eval_finder.py --split held-out --library library
    .venv/bin/python bench/eval_finder.py --pool /tmp/pool.md   # lists every unlabelled paper any finder lists

Finders: (a) `today`: Evidence.find_papers as compare and roundup call it now (their 40-paper
limit); (b) `search50`: the papers of /api/search's top 50 hits (Library.search, k=50, the same
filters); (c) `finder`: answer/finder.py, every paper it matched (not only the shown ones).

Questions and labels: bench/finder_questions.json. Each question labels papers 1 (on the topic:
a correct answer must list it) or 0 (not on it), by paper id or `file:<pdf name>`. Recall is over
the papers labelled 1 that the library holds (and, for a roundup, whose first submission lies in
its window); precision over the listed papers that are labelled; a listed paper with no label is
counted and reported as unjudged (`--pool` prints them for labelling). Questions marked
`held-out` were written and labelled without running the finder on them while it was developed.

Timing: wall time per question of each finder in this process, models loaded and warmed up
first; the finder's one-time work per library (per-paper profiles, summary vectors of PDF-only
papers: PaperFinder.warm) is timed apart. On a machine shared with other work the times are loaded figures: re-run it quiet with
nothing else running (`uptime` before and after; the script records the load average).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from common import RESULTS, machine, write_json
from finder_library import DATA, build, sources

HERE = Path(__file__).resolve().parent
QUESTIONS = HERE / "finder_questions.json"
FINDERS = ("today", "search50", "finder")


def load_questions() -> list[dict]:
    raw = json.loads(QUESTIONS.read_text(encoding="utf-8"))
    qs = raw["questions"]
    ids = [q["id"] for q in qs]
    if len(ids) != len(set(ids)):
        raise SystemExit(f"{QUESTIONS}: question ids repeat")
    return qs


def resolve_labels(q: dict, files: dict[str, str]) -> dict[str, int]:
    out = {}
    for ref, v in q.get("labels", {}).items():
        pid = files.get(ref[5:]) if ref.startswith("file:") else ref
        if pid:
            out[pid] = int(v)
    return out


def run_library(name: str, data_dir: Path, questions: list[dict], pool: list[str], warm_up: dict) -> list[dict]:
    from paperlens.answer.evidence import Evidence
    from paperlens.answer.finder import PaperFinder
    from paperlens.answer.published import in_window
    from paperlens.ingest.pipeline import open_library

    from paperlens.models import SearchFilters
    from paperlens.settings import Settings

    settings = Settings(_env_file=None, data_dir=data_dir, models_dir=DATA / "models", rate_limit_per_minute=0)
    files = sources(data_dir)
    rows = []
    with open_library(settings) as lib:
        n_papers = lib.catalog.count_papers()
        metas = {m["paper_id"]: m for m in lib.catalog.iter_papers()}
        evidence = Evidence(lib)
        finder = PaperFinder(lib, settings)
        lib.search("warm-up query about diffusion models", k=5)  # loads both query models
        t = time.perf_counter()
        finder.warm()
        profile_s = time.perf_counter() - t
        print(f"[{name}] {n_papers} papers; finder warmed (profiles, PDF summary vectors) in {profile_s:.2f} s",
              file=sys.stderr, flush=True)
        warm_up[name] = round(profile_s, 2)
        for q in questions:
            f = SearchFilters(date_from=q.get("date_from"), date_to=q.get("date_to"))
            labels = resolve_labels(q, files)
            must = {pid for pid, v in labels.items() if v == 1 and pid in metas
                    and in_window(metas[pid], f.date_from, f.date_to)}
            runs: dict[str, tuple[list[str], float]] = {}
            t = time.perf_counter()
            _, matches = evidence.find_papers(q["query"], f, limit=40)
            runs["today"] = ([m.paper_id for m in matches], time.perf_counter() - t)
            t = time.perf_counter()
            hits = lib.search(q["query"], k=50, filters=f)
            runs["search50"] = (list(dict.fromkeys(h.paper_id for h in hits)), time.perf_counter() - t)
            t = time.perf_counter()
            found = finder.find(q["query"], f)
            runs["finder"] = ([p.paper_id for p in found.papers], time.perf_counter() - t)
            row = {"library": name, "papers": n_papers, "id": q["id"], "kind": q["kind"], "lang": q["lang"],
                   "length": q["length"], "split": q["split"], "query": q["query"], "must": len(must)}
            for fname, (listed, secs) in runs.items():
                judged = [p for p in listed if p in labels]
                unjudged = [p for p in listed if p not in labels]
                hit = must & set(listed)
                row[fname] = {
                    "listed": len(listed), "recall": (len(hit) / len(must)) if must else None,
                    "precision": (sum(labels[p] for p in judged) / len(judged)) if judged else None,
                    "unjudged": len(unjudged), "seconds": round(secs, 3),
                    "missed": sorted(must - set(listed)),
                    "wrong": [p for p in judged if labels[p] == 0],
                }
                for p in unjudged:
                    m = metas.get(p, {})
                    pool.append(f"{q['id']}\t{p}\t{fname}\t{m.get('date')}\t{m.get('title', '')}\t{(m.get('abstract') or '')[:400]}")
            # Near misses of the finder (considered, not matched) go to the pool too, so that a
            # paper every finder misses can still be labelled on topic and counted as missed.
            row["finder"]["considered"] = found.considered
            for p, _ in found.near_misses:
                if p not in labels:
                    m = metas.get(p, {})
                    pool.append(f"{q['id']}\t{p}\tnear\t{m.get('date')}\t{m.get('title', '')}\t{(m.get('abstract') or '')[:400]}")
            rows.append(row)
            print(f"[{name}] {q['id']:4} must {len(must):3} | " + " | ".join(
                f"{k} {_fmt(row[k]['recall'])}/{_fmt(row[k]['precision'])} n={row[k]['listed']} "
                f"u={row[k]['unjudged']} {row[k]['seconds']:.2f}s" for k in FINDERS), file=sys.stderr, flush=True)
    return rows


def _fmt(x: float | None) -> str:
    return "  - " if x is None else f"{x:.2f}"


def summarize(rows: list[dict]) -> list[dict]:
    """Mean recall and precision (over questions) and latency per library, split, kind, language."""
    out = []
    keys = sorted({(r["library"], r["split"], r["kind"], r["lang"]) for r in rows})
    keys += sorted({(r["library"], r["split"], "all", "all") for r in rows})
    for lib, split, kind, lang in keys:
        sel = [r for r in rows if r["library"] == lib and r["split"] == split
               and (kind == "all" or r["kind"] == kind) and (lang == "all" or r["lang"] == lang)]
        entry = {"library": lib, "split": split, "kind": kind, "lang": lang, "questions": len(sel)}
        for f in FINDERS:
            rec = [r[f]["recall"] for r in sel if r[f]["recall"] is not None]
            pre = [r[f]["precision"] for r in sel if r[f]["precision"] is not None]
            secs = [r[f]["seconds"] for r in sel]
            entry[f] = {"recall": round(statistics.fmean(rec), 3) if rec else None,
                        "precision": round(statistics.fmean(pre), 3) if pre else None,
                        "p50_s": round(statistics.median(secs), 3), "max_s": round(max(secs), 3),
                        "unjudged": sum(r[f]["unjudged"] for r in sel)}
        out.append(entry)
    return out


def markdown(summary: list[dict]) -> str:
    lines = ["| library | split | kind | lang | n | today R / P | search top-50 R / P | finder R / P | finder p50 / max s |",
             "|---|---|---|---|---:|---|---|---|---|"]
    for e in summary:
        cells = [f"{_fmt(e[f]['recall'])} / {_fmt(e[f]['precision'])}" for f in FINDERS]
        lines.append(f"| {e['library']} | {e['split']} | {e['kind']} | {e['lang']} | {e['questions']} | "
                     + " | ".join(cells) + f" | {e['finder']['p50_s']:.2f} / {e['finder']['max_s']:.2f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--library", choices=["corpus", "library", "both"], default="both")
    ap.add_argument("--split", choices=["dev", "held-out", "all"], default="all")
    ap.add_argument("--only", default="", help="comma-separated question ids")
    ap.add_argument("--pool", type=Path, help="write the listed papers that have no label to this file")
    ap.add_argument("--tag", default="")
    args = ap.parse_args()
    questions = [q for q in load_questions() if args.split in ("all", q["split"])]
    if args.only:
        questions = [q for q in questions if q["id"] in args.only.split(",")]
    corpus_dir, large_dir = build()
    before = machine()
    pool: list[str] = []
    warm_up: dict[str, float] = {}
    rows = []
    if args.library in ("corpus", "both"):
        rows += run_library("corpus", corpus_dir, questions, pool, warm_up)
    if args.library in ("library", "both"):
        rows += run_library("library", large_dir, questions, pool, warm_up)
    summary = summarize(rows)
    result = {"machine_before": before, "machine_after": machine(), "warm_up_s": warm_up, "rows": rows,
              "summary": summary}
    out = write_json(RESULTS / f"finder{'-' + args.tag if args.tag else ''}.json", result)
    print(markdown(summary))
    print(f"results: {out}; load average before {before['loadavg_1_5_15']}, after {result['machine_after']['loadavg_1_5_15']}")
    if args.pool:
        args.pool.write_text("\n".join(sorted(set(pool))) + "\n", encoding="utf-8")
        print(f"{len(set(pool))} unjudged listings written to {args.pool}")


if __name__ == "__main__":
    main()
