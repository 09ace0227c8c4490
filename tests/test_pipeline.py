"""The ingest pipeline and the library end to end: real models, the real embedded store."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from paperlens.errors import StoreLocked, UnsupportedSource
from paperlens.ingest.pipeline import IngestRequest, Ingestor, detect_kind, open_library
from paperlens.models import SearchFilters

from support import ROOT, make_settings, write_jsonl

RECORDS = [
    {
        "id": "2401.00001", "title": "Latent Diffusion for Blind Image Super-Resolution",
        "authors": ["Alice Zhang", "Bob Li"], "categories": ["cs.CV"],
        "summary": "We propose a latent diffusion model for blind image super-resolution that restores "
        "high-frequency texture from degraded low-resolution inputs and reaches a PSNR of 28.1 dB on DIV2K.",
        "crawl_date": "2024-01-03", "pdf": "https://arxiv.org/pdf/2401.00001", "abs": "https://arxiv.org/abs/2401.00001",
    },
    {
        "id": "2402.00002", "title": "Instruction Tuning Large Language Models for Code",
        "authors": ["Carol Wang"], "categories": ["cs.CL"],
        "summary": "We study instruction tuning of large language models for program synthesis and report "
        "pass@1 on HumanEval.",
        "crawl_date": "2024-02-10", "pdf": "https://arxiv.org/pdf/2402.00002", "abs": "https://arxiv.org/abs/2402.00002",
    },
    {
        "id": "2403.00003", "title": "Video Generation with Spatiotemporal Diffusion Transformers",
        "authors": ["Dan Chen", "Alice Zhang"], "categories": ["cs.CV", "cs.LG"],
        "summary": "A diffusion transformer generates temporally consistent videos from text prompts.",
        "crawl_date": "2024-03-15", "pdf": "https://arxiv.org/pdf/2403.00003", "abs": "https://arxiv.org/abs/2403.00003",
    },
]


def ingest(library, settings, *paths: Path):
    return Ingestor(library, settings).run(IngestRequest(paths=list(paths)))


def test_metadata_ingest_search_filters_and_idempotence(library, settings, tmp_path):
    src = write_jsonl(tmp_path / "meta.jsonl", RECORDS)
    report = ingest(library, settings, src)
    assert report.counts()["ingested"] == 3, report.to_dict()
    n = library.store.count()
    assert n > 0

    hits = library.search("diffusion model for super-resolution", k=5)
    assert hits[0].paper_id == "arxiv:2401.00001"
    assert hits[0].title == RECORDS[0]["title"]
    assert hits[0].text in library.chunk(hits[0].chunk_id)["text"]

    # Filters are applied inside the engine.
    cv = library.search("language models", k=10, filters=SearchFilters(categories=["cs.CL"]))
    assert cv and {h.paper_id for h in cv} == {"arxiv:2402.00002"}
    by_author = library.search("diffusion", k=10, filters=SearchFilters(authors=["alice zhang"]))
    assert {h.paper_id for h in by_author} == {"arxiv:2401.00001", "arxiv:2403.00003"}
    dated = library.search("diffusion", k=10, filters=SearchFilters(date_from="2024-03-01", date_to="2024-12-31"))
    assert {h.paper_id for h in dated} == {"arxiv:2403.00003"}

    # The same input again changes nothing.
    again = ingest(library, settings, src)
    assert again.counts()["unchanged"] == 3 and again.counts()["ingested"] == 0
    assert library.store.count() == n


def test_newer_version_replaces_older_and_older_is_skipped(library, settings, tmp_path):
    v1 = dict(RECORDS[0], id="2401.00001v1")
    v2 = dict(RECORDS[0], id="2401.00001v2", summary=RECORDS[0]["summary"] + " Version two adds video results.")
    ingest(library, settings, write_jsonl(tmp_path / "v1.jsonl", [v1]))
    first = library.paper_chunks("arxiv:2401.00001")
    report = ingest(library, settings, write_jsonl(tmp_path / "v2.jsonl", [v2]))
    assert report.counts()["replaced"] == 1
    chunks = library.paper_chunks("arxiv:2401.00001")
    assert any("Version two" in c["text"] for c in chunks)
    assert not {c["chunk_id"] for c in first} & {c["chunk_id"] for c in chunks}, "old revision left behind"
    assert library.store.count() == len(chunks)
    older = ingest(library, settings, write_jsonl(tmp_path / "v1again.jsonl", [v1]))
    assert older.counts()["skipped"] == 1
    assert "older version" in older.to_dict()["skipped"][0]["reason"]


def test_bad_inputs_are_reported_not_fatal(library, settings, tmp_path):
    good = write_jsonl(tmp_path / "good.jsonl", RECORDS[:1])
    bad_pdf = tmp_path / "broken.pdf"
    bad_pdf.write_bytes(b"%P")
    bad_lines = tmp_path / "bad.jsonl"
    bad_lines.write_text('{"id": "2405.1"}\nnot json\n', encoding="utf-8")
    report = ingest(library, settings, good, bad_pdf, bad_lines).to_dict()
    assert report["counts"]["ingested"] == 1
    failed = {f["source"].split(":")[0] for f in report["failed"]}
    assert str(bad_pdf) in failed and str(bad_lines) in failed
    assert all(f["reason"] for f in report["failed"])
    with pytest.raises(UnsupportedSource, match="nope.xyz"):
        detect_kind(tmp_path / "nope.xyz")


def test_second_process_gets_a_clear_error(library, settings):
    env = {**os.environ, "PAPERLENS_DATA_DIR": str(settings.data_dir)}
    out = subprocess.run(
        [sys.executable, "-m", "paperlens.cli", "search", "diffusion"],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=120,
    )
    assert out.returncode != 0
    assert "in use" in out.stderr and str(settings.data_dir) in out.stderr
    with pytest.raises(StoreLocked):
        open_library(settings, embedder=library.embedder, xling=library.xling)


def test_other_configuration_gets_its_own_collection(settings, embedder, xling, tmp_path):
    with open_library(settings, embedder=embedder, xling=xling) as lib:
        ingest(lib, settings, write_jsonl(tmp_path / "m.jsonl", RECORDS))
        name, count = lib.spec.name, lib.store.count()
    other = make_settings(settings.data_dir, chunk_tokens=120)
    with open_library(other, embedder=embedder, xling=xling) as lib2:
        assert lib2.spec.name != name  # vectors of another chunking never land in the old collection
        assert lib2.store.count() == 0
    with open_library(settings, embedder=embedder, xling=xling) as lib:
        assert lib.spec.name == name and lib.store.count() == count


def test_arxiv_ids_and_query_through_the_pipeline_and_cli(tmp_path, embedder, xling):
    """`paperlens ingest --arxiv` end to end: the real arxiv client against a local fake arXiv."""
    from arxiv_server import FakeArxiv

    with FakeArxiv() as fake:
        settings = make_settings(
            tmp_path / "data", arxiv_api_url=fake.api_url, arxiv_pdf_url=fake.pdf_url_template, arxiv_delay_s=0.01
        )
        with open_library(settings, embedder=embedder, xling=xling) as lib:
            report = Ingestor(lib, settings).run(IngestRequest(arxiv_ids=["2409.17058"]))
            kinds = sorted(i.kind for i in report.items if i.status == "ingested")
            assert kinds == ["metadata", "pdf"], report.to_dict()
            paper = lib.paper("arxiv:2409.17058")
            assert paper["arxiv_id"] == "2409.17058" and paper["documents"] == ["metadata", "pdf"]
            assert (settings.data_dir / "downloads").exists()
            again = Ingestor(lib, settings).run(IngestRequest(arxiv_ids=["2409.17058"]))
            assert again.counts()["unchanged"] == 2
        # the CLI: a query, and an unknown id reported as failed with a non-zero exit
        env = {
            **os.environ, "PAPERLENS_DATA_DIR": str(tmp_path / "cli"), "PAPERLENS_ARXIV_API_URL": fake.api_url,
            "PAPERLENS_ARXIV_PDF_URL": fake.pdf_url_template, "PAPERLENS_ARXIV_DELAY_S": "0.01",
            "PAPERLENS_XLING_MODEL": "",
        }
        out = subprocess.run(
            [sys.executable, "-m", "paperlens.cli", "ingest", "--arxiv-query", "diffusion", "--max", "2", "--json"],
            capture_output=True, text=True, env=env, cwd=ROOT, timeout=300,
        )
        assert out.returncode == 0, out.stderr[-2000:]
        import json

        counts = json.loads(out.stdout)["counts"]
        assert counts["ingested"] == 4 and counts["failed"] == 0  # 2 papers x (metadata + pdf)
        bad = subprocess.run(
            [sys.executable, "-m", "paperlens.cli", "ingest", "--arxiv", "2401.99999"],
            capture_output=True, text=True, env=env, cwd=ROOT, timeout=300,
        )
        assert bad.returncode == 1 and "2401.99999" in bad.stdout


def test_later_metadata_fields_reach_earlier_pdf_chunks(library, settings, tmp_path):
    """A PDF ingested first has no categories; the arXiv record that follows brings them, and a
    category filter then finds the PDF's chunks too."""
    from fixtures_pdf import two_column_paper

    (tmp_path / "pdf").mkdir()
    pdf = two_column_paper(tmp_path / "pdf")  # carries the stamp arXiv:2401.12345v2
    ingest(library, settings, pdf)
    record = dict(RECORDS[0], id="2401.12345v2", categories=["eess.IV"], title="Diffusion Models for Robust Parsing")
    ingest(library, settings, write_jsonl(tmp_path / "m.jsonl", [record]))
    hits = library.search("diffusion", k=20, filters=SearchFilters(categories=["eess.IV"]))
    assert {h.doc_kind for h in hits} == {"metadata", "pdf"}
    assert all(h.paper_id == "arxiv:2401.12345" for h in hits)
