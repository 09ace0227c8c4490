"""kill -9 at scale: an ingest of 63 papers (60 arXiv records in six files, three generated PDFs)
is killed at 20+ random moments, then resumed; the result must equal a clean build point for point
(ids and payloads) and rank every query the same.

The killed process is this module run as a script: it opens the library once and ingests the nine
sources one Ingestor run at a time, as nine `paperlens ingest` calls would but without loading the
model nine times, so the store passes through many committed states a kill can land between. The
clean build is one `paperlens ingest FOLDER` (one run, other write batches): equality also shows
that batching leaves no trace in the result.

    .venv/bin/python -m pytest tests/test_crash_scale.py -q -m slow -s
"""

from __future__ import annotations

import gzip
import itertools
import json
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support import ROOT, corpus_path, make_settings, write_jsonl
from test_crash import _complete_docs, _env

KILLS = 20
MAX_ATTEMPTS = 60
FILES, PER_FILE = 6, 10  # 60 arXiv records
QUERIES = ("diffusion models for image generation", "video generation", "3D reconstruction", "large language model",
           "two column parsing", "扩散模型", "segmentation benchmark", "robust parsing of papers")


def _sources(folder: Path) -> list[Path]:
    """Six JSONL files of arXiv records spread over the dump, and three generated PDFs."""
    import fixtures_pdf as fx

    dump = next(iter(sorted(corpus_path("arxiv").glob("*.jsonl.gz"))))
    with gzip.open(dump, "rt", encoding="utf-8") as fh:
        records = [json.loads(line) for line in itertools.islice(fh, 0, FILES * PER_FILE * 100, 100)]
    folder.mkdir(parents=True)
    out = [write_jsonl(folder / f"records-{i}.jsonl", records[i * PER_FILE:(i + 1) * PER_FILE]) for i in range(FILES)]
    out += [fx.two_column_paper(folder, "paper.pdf"), fx.chinese_pdf(folder, "notes-zh.pdf"), fx.hidden_text_pdf(folder, "hidden.pdf")]
    return out


def _driver_cmd(data: Path, sources: list[Path]) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), str(data), *map(str, sources)]


def _snapshot(data: Path, embedder) -> tuple[dict[str, dict], list[list[tuple[float, str]]]]:
    from paperlens.index.integrity import check_consistency
    from paperlens.ingest.pipeline import open_library

    with open_library(make_settings(data, xling_model=""), embedder=embedder, xling=None) as lib:
        report = check_consistency(lib)
        assert report.ok, report.problems
        # Equal RRF scores may come back in either order: compare (score, id) sorted.
        searches = [sorted((round(-h.score, 6), h.chunk_id) for h in lib.search(q, k=10)) for q in QUERIES]
    return report.points, searches


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_twenty_kills_at_random_moments_then_resume_equals_clean_build(tmp_path: Path, embedder) -> None:
    from paperlens.index.integrity import check_consistency
    from paperlens.ingest.pipeline import open_library

    sources = _sources(tmp_path / "in")
    clean = tmp_path / "clean"
    t0 = time.monotonic()
    cmd = [sys.executable, "-m", "paperlens.cli", "ingest", str(tmp_path / "in")]
    built = subprocess.run(cmd, env=_env(clean), cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-2000:]
    clean_s = time.monotonic() - t0
    clean_points, clean_search = _snapshot(clean, embedder)
    papers = len({p["paper_id"] for p in clean_points.values()})
    assert papers >= 50, f"only {papers} papers in the clean build"

    rng = random.Random(20261121)
    data = tmp_path / "killed"
    horizon = clean_s  # kill moments are drawn over the length of a whole run
    kills: list[tuple[float, int]] = []  # (seconds after start, completed documents when killed)
    attempts = rounds = 0
    while len(kills) < KILLS and attempts < MAX_ATTEMPTS:
        attempts += 1
        delay = rng.uniform(0.0, horizon)
        proc = subprocess.Popen(_driver_cmd(data, sources), env=_env(data), cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            done = _complete_docs(data)
            proc.send_signal(signal.SIGKILL)
            kills.append((round(delay, 2), done))
        finished = proc.wait(60)
        err = proc.stderr.read().decode(errors="replace")
        proc.stderr.close()
        if finished != -signal.SIGKILL:
            assert finished == 0, err[-2000:]
            # It ran to the end before the kill: this round's killed-and-resumed build is complete.
            # Check it against the clean build, then start a new round from an empty data dir, so
            # that on a fast machine kills keep landing at every stage, not only on finished data.
            rounds += 1
            points, searches = _snapshot(data, embedder)
            assert points == clean_points, f"round {rounds}: differs from the clean build"
            assert searches == clean_search, f"round {rounds}: search differs from the clean build"
            shutil.rmtree(data)
            continue
        if len(kills) % 4 == 0 and finished == -signal.SIGKILL:
            # Now and then open it here, which recovers and checks it; otherwise the next run
            # starts from the killed state (and may itself be killed while recovering).
            with open_library(make_settings(data, xling_model=""), embedder=embedder, xling=None) as lib:
                report = check_consistency(lib)
                assert report.ok, f"after kill {len(kills)}: {report.problems}"
    print(f"\nclean build {clean_s:.1f} s, {len(clean_points)} chunks of {papers} papers; {len(kills)} kills in "
          f"{attempts} attempts, {rounds} rounds completed; (s after start, completed docs) at each kill: {kills}")
    assert len(kills) >= KILLS, f"only {len(kills)} kills in {attempts} attempts"
    assert len({d for _, d in kills}) >= 3, f"kills all landed at the same progress: {kills}"

    done = subprocess.run(_driver_cmd(data, sources), env=_env(data), cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    killed_points, killed_search = _snapshot(data, embedder)
    assert killed_points.keys() - clean_points.keys() == set(), "phantom or duplicated chunks"
    assert clean_points.keys() - killed_points.keys() == set(), "lost chunks"
    assert killed_points == clean_points
    assert killed_search == clean_search


def _ingest_one_by_one(data_dir: Path, sources: list[Path]) -> None:
    """The killed process: one library, one Ingestor run per source, as `paperlens ingest` does."""
    from paperlens.ingest.pipeline import Ingestor, IngestRequest, open_library

    from paperlens.settings import load_settings

    settings = load_settings(data_dir=data_dir)  # the rest from the environment, as the CLI
    with open_library(settings) as lib:
        for src in sources:
            report = Ingestor(lib, settings).run(IngestRequest(paths=[src]))
            if report.counts()["failed"]:
                raise SystemExit(f"{src}: {report.to_dict()['failed']}")


if __name__ == "__main__":
    _ingest_one_by_one(Path(sys.argv[1]), [Path(p) for p in sys.argv[2:]])
