"""Text facts every layer shares: which characters are Chinese (CJK), what language a text is in,
and where its sentences end. Pure functions on str, no dependencies.

Two character classes, as regex class bodies (put them inside ``[...]``) and as predicates:

- ``HAN``: Han ideographs, the characters Chinese is written in: the unified block, extension A,
  the compatibility block and the supplementary-plane extensions B-F.
- ``CJK``: what is written without spaces between words: Han, CJK symbols and punctuation
  ("。", "、", "「"), full-width forms ("，", "（", "Ａ").

One sentence splitter, ``sentence_bounds`` / ``split_sentences``, for the chunker (whose chunks
are packed from whole sentences) and for the answer engine (which quotes whole sentences). Both
need exact offsets: a sentence is always a verbatim slice of the text it came from, so a chunk
stays a slice of its document and a quote stays a substring of its chunk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef"
CJK = "\u3000-\u303f" + HAN + "\uff00-\uffef"

_HAN = re.compile(f"[{HAN}]")
_CJK = re.compile(f"[{CJK}]")


def is_han(ch: str) -> bool:
    """Whether the character `ch` is a Han ideograph."""
    return _HAN.fullmatch(ch) is not None


def is_cjk(ch: str) -> bool:
    """Whether the character `ch` belongs to a script written without spaces (see ``CJK``)."""
    return _CJK.fullmatch(ch) is not None


def count_han(text: str) -> int:
    """Han ideographs in `text`."""
    return len(_HAN.findall(text))


def count_cjk(text: str) -> int:
    """Characters of `text` written without spaces (Han, CJK punctuation, full-width forms)."""
    return len(_CJK.findall(text))


def is_cjk_heavy(text: str, threshold: float = 0.3) -> bool:
    """True when at least `threshold` of the letters are Han ideographs (Chinese text)."""
    letters = "".join(c for c in text if c.isalpha())
    if not letters:
        return False
    return count_han(letters) / len(letters) >= threshold


def detect_lang(text: str, threshold: float = 0.3) -> str:
    """'zh' when Han ideographs make up at least `threshold` of the text's words, else 'en'.

    Counted per word, not per letter: one Chinese character carries about as much as one English
    word, so a Chinese note full of English terms ("Diffusion模型的采样") still counts as Chinese.
    """
    han = count_han(text)
    if not han:
        return "en"
    words = len(re.findall(r"[A-Za-z]+", text))
    return "zh" if han / (han + words) >= threshold else "en"


def squash_spaces(text: str) -> str:
    """Every run of whitespace (line breaks included) as one space, the ends stripped."""
    return " ".join(text.split())


# --------------------------------------------------------------------------------------------
# sentences

# Words that end with a period without ending the sentence: lower case, as they are written
# (with their dots and any closing bracket). "etc." is listed only inside brackets: elsewhere it
# ends most sentences it stands at the end of.
ABBREVIATIONS = frozenset({
    "e.g.", "i.e.", "al.", "fig.", "figs.", "eq.", "eqs.", "vs.", "cf.", "sec.", "secs.", "tab.", "ref.", "refs.",
    "no.", "approx.", "resp.", "dr.", "mr.", "ms.", "prof.", "st.", "etc.)", "ch.", "app.",
})
# English terminal punctuation (with closing quotes and brackets) before white space.
_EN_END = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s)")
# Chinese terminal punctuation, with the closing quotes and brackets that follow it.
_ZH_END = re.compile(r"[。！？；]+[”’」』）)]*")
# A paragraph break (blocks are joined by a blank line), or a line that starts a list item or a
# Markdown heading (digest pages): both always end a sentence.
_BREAK = re.compile(r"\n[ \t]*\n\s*|\n(?=[ \t]*(?:[-*•]\s|\d+[.)、]\s|[(（]\d+[)）]|#))")
_INITIALS = re.compile(r"(?:[a-z]\.)+|[a-z]\.")


@dataclass(frozen=True)
class Span:
    """A sentence: ``text == source[start:end]``."""

    start: int
    end: int
    text: str


def sentence_bounds(text: str) -> list[tuple[int, int]]:
    """(start, end) of every sentence of `text` in order, white space trimmed, none empty.

    A sentence ends at Chinese terminal punctuation, at a paragraph break or list item, and at
    English terminal punctuation followed by white space, except after an abbreviation
    (``ABBREVIATIONS``), after initials ("J.", "U.S.") and where the next word starts in lower
    case ("et al. the").
    """
    cuts = {0, len(text)}
    for m in _ZH_END.finditer(text):
        cuts.add(m.end())
    for m in _BREAK.finditer(text):
        cuts.add(m.start())
    for m in _EN_END.finditer(text):
        before = re.search(r"\S*$", text[max(0, m.start() - 40):m.start()]).group(0)
        word = (before + text[m.start():m.end()]).lower().lstrip("([\"'")
        nxt = text[m.end():m.end() + 3].lstrip()
        if word in ABBREVIATIONS or _INITIALS.fullmatch(word) or nxt[:1].islower():
            continue
        cuts.add(m.end())
    out: list[tuple[int, int]] = []
    edges = sorted(cuts)
    for a, b in zip(edges, edges[1:]):
        piece = text[a:b]
        lead = len(piece) - len(piece.lstrip())
        trail = len(piece.rstrip())
        if trail > lead:
            out.append((a + lead, a + trail))
    return out


def split_sentences(text: str) -> list[Span]:
    """The sentences of `text` as spans (see ``sentence_bounds``)."""
    return [Span(a, b, text[a:b]) for a, b in sentence_bounds(text)]
