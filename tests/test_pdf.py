"""PDF ingest: textclean units, generated fixtures (exact behaviour), and the real corpus."""

from __future__ import annotations

import hashlib
import json
import pickle
import re
import time
from pathlib import Path

import fixtures_pdf as fx
import pytest

from paperlens.errors import ParseError, TooLarge
from paperlens.ingest.pdf import parse_many, parse_pdf, parse_pdf_inprocess
from paperlens.ingest.textclean import dehyphenate_lines, normalize
from paperlens.models import Document
from paperlens.text import detect_lang

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"


# --- textclean -----------------------------------------------------------------------------------


def test_normalize_fixes_ligatures_spaces_soft_hyphens_and_tex_accents() -> None:
    assert normalize("the ﬁnal ﬂow") == "the final flow"
    assert normalize("a\u00a0b\u2009 c\t\td\u200b") == "a b c d"
    assert normalize("infor\u00admation") == "information"
    assert normalize("Fr´echet na¨ıve D´epartement") == "Fréchet naïve Département"
    assert normalize("two\nlines ") == "two\nlines"


def test_dehyphenate_joins_split_words_and_keeps_compounds() -> None:
    assert dehyphenate_lines(["Denoising diffu-", "sion models"]) == "Denoising diffusion models"
    assert dehyphenate_lines(["self-", "attention"]) == "self-attention"
    assert dehyphenate_lines(["state-of-", "the-art"]) == "state-of-the-art"
    assert dehyphenate_lines(["text-", "to-image"]) == "text-to-image"
    assert dehyphenate_lines(["GPT-", "4 and Text-", "Guided"]) == "GPT-4 and Text-Guided"
    assert dehyphenate_lines(["a soft\u00ad", "hyphen"]) == "a softhyphen"
    assert dehyphenate_lines(["one", "", "two"]) == "one two"
    assert dehyphenate_lines(["扩散模型通过", "逐步加噪"]) == "扩散模型通过逐步加噪"
    assert dehyphenate_lines(["使用", "Diffusion 模型"]) == "使用Diffusion 模型"


def test_detect_lang() -> None:
    assert detect_lang("Diffusion models generate images.") == "en"
    assert detect_lang("Diffusion模型的条件控制方法，包括Classifier Guidance。") == "zh"
    assert detect_lang("") == "en"


# --- generated fixtures ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pdfs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("pdfs")
    return {
        "paper": fx.two_column_paper(d),
        "hidden": fx.hidden_text_pdf(d),
        "mixed": fx.image_only_pdf(d, "mixed.pdf", text_pages=1, image_pages=1),
        "scan": fx.image_only_pdf(d, "scan.pdf", text_pages=0, image_pages=2),
        "encrypted": fx.encrypted_pdf(d),
        "garbage": fx.garbage_file(d),
        "truncated": fx.truncated_pdf(d),
        "many": fx.many_pages_pdf(d, pages=60),
        "zh": fx.chinese_pdf(d),
        "empty": _empty_file(d),
    }


def _empty_file(d: Path) -> Path:
    (d / "empty.pdf").write_bytes(b"")
    return d / "empty.pdf"


@pytest.fixture(scope="module")
def paper(pdfs: dict[str, Path]) -> Document:
    return parse_pdf(pdfs["paper"])  # through the child process, as production does


def _sections(doc: Document) -> list[str]:
    out: list[str] = []
    for b in doc.blocks:
        if not out or out[-1] != b.section:
            out.append(b.section)
    return out


def test_paper_sections_pages_and_column_order(paper: Document) -> None:
    assert _sections(paper) == ["Front matter", "Abstract"] + [h for h, *_ in fx.PAPER_SECTIONS]
    body = {b.section: b for b in paper.blocks if b.section}
    for heading, lines, page, _ in fx.PAPER_SECTIONS:
        assert body[heading].page == page
        assert body[heading].text == normalize(dehyphenate_lines(lines))
    # headings are section names, never body text
    assert not any(b.text == h for b in paper.blocks for h, *_ in fx.PAPER_SECTIONS)
    # the right column was written first; reading order still puts the left column first
    texts = [b.text for b in paper.blocks]
    assert texts.index(body["1 Introduction"].text) < texts.index(body["2 Method"].text)


def test_paper_text_is_cleaned(paper: Document) -> None:
    intro = next(b.text for b in paper.blocks if b.section == "1 Introduction")
    assert intro.startswith("Denoising diffusion models learn")
    assert "The final samples" in intro
    full = "\n".join(b.text for b in paper.blocks)
    assert "diffu-" not in full and "ﬁ" not in full


def test_running_header_page_numbers_and_stamp_stay_out(paper: Document) -> None:
    full = "\n".join(b.text for b in paper.blocks)
    assert fx.RUNNING_HEADER not in full
    assert not any(re.fullmatch(r"\d+", b.text) for b in paper.blocks)
    assert "arXiv" not in full and "2401.12345" not in full


