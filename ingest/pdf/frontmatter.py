"""Page 1's front matter: title, authors, the arXiv stamp, and where the body starts.

The rotated arXiv stamp in the margin of page 1 ("arXiv:2409.17058v2 [cs.CV] 25 Sep 2024") gives
id, version, category and date; without it, an id printed horizontally on page 1 or in the PDF's
metadata. The title is the run of largest-font rows near the top of page 1 (whole rows, so small
caps count) unless the metadata holds a real one; authors are the rows between title and abstract
made only of plausible names.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from paperlens.ingest.textclean import normalize, paragraph
from paperlens.models import parse_arxiv_id

from .headings import KNOWN_HEADING, NUMBERED_HEADING, heading
from .layout import PageText, Row

# The section name of title, authors and affiliations: they come before any heading, and every
# chunk (and every citation) needs a section a reader can find.
FRONT_MATTER = "Front matter"

STAMP = re.compile(
    r"arXiv:\s*(?P<id>\d{4}\.\d{4,5}(?:v\d+)?|[a-z\-]+(?:\.[A-Z]{2})?/\d{7}(?:v\d+)?)"
    r"\s*(?:\[(?P<cat>[^\]]+)\])?\s*(?P<date>\d{1,2}\s+[A-Z][a-z]{2}\s+\d{4})?"
)
_ARXIV_IN_TEXT = re.compile(r"arXiv\s*:\s*(\d{4}\.\d{4,5}(?:v\d+)?)", re.I)
_PUBLICATION_NOTE = re.compile(r"^(?:published|accepted|under review|preprint|proceedings|arxiv|to appear)", re.I)
_BAD_META_TITLE = re.compile(
    r"^(?:microsoft (?:word|powerpoint)|untitled|title|document\d*|slide\s*\d*|paper|main|"
    r"manuscript|template|latex)\b|\.(?:docx?|pdf|tex|dvi|ps|rtf|odt)$",
    re.I,
)
_AFFILIATION = re.compile(
    r"universit|institut|laborator|\blabs?\b|department|dept\b|school|college|research|\binc\b|"
    r"ltd|corp|company|cent(?:er|re)|academy|technolog|science|national|group|faculty|\bai\b|"
    r"team|hospital|foundation|@|http|www\.|\.com|\.edu|china|usa|korea|japan|germany|canada|"
    r"kingdom|singapore|france|india|street|road|avenue",
    re.I,
)
_NAME_PARTICLES = frozenset("de van von der den da di del della la le du dos bin al".split())
_FOOTNOTE_MARKS = re.compile(r"[\d∗*†‡§¶♠♣♥♦♢♡⋆★☆✉#]+|\(\s*[\d,\s]*\)")


def title_rows(page: PageText, body: float) -> list[Row]:
    """The largest-font rows near the top of page 1 (whole rows, so small caps count)."""
    rows = [
        r
        for b in page.blocks
        for r in b.rows
        if r.y0 < 0.6 * page.height
        and sum(c.isalpha() for c in r.text) >= 4
        and not _PUBLICATION_NOTE.match(r.text.strip())
        and not KNOWN_HEADING.fullmatch(normalize(r.text).strip())
    ]
    if not rows:
        return []
    top = max(r.size for r in rows)
    if top < body + 1:
        return []
    chosen = sorted((r for r in rows if r.size >= top - 0.6), key=lambda r: (r.y0, r.x0))
    run = [chosen[0]]
    for r in chosen[1:]:
        if r.y0 - max(x.y1 for x in run) > 1.5 * top:
            break
        run.append(r)
    return run


def join_rows(rows: list[Row]) -> str:
    return paragraph([r.text for r in rows])


def meta_title(raw: str | None, path: Path) -> str:
    t = " ".join((raw or "").split())
    if len(t) < 8 or " " not in t or _BAD_META_TITLE.search(t) or t.lower() == path.stem.lower():
        return ""
    return t


def _is_name_token(t: str) -> bool:
    """'Kaiming', 'Pouget-Abadie', 'C.K.', 'J.', 'Huszár', 'van'; not 'PREPRINT', 'of', '3D'."""
    if t in _NAME_PARTICLES:
        return True
    letters = t.replace(".", "").replace("-", "").replace("'", "").replace("’", "")
    if not letters.isalpha() or not t[0].isupper():
        return False
    return not (letters.isupper() and len(letters) > 2 and "." not in t)  # all-caps words are not names


def authors(page: PageText, title: list[Row], stop_y: float, body: float) -> list[str]:
    """Names on the rows between the title and the abstract; empty when unsure.

    A row counts only when every comma/"and"/wide-gap separated part is a plausible name (2-4
    capitalised tokens, footnote marks stripped) and the row has no affiliation words, so
    affiliations, emails and teaser-figure labels (smaller than body text) are skipped.
    """
    if not title:
        return []
    start = max(r.y1 for r in title)
    names: list[str] = []
    for b in page.blocks:
        for r in b.rows:
            if not (start <= r.y0 < stop_y) or r in title or r.size < body - 0.6:
                continue
            text = normalize(r.text.replace("  ", " , "))
            if _AFFILIATION.search(text):
                continue
            parts = [" ".join(p.split()) for p in re.split(r",|;|\band\b|&", _FOOTNOTE_MARKS.sub(" ", text))]
            parts = [p for p in parts if p]
            ok = [p for p in parts if 2 <= len(p.split()) <= 4 and all(map(_is_name_token, p.split()))]
            if ok and len(ok) == len(parts):
                names.extend(p for p in ok if p not in names)
    return names


def stamp_meta(stamp: list[str]) -> tuple[str | None, int | None, list[str], str | None]:
    for text in stamp:
        m = STAMP.search(text)
        if not m:
            continue
        parsed = parse_arxiv_id(m.group("id"))
        if not parsed:
            continue
        date = None
        if m.group("date"):
            try:
                date = datetime.strptime(" ".join(m.group("date").split()), "%d %b %Y").strftime("%Y-%m-%d")
            except ValueError:
                date = None
        cats = [m.group("cat").strip()] if m.group("cat") else []
        return parsed[0], parsed[1], cats, date
    return None, None, [], None


def pdf_date(raw: str | None) -> str | None:
    m = re.match(r"(?:D:)?(\d{4})(\d{2})(\d{2})", raw or "")
    if not m:
        return None
    try:
        return datetime(int(m[1]), int(m[2]), int(m[3])).strftime("%Y-%m-%d")
    except ValueError:
        return None


def front_matter_end(page: PageText, body: float) -> float:
    """Top of page 1's abstract or first numbered heading: above it are title, authors and
    affiliations, whose larger fonts must not pass for section headings. 0 when not found."""
    ends = []
    for b in page.blocks:
        for r in b.rows:
            t = normalize(r.text).strip()
            if re.match(r"^(abstract|摘要)\b", t, re.I) or (
                NUMBERED_HEADING.match(t) and heading(r, len(b.rows), body)
            ):
                ends.append(r.y0)
    return min(ends, default=0.0)


def first_page_arxiv(page: PageText) -> tuple[str, int | None] | None:
    """An arXiv id printed horizontally on page 1 as a stamp ("arXiv:ID [cat] date") or in a
    header/footer line; ids cited in the body (notes quoting a paper) do not count."""
    for b in page.blocks:
        for r in b.rows:
            m = STAMP.search(r.text)
            in_margin = r.y1 <= 0.1 * page.height or r.y0 >= 0.9 * page.height
            if m and ((m.group("cat") and m.group("date")) or in_margin):
                return parse_arxiv_id(m.group("id"))
    return None


def arxiv_identity(stamp: list[str], page1: PageText, pdf_meta: dict[str, str]
                   ) -> tuple[str | None, int | None, list[str], str | None]:
    """(arXiv id, version, categories, date) from the rotated stamp, else (id, version) from page 1
    or the PDF's subject / keywords metadata; Nones when the PDF names no arXiv id."""
    arxiv_id, version, cats, date = stamp_meta(stamp)
    if arxiv_id is None:
        found = first_page_arxiv(page1)
        for source in (pdf_meta.get("subject"), pdf_meta.get("keywords")):
            if found:
                break
            m = _ARXIV_IN_TEXT.search(source or "")
            found = parse_arxiv_id(m.group(1)) if m else None
        if found:
            arxiv_id, version = found
    return arxiv_id, version, cats, date
