"""A results table as data: the type ingest makes (from a PDF page or LaTeX source) and answer reads.

One rendering serves both sides: ``Table.render()`` is the text of the table's chunk, with each row
on ONE line, so a comparison cell can quote its row verbatim (``row_line``) and name the column it
was read under (``columns[j]``); the checker finds both in the chunk text. ``cell_numbers`` is the
one reading of a cell's numbers ("38.31/.9620", "71.61 ± 0.24", "1,592K", "−0.02"), used by the
cell finder and by ``verify`` alike, so they can never disagree about what a cell says.

No heavy imports: this is the kernel.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field

RowKind = Literal["body", "section"]


class HeaderCell(BaseModel):
    """One cell of a header row; a group header ("Set5" over PSNR and SSIM) spans several columns."""

    text: str = Field(description="The header text as printed (arrows such as ↑/↓ kept).")
    col: int = Field(description="Index of the first column the cell covers.")
    span: int = Field(1, description="How many columns the cell covers (1 for a leaf header).")


class Table(BaseModel):
    """A table of a paper: caption, header rows, rows of cells, and where it came from."""

    caption: str = Field(description="The caption as printed, starting with its label ('Table 3: ...'); '' when none.")
    label: str = Field("", description="'Table 3', 'Table IV': the caption's label, normalised.")
    page: int = Field(0, description="1-based page number (0 for LaTeX source).")
    bbox: tuple[float, float, float, float] = Field((0.0, 0.0, 0.0, 0.0), description="Position on the page in PDF points (x0, y0, x1, y1), caption excluded.")
    header: list[list[HeaderCell]] = Field(default_factory=list, description="Header rows, top to bottom; a multi-row header has several.")
    columns: list[str] = Field(default_factory=list, description="One name per column: the header cells above it, joined top to bottom.")
    rows: list[list[str]] = Field(default_factory=list, description="Rows in reading order, one string per column ('' for an empty cell).")
    kinds: list[RowKind] = Field(default_factory=list, description="Per row: 'body' (a row of values) or 'section' (a label over the rows below, such as 'Zero-shot setting' or 'Scale ×2').")
    stub: int = Field(1, description="How many leading columns label the row (method, scale, ...) rather than hold values.")
    part: str = Field("", description="For one caption over side-by-side tables: 'left' or 'right'; '' otherwise.")
    source: Literal["pdf", "latex"] = Field("pdf", description="What the table was read from: the PDF's text layer or the paper's LaTeX source.")
    detector: str = Field("", description="How it was found: 'words' (a grid rebuilt from word positions), 'ruled' (with ruling lines as column bounds) or 'latex'.")

    # -- rendering: one line per row -------------------------------------------------------
    def header_line(self) -> str:
        return _md_line(self.columns)

    def row_line(self, i: int) -> str:
        """The verbatim line of row i in ``render()``: what a cell cites as its row."""
        return _md_line(self.rows[i])

    def render(self) -> str:
        """Markdown: the caption, the header line, a rule, then one line per row."""
        lines = [" ".join(self.caption.split())] if self.caption else []
        if self.part:
            lines.append(f"({self.part} part)")
        lines.append(self.header_line())
        lines.append(_md_line(["---"] * len(self.columns)))
        lines += [self.row_line(i) for i in range(len(self.rows))]
        return "\n".join(lines)

    def structure(self) -> dict:
        """The table as the chunk API returns it: ``{"caption", "header", "rows", ...}``."""
        return {
            "caption": self.caption,
            "label": self.label,
            "header": [[c.model_dump() for c in row] for row in self.header],
            "columns": list(self.columns),
            "rows": [list(r) for r in self.rows],
            "kinds": list(self.kinds),
            "stub": self.stub,
            "page": self.page,
            "bbox": list(self.bbox),
            "part": self.part,
            "source": self.source,
        }

    @property
    def ref(self) -> str:
        """'Table 2 (p. 10)': how a cell names the table it came from."""
        name = self.label or "Table"
        where = f" (p. {self.page})" if self.page else ""
        side = f" {self.part}" if self.part else ""
        return f"{name}{side}{where}"


def _md_cell(text: str) -> str:
    text = " ".join(text.split())
    return text.replace("|", "\\|")


def _md_line(cells: list[str]) -> str:
    return "| " + " | ".join(_md_cell(c) for c in cells) + " |"


# -- numbers in a cell -----------------------------------------------------------------------------

class CellNumber(BaseModel):
    """One number a cell states ('38.31/.9620' states two; '71.61 ± 0.24' states 71.61)."""

    value: float = Field(description="The number.")
    text: str = Field(description="The number as printed ('.9620', '1,592K').")
    unit: str = Field("", description="A unit printed with it: '%', 'dB', 'K', 'M', 'B', 'G', 's', 'ms'.")
    error: float | None = Field(None, description="The ± part, when printed.")


_MINUS = str.maketrans({"−": "-", "–": "-", "—": "-", "‒": "-"})
# A number: optional sign, digits with thousands commas or a leading '.', decimals; then a unit.
_NUMBER = re.compile(
    r"(?<![\w.])([<>~∼≈]?)\s?(-?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?)\s?(%|dB|[KMBGT](?![a-zA-Z])|ms|s(?![a-zA-Z]))?"
)
_PM = re.compile(r"\s*(?:±|\+/-|\+-)\s*(\d+(?:\.\d+)?)")


def cell_numbers(text: str) -> list[CellNumber]:
    """The numbers a cell states, in order. Parts joined by '/' are separate numbers (a PSNR/SSIM
    pair); '± x' is the error of the number before it, not a number of its own."""
    text = text.translate(_MINUS)
    out: list[CellNumber] = []
    pos = 0
    while pos < len(text):
        m = _NUMBER.search(text, pos)
        if not m:
            break
        body = m.group(2)
        if not body or not re.search(r"\d", body) or body in ("-", ".", "-."):
            pos = m.end() + 1 if m.end() == m.start() else m.end()
            continue
        try:
            value = float(body.replace(",", ""))
        except ValueError:
            pos = m.end()
            continue
        num = CellNumber(value=value, text=body + (m.group(3) or ""), unit=m.group(3) or "")
        pm = _PM.match(text, m.end())
        if pm:
            num.error = float(pm.group(1))
            pos = pm.end()
        else:
            pos = m.end()
        out.append(num)
    return out


def same_number(a: float, b: float) -> bool:
    """Equal as printed numbers are (no arithmetic has touched them)."""
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))
