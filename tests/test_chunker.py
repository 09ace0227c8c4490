from __future__ import annotations

from pathlib import Path

import pytest

from paperlens.ingest.chunker import SUMMARY_SECTIONS, chunk_document, default_token_counter
from paperlens.ingest.digest import read_digest
from paperlens.models import Block, Document, PaperMeta

SEEDS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "seeds"
COUNT = default_token_counter()

EN = ("Diffusion models generate images by denoising. We use e.g. DDIM and the method of Ho et al. for sampling. "
      "Fig. 3 shows a 3.5 dB gain over the baseline! Does it scale? Yes, to 1024 pixels. ")
ZH = "扩散模型通过逐步去噪生成图像。我们提出了一种新的采样方法！它是否有效？实验表明效果显著；代码已公开。"


def _doc(kind: str = "pdf") -> Document:
    blocks = [Block("A Study of Diffusion", 1, "Title"), Block(EN * 3, 1, "Abstract"),
              Block(EN * 4, 1, "Introduction"), Block(EN * 5, 2, "Introduction"), Block(ZH * 6, 3, "方法"),
              Block("ab/" * 1000, 3, "Appendix"), Block("Short tail.", 4, "Appendix")]
    return Document(PaperMeta("sha:0123456789abcdef"), kind, blocks, "synthetic", "h")


def _check(doc: Document, max_tokens: int, overlap_tokens: int):
    chunks = chunk_document(doc, rev="r1", max_tokens=max_tokens, overlap_tokens=overlap_tokens, count_tokens=COUNT)
    full = "\n\n".join(b.text for b in doc.blocks)
    bounds, pos = [], 0
    for b in doc.blocks:
        bounds.append((pos, pos + len(b.text), b.section))
        pos += len(b.text) + 2
    for c in chunks:
        assert full[c.char_start:c.char_end] == c.text and c.text == c.text.strip() and c.text
        assert COUNT(c.text) <= max_tokens, (COUNT(c.text), c.text[:80])
        covered = {sec for a, b, sec in bounds if a < c.char_end and b > c.char_start}
        assert covered == {c.section}  # never crosses a section
    assert [c.index for c in chunks] == list(range(len(chunks)))
    return chunks


def test_offsets_bound_sections_overlap() -> None:
    chunks = _check(_doc(), max_tokens=40, overlap_tokens=10)
    intro = [c for c in chunks if c.section == "Introduction"]
    assert len(intro) > 3 and intro[0].page_start == 1 and intro[-1].page_end == 2
    overlaps = sum(1 for a, b in zip(intro, intro[1:]) if b.char_start < a.char_end)
    assert overlaps >= len(intro) // 2
    assert not any(c.text.endswith(("e.g.", "et al.", "Fig.")) for c in chunks)  # abbreviations are not ends
    assert all(c.text[-1] in ".!?" for c in intro)  # cut at sentence ends only
    assert not any(c.text.startswith(("5 dB", "al.", "g. DDIM")) for c in chunks)
    giant = [c for c in chunks if c.section == "Appendix"]
    assert len(giant) > 1 and "".join(c.text for c in giant[:-1]).startswith("ab/" * 30)
    assert [c.is_summary for c in chunks if c.section in ("Title", "Abstract")] == [True] * sum(
        1 for c in chunks if c.section in ("Title", "Abstract"))
    assert not any(c.is_summary for c in intro)


def test_chinese_split_at_sentence_marks() -> None:
    chunks = _check(_doc(), max_tokens=30, overlap_tokens=8)
    zh = [c for c in chunks if c.section == "方法"]
    assert len(zh) > 2 and all(c.lang == "zh" for c in zh)
    assert all(c.text[-1] in "。！？；" for c in zh)
    assert all(c.lang == "en" for c in chunks if c.section == "Introduction")


def test_deterministic_ids_and_kind_summary() -> None:
    a = chunk_document(_doc(), rev="r1", max_tokens=50, overlap_tokens=10, count_tokens=COUNT)
    b = chunk_document(_doc(), rev="r1", max_tokens=50, overlap_tokens=10, count_tokens=COUNT)
    assert [c.chunk_id for c in a] == [c.chunk_id for c in b] and len({c.chunk_id for c in a}) == len(a)
    c = chunk_document(_doc(), rev="r2", max_tokens=50, overlap_tokens=10, count_tokens=COUNT)
    assert not {x.chunk_id for x in a} & {x.chunk_id for x in c}
    assert all(x.is_summary for x in chunk_document(_doc("metadata"), rev="r", max_tokens=50, overlap_tokens=10,
                                                     count_tokens=COUNT))


def test_real_digest_chunks() -> None:
    pages = sorted(SEEDS.glob("*.txt"))
    if not pages:
        pytest.skip(f"../shared/corpus not found: no seed pages under {SEEDS}")
    for page in pages:
        for doc in read_digest(page).documents:
            chunks = _check(doc, max_tokens=64, overlap_tokens=16)
            assert chunks[0].section == "Title" and chunks[0].is_summary
            # summaries get the cross-lingual vector; an entry's author/affiliation block does not
            assert all(c.is_summary == (c.section.strip("【】").lower() in SUMMARY_SECTIONS) for c in chunks)
            assert all(c.page_start == c.page_end == 0 for c in chunks)


def test_100_page_document() -> None:
    # Speed is measured in bench/, not asserted here; this checks a long mixed document end to end.
    para = EN * 4 + ZH
    doc = Document(PaperMeta("sha:1"), "pdf", [Block(para, 1 + i // 6, f"S{i // 30}") for i in range(600)], "s", "h")
    chunks = chunk_document(doc, rev="r", max_tokens=220, overlap_tokens=30, count_tokens=COUNT)
    assert chunks[0].page_start == 1 and chunks[-1].page_end == 100
    assert all(COUNT(c.text) <= 220 for c in chunks)
