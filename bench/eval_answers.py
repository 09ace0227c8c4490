"""Grounded answers on the real corpus: coverage of the papers a correct answer must include,
citation verification rate (quotes found verbatim in the chunk text the store returns), dropped-
claim rate (sentences the checker removed / sentences checked) and latency, per endpoint and backend.

    .venv/bin/python bench/eval_answers.py                       # extractive, all questions
    .venv/bin/python bench/eval_answers.py --backend llamacpp --llm-model qwen2.5-0.5b --limit 2
    .venv/bin/python bench/eval_answers.py --data-dir DIR        # reuse a library of the corpus

The library is the corpus (PDFs, odd PDFs, digest pages) ingested with the real models; it is
built under bench/results/answers-lib/ when --data-dir is not given (a few minutes, once).
Results: bench/results/answers-<backend>.json (answers-<backend>-<tag>.json with --tag).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from common import RESULTS, fill_corpus_library, machine, write_json

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", type=Path, default=RESULTS / "answers-lib")
    ap.add_argument("--backend", default="extractive", choices=["extractive", "llamacpp", "openai"])
    ap.add_argument("--llm-model", default="qwen2.5-1.5b")
    ap.add_argument("--llm-threads", type=int, default=0)
    ap.add_argument("--limit", type=int, default=0, help="questions per kind (0: all)")
    ap.add_argument("--tag", default="", help="suffix of the results file (answers-<backend>-<tag>.json)")
    args = ap.parse_args()

    from paperlens.answer.citation import iter_citations
    from paperlens.answer.llm import open_llm
    from paperlens.answer.service import Answerer
    from paperlens.ingest.pipeline import open_library
    from paperlens.settings import Settings

    settings = Settings(_env_file=None, data_dir=args.data_dir, answer_backend=args.backend, llm_model=args.llm_model,
                        llm_threads=args.llm_threads, rate_limit_per_minute=0)
    questions = json.loads((HERE / "eval_questions.json").read_text(encoding="utf-8"))
    lim = (lambda xs: xs[: args.limit]) if args.limit else (lambda xs: xs)
    with open_library(settings) as lib:
        fill_corpus_library(lib, settings)
        t = time.perf_counter()
        ans = Answerer(lib, settings, open_llm(settings))
        load_s = time.perf_counter() - t

        def pid(ref: str) -> str:
            if ":" in ref:
                return ref
            ids = lib.catalog.papers_from_source(ref)
            assert len(ids) == 1, (ref, ids)
            return ids[0]

        def verify(out) -> tuple[int, int]:
            ok = n = 0
            for c in iter_citations(out):
                n += 1
                try:
                    chunk = lib.chunk(c["chunk_id"])
                except Exception:
                    continue
                ok += int(c["quote"] in chunk["text"] and chunk["paper_id"] == c["paper_id"])
            return ok, n

        rows = []

        def covered(endpoint: str, q: dict, what: str, call, papers_of) -> None:
            """Time one comparison or roundup and score it against the papers it must include."""
            t = time.perf_counter()
            out = call()
            dt = time.perf_counter() - t
            got, must = papers_of(out), {pid(m) for m in q["must"]}
            ok, n = verify(out)
            rows.append({"endpoint": endpoint, "q": what, "coverage": len(must & got) / len(must), "missing": sorted(must - got),
                         "rows": len(got), "citations": n, "verified": ok, **out["check"], "seconds": dt})

        for q in lim(questions["compare"]):
            covered("compare", q, q["query"], lambda q=q: ans.compare(q["query"]),
                    lambda out: {r["paper_id"] for r in out["rows"]})
        for q in lim(questions["roundup"]):
            covered("roundup", q, q["topic"], lambda q=q: ans.roundup(q["topic"], q.get("date_from"), q.get("date_to")),
                    lambda out: {p["paper_id"] for th in out["themes"] for p in th["papers"]})
        for q in lim(questions["ask"]):
            t = time.perf_counter()
            out = ans.ask(q["question"])
            dt = time.perf_counter() - t
            ok, n = verify(out)
            rows.append({"endpoint": "ask", "q": q["question"], "correct_abstain": out["answered"] == q["answerable"],
                         "citations": n, "verified": ok, **out["check"], "seconds": dt})
        papers = lib.catalog.papers(limit=1000)
        for p in lim([x for x in papers if "pdf" in x["documents"]][:8]):
            t = time.perf_counter()
            out = ans.summarize(p["paper_id"])
            dt = time.perf_counter() - t
            ok, n = verify(out)
            rows.append({"endpoint": "summarize", "q": p["paper_id"], "citations": n, "verified": ok, **out["check"], "seconds": dt})
    for r in rows:
        r.pop("reasons", None)
    summary = {}
    for ep in ("compare", "roundup", "ask", "summarize"):
        rs = [r for r in rows if r["endpoint"] == ep]
        if not rs:
            continue
        cit = sum(r["citations"] for r in rs)
        chk = sum(r["checked"] for r in rs)
        lat = sorted(r["seconds"] for r in rs)
        summary[ep] = {
            "questions": len(rs),
            "coverage": round(sum(r.get("coverage", 0) for r in rs) / len(rs), 3) if ep in ("compare", "roundup") else None,
            "abstain_correct": sum(r.get("correct_abstain", False) for r in rs) if ep == "ask" else None,
            "citations": cit, "verified_rate": round(sum(r["verified"] for r in rs) / cit, 4) if cit else None,
            "dropped_rate": round(sum(r["dropped"] for r in rs) / chk, 4) if chk else None,
            "latency_p50_s": round(lat[len(lat) // 2], 3), "latency_max_s": round(lat[-1], 3),
        }
    result = {"backend": ans.backend, "model_load_s": round(load_s, 2), "machine": machine(), "summary": summary, "rows": rows}
    out = write_json(RESULTS / f"answers-{args.backend}{'-' + args.tag if args.tag else ''}.json", result)
    print(json.dumps(summary, indent=1, ensure_ascii=False))
    print("written", out, file=sys.stderr)


if __name__ == "__main__":
    main()
