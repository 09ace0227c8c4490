from __future__ import annotations

from pathlib import Path

import pytest

from paperlens.ingest.digest import read_digest, title_paper_id
from paperlens.ingest.mojibake import decode_page

SEEDS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "seeds"
MOJIBAKE = ("æ", "å", "ç", "è", "ï¼", "\ufffd")


def _seed(prefix: str) -> Path:
    found = sorted(SEEDS.glob(f"{prefix}_*.txt"))
    if not found:
        pytest.skip(f"../shared/corpus not found: no seed page {prefix}_*.txt under {SEEDS}")
    return found[0]


def _lossy_cp1252(text: str) -> bytes:
    """What the broken seed went through: UTF-8 read as cp1252, undefined and soft-hyphen bytes lost."""
    chars = []
    for b in text.encode("utf-8"):
        try:
            ch = bytes([b]).decode("cp1252")
        except UnicodeDecodeError:
            continue
        if ch != "\u00ad":
            chars.append(ch)
    return "".join(chars).encode("utf-8")


def _all_indexed_text(result) -> str:
    return "\n".join(b.text for d in result.documents for b in d.blocks)


def test_entry_counts_ids_and_distinct_papers() -> None:
    counts, ids = {}, set()
    for prefix in ("000", "001", "002", "003", "004"):
        res = read_digest(_seed(prefix))
        counts[prefix] = len(res.documents)
        ids |= {d.meta.paper_id for d in res.documents}
    assert counts == {"000": 7, "001": 17, "002": 10, "003": 5, "004": 9}
    assert len(ids) == 47  # SurGen (2408.14028) is on both 001 and 002
    daily = read_digest(_seed("002")).documents
    assert daily[0].meta.arxiv_id == "2409.17058" and daily[0].meta.arxiv_version == 1
    assert daily[0].meta.links["code"] == "https://github.com/ArcticHare105/S3Diff"
    assert "ChatPaperFree" not in str(daily[0].meta.links)  # page boilerplate is not an entry link
    assert daily[0].meta.authors[:2] == ["Aiping Zhang", "Zongsheng Yue"]
    assert daily[0].meta.abstract.startswith("Diffusion-based image super-resolution (SR)")
    assert [b.section for b in daily[0].blocks][:3] == ["Title", "Abstract", "Summary"]
    assert {d.meta.arxiv_id for d in read_digest(_seed("004")).documents} >= {"2404.12920", "2404.11565"}


def test_chinese_summaries_and_analysis_present() -> None:
    for prefix in ("000", "002", "003", "004"):
        res = read_digest(_seed(prefix))
        for doc in res.documents:
            zh = doc.meta.extra["zh_summary"]
            assert zh and any("\u4e00" <= c <= "\u9fff" for c in zh), (prefix, doc.meta.title)
            assert doc.meta.extra["digest_page"] == _seed(prefix).name
    daily = read_digest(_seed("002")).documents[0]
    assert "研究背景" in daily.meta.extra["zh_analysis"]
    news = read_digest(_seed("000")).documents
    assert news[0].meta.title == "CDFormer" and news[0].meta.extra["digest_category"] == "图视频超分"
    assert news[0].lang == "zh" and news[0].meta.date == "2024-05-17"
    assert news[0].meta.paper_id == title_paper_id("CDFormer")
    topic = read_digest(_seed("003")).documents
    assert topic[0].meta.date == "2024-01-24" and topic[0].blocks[1].section == "摘要"
    assert topic[0].meta.extra["digest_group"].startswith("Topic: Image Generation")


def test_clean_pages_pass_through_unchanged() -> None:
    for prefix in ("000", "002", "003", "004"):
        path = _seed(prefix)
        lines, repaired, _ = decode_page(path.read_bytes(), path.name)
        assert not repaired
        original = path.read_text(encoding="utf-8").replace("\r\n", "\n").split("\n")
        changed = [i for i, (a, b) in enumerate(zip(lines, original)) if a != b]
        assert changed == [], f"{path.name}: lines changed {changed[:5]}"
    # 004 holds one genuine U+FFFD from its source: flagged, and not indexed
    res = read_digest(_seed("004"))
    assert len(res.warnings) == 1 and "mojibake" in res.warnings[0]
    assert "\ufffd" not in _all_indexed_text(res)


def test_broken_seed_is_repaired_and_the_rest_flagged() -> None:
    path = _seed("001")
    lines, repaired, _ = decode_page(path.read_bytes(), path.name)
    assert repaired
    description = next(line for line in lines if line.startswith("description:"))
    assert "最新论文已更新" in description and "æ" not in description
    res = read_digest(path)
    assert res.repaired and len(res.documents) == 17
    text = _all_indexed_text(res)
    assert not any(m in text for m in MOJIBAKE)  # nothing broken reaches the index
    assert any("field dropped" in w for w in res.warnings)
    assert all(w.startswith(path.name) for w in res.warnings)
    # English parts are intact
    first = res.documents[0]
    assert first.meta.arxiv_id == "2408.14227" and first.meta.abstract.startswith("Infrared imaging offers")


def test_synthetic_broken_page(tmp_path: Path) -> None:
    page = "\n".join([
        "---", "title: Test digest", "date: 2025-01-02 10:00:00", "---", "", "# 2025-01-02 更新", "",
        "## A Paper About Diffusion", "", "**Authors:Ann Lee, Bo Chen**", "",
        "We study diffusion. It works.", "", "[PDF](http://arxiv.org/abs/2501.00001v2) 10 pages", "",
        "**Summary**", "扩散模型。", "",
        "**Key Takeaways**", "- 红外转可见光。", "",
        "## Second Paper", "", "**Authors:C D**", "", "English text only.", "",
        "[PDF](https://arxiv.org/abs/2501.00002)", "",
    ])
    path = tmp_path / "broken.txt"
    path.write_bytes(_lossy_cp1252(page))
    res = read_digest(path)
    assert res.repaired and [d.meta.arxiv_id for d in res.documents] == ["2501.00001", "2501.00002"]
    first = res.documents[0]
    assert first.meta.extra["zh_summary"] == "扩散模型。"  # no lost byte in it: fully repaired
    assert first.meta.arxiv_version == 2 and first.meta.date == "2025-01-02"
    assert first.meta.authors == ["Ann Lee", "Bo Chen"] and first.meta.extra["comment"] == "10 pages"
    sections = [b.section for b in first.blocks]
    assert "Key Takeaways" not in sections  # '可见' lost bytes: field dropped, not indexed
    assert any("Key Takeaways" in w and "broken.txt:20" in w for w in res.warnings)
    assert not any(m in _all_indexed_text(res) for m in MOJIBAKE)


def test_invalid_utf8_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(b"## Title One\n\nSome English abstract \xff\xfe text.\n")
    res = read_digest(path)
    assert any("not valid UTF-8" in w for w in res.warnings)
    assert "\ufffd" not in _all_indexed_text(res)
