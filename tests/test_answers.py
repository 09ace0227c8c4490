"""Grounded answers on the real corpus with the extractive backend: paper cards, comparisons,
roundups and questions, through the service, the HTTP API (real uvicorn) and the CLI (--server).
Every citation is checked the way a user would: its quote must occur in the text that
GET /api/chunks/{chunk_id} returns, and every number in a table cell must occur in its quote."""

from __future__ import annotations

import re
import subprocess
import sys

import httpx
import pytest

from paperlens.answer.checker import numbers
from paperlens.answer.citation import iter_citations
from paperlens.answer.service import Answerer
from paperlens.api.app import create_app

from support import ROOT, serving

pytestmark = pytest.mark.corpus

SR_FILES = ["sr_rcan.pdf", "sr_san_second_order_attention.pdf", "sr_espcn.pdf", "sr_pan_pixel_attention.pdf",
            "sr_ram_residual_attention.pdf", "sr_nlsa.pdf", "sr_choi_selection_units_cvprw2017.pdf"]


@pytest.fixture(scope="module")
def answerer(corpus_library):
    lib, settings, _ = corpus_library
    return Answerer(lib, settings)


def _pid(lib, name: str) -> str:
    ids = lib.catalog.papers_from_source(name)
    assert len(ids) == 1, (name, ids)
    return ids[0]


def _assert_verifiable(lib, out: dict) -> int:
    n = 0
    for c in iter_citations(out):
        chunk = lib.chunk(c["chunk_id"])
        assert c["quote"] and c["quote"] in chunk["text"], c
        assert c["paper_id"] == chunk["paper_id"] and c["page"] == chunk["page_start"], c
        n += 1
    return n


@pytest.mark.parametrize("name", ["sr_rcan.pdf", "ella.pdf", "dilightnet.pdf", "rethinking_fid_cmmd.pdf"])
def test_paper_cards_are_cited_and_structured(corpus_library, answerer, name):
    lib = corpus_library[0]
    pid = _pid(lib, name)
    out = answerer.summarize(pid, "en")
    assert _assert_verifiable(lib, out) >= sum(len(s["citations"]) for s in out["sentences"]) > 0
    keys = [s["key"] for s in out["sections"]]
    assert keys == ["background", "problem", "method", "result", "limitation"]
    method = next(s for s in out["sections"] if s["key"] == "method")
    assert method["sentences"], out["markdown"]
    texts = [s["text"] for s in out["sentences"]]
    assert len(texts) == len(set(texts)), "a card repeats itself"
    assert out["check"]["dropped"] == 0  # extractive sentences are verbatim: none may fail the checker
    assert out["check"]["checked"] == len(texts) + len(out["affiliations"])
    assert out["title"] and out["markdown"].startswith("# ")
    assert "[1]" in out["markdown"] and "## Sources" in out["markdown"]


def test_card_of_chinese_notes(corpus_library, answerer):
    """Lecture notes in Chinese (no abstract, no method section): a card in Chinese, still cited."""
    lib = corpus_library[0]
    out = answerer.summarize(_pid(lib, "zh_sde_notes.pdf"), "zh")
    assert out["sentences"] and out["check"]["dropped"] == 0
    assert all(re.search(r"[\u4e00-\u9fff]", s["text"]) for s in out["sentences"])
    assert all(s["text"][0] not in ",，、" for s in out["sentences"])
    _assert_verifiable(lib, out)


def test_card_numbers_and_code_link(corpus_library, answerer):
    lib = corpus_library[0]
    out = answerer.summarize(_pid(lib, "sr_rcan.pdf"))
    assert out["links"]["code"] == "https://github.com/yulunzhang/RCAN"
    results = next(s for s in out["sections"] if s["key"] == "result")["sentences"]
    assert any(numbers(s["text"]) for s in results), "results should carry numbers"


def test_chinese_card_uses_the_digest_summary(corpus_library, answerer):
    lib = corpus_library[0]
    out = answerer.summarize("arxiv:2409.17058", "zh")  # a digest entry: English abstract + Chinese analysis
    _assert_verifiable(lib, out)
    zh = [s["text"] for s in out["sentences"] if re.search(r"[\u4e00-\u9fff]", s["text"])]
    assert len(zh) >= 3, out["markdown"]
    assert out["sections"][2]["name"] == "方法"


def test_compare_finds_every_super_resolution_paper(corpus_library, answerer):
    lib = corpus_library[0]
    out = answerer.compare("compare image super-resolution methods")
    got = {r["paper_id"] for r in out["rows"]}
    want = {_pid(lib, f) for f in SR_FILES}
    assert want <= got, [r["title"] for r in out["rows"]]
    _assert_verifiable(lib, out)
    reported = 0
    for r in out["rows"]:
        assert set(r["cells"]) == set(out["aspects"])
        for name, cell in r["cells"].items():
            if cell["value"] == "not reported":
                assert not cell["citations"]
                continue
            reported += 1
            quotes = " ".join(c["quote"] for c in cell["citations"])
            if cell["citations"]:
                assert numbers(cell["value"]) <= numbers(quotes), (name, cell)
    assert reported >= len(out["rows"]) * 3  # most columns are filled for papers of this kind
    rcan = next(r for r in out["rows"] if r["paper_id"] == _pid(lib, "sr_rcan.pdf"))
    assert "DIV2K" in rcan["cells"]["training data"]["value"]
    assert "Set5" in rcan["cells"]["benchmarks"]["value"]
    assert "| Paper |" in out["markdown"] and "not reported" in out["markdown"]
    assert out["synthesis"]


