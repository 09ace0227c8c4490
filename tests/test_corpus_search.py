"""Search over the real corpus (31 PDFs, odd PDFs, 5 digest pages): what a user sees."""

from __future__ import annotations

import pytest


def _ids(hits):
    return [h.paper_id for h in hits]


def test_corpus_report_lists_every_source(corpus_library):
    lib, _, report = corpus_library
    counts = report.counts()
    assert counts["failed"] == 1 and "BROKEN_2bytes" in report.to_dict()["failed"][0]["source"]
    skipped = {i["source"].rsplit("/", 1)[-1]: i["reason"] for i in report.to_dict()["skipped"]}
    assert "image-only" in skipped["DERIVED_image_only_scan_of_sr_san.pdf"]
    # the damaged digest page is reported, not silently indexed
    assert any("001_" in w and "mojibake" in w for w in report.warnings)
    assert lib.catalog.count_papers() >= 70


def _paper_of_file(lib, name: str) -> str:
    ids = lib.catalog.papers_from_source(name)
    assert len(ids) == 1, f"{name}: {ids}"
    return ids[0]


@pytest.mark.parametrize(
    "query, file",
    [
        ("second-order attention network for image super-resolution", "sr_san_second_order_attention.pdf"),
        ("residual channel attention very deep super-resolution network", "sr_rcan.pdf"),
        ("unpaired image-to-image translation with cycle consistency", "cyclegan.pdf"),
    ],
)
def test_english_queries_find_the_paper(corpus_library, query, file):
    lib, _, _ = corpus_library
    want = _paper_of_file(lib, file)
    hits = lib.search(query, k=10)
    assert want in _ids(hits)[:5]
    hit = next(h for h in hits if h.paper_id == want)
    assert hit.page >= 1 and hit.doc_kind == "pdf"
    assert hit.text == lib.chunk(hit.chunk_id)["text"]


def test_chinese_query_finds_english_paper(corpus_library):
    lib, _, _ = corpus_library
    want = _paper_of_file(lib, "sr_rcan.pdf")
    hits = lib.search("基于残差通道注意力的图像超分辨率网络", k=10)
    assert want in _ids(hits)


def test_english_query_finds_chinese_only_text(corpus_library):
    lib, _, _ = corpus_library
    hits = lib.search("notes on stochastic differential equations for diffusion models", k=10)
    zh = [h for h in hits if h.doc_kind == "pdf" and any("\u4e00" <= c <= "\u9fff" for c in h.text)]
    assert zh, [h.title for h in hits]


def test_filters_apply_inside_search(corpus_library):
    lib, _, _ = corpus_library
    from paperlens.models import SearchFilters

    digests = lib.search("diffusion", k=20, filters=SearchFilters(doc_kinds=["digest"]))
    assert digests and all(h.doc_kind == "digest" for h in digests)
    dated = lib.search("diffusion", k=20, filters=SearchFilters(date_from="2024-08-01", date_to="2024-08-31"))
    assert dated and all(h.date and "2024-08-01" <= h.date <= "2024-08-31" for h in dated)
