"""The geometry of the text on a page: rows and blocks, running headers and footers, reading order.

Pure data and arithmetic on what ``spans`` read: no PDF library here.

- rows: the lines of one block that share a baseline are one row (titles set in small caps come
  as one line per word);
- running headers/footers (same text, digits aside, in the top/bottom margin of many pages) and
  bare page numbers are dropped;
- reading order per page: blocks are left column, right column or full width; between two
  full-width blocks the left column is read before the right one.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field

_PAGE_NUMBER = re.compile(
    r"^(?:page\s+)?[-–—]?\s*(?:\d{1,4}|[ivxlc]{1,6})\s*[-–—]?(?:\s*(?:/|of)\s*\d{1,4})?$", re.I
)


@dataclass
class Row:
    """One visual line of text: the lines of a block that share a baseline, left to right."""

    text: str
    x0: float
    y0: float
    x1: float
    y1: float
    size: float  # largest span size: small-caps titles mix sizes, the capitals carry the size
    bold: bool


@dataclass
class TextBlock:
    """A text block of the page (PyMuPDF's), as rows; its box is fitted to the rows it keeps."""

    rows: list[Row]
    x0: float = 0.0
    y0: float = 0.0
    x1: float = 0.0
    y1: float = 0.0

    def fit(self) -> None:
        self.x0 = min(r.x0 for r in self.rows)
        self.y0 = min(r.y0 for r in self.rows)
        self.x1 = max(r.x1 for r in self.rows)
        self.y1 = max(r.y1 for r in self.rows)


@dataclass
class PageText:
    """The visible text of one page, and what was seen besides it."""

    number: int  # 1-based
    width: float
    height: float
    blocks: list[TextBlock] = field(default_factory=list)
    hidden_chars: int = 0  # invisible characters dropped; negative: kept as a scan's OCR layer
    has_images: bool = False
    any_text: bool = False


def _margin_key(row: Row, page: PageText) -> tuple[str, str] | None:
    margin = 0.09 * page.height
    if row.y1 <= margin:
        zone = "top"
    elif row.y0 >= page.height - margin:
        zone = "bottom"
    else:
        return None
    return zone, re.sub(r"\d+", "#", " ".join(row.text.lower().split()))


def drop_running_text(pages: list[PageText]) -> None:
    """Remove running headers/footers (same text, digits aside, in the same margin of many pages)
    and bare page numbers in the margins."""
    seen: Counter[tuple[str, str]] = Counter()
    for p in pages:
        seen.update({k for b in p.blocks for r in b.rows if (k := _margin_key(r, p))})
    need = max(3, math.ceil(0.4 * len(pages)))
    repeated = {k for k, n in seen.items() if n >= need}
    for p in pages:
        for b in p.blocks:
            b.rows = [
                r
                for r in b.rows
                if not ((k := _margin_key(r, p)) and (k in repeated or _PAGE_NUMBER.match(r.text.strip())))
            ]
        p.blocks = [b for b in p.blocks if b.rows]
        for b in p.blocks:
            b.fit()


def reading_order(page: PageText, body_size: float) -> list[TextBlock]:
    """Blocks in reading order: between full-width blocks, the left column, then the right."""
    body = [b for b in page.blocks if any(r.size >= 0.8 * body_size for r in b.rows)] or page.blocks
    if not body:
        return []
    mid = (min(b.x0 for b in body) + max(b.x1 for b in body)) / 2
    tol = 0.02 * page.width
    ordered: list[TextBlock] = []
    left: list[TextBlock] = []
    right: list[TextBlock] = []

    def flush() -> None:
        ordered.extend(sorted(left, key=lambda b: (b.y0, b.x0)))
        ordered.extend(sorted(right, key=lambda b: (b.y0, b.x0)))
        left.clear()
        right.clear()

    for b in sorted(page.blocks, key=lambda b: (b.y0, b.x0)):
        is_left, is_right = b.x1 <= mid + tol, b.x0 >= mid - tol
        if is_left and not is_right:
            left.append(b)
        elif is_right and not is_left:
            right.append(b)
        else:
            flush()
            ordered.append(b)
    flush()
    return ordered


def body_font_size(pages: list[PageText]) -> float:
    """The font size most of the text is set in (by characters), to half a point."""
    sizes: Counter[float] = Counter()
    for p in pages:
        for b in p.blocks:
            for r in b.rows:
                sizes[round(r.size * 2) / 2] += len(r.text)
    return sizes.most_common(1)[0][0] if sizes else 10.0


def column_edges(page: PageText, body: float) -> list[float]:
    """Left edges shared by several body-text rows: where column-aligned headings start."""
    xs = Counter(round(r.x0) for b in page.blocks for r in b.rows if abs(r.size - body) <= 0.6)
    return [float(x) for x, n in xs.items() if n >= 3]
