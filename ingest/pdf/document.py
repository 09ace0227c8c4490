"""A PDF's pages -> a ``Document``: sections from headings, paragraphs in reading order, metadata.

The steps, in order (each module's docstring says how it decides):
1. ``spans.read_pdf``: the visible text of each page as rows, invisible text dropped and counted,
   the rotated arXiv stamp kept apart;
2. ``frontmatter.arxiv_identity``: arXiv id, version, category and date;
3. ``layout``: running headers, footers and page numbers dropped; blocks put in reading order;
4. ``headings``: headings start a new section and are not body text; the other rows of a block
   become one paragraph, cleaned by ``textclean`` (NFKC, de-hyphenation);
5. ``frontmatter``: title and authors from page 1 (or the PDF's metadata).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from paperlens.errors import ParseError
from paperlens.ingest.textclean import normalize, paragraph
from paperlens.models import Block, Document, PaperMeta, paper_id_for_arxiv, paper_id_for_bytes
from paperlens.text import detect_lang

from . import frontmatter, headings, layout
from .layout import PageText, Row
from .spans import read_pdf


def parse_pdf_inprocess(path: Path | str, max_pages: int = 2000) -> Document:
    """Parse in this process (the child's work; also handy for profiling). Raises ParseError."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ParseError(f"{path}: cannot read file ({e.strerror})", path=str(path), reason="missing") from e
    pdf = read_pdf(path, data, max_pages)
    pages, pdf_meta, warnings = pdf.pages, pdf.metadata, pdf.warnings
    # before the running text goes: an id in a header or footer line of page 1 counts
    arxiv_id, version, cats, date = frontmatter.arxiv_identity(pdf.stamp, pages[0], pdf_meta)

    layout.drop_running_text(pages)
    body = layout.body_font_size(pages)
    title_rows = frontmatter.title_rows(pages[0], body)
    blocks = _to_blocks(pages, body, title_rows)
    stop_y = frontmatter.front_matter_end(pages[0], body) or 0.6 * pages[0].height
    if not blocks:
        warnings.append("no text layer: nothing to index (scanned PDF? OCR is not done)")
    meta = PaperMeta(
        paper_id=paper_id_for_arxiv(arxiv_id) if arxiv_id else paper_id_for_bytes(data),
        title=frontmatter.meta_title(pdf_meta.get("title"), path) or frontmatter.join_rows(title_rows),
        authors=frontmatter.authors(pages[0], title_rows, stop_y, body),
        arxiv_id=arxiv_id,
        arxiv_version=version,
        date=date or frontmatter.pdf_date(pdf_meta.get("creationDate")),
        categories=cats,
        abstract=" ".join(b.text for b in blocks if re.fullmatch(r"abstract|摘要", b.section, re.I))[:5000],
    )
    if arxiv_id:
        meta.links["arxiv"] = f"https://arxiv.org/abs/{arxiv_id}"
    return Document(
        meta=meta,
        kind="pdf",
        blocks=blocks,
        source=str(path),
        content_hash=hashlib.sha256(data).hexdigest(),
        warnings=warnings,
        lang=detect_lang("\n".join(b.text for b in blocks)),
    )


def _to_blocks(pages: list[PageText], body: float, title_rows: list[Row]) -> list[Block]:
    """Pages -> Blocks in reading order, headings turned into section names."""
    blocks: list[Block] = []
    # Title, authors and affiliations come before any heading: name them, so that every chunk
    # (and every citation) has a section a reader can find.
    section = frontmatter.FRONT_MATTER
    front_end = frontmatter.front_matter_end(pages[0], body) if pages else 0.0
    for p in pages:
        edges = layout.column_edges(p, body)
        for blk in layout.reading_order(p, body):
            para: list[str] = []

            def flush() -> None:
                text = paragraph(para)
                if text:
                    blocks.append(Block(text=text, page=p.number, section=section))
                para.clear()

            if p.number == 1 and any(r in title_rows for r in blk.rows):
                blocks.append(Block(text=frontmatter.join_rows(blk.rows), page=1, section=section))
                continue
            for row in blk.rows:
                text = normalize(row.text).strip()
                run_in = headings.RUN_IN_ABSTRACT.match(text)
                front = p.number == 1 and row.y0 < front_end
                aligned = any(abs(row.x0 - e) <= 3 for e in edges) or abs((row.x0 + row.x1 - p.width) / 2) <= 3
                name = None if front else headings.heading(row, len(blk.rows), body, aligned)
                if name is not None:
                    flush()
                    section = name
                elif run_in and section == frontmatter.FRONT_MATTER:  # "Abstract. We propose ..." / "Abstract—..."
                    flush()
                    section = run_in.group(1)
                    para.append(run_in.group(2))
                else:
                    para.append(row.text)
            flush()
    return blocks
