"""PyMuPDF's text spans -> the visible rows of each page: the only module that imports pymupdf.

- Spans drawn invisibly (white, under 1.5 pt, render mode invisible, zero alpha, neither filled
  nor stroked) are dropped and counted per page, so hidden prompt injections are never indexed.
  Exception: a page whose only text is an invisible layer over a full-page image (a scan's OCR
  layer) keeps it, with a warning.
- Rotated text is dropped (figure axis labels), but the rotated arXiv stamp on page 1 is kept
  apart for ``frontmatter`` to read id, version, category and date from.
- The lines of a block that share a baseline become one row (``layout.Row``).

Everything MuPDF hands over is turned into ``layout`` types here, so the other modules of the
package never see a PyMuPDF object.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymupdf

from paperlens.errors import ParseError

from .frontmatter import STAMP
from .layout import PageText, Row, TextBlock

WHITE = 0xFFFFFF
MIN_VISIBLE_SIZE = 1.5  # pt; smaller text cannot be read on paper, only by a parser
_BOLD_FONT = re.compile(r"bold|black|heavy|semibold|demi|\.B\b|-Medi", re.I)
_CHAR_FILLED, _CHAR_STROKED = 16, 32  # pymupdf char_flags: glyph painted by fill / stroke


@dataclass
class PdfText:
    """What one PDF holds for the parser: its pages' visible text, its metadata dictionary, the
    rotated arXiv stamp lines of page 1, and warnings about what was dropped or unreadable."""

    pages: list[PageText]
    metadata: dict[str, Any]
    stamp: list[str]
    warnings: list[str]


def read_pdf(path: Path, data: bytes, max_pages: int) -> PdfText:
    """The visible text of the first `max_pages` pages of the PDF `data` (read from `path`).
    Raises ParseError naming the file when MuPDF cannot open it."""
    pymupdf.TOOLS.mupdf_display_errors(False)
    pymupdf.TOOLS.mupdf_display_warnings(False)
    doc = _open(path, data)
    warnings: list[str] = []
    try:
        n = doc.page_count
        if n > max_pages:
            warnings.append(f"only the first {max_pages} of {n} pages parsed")
        stamp: list[str] = []
        pages = []
        for i in range(min(n, max_pages)):
            try:
                pages.append(_read_page(doc[i], i + 1, stamp))
            except Exception as e:  # one broken page must not lose the rest of the paper
                warnings.append(f"page {i + 1}: unreadable, skipped ({type(e).__name__}: {e})")
                pages.append(PageText(i + 1, 1, 1))
        pdf_meta = doc.metadata or {}
    finally:
        doc.close()

    for p in pages:
        if p.hidden_chars > 0:
            warnings.append(f"page {p.number}: {p.hidden_chars} characters of invisible text dropped (white/tiny/hidden)")
        elif p.hidden_chars < 0:
            warnings.append(f"page {p.number}: invisible OCR text layer over a page image kept ({-p.hidden_chars} characters)")
        if not p.any_text and p.has_images:
            warnings.append(f"page {p.number}: image-only, no text layer")
    return PdfText(pages, pdf_meta, stamp, warnings)


def _open(path: Path, data: bytes) -> pymupdf.Document:
    def fail(why: str, reason: str) -> ParseError:
        return ParseError(f"{path}: {why}", path=str(path), reason=reason)

    if not data:
        raise fail("empty file", "empty")
    if b"%PDF" not in data[:1024]:
        raise fail("not a PDF (no %PDF header)", "not_pdf")
    try:
        doc = pymupdf.open(stream=data, filetype="pdf")
    except Exception as e:
        raise fail(f"damaged PDF that MuPDF cannot open ({e})", "damaged") from e
    if doc.needs_pass and not doc.authenticate(""):
        doc.close()
        raise fail("is encrypted (needs a password)", "encrypted")
    try:
        pages = doc.page_count
    except Exception as e:  # a page tree MuPDF cannot count (e.g. /Count 2000000000 over one kid)
        doc.close()
        raise fail(f"damaged PDF: its page tree cannot be read ({e})", "damaged") from e
    if pages == 0:
        # A truncated or corrupt file that MuPDF had to rebuild often comes back with no pages:
        # call it damaged, not empty, so the report says what is wrong with the file.
        repaired = doc.is_repaired
        doc.close()
        if repaired:
            raise fail("damaged PDF: no page could be recovered (truncated or corrupt file)", "damaged")
        raise fail("has no pages", "empty")
    return doc


def _is_bold(span: dict[str, Any]) -> bool:
    return bool(span["flags"] & 16) or bool(_BOLD_FONT.search(span["font"]))


def _hidden(span: dict[str, Any]) -> bool:
    if span["color"] == WHITE or span["size"] < MIN_VISIBLE_SIZE:
        return True
    if span.get("alpha", 255) == 0:  # fill opacity 0, or render mode 3 ("invisible")
        return True
    flags = span.get("char_flags")
    return flags is not None and not flags & (_CHAR_FILLED | _CHAR_STROKED)


def _rows_of(lines: list[tuple[dict[str, Any], list[dict[str, Any]]]]) -> list[Row]:
    """Group a block's horizontal lines into rows sharing a baseline, each read left to right."""
    lines = sorted(lines, key=lambda ls: (ls[0]["bbox"][1], ls[0]["bbox"][0]))
    groups: list[list[tuple[dict[str, Any], list[dict[str, Any]]]]] = []
    for ls in lines:
        y0, y1 = ls[0]["bbox"][1], ls[0]["bbox"][3]
        mid = (y0 + y1) / 2
        if groups:
            g0 = min(x[0]["bbox"][1] for x in groups[-1])
            g1 = max(x[0]["bbox"][3] for x in groups[-1])
            if g0 <= mid <= g1:
                groups[-1].append(ls)
                continue
        groups.append([ls])
    rows = []
    for g in groups:
        g.sort(key=lambda ls: ls[0]["bbox"][0])
        text, prev_x1 = "", None
        sizes, bold = [], True
        for line, spans in g:
            t = "".join(s["text"] for s in spans)
            if prev_x1 is not None and t.strip():
                # a wide gap separates items (authors set apart in one row): keep it visible
                gap = line["bbox"][0] - prev_x1
                sep = "  " if gap > 0.6 * max(s["size"] for s in spans) else " "
                text = text.rstrip() + sep + t.lstrip()
            else:
                text += t
            prev_x1 = line["bbox"][2]
            for s in spans:
                if s["text"].strip():
                    sizes.append(s["size"])
                    bold = bold and _is_bold(s)
        if not text.strip() or not sizes:
            continue
        rows.append(
            Row(
                text=text,
                x0=min(ls[0]["bbox"][0] for ls in g),
                y0=min(ls[0]["bbox"][1] for ls in g),
                x1=max(ls[0]["bbox"][2] for ls in g),
                y1=max(ls[0]["bbox"][3] for ls in g),
                size=round(max(sizes), 1),
                bold=bold,
            )
        )
    return rows


