"""paperlens.text: the one set of CJK classes, the language tests and the one sentence splitter."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from paperlens.text import (
    HAN,
    count_cjk,
    count_han,
    detect_lang,
    is_cjk,
    is_cjk_heavy,
    is_han,
    sentence_bounds,
    split_sentences,
)

ROOT = Path(__file__).resolve().parents[1]


def test_character_classes() -> None:
    for ch in "中文扩散㐀豈𠀀":  # unified, extension A, compatibility, extension B
        assert is_han(ch) and is_cjk(ch), ch
    for ch in "。、「」，（）Ａ\u3000":  # CJK punctuation, full-width forms: no space around them, not Han
        assert is_cjk(ch) and not is_han(ch), ch
    for ch in "aZ9 .,-éΩ":
        assert not is_cjk(ch) and not is_han(ch), ch
    assert count_han("扩散模型 (diffusion) 。") == 4 and count_cjk("扩散模型 (diffusion) 。") == 5
    assert f"[{HAN}]"  # a regex class body


def test_language() -> None:
    assert is_cjk_heavy("扩散模型通过逐步去噪生成图像") and not is_cjk_heavy("Diffusion models denoise images.")
    assert not is_cjk_heavy("") and not is_cjk_heavy("1234 !!")
    # per letter: a few Chinese words in English prose do not make it Chinese; per word they do
    mixed = "Diffusion模型的条件控制方法"
    assert is_cjk_heavy(mixed) and detect_lang(mixed) == "zh"
    assert detect_lang("We follow the 扩散 models of prior work on image generation.") == "en" and detect_lang("") == "en"


def _sentences(text: str) -> list[str]:
    spans = split_sentences(text)
    assert all(text[s.start:s.end] == s.text and s.text == s.text.strip() and s.text for s in spans)
    assert [(s.start, s.end) for s in spans] == sentence_bounds(text)
    return [s.text for s in spans]


def test_english_sentence_ends() -> None:
    text = ("We use e.g. DDIM and the method of Ho et al. for sampling. Fig. 3 shows a 3.5 dB gain (see Eq. 2)! "
            "Does it scale? Yes, see J. Smith and the U.S. patent. Results on GPT-4o. Our model wins.")
    assert _sentences(text) == [
        "We use e.g. DDIM and the method of Ho et al. for sampling.",
        "Fig. 3 shows a 3.5 dB gain (see Eq. 2)!",
        "Does it scale?",
        "Yes, see J. Smith and the U.S. patent.",
        "Results on GPT-4o.",
        "Our model wins.",
    ]


def test_etc_ends_a_sentence_except_in_brackets() -> None:
    # The answer engine's old splitter never ended a sentence at "etc.": two sentences became one
    # quote in cards (CycleGAN's abstract).
    text = ("Results are shown on several tasks, including style transfer, photo enhancement, etc. Quantitative "
            "comparisons demonstrate the superiority of our approach. Tasks (inpainting, etc.) Are hard.")
    assert _sentences(text) == [
        "Results are shown on several tasks, including style transfer, photo enhancement, etc.",
        "Quantitative comparisons demonstrate the superiority of our approach.",
        "Tasks (inpainting, etc.) Are hard.",
    ]


def test_quotes_and_brackets_stay_with_their_sentence() -> None:
    assert _sentences("He wrote “blue hills.” Then he left. (b) Trajectories differ.") == [
        "He wrote “blue hills.”", "Then he left.", "(b) Trajectories differ."]
    assert _sentences("他说：“好。”然后离开了！真的吗？是的；完毕。") == [
        "他说：“好。”", "然后离开了！", "真的吗？", "是的；", "完毕。"]


def test_paragraphs_and_list_items_end_sentences() -> None:
    text = "Key points\n- fast sampling\n• one step\n(1) a distilled model\n## Method\n\nSecond paragraph"
    assert _sentences(text) == ["Key points", "- fast sampling", "• one step", "(1) a distilled model", "## Method",
                                "Second paragraph"]
    assert _sentences("a line\nits continuation.") == ["a line\nits continuation."]
    assert _sentences("") == [] and _sentences("  \n\n ") == []


_ENDS = ("\u4e00", "\u9fff", "\u3400", "\u4dbf")
# A range of them in a regex, as characters or as escapes in a raw string: "\u4e00-", "-\\u9fff", ...
_RANGE_TEXT = [f"{e}-" for e in _ENDS] + [f"-{e}" for e in _ENDS] + [
    f"\\u{ord(e):04x}-" for e in _ENDS] + [f"-\\u{ord(e):04x}" for e in _ENDS]


def _spells_cjk_ranges(source: str) -> list[int]:
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if any(r in node.value.lower() for r in _RANGE_TEXT):
                lines.append(node.lineno)
        if isinstance(node, ast.Compare):  # "\u4e00" <= ch <= "\u9fff", 0x4E00 <= ord(ch)
            for c in [node.left, *node.comparators]:
                if isinstance(c, ast.Constant) and (c.value in _ENDS or c.value in {ord(e) for e in _ENDS}):
                    lines.append(node.lineno)
    return lines


def test_the_range_finder_finds_ranges() -> None:
    assert _spells_cjk_ranges('X = r"[\\u3400-\\u4dbf\\u4e00-\\u9fff]"')
    assert _spells_cjk_ranges('X = "[\u4e00-\u9fff]"')
    assert _spells_cjk_ranges('ok = "\u4e00" <= ch <= "\u9fff"')
    assert _spells_cjk_ranges("ok = 0x4E00 <= ord(ch) <= 0x9FFF")
    assert not _spells_cjk_ranges('X = "第一章 一、" + f"[{HAN}]"')


@pytest.mark.parametrize("layer", ["ingest", "index", "answer", "api", "paperlens"])
def test_one_copy_of_the_cjk_ranges(layer: str) -> None:
    """Product code names CJK characters through paperlens.text only: no other module spells a
    range of them or compares characters with its ends itself."""
    offenders = [f"{path.relative_to(ROOT)}:{line}"
                 for path in sorted((ROOT / layer).rglob("*.py")) if path != ROOT / "paperlens" / "text.py"
                 for line in _spells_cjk_ranges(path.read_text(encoding="utf-8"))]
    assert not offenders, offenders


def test_pymupdf_has_one_import_point() -> None:
    importers = []
    for layer in ("ingest", "index", "answer", "api", "paperlens"):
        for path in sorted((ROOT / layer).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                    [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
                if any(n.split(".")[0] in ("pymupdf", "fitz") for n in names):
                    importers.append(str(path.relative_to(ROOT)))
    assert sorted(set(importers)) == ["ingest/pdf/spans.py"]
