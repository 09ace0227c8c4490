"""Load test: `paperlens serve` on 127.0.0.1 under Locust, headless, at 10 and 50 concurrent users.

    .venv/bin/python bench/load_test.py                    # 10k-chunk index, 10 and 50 users, 60 s each
    .venv/bin/python bench/load_test.py --users 10 --duration 20 --index 10k:static   # a smoke run

The index is one of bench/search_bench.py's cached ones (bench/results/indexes/; built from the
arXiv records in ../shared/corpus/arxiv when missing, with `search_bench.py --step build@LEVEL`),
copied to a temporary data dir so that the server never writes into the cache. Queries are the
titles of records held out of the index (as in search_bench.py); summaries (POST /api/summarize,
extractive backend, when the server has that endpoint) ask for papers listed by GET /api/papers.

Users are bench/locustfile.py's readers: 4 searches to 1 summary, 0.5-1.5 s think time. The rate
limit is switched off (PAPERLENS_RATE_LIMIT_PER_MINUTE=0): it caps one client address, and every
locust user shares 127.0.0.1. Results (p50/p95/p99, error rate and throughput per endpoint and
user count, from every request's own latency): bench/results/load.json. Exits 1 when any request
failed at 10 users.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from common import RESULTS, ROOT, machine, percentiles, run_variant, write_json

BENCH = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_index(level: str) -> Path:
    """The cached index for LEVEL (e.g. 10k:static), built by search_bench.py when missing."""
    from search_bench import index_dir, parse_levels

    (n, model), = parse_levels(level)
    path = index_dir(n, model)
    # The build step reuses a cached index whose fingerprint and size still match, else rebuilds.
    run_variant(BENCH / "search_bench.py", ["--step", f"build@{level}"], RESULTS / "tmp" / "load-build.json")
    return path


def held_out_queries(count: int) -> list[str]:
    from search_bench import HELD_OUT, metadata_file, newest_documents

    return [d.meta.title for d in newest_documents(metadata_file())[-HELD_OUT:]][:count]


def start_server(data_dir: Path, port: int, log: Path) -> subprocess.Popen:
    env = {
        **os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
        "PAPERLENS_DATA_DIR": str(data_dir), "PAPERLENS_RATE_LIMIT_PER_MINUTE": "0",
        "PAPERLENS_ANSWER_BACKEND": "extractive",
    }
    cmd = [sys.executable, "-m", "paperlens.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    return subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=log.open("wb"), stderr=subprocess.STDOUT)


def wait_ready(url: str, proc: subprocess.Popen, timeout_s: float = 600) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"the server exited with code {proc.returncode} before it was ready")
        try:
            r = httpx.get(f"{url}/readyz", timeout=5)
            if r.status_code == 200:
                return r.json()
        except httpx.HTTPError:
            pass
        time.sleep(1)
    sys.exit(f"the server was not ready after {timeout_s:.0f} s")


def run_locust(url: str, users: int, duration_s: int, plan: dict, work: Path) -> dict:
    samples_out = work / f"samples-{users}.json"
    plan_file = work / f"plan-{users}.json"
    plan_file.write_text(json.dumps({**plan, "samples_out": str(samples_out)}), encoding="utf-8")
    cmd = [
        sys.executable, "-m", "locust", "-f", str(BENCH / "locustfile.py"), "--headless", "--host", url,
        "-u", str(users), "-r", str(max(1, users // 5)), "-t", f"{duration_s}s", "--only-summary",
        "--loglevel", "WARNING", "--exit-code-on-error", "0",
    ]
    print(f"\n$ {' '.join(cmd)}", flush=True)
    started = time.monotonic()
    subprocess.run(cmd, env={**os.environ, "PAPERLENS_LOAD_PLAN": str(plan_file)}, cwd=ROOT, check=True)
    wall = time.monotonic() - started
    samples = json.loads(samples_out.read_text(encoding="utf-8"))
    out = {}
    for name in sorted({s[0] for s in samples}):
        mine = [s for s in samples if s[0] == name]
        errors = [s for s in mine if s[3] is not None or not 200 <= s[2] < 300]
        out[name] = {
            **percentiles([s[1] / 1000 for s in mine]),
            "errors": len(errors),
            "error_rate": round(len(errors) / len(mine), 4),
            "requests_per_s": round(len(mine) / duration_s, 2),
            "statuses": {str(c): sum(1 for s in mine if s[2] == c) for c in sorted({s[2] for s in mine})},
            "first_errors": sorted({f"{s[2]} {s[3]}" for s in errors})[:5],
        }
    return {"users": users, "duration_s": duration_s, "locust_wall_s": round(wall, 1), "endpoints": out}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", default="10k:static", help="search_bench level to serve (SIZE:MODEL)")
    ap.add_argument("--users", default="10,50", help="comma-separated concurrent user counts")
    ap.add_argument("--duration", type=int, default=60, help="seconds per user count")
    ap.add_argument("--out", type=Path, default=RESULTS / "load.json")
    args = ap.parse_args()

    info = machine()
    index = ensure_index(args.index)
    work = Path(tempfile.mkdtemp(prefix="paperlens-load-"))
    data = work / "data"
    shutil.copytree(index, data, ignore=shutil.ignore_patterns("paperlens.lock", "build.json"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_server(data, port, work / "server.log")
    try:
        t0 = time.monotonic()
        ready = wait_ready(url, server)
        print(f"server ready in {time.monotonic() - t0:.0f} s: {ready}", flush=True)
        if ready.get("chunks", 0) < 10000 and args.index.lower().startswith(("10k", "100k")):
            sys.exit(f"the server sees {ready.get('chunks')} chunks: the cached index does not match this code")
        paths = httpx.get(f"{url}/openapi.json", timeout=30).json()["paths"]
        summarize = "/api/summarize" in paths
        paper_ids = []
        if summarize:
            listed = httpx.get(f"{url}/api/papers", params={"limit": 500}, timeout=60).json()["papers"]
            paper_ids = [p["paper_id"] for p in listed]
        plan = {"queries": held_out_queries(200), "paper_ids": paper_ids}
        runs = [run_locust(url, int(u), args.duration, plan, work) for u in args.users.split(",")]
    finally:
        server.terminate()
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            server.kill()
    result = {
        "machine": info, "loadavg_after": machine()["loadavg_1_5_15"], "index": args.index,
        "chunks": ready.get("chunks"), "papers": ready.get("papers"), "summarize_endpoint": summarize,
        "summarize_papers": len(paper_ids), "think_time_s": [0.5, 1.5], "rate_limit": "off",
        "runs": runs, "command": " ".join(sys.argv),
    }
    write_json(args.out, result)
    shutil.rmtree(work, ignore_errors=True)
    for run in runs:
        for name, st in run["endpoints"].items():
            print(f"{run['users']:3d} users {name:16} n={st['n']:5d} p50 {st.get('p50_ms')} p95 {st.get('p95_ms')} "
                  f"p99 {st.get('p99_ms')} ms, errors {st['errors']} ({st['error_rate']:.2%}), {st['requests_per_s']}/s")
    print(f"written {args.out}", flush=True)
    ten = [r for r in runs if r["users"] == 10]
    if any(st["errors"] for r in ten for st in r["endpoints"].values()):
        sys.exit("requests failed at 10 users")


if __name__ == "__main__":
    main()
