from __future__ import annotations

import gzip
import itertools
import json
from pathlib import Path

import pytest

from paperlens.ingest.metadata import BadRecord, read_metadata

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"

CRAWL = {"id": "2503.11742", "pdf": "https://arxiv.org/pdf/2503.11742", "abs": "https://arxiv.org/abs/2503.11742",
         "authors": ["Moreno D'Incà", "Elia Peruzzo"], "title": "Safe Vision-Language\n  Models",
         "categories": ["cs.CV", "cs.AI"], "comment": "Work in progress",
         "summary": "Vision-language models often\ninherit biases.", "crawl_date": "2025-03-18"}
SNAPSHOT = {"id": "0704.0001", "submitter": "Pavel Nadolsky", "authors": "C. Bal\\'azs, E. L. Berger and P. M. Nadolsky",
            "title": "Calculation of prompt diphoton production\n  cross sections", "comments": "37 pages",
            "journal-ref": "Phys.Rev.D76:013009,2007", "doi": "10.1103/PhysRevD.76.013009",
            "categories": "hep-ph gr-qc", "abstract": "  A fully differential calculation\nin perturbative QCD.\n",
            "versions": [{"version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 GMT"},
                         {"version": "v2", "created": "Tue, 24 Jul 2007 20:10:27 GMT"}],
            "update_date": "2008-11-13", "authors_parsed": [["Balázs", "C.", ""], ["Berger", "E. L.", ""],
                                                            ["Nadolsky", "P. M.", "Jr"]]}


def _write(path: Path, lines: list[str]) -> Path:
    data = ("\n".join(lines) + "\n").encode("utf-8")
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


@pytest.mark.parametrize("name", ["meta.jsonl", "meta.jsonl.gz"])
def test_both_formats_and_bad_lines(tmp_path: Path, name: str) -> None:
    no_abstract = dict(CRAWL, id="2503.00001", summary="  ")
    path = _write(tmp_path / name, [json.dumps(CRAWL), "{not json", "", json.dumps(SNAPSHOT), "[1, 2]",
                                    json.dumps({"title": "no id"}), json.dumps(no_abstract)])
    out = list(read_metadata(path))
    docs = [r for r in out if not isinstance(r, BadRecord)]
    bad = [r for r in out if isinstance(r, BadRecord)]
    assert [b.line for b in bad] == [2, 5, 6, 7]
    assert "not JSON" in bad[0].reason and bad[3].arxiv_id == "2503.00001" and "abstract" in bad[3].reason

    crawl, snap = docs
    assert crawl.kind == "metadata" and crawl.meta.paper_id == "arxiv:2503.11742"
    assert crawl.meta.title == "Safe Vision-Language Models"
    assert crawl.meta.abstract == "Vision-language models often inherit biases."
    assert crawl.meta.date == "2025-03-18" and crawl.meta.categories == ["cs.CV", "cs.AI"]
    assert crawl.meta.links == {"arxiv": CRAWL["abs"], "pdf": CRAWL["pdf"]}
    assert [(b.section, b.page) for b in crawl.blocks] == [("Title", 0), ("Abstract", 0)]

    assert snap.meta.paper_id == "arxiv:0704.0001" and snap.meta.arxiv_version == 2
    assert snap.meta.date == "2007-04-02"  # v1 submission, not update_date
    assert snap.meta.authors == ["C. Balázs", "E. L. Berger", "P. M. Nadolsky Jr"]
    assert snap.meta.categories == ["hep-ph", "gr-qc"]
    assert snap.meta.abstract == "A fully differential calculation in perturbative QCD."
    assert snap.meta.links["doi"] == "https://doi.org/10.1103/PhysRevD.76.013009"
    assert snap.meta.extra["journal_ref"] == "Phys.Rev.D76:013009,2007"


def test_snapshot_author_string_fallback_and_hash_stability(tmp_path: Path) -> None:
    rec = {k: v for k, v in SNAPSHOT.items() if k != "authors_parsed"}
    a = _write(tmp_path / "a.jsonl", [json.dumps(rec), json.dumps(CRAWL)])
    b = _write(tmp_path / "b.jsonl", [json.dumps(CRAWL), json.dumps(rec, indent=None, sort_keys=True)])
    da, db = list(read_metadata(a)), list(read_metadata(b))
    assert da[0].meta.authors == ["C. Bal\\'azs", "E. L. Berger", "P. M. Nadolsky"]
    assert {d.content_hash for d in da} == {d.content_hash for d in db}  # order and key order do not matter
    changed = _write(tmp_path / "c.jsonl", [json.dumps(dict(CRAWL, title="Another title"))])
    assert next(read_metadata(changed)).content_hash != da[1].content_hash


def test_truncated_gzip_reports_instead_of_raising(tmp_path: Path) -> None:
    data = gzip.compress(("\n".join(json.dumps(dict(CRAWL, id=f"2503.{i:05d}")) for i in range(200)) + "\n").encode())
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    out = list(read_metadata(path))
    assert isinstance(out[-1], BadRecord) and "truncated" in out[-1].reason
    assert all(not isinstance(r, BadRecord) for r in out[:-1]) and len(out) > 1


def test_real_corpus_first_records() -> None:
    files = sorted((CORPUS / "arxiv").glob("*.jsonl.gz"))
    if not files:
        pytest.skip(f"../shared/corpus not found: no arXiv dump under {CORPUS / 'arxiv'}")
    out = list(itertools.islice(read_metadata(files[0]), 2000))
    assert len(out) == 2000 and not [r for r in out if isinstance(r, BadRecord)]
    for d in out:
        m = d.meta
        assert m.paper_id == f"arxiv:{m.arxiv_id}" and m.title and m.abstract and m.authors and m.categories
        assert "\n" not in m.abstract and "  " not in m.title
        assert m.date and m.date.startswith("202") and m.links["arxiv"].startswith("https://arxiv.org/abs/")
        assert d.blocks[0].text == m.title and d.blocks[1].text == m.abstract
    assert out[0].meta.arxiv_id == "2503.11731"
