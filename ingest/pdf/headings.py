"""Which rows of a page are section headings, and the section names they give.

Numbered headings ("2.1 Method", "A.1 Proofs", "IV. RESULTS"), known names ("Abstract",
"References", "参考文献"), Chinese chapter marks ("第一章", "一、") and rows set larger than the
body text start a new section and are not body text.
"""

from __future__ import annotations

import re

from paperlens.ingest.textclean import normalize
from paperlens.text import HAN, is_han

from .layout import Row

KNOWN_HEADING = re.compile(
    r"(?:abstract|references|bibliography|acknowledge?ments?|conclusions?(?: and future work)?"
    r"|introduction|related works?|background|appendix|appendices|supplementary materials?"
    r"|limitations|discussion|broader impacts?|摘要|参考文献|致谢|引言|结论|总结)\s*[.:：]?",
    re.I,
)
# "Abstract. We propose ..." / "Abstract—...": the abstract's heading run into its first line.
RUN_IN_ABSTRACT = re.compile(r"^(abstract|摘要)\s*[.:：—–-]\s*(\S.*)$", re.I)
NUMBERED_HEADING = re.compile(
    r"^(?:\d{1,2}(?:\.\d{1,2}){0,3}\.?|[A-Z](?:\.\d{1,2}){1,3}\.?|[A-Z]\.?|[IVX]{1,5}\.)\s+(\S.*)$"
)
_ZH_HEADING = re.compile(r"^(?:第[一二三四五六七八九十百零\d]+[章节部分篇]|[一二三四五六七八九十]+[、.．]|[（(][一二三四五六七八九十]+[）)])")
_NOT_HEADING_START = re.compile(r"^(?:fig\.|figure|table|tab\.|algorithm|eq\.|equation)\b", re.I)
_TWO_HAN = re.compile(f"[{HAN}]{{2}}")


def heading(row: Row, n_rows: int, body: float, aligned: bool = True) -> str | None:
    """The section name when this row is a heading, else None.

    Known names ("Abstract", "References") and numbered headings ("2.1 Method", "A.1 Proofs",
    "IV. RESULTS", "第一章", "一、") count when set apart by style (bold or larger) or alone in their
    block; an unnumbered row counts only when larger than body text, alone in its block, aligned
    with a column edge and free of sentence punctuation and math (figure labels fail those).
    """
    text = normalize(row.text).strip()
    words = text.split()
    if not text or len(text) > 90 or len(words) > 12 or _NOT_HEADING_START.match(text):
        return None
    if KNOWN_HEADING.fullmatch(text):
        return text.rstrip(".:：").strip()
    larger = row.size >= body + 0.8
    styled = row.bold or larger
    if _ZH_HEADING.match(text) and len(text) <= 40 and (styled or n_rows == 1):
        return text.rstrip("：:").strip()
    if text[-1] in ".,;(" or sum(c.isalpha() for c in text) < 3:
        return None
    if re.search(r"\.{3,}|…", text) or re.search(r"\s{2,}\d{1,4}\s*$", row.text):
        return None  # a table-of-contents line ("3 Method ..... 7", "3 Method      7")
    m = NUMBERED_HEADING.match(text)
    if m:
        title = m.group(1)
        first = title[0]
        digits = sum(c.isdigit() for c in title)
        if KNOWN_HEADING.fullmatch(title):  # "1. introduction"
            return text.rstrip(".:：").strip()
        if (first.isupper() or is_han(first)) and digits <= len(title) // 3:
            # "A Proof ..." or "1 We show ..." can be body text; a style or a row of its own tells
            one_letter = re.match(r"^[A-Z]\.?\s", text) is not None
            if styled or (n_rows == 1 and not one_letter):
                return text.rstrip(":：").strip()
    if (
        larger
        and n_rows == 1
        and aligned
        and (text[0].isupper() or is_han(text[0]))
        and (re.search(r"[A-Za-z]{3}", text) or _TWO_HAN.search(text))
        and not re.search(r"[,，。;；=\[\]{}<>^_|+−∑∫√]", text)
    ):
        return text.rstrip(":：").strip()
    return None