def test_paper_meta(paper: Document, pdfs: dict[str, Path]) -> None:
    m = paper.meta
    assert (m.paper_id, m.arxiv_id, m.arxiv_version) == ("arxiv:2401.12345", "2401.12345", 2)
    assert (m.date, m.categories) == ("2024-01-03", ["cs.CV"])
    assert m.title == fx.TITLE  # small caps: spans of two sizes on one line
    assert m.authors == fx.AUTHORS
    assert m.abstract == " ".join(fx.ABSTRACT)
    assert paper.kind == "pdf" and paper.lang == "en" and paper.warnings == []
    assert paper.source == str(pdfs["paper"])
    assert paper.content_hash == hashlib.sha256(pdfs["paper"].read_bytes()).hexdigest()
    assert pickle.loads(pickle.dumps(paper)) == paper


def test_without_stamp_the_id_comes_from_the_bytes(tmp_path: Path) -> None:
    path = fx.two_column_paper(tmp_path, stamp=None)
    doc = parse_pdf_inprocess(path)
    assert doc.meta.arxiv_id is None
    assert doc.meta.paper_id == "sha:" + hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def test_hidden_text_is_dropped_and_reported(pdfs: dict[str, Path]) -> None:
    doc = parse_pdf(pdfs["hidden"])
    assert [b.text for b in doc.blocks] == [fx.VISIBLE_TEXT]
    hidden = (fx.HIDDEN_WHITE, fx.HIDDEN_TINY, fx.HIDDEN_INVISIBLE, fx.HIDDEN_ZERO_ALPHA)
    n = sum(len(s.replace(" ", "")) for s in hidden)
    assert doc.warnings == [f"page 1: {n} characters of invisible text dropped (white/tiny/hidden)"]
    assert fx.INJECTION not in doc.meta.title + doc.meta.abstract


def test_image_only_pages_are_flagged(pdfs: dict[str, Path]) -> None:
    mixed = parse_pdf_inprocess(pdfs["mixed"])
    assert [(b.page, b.text) for b in mixed.blocks] == [(1, "Text page 1 has a real text layer.")]
    assert mixed.warnings == ["page 2: image-only, no text layer"]
    scan = parse_pdf_inprocess(pdfs["scan"])
    assert scan.blocks == []
    assert scan.warnings[:2] == ["page 1: image-only, no text layer", "page 2: image-only, no text layer"]
    assert scan.warnings[2].startswith("no text layer")


def test_invisible_ocr_layer_of_a_scan_is_kept(tmp_path: Path) -> None:
    doc = parse_pdf_inprocess(fx.ocr_scan_pdf(tmp_path))
    assert [b.text for b in doc.blocks] == [fx.OCR_TEXT]
    n = len(fx.OCR_TEXT.replace(" ", ""))
    assert doc.warnings == [f"page 1: invisible OCR text layer over a page image kept ({n} characters)"]


@pytest.mark.parametrize(
    ("name", "reason", "words"),
    [
        ("encrypted", "encrypted", "is encrypted"),
        ("garbage", "not_pdf", "not a PDF"),
        ("truncated", None, ""),
        ("empty", "empty", "empty file"),
    ],
)
def test_bad_files_raise_parse_error_naming_the_file(pdfs: dict[str, Path], name: str, reason: str | None, words: str) -> None:
    with pytest.raises(ParseError) as err:
        parse_pdf(pdfs[name])
    assert str(pdfs[name]) in str(err.value) and words in str(err.value)
    assert err.value.extra["path"] == str(pdfs[name])
    if reason:
        assert err.value.extra["reason"] == reason


def test_missing_file_and_size_limit(pdfs: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="missing.pdf"):
        parse_pdf(tmp_path / "missing.pdf")
    with pytest.raises(TooLarge, match="two_column.pdf"):
        parse_pdf(pdfs["paper"], max_bytes=1000)


def test_timeout_kills_the_child(pdfs: dict[str, Path]) -> None:
    start = time.monotonic()
    with pytest.raises(ParseError, match="timed out") as err:
        parse_pdf(pdfs["many"], timeout_s=0.01)
    assert err.value.extra["reason"] == "timeout" and str(pdfs["many"]) in str(err.value)
    assert time.monotonic() - start < 5


def test_max_pages_parses_the_first_pages_and_warns(pdfs: dict[str, Path]) -> None:
    doc = parse_pdf(pdfs["many"], max_pages=5)
    assert {b.page for b in doc.blocks} == {1, 2, 3, 4, 5}
    assert "only the first 5 of 60 pages parsed" in doc.warnings


def test_batch_continues_after_bad_files(pdfs: dict[str, Path]) -> None:
    names = ["garbage", "paper", "encrypted", "hidden", "truncated", "zh"]
    results = dict(parse_many([pdfs[n] for n in names], workers=2))
    assert set(results) == {pdfs[n] for n in names}
    for n in names:
        bad = n in ("garbage", "encrypted", "truncated")
        assert isinstance(results[pdfs[n]], ParseError if bad else Document), n


def test_chinese_heading_and_language(pdfs: dict[str, Path]) -> None:
    doc = parse_pdf_inprocess(pdfs["zh"])
    assert doc.lang == "zh"
    assert doc.meta.title == fx.ZH_TITLE
    assert [(b.section, b.text) for b in doc.blocks[1:]] == [(fx.ZH_HEADING, normalize("".join(fx.ZH_LINES)))]


