"""kill -9 during an ingest: after restart no half-ingested paper is visible, and the next run
completes the work, ending identical to a clean build. Real subprocesses, really killed."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from paperlens.ingest.pipeline import open_library
from paperlens.index.integrity import check_consistency

from support import ROOT, make_settings

SAMPLE = ROOT / "paperlens" / "sample" / "arxiv_diffusion_sample.jsonl.gz"


def _env(data_dir: Path) -> dict[str, str]:
    # No cross-lingual model here: it only slows the run and the crash logic is the same.
    return {**os.environ, "PAPERLENS_DATA_DIR": str(data_dir), "PAPERLENS_XLING_MODEL": "", "PYTHONUNBUFFERED": "1"}


def _ingest_cmd() -> list[str]:
    return [sys.executable, "-m", "paperlens.cli", "ingest", str(SAMPLE)]


def _complete_docs(data_dir: Path) -> int:
    for db in data_dir.glob("catalog-*.sqlite3"):
        try:
            con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
            n = con.execute("SELECT COUNT(*) FROM documents WHERE complete_rev IS NOT NULL").fetchone()[0]
            con.close()
            return n
        except sqlite3.Error:
            return 0
    return 0


def _snapshot(settings, embedder) -> tuple[dict[str, dict], list[list[tuple[float, str]]]]:
    with open_library(settings, embedder=embedder, xling=False) as lib:
        report = check_consistency(lib)
        assert report.ok, report.problems
        points = report.points
        # Equal RRF scores may come back in either order: compare (score, id) sorted, not raw order.
        searches = [
            sorted((round(-h.score, 6), h.chunk_id) for h in lib.search(q, k=10))
            for q in ("diffusion super-resolution", "video generation", "3D")
        ]
    return points, searches


def test_kill_9_at_random_moments_then_resume_equals_clean_build(tmp_path, embedder):
    rng = random.Random(7)
    data = tmp_path / "killed"
    kills = 0
    for attempt in range(3):
        proc = subprocess.Popen(_ingest_cmd(), env=_env(data), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # Kill at a random moment after the process started writing (or before the first paper completed).
        start = time.time()
        target = _complete_docs(data) + rng.randint(0, 150)
        while proc.poll() is None and time.time() - start < 300:
            if _complete_docs(data) >= target and (data / "paperlens.lock").exists():
                time.sleep(rng.uniform(0.0, 1.5))
                break
            time.sleep(0.05)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait(60)
        proc.stderr.close()
        # After every kill the store is consistent: nothing partial, nothing phantom.
        with open_library(make_settings(data, xling_model=""), embedder=embedder, xling=False) as lib:
            report = check_consistency(lib)
            assert report.ok, f"after kill {attempt}: {report.problems}"
    assert kills >= 1, "the ingest finished before it could be killed; the test proved nothing"

    done = subprocess.run(_ingest_cmd(), env=_env(data), cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]

    clean = tmp_path / "clean"
    built = subprocess.run(_ingest_cmd(), env=_env(clean), cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-2000:]

    killed_points, killed_search = _snapshot(make_settings(data, xling_model=""), embedder)
    clean_points, clean_search = _snapshot(make_settings(clean, xling_model=""), embedder)
    assert killed_points.keys() == clean_points.keys()
    assert killed_points == clean_points
    assert killed_search == clean_search
