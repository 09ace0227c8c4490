"""Latency per answer task, through the service (the dicts the CLI prints) and through the HTTP API
(FastAPI's TestClient: request validation, the task, response validation and JSON), on the corpus
library bench/eval_answers.py builds (built here when absent). Each call is repeated and its median
taken; a task's figure is the sum of its calls' medians. To compare two commits, run it on each,
back to back:

    .venv/bin/python bench/answer_latency.py --tag after [--data-dir DIR] [--repeat 5]

Results: bench/results/answer-latency[-TAG].json; figures in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from common import RESULTS, fill_corpus_library, machine, write_json

PAPERS = ["sr_rcan.pdf", "ella.pdf", "dilightnet.pdf", "rethinking_fid_cmmd.pdf", "sr_espcn.pdf"]
COMPARE = ["compare image super-resolution methods", "diffusion-based image editing", "video generation"]
ROUNDUP = [{"topic": "diffusion", "date_from": "2024-08-01", "date_to": "2024-09-30"},
           {"topic": "image editing", "date_from": "2024-01-01"}]
ASK = ["What does RCAN use to rescale channel-wise features?", "What is the boiling point of tungsten?",
       "扩散模型如何用于图像超分辨率？"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", type=Path, default=RESULTS / "answers-lib")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--tag", default="")
    args = ap.parse_args()
    from fastapi.testclient import TestClient

    from paperlens.answer.service import Answerer
    from paperlens.api.app import create_app
    from paperlens.ingest.pipeline import open_library
    from paperlens.settings import Settings

    settings = Settings(_env_file=None, data_dir=args.data_dir, rate_limit_per_minute=0)
    with open_library(settings) as lib:
        fill_corpus_library(lib, settings)
        papers = [lib.catalog.papers_from_source(n)[0] for n in PAPERS] + ["arxiv:2409.17058"]
        calls = [("summarize", {"paper_id": p, "language": lang}) for p in papers for lang in ("en", "zh")]
        calls += [("compare", {"query": q}) for q in COMPARE] + [("roundup", r) for r in ROUNDUP]
        calls += [("ask", {"question": q}) for q in ASK]
        ans = Answerer(lib, settings)
        ans.ask("warm-up question about diffusion")  # loads both query models

        def timed(fn) -> float:
            ts = []
            for _ in range(args.repeat):
                t = time.perf_counter()
                fn()
                ts.append(time.perf_counter() - t)
            return statistics.median(ts)

        result: dict[str, dict[str, float]] = {"service": {}, "api": {}}
        for name, body in calls:
            s = timed(lambda name=name, body=body: getattr(ans, name)(**body))
            result["service"][name] = result["service"].get(name, 0.0) + s
        with TestClient(create_app(settings, lib)) as client:
            client.post("/api/ask", json={"question": "warm-up"})
            for name, body in calls:
                def call(name=name, body=body) -> None:
                    r = client.post(f"/api/{name}", json=body)
                    assert r.status_code == 200, r.text
                result["api"][name] = result["api"].get(name, 0.0) + timed(call)
    out = {"machine": machine(), "repeat": args.repeat, "calls": len(calls),
           **{k: {n: round(v, 3) for n, v in d.items()} for k, d in result.items()}}
    path = write_json(RESULTS / f"answer-latency{'-' + args.tag if args.tag else ''}.json", out)
    print(json.dumps({k: out[k] for k in ("service", "api")}))
    print("written", path, file=sys.stderr)


if __name__ == "__main__":
    main()