# --- the real corpus ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus() -> Path:
    if not (CORPUS / "pdfs").is_dir():
        pytest.skip(f"../shared/corpus not found: {CORPUS} (real-PDF tests need the shared corpus)")
    return CORPUS


@pytest.fixture(scope="module")
def corpus_docs(corpus: Path) -> dict[str, Document | ParseError]:
    paths = sorted((corpus / "pdfs").glob("*.pdf"))
    return {p.name: r for p, r in parse_many(paths, workers=2)}


@pytest.mark.corpus
def test_corpus_parses_every_pdf(corpus: Path, corpus_docs: dict[str, Document | ParseError]) -> None:
    entries = json.loads((corpus / "pdfs_manifest.json").read_text())
    manifest = {Path(e["file"]).name: e for e in entries if e["file"].startswith("pdfs/")}
    assert set(corpus_docs) == set(manifest) and len(corpus_docs) >= 30
    for name, doc in corpus_docs.items():
        assert isinstance(doc, Document), f"{name}: {doc}"
        text = "".join(b.text for b in doc.blocks)
        assert len(text) > 2000, name
        assert all(1 <= b.page <= manifest[name]["pages"] for b in doc.blocks), name
        assert doc.content_hash == manifest[name]["sha256"], name
        assert doc.meta.title, name
        assert not any("arXiv:" in b.text and "[cs." in b.text for b in doc.blocks[:5]), name


@pytest.mark.corpus
@pytest.mark.parametrize(
    ("name", "title", "arxiv_id"),
    [
        ("sr_rcan.pdf", "Image Super-Resolution Using Very Deep Residual Channel Attention Networks", "1807.02758"),
        ("cyclegan.pdf", "Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial Networks", "1703.10593"),
        ("gan_goodfellow_2014.pdf", "Generative Adversarial Nets", "1406.2661"),
        # small caps: each word a capital at 17.2 pt followed by capitals at 13.8 pt
        ("emerdiff.pdf", "EMERDIFF: EMERGING PIXEL-LEVEL SEMANTIC KNOWLEDGE IN DIFFUSION MODELS", "2401.11739"),
        ("compose_and_conquer.pdf", "COMPOSE AND CONQUER: DIFFUSION-BASED 3D DEPTH AWARE COMPOSABLE IMAGE SYNTHESIS", "2401.09048"),
        ("sr_san_second_order_attention.pdf", "Second-Order Attention Network for Single Image Super-Resolution", None),
    ],
)
def test_corpus_titles(corpus_docs: dict[str, Document | ParseError], name: str, title: str, arxiv_id: str | None) -> None:
    doc = corpus_docs[name]
    assert isinstance(doc, Document)
    assert doc.meta.title == title
    assert doc.meta.arxiv_id == arxiv_id
    assert doc.meta.abstract, name


@pytest.mark.corpus
def test_corpus_sections_and_authors(corpus_docs: dict[str, Document | ParseError]) -> None:
    gan = corpus_docs["gan_goodfellow_2014.pdf"]
    assert isinstance(gan, Document)
    assert gan.meta.authors[:3] == ["Ian J. Goodfellow", "Jean Pouget-Abadie", "Mehdi Mirza"]
    assert _sections(gan)[:4] == ["Front matter", "Abstract", "1 Introduction", "2 Related work"]
    assert gan.meta.abstract.startswith("We propose a new framework for estimating generative models")
    rcan = corpus_docs["sr_rcan.pdf"]
    assert isinstance(rcan, Document)
    assert rcan.meta.abstract.startswith("Convolutional neural network (CNN) depth")  # "Abstract." run in
    assert (rcan.meta.arxiv_version, rcan.meta.date) == (2, "2018-07-12")


@pytest.mark.corpus
def test_corpus_chinese_pdfs(corpus_docs: dict[str, Document | ParseError]) -> None:
    zh = {n: d for n, d in corpus_docs.items() if n.startswith("zh_")}
    assert len(zh) == 4
    assert all(isinstance(d, Document) and d.lang == "zh" for d in zh.values())
    assert all(d.lang == "en" for n, d in corpus_docs.items() if n not in zh and isinstance(d, Document))


@pytest.mark.corpus
def test_corpus_odd_files(corpus: Path) -> None:
    odd = {p.name: r for p, r in parse_many(sorted((corpus / "pdfs_odd").glob("*.pdf")), workers=2)}
    broken = odd["underspecification_BROKEN_2bytes.pdf"]
    assert isinstance(broken, ParseError) and "underspecification_BROKEN_2bytes.pdf" in str(broken)
    scan = odd["DERIVED_image_only_scan_of_sr_san.pdf"]
    assert isinstance(scan, Document) and scan.blocks == []
    assert sum("image-only, no text layer" in w for w in scan.warnings) == 10
    figure = odd["cdformer_fig_network_FIGURE_ONLY.pdf"]
    assert isinstance(figure, Document) and all(b.page == 1 for b in figure.blocks)