def test_compare_given_papers_and_aspects(corpus_library, answerer):
    lib = corpus_library[0]
    ids = [_pid(lib, "sr_rcan.pdf"), _pid(lib, "sr_san_second_order_attention.pdf")]
    out = answerer.compare(paper_ids=ids, aspects=["PSNR", "training data", "attention mechanism"])
    assert [r["paper_id"] for r in out["rows"]] == ids
    assert out["aspects"] == ["PSNR", "training data", "attention mechanism"]
    for r in out["rows"]:
        att = r["cells"]["attention mechanism"]
        assert att["citations"] and "attention" in att["value"].lower()
        psnr = r["cells"]["PSNR"]
        assert psnr["value"] == "not reported" or psnr["value"].startswith("PSNR ")
    _assert_verifiable(lib, out)


def test_roundup_respects_the_window_and_groups_by_theme(corpus_library, answerer):
    lib = corpus_library[0]
    out = answerer.roundup("diffusion", date_from="2024-08-01", date_to="2024-09-30")
    papers = [p for t in out["themes"] for p in t["papers"]]
    assert len(papers) >= 10
    assert all("2024-08-01" <= p["date"] <= "2024-09-30" for p in papers)
    assert len({p["paper_id"] for p in papers}) == len(papers)
    assert all(1 <= len(p["sentences"]) <= 3 for p in papers)
    assert all(t["title"] for t in out["themes"])
    _assert_verifiable(lib, out)
    zh = answerer.roundup("扩散模型", date_from="2024-09-01", date_to="2024-09-30", language="zh")
    lines = [s["text"] for t in zh["themes"] for p in t["papers"] for s in p["sentences"]]
    assert lines and sum(bool(re.search(r"[\u4e00-\u9fff]", x)) for x in lines) >= len(lines) // 2
    _assert_verifiable(lib, zh)


@pytest.mark.parametrize("question, file, words", [
    ("What does RCAN use to rescale channel-wise features?", "sr_rcan.pdf", ["channel attention"]),
    ("Which layer does ESPCN use to upscale feature maps to the high-resolution output?", "sr_espcn.pdf", ["sub-pixel"]),
    ("What new metric does the Rethinking FID paper propose?", "rethinking_fid_cmmd.pdf", ["CMMD"]),
])
def test_ask_answers_with_citations(corpus_library, answerer, question, file, words):
    lib = corpus_library[0]
    out = answerer.ask(question)
    assert out["answered"], out["markdown"]
    assert _pid(lib, file) in {c["paper_id"] for s in out["sentences"] for c in s["citations"]}
    text = " ".join(s["text"] for s in out["sentences"]).lower()
    assert all(w.lower() in text for w in words), text
    _assert_verifiable(lib, out)


@pytest.mark.parametrize("question", [
    "What is the boiling point of tungsten?",
    "Who won the 2018 FIFA World Cup?",
    "How do I bake sourdough bread at home?",
])
def test_ask_says_so_when_the_papers_do_not_answer(answerer, question):
    out = answerer.ask(question)
    assert not out["answered"] and not out["sentences"], out["markdown"]
    assert out["statement"] == "The indexed papers do not answer this question."


@pytest.fixture(scope="module")
def server(corpus_library):
    lib, settings, _ = corpus_library
    with serving(create_app(settings, lib)) as base:
        yield base


def test_http_endpoints(corpus_library, server):
    lib = corpus_library[0]
    rcan = _pid(lib, "sr_rcan.pdf")
    with httpx.Client(base_url=server, timeout=120) as c:
        card = c.post("/api/summarize", json={"paper_id": rcan, "language": "en"}).json()
        assert card["paper_id"] == rcan and card["sections"] and card["backend"] == "extractive"
        for cit in iter_citations(card):
            assert cit["quote"] in c.get(f"/api/chunks/{cit['chunk_id']}").json()["text"]
        table = c.post("/api/compare", json={"query": "image super-resolution", "aspects": ["training data", "PSNR"]}).json()
        assert table["rows"] and table["aspects"] == ["training data", "PSNR"]
        digest = c.post("/api/roundup", json={"topic": "image editing", "date_from": "2024-01-01"}).json()
        assert digest["themes"] and "markdown" in digest
        ans = c.post("/api/ask", json={"question": "What does RCAN use to rescale channel-wise features?"}).json()
        assert ans["answered"] and ans["check"]["checked"] >= 1
        r = c.post("/api/summarize", json={"paper_id": "arxiv:0000.00000"})
        assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
        r = c.post("/api/compare", json={})
        assert r.status_code == 422, r.text
        r = c.post("/api/summarize", json={"paper_id": rcan, "language": "fr"})
        assert r.status_code == 422 and "language" in r.text
        r = c.post("/api/roundup", json={"topic": "x", "date_from": "yesterday"})
        assert r.status_code == 422 and "date_from" in r.text


def test_cli_through_the_server(corpus_library, server):
    lib = corpus_library[0]
    cli = [sys.executable, "-m", "paperlens.cli"]
    run = lambda *a: subprocess.run([*cli, *a, "--server", server], capture_output=True, text=True, timeout=300, cwd=ROOT)  # noqa: E731
    r = run("summarize", _pid(lib, "ella.pdf"))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("# ELLA") and "## Method" in r.stdout and "## Sources" in r.stdout
    r = run("compare", "image super-resolution", "--aspect", "training data", "--json")
    assert r.returncode == 0, r.stderr
    import json

    assert json.loads(r.stdout)["rows"]
    r = run("ask", "What is the boiling point of tungsten?")
    assert r.returncode == 0 and "do not answer" in r.stdout
    r = run("summarize", "arxiv:0000.00000")
    assert r.returncode == 2 and "404" in r.stderr