def _read_page(page: pymupdf.Page, number: int, stamp: list[str]) -> PageText:
    out = PageText(number, page.rect.width, page.rect.height)
    out.has_images = bool(page.get_images(full=False))
    flags = pymupdf.TEXTFLAGS_DICT & ~pymupdf.TEXT_PRESERVE_IMAGES
    data = page.get_text("dict", flags=flags)
    hidden_only: list[tuple[int, list]] = []  # invisible-mode spans, in case they are a scan's OCR layer
    visible_chars = 0
    for b in data["blocks"]:
        if b.get("type", 0) != 0:
            continue
        kept: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
        ocr: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
        for line in b["lines"]:
            text = "".join(s["text"] for s in line["spans"])
            if not text.strip():
                continue
            out.any_text = True
            dx, dy = line["dir"]
            if abs(dy) > 0.1 or dx < 0:
                if number == 1 and STAMP.search(text):
                    stamp.append(text)
                continue  # rotated text: the arXiv stamp or figure labels, not body text
            spans, ocr_spans = [], []
            for s in line["spans"]:
                if not s["text"].strip():
                    spans.append(s)
                elif _hidden(s):
                    out.hidden_chars += sum(1 for c in s["text"] if not c.isspace())
                    if s["color"] != WHITE and s["size"] >= MIN_VISIBLE_SIZE:
                        ocr_spans.append(s)
                else:
                    spans.append(s)
                    visible_chars += len(s["text"].strip())
            if any(s["text"].strip() for s in spans):
                kept.append((line, spans))
            if ocr_spans:
                ocr.append((line, ocr_spans))
        if kept:
            out.blocks.append(TextBlock(_rows_of(kept)))
        if ocr:
            hidden_only.append((len(out.blocks), ocr))
    if not visible_chars and hidden_only and _covered_by_image(page):
        # A scan with an invisible OCR text layer: the image shows exactly that text, so it is
        # what a reader sees. Hidden text on a page that also has visible text stays dropped.
        out.blocks = [TextBlock(_rows_of(ocr)) for _, ocr in hidden_only]
        out.hidden_chars = -out.hidden_chars  # signals "kept as OCR layer" to the caller
    out.blocks = [b for b in out.blocks if b.rows]
    for b in out.blocks:
        b.fit()
    return out


def _covered_by_image(page: pymupdf.Page) -> bool:
    area = abs(page.rect)
    return any(abs(pymupdf.Rect(info["bbox"]) & page.rect) >= 0.7 * area for info in page.get_image_info())
