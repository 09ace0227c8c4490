"""Sentence splitting with exact offsets, for English and Chinese paper text.

A sentence is returned as the exact substring of the chunk it came from, so quoting it keeps the
"quote occurs verbatim in the chunk" rule true by construction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Abbreviations after which a period does not end a sentence (lower-cased, without the dot).
_ABBREV = {
    "e.g", "i.e", "etc", "et al", "al", "fig", "figs", "eq", "eqs", "sec", "secs", "tab", "ref", "refs",
    "vs", "cf", "resp", "approx", "no", "vol", "pp", "dr", "mr", "ms", "prof", "inc", "st", "appx",
}
# English terminal punctuation followed by space + an opener, or Chinese terminal punctuation.
_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9\u4e00-\u9fff])|(?<=[。！？；])")


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    text: str


def split(text: str) -> list[Span]:
    """Sentences of `text` as spans whose .text == text[start:end] (stripped of outer spaces).
    A paragraph break (blocks are joined by a blank line) always ends a sentence."""
    spans: list[Span] = []
    start = 0
    for m in _PARA.finditer(text + "\n\n"):
        _split_paragraph(text, start, m.start(), spans)
        start = m.end()
    return spans


_PARA = re.compile(r"\n\s*\n")


def _split_paragraph(text: str, lo: int, hi: int, spans: list[Span]) -> None:
    start = lo
    for m in _END.finditer(text, lo, hi):
        cut = m.start()
        if cut <= start:
            continue
        if _is_abbreviation(text, cut):
            continue
        _add(spans, text, start, m.end() if m.end() > cut else cut)
        start = m.end()
    _add(spans, text, start, hi)


def _is_abbreviation(text: str, cut: int) -> bool:
    before = text[max(0, cut - 12):cut]
    if not before.endswith("."):
        return False
    word = re.search(r"([A-Za-z][A-Za-z.]*)\.$", before)
    if not word:
        return False
    w = word.group(1).lower()
    # "et al." and single capitals ("J. Smith") are not sentence ends.
    return w in _ABBREV or w.endswith("et al") or len(w) == 1


def _add(spans: list[Span], text: str, a: int, b: int) -> None:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    if b > a:
        spans.append(Span(a, b, text[a:b]))
