"""Hostile and broken PDFs through the real parse path: over 200 mutants of real papers (and
hand-built files: bombs, thousands of pages, huge pages, zero pages, garbage, recursive objects)
go through ``parse_many`` with the child-process limits the Ingestor uses, set small here.

The parent (this pytest process) must never crash or hang, each file must come back exactly once
as a Document or as a ParseError naming it, the parent's memory must stay flat and the whole run
must end in bounded time. Then a handful of mutants go through the Ingestor beside good files: a
bad file never stops the batch and nothing already stored is lost."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import fixtures_pdf as fx
import pdf_mutations as pm
import psutil
import pytest
from paperlens.index.integrity import check_consistency
from paperlens.ingest.pdf import parse_many
from paperlens.ingest.pipeline import Ingestor, IngestRequest, open_library
from support import corpus_path, make_settings

from paperlens.errors import ParseError, TooLarge
from paperlens.models import Document

SOURCES = 5  # the smallest real papers are mutated (parsing cost grows with the file)
KNOWN_REASONS = {"damaged", "empty", "not_pdf", "encrypted", "timeout", "memory", "crash", "unreadable"}
RUN_BUDGET_S = 180.0  # the whole corpus on 2 busy cores; ~15-25 s when the machine is quiet
PARENT_RSS_BUDGET_MIB = 150.0


def limits(data_dir: Path):
    """The production settings with small limits, so hostile files fail fast."""
    return make_settings(
        data_dir, xling_model="", parse_workers=2, parse_timeout_s=5.0, parse_memory_mb=1024, max_pages=3, max_pdf_mb=20
    )


class RssPeak:
    """Peak RSS of this process alone (not its children), sampled every 20 ms."""

    def __init__(self) -> None:
        self.me = psutil.Process()
        self.base = self.me.memory_info().rss
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.me.memory_info().rss)
            self._stop.wait(0.02)

    def __enter__(self) -> RssPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth_mib(self) -> float:
        return (self.peak - self.base) / 2**20


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    pdfs = corpus_path("pdfs")
    sources = sorted(pdfs.glob("*.pdf"), key=lambda p: (p.stat().st_size, p.name))[:SOURCES]
    folder = tmp_path_factory.mktemp("mutants")
    files = pm.write_mutants(pm.mutants(sources), folder)
    s = limits(folder / "data")
    results: dict[Path, list[Document | Exception]] = {p: [] for p in files}
    started = time.monotonic()
    with RssPeak() as rss:
        # The Ingestor's own call (ingest/pipeline.py), with the same settings fields.
        for path, parsed in parse_many(
            list(files), workers=s.resolved_parse_workers, timeout_s=s.parse_timeout_s,
            memory_mb=s.parse_memory_mb, max_pages=s.max_pages, max_bytes=s.max_pdf_mb * 2**20,
        ):
            results[path].append(parsed)
    elapsed = time.monotonic() - started
    return {"files": files, "results": results, "elapsed": elapsed, "rss": rss, "settings": s}


def test_corpus_is_large_and_varied(run: dict) -> None:
    kinds = {m.kind for m in run["files"].values()}
    assert len(run["files"]) >= 200
    assert kinds >= {"original", "truncated", "bitflip", "xref", "encrypted", "bomb", "many_pages",
                     "huge_page", "zero_pages", "garbage", "recursive"}


@pytest.mark.timeout(RUN_BUDGET_S + 60)
def test_every_file_is_parsed_or_rejected_naming_it(run: dict) -> None:
    s = run["settings"]
    for path, got in run["results"].items():
        assert len(got) == 1, f"{path.name}: {len(got)} results"
        result = got[0]
        if isinstance(result, Document):
            assert result.source == str(path)
            assert all(1 <= b.page <= s.max_pages for b in result.blocks), path.name
        else:
            assert isinstance(result, ParseError) and not isinstance(result, TooLarge), (path.name, result)
            assert str(path) in str(result) and result.extra["path"] == str(path)
            assert result.extra["reason"] in KNOWN_REASONS, (path.name, result.extra)


def test_expected_outcomes(run: dict) -> None:
    """What a careful reader of each file would conclude: controls parse, locked files are
    reported as encrypted, an empty page tree as empty; the limits cut work short, not files off."""
    for path, m in run["files"].items():
        (result,) = run["results"][path]
        if m.expect == "parse":
            assert isinstance(result, Document) and result.blocks, (m.name, result)
        elif m.expect == "reject":
            assert isinstance(result, ParseError) and result.extra["reason"] == m.reason, (m.name, result)
    by_name = {m.name: run["results"][p][0] for p, m in run["files"].items()}
    many = by_name[f"many-pages-{pm.MAX_PAGES_FIXTURE}.pdf"]
    assert f"only the first 3 of {pm.MAX_PAGES_FIXTURE} pages parsed" in many.warnings
    # a truncated file that no page survives is damaged, not "empty"
    cut = [r for p, m in run["files"].items() if m.kind == "truncated" and (r := run["results"][p][0])]
    assert any(isinstance(r, ParseError) and r.extra["reason"] == "damaged" for r in cut)
    assert not any(isinstance(r, ParseError) and r.extra["reason"] == "empty" for r in cut)
    # mild damage is repaired rather than refused
    repaired = sum(isinstance(run["results"][p][0], Document) for p, m in run["files"].items() if m.kind in ("bitflip", "xref"))
    assert repaired >= 30


def test_parent_memory_and_time_stay_bounded(run: dict) -> None:
    outcomes: dict[str, int] = {}
    for got in run["results"].values():
        key = "parsed" if isinstance(got[0], Document) else got[0].extra["reason"]
        outcomes[key] = outcomes.get(key, 0) + 1
    print(f"\n{len(run['files'])} mutants in {run['elapsed']:.1f} s, parent RSS +{run['rss'].growth_mib:.1f} MiB "
          f"(base {run['rss'].base / 2**20:.0f} MiB), outcomes {dict(sorted(outcomes.items()))}")
    assert run["elapsed"] < RUN_BUDGET_S, f"{run['elapsed']:.0f} s for {len(run['files'])} files"
    # Bombs inflate to GiBs in the children; the parent only ever holds small Documents.
    assert run["rss"].growth_mib < PARENT_RSS_BUDGET_MIB, f"parent RSS grew {run['rss'].growth_mib:.0f} MiB"


def test_no_parser_process_outlives_the_run(run: dict) -> None:
    """Every child (timed out, crashed or finished) has been reaped: only the forkserver itself,
    and the resource tracker, may remain below this process."""
    deadline = time.monotonic() + 5
    while True:
        me = psutil.Process()
        servers = {c.pid for c in me.children() if "forkserver" in " ".join(c.cmdline())}
        workers = [c for c in me.children(recursive=True) if c.ppid() in servers and c.status() != psutil.STATUS_ZOMBIE]
        if not workers or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert not workers, [w.pid for w in workers]


def test_bad_files_never_stop_a_batch_nor_lose_stored_papers(tmp_path: Path, embedder) -> None:
    pdfs = corpus_path("pdfs")
    real = sorted(pdfs.glob("*.pdf"), key=lambda p: (p.stat().st_size, p.name))[SOURCES]  # not among the mutated
    data = real.read_bytes()
    bad = {
        "truncated.pdf": data[: len(data) // 3],
        "flipped.pdf": pm.bitflips("x", data, 1)[-1].data,
        "encrypted.pdf": pm.encrypted("x", data)[0].data,
        "garbage.pdf": pm.garbage(1)[3].data,
        "zero-pages.pdf": pm.zero_pages()[0].data,
        "string-bomb.pdf": next(m.data for m in pm.bombs() if m.name == "bomb-content-string-2g.pdf"),
        "page-count-lies.pdf": pm.many_pages(5)[1].data,
    }
    batch = tmp_path / "batch"
    batch.mkdir()
    for name, blob in bad.items():
        (batch / name).write_bytes(blob)
    (batch / "good-real.pdf").write_bytes(data)
    fx.chinese_pdf(batch, "good-generated.pdf")
    s = limits(tmp_path / "data")
    first = fx.two_column_paper(tmp_path)

    with open_library(s, embedder=embedder, xling=None) as lib:
        assert Ingestor(lib, s).run(IngestRequest(paths=[first])).counts()["ingested"] == 1
        before = check_consistency(lib)
        assert before.ok and before.points
        report = Ingestor(lib, s).run(IngestRequest(paths=[batch]))
        after = check_consistency(lib)

    assert after.ok, after.problems
    for pid, payload in before.points.items():  # nothing stored earlier is lost or changed
        assert after.points.get(pid) == payload
    by_file = {Path(it.source).name: it for it in report.items}
    assert by_file.keys() == {*bad, "good-real.pdf", "good-generated.pdf"}
    assert by_file["good-real.pdf"].status == "ingested" and by_file["good-real.pdf"].chunks > 0
    assert by_file["good-generated.pdf"].status == "ingested"
    for name in ("truncated.pdf", "encrypted.pdf", "garbage.pdf", "zero-pages.pdf", "page-count-lies.pdf"):
        item = by_file[name]
        assert item.status == "failed" and str(batch / name) in (item.reason or ""), (name, item)
    assert "is encrypted" in by_file["encrypted.pdf"].reason
    # The bomb's page exhausts the child's memory: skipped with the reason, never a crash.
    assert by_file["string-bomb.pdf"].status in ("skipped", "failed")
    assert by_file["flipped.pdf"].status in ("ingested", "skipped", "failed")
    stored = {p["paper_id"] for p in after.points.values()}
    assert {by_file["good-real.pdf"].paper_id, by_file["good-generated.pdf"].paper_id} <= stored
