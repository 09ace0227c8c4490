"""PDF -> Document: the only module that imports pymupdf.

MuPDF can crash, hang or eat memory on hostile or broken files and is not thread-safe, so
``parse_pdf`` / ``parse_many`` run the parse in child processes (forkserver, never fork: the
parent holds torch threads) under an address-space limit and a wall-clock timeout, and turn every
failure into a ``ParseError`` that names the file and the reason. The memory limit is RLIMIT_AS:
it counts address space, and a child with pymupdf loaded already maps about 0.5 GB (mostly
reserved, unused), so limits under ~1 GB fail every file while runaway growth is still caught.
Children start from a forkserver (or spawn), so they re-import the parent's ``__main__`` module:
scripts that call ``parse_many`` need the usual ``if __name__ == "__main__":`` guard.

Layout handling (``parse_pdf_inprocess``), in order:
1. spans: invisible ones (white, < 1.5 pt, render mode invisible / zero alpha) are dropped and
   counted per page, so hidden prompt injections are never indexed; the rotated arXiv stamp on
   page 1 is read for id/version/category/date and kept out of the text; other non-horizontal
   text (figure axis labels) is dropped. Exception: a page whose only text is an invisible layer
   over a full-page image (a scan's OCR layer) keeps it, with a warning.
2. rows: lines of one block that share a baseline are joined (titles set in small caps come as
   one line per word).
3. running headers/footers (same text, digits aside, in the top/bottom margin of many pages) and
   bare page numbers are dropped.
4. reading order per page: blocks are left column, right column or full width; between two
   full-width blocks the left column is read before the right one.
5. headings (numbered, known names, larger font, Chinese "第一章"/"一、") start a new section and are
   not body text; the other rows of a block become one paragraph, cleaned by ``textclean``.
"""

from __future__ import annotations

import hashlib
import math
import multiprocessing
import multiprocessing.connection
import re
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pymupdf

from paperlens.errors import ParseError, TooLarge
from paperlens.ingest.textclean import dehyphenate_lines, normalize
from paperlens.models import (
    Block,
    Document,
    PaperMeta,
    paper_id_for_arxiv,
    paper_id_for_bytes,
    parse_arxiv_id,
)
from paperlens.text import HAN, detect_lang, is_han

WHITE = 0xFFFFFF
MIN_VISIBLE_SIZE = 1.5  # pt; smaller text cannot be read on paper, only by a parser
_BOLD_FONT = re.compile(r"bold|black|heavy|semibold|demi|\.B\b|-Medi", re.I)
_CHAR_FILLED, _CHAR_STROKED = 16, 32  # pymupdf char_flags: glyph painted by fill / stroke

_STAMP = re.compile(
    r"arXiv:\s*(?P<id>\d{4}\.\d{4,5}(?:v\d+)?|[a-z\-]+(?:\.[A-Z]{2})?/\d{7}(?:v\d+)?)"
    r"\s*(?:\[(?P<cat>[^\]]+)\])?\s*(?P<date>\d{1,2}\s+[A-Z][a-z]{2}\s+\d{4})?"
)
_ARXIV_IN_TEXT = re.compile(r"arXiv\s*:\s*(\d{4}\.\d{4,5}(?:v\d+)?)", re.I)
_PAGE_NUMBER = re.compile(
    r"^(?:page\s+)?[-–—]?\s*(?:\d{1,4}|[ivxlc]{1,6})\s*[-–—]?(?:\s*(?:/|of)\s*\d{1,4})?$", re.I
)
_KNOWN_HEADING = re.compile(
    r"(?:abstract|references|bibliography|acknowledge?ments?|conclusions?(?: and future work)?"
    r"|introduction|related works?|background|appendix|appendices|supplementary materials?"
    r"|limitations|discussion|broader impacts?|摘要|参考文献|致谢|引言|结论|总结)\s*[.:：]?",
    re.I,
)
_RUN_IN_ABSTRACT = re.compile(r"^(abstract|摘要)\s*[.:：—–-]\s*(\S.*)$", re.I)
_NUMBERED_HEADING = re.compile(
    r"^(?:\d{1,2}(?:\.\d{1,2}){0,3}\.?|[A-Z](?:\.\d{1,2}){1,3}\.?|[A-Z]\.?|[IVX]{1,5}\.)\s+(\S.*)$"
)
_ZH_HEADING = re.compile(r"^(?:第[一二三四五六七八九十百零\d]+[章节部分篇]|[一二三四五六七八九十]+[、.．]|[（(][一二三四五六七八九十]+[）)])")
_NOT_HEADING_START = re.compile(r"^(?:fig\.|figure|table|tab\.|algorithm|eq\.|equation)\b", re.I)
_TWO_HAN = re.compile(f"[{HAN}]{{2}}")
_FRONT_MATTER = re.compile(r"^(?:published|accepted|under review|preprint|proceedings|arxiv|to appear)", re.I)
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


@dataclass
class _Row:
    """One visual line of text: the lines of a block that share a baseline, left to right."""

    text: str
    x0: float
    y0: float
    x1: float
    y1: float
    size: float  # largest span size: small-caps titles mix sizes, the capitals carry the size
    bold: bool


@dataclass
class _Blk:
    rows: list[_Row]
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
class _Page:
    number: int  # 1-based
    width: float
    height: float
    blocks: list[_Blk] = field(default_factory=list)
    hidden_chars: int = 0
    has_images: bool = False
    any_text: bool = False


# --------------------------------------------------------------------------------------------
# child-process isolation


def _start_method() -> str:
    return "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


def _context() -> multiprocessing.context.BaseContext:
    ctx = multiprocessing.get_context(_start_method())
    if _start_method() == "forkserver":
        # Children fork from a server that already imported pymupdf: ~ms per file, not ~0.3 s.
        ctx.set_forkserver_preload([__name__])
    return ctx


def _child(conn: multiprocessing.connection.Connection, path: str, max_pages: int, memory_mb: int) -> None:
    try:
        import resource

        limit = memory_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError):  # no RLIMIT_AS on this platform: timeout still holds
        pass
    try:
        result: tuple[str, Any] = ("ok", parse_pdf_inprocess(Path(path), max_pages))
    except ParseError as e:
        result = ("error", e.detail, e.extra.get("reason", "unreadable"))
    except MemoryError:
        result = ("error", f"{path}: memory limit exceeded ({memory_mb} MB)", "memory")
    except Exception as e:  # MuPDF raises its own types; a malloc failure is one of them
        msg = str(e)
        if "malloc" in msg or "out of memory" in msg.lower():
            result = ("error", f"{path}: memory limit exceeded ({memory_mb} MB)", "memory")
        else:
            result = ("error", f"{path}: unreadable PDF ({type(e).__name__}: {msg})", "unreadable")
    try:
        conn.send(result)
    except MemoryError:
        conn.send(("error", f"{path}: memory limit exceeded ({memory_mb} MB)", "memory"))
    conn.close()


@dataclass
class _Job:
    path: Path
    process: Any
    conn: multiprocessing.connection.Connection
    deadline: float
    timeout_s: float
    memory_mb: int


def _check_size(path: Path, max_bytes: int) -> None:
    try:
        size = path.stat().st_size
    except OSError as e:
        raise ParseError(f"{path}: cannot read file ({e.strerror})", path=str(path), reason="missing") from e
    if size > max_bytes:
        raise TooLarge(
            f"{path}: {size / 2**20:.1f} MiB is over the {max_bytes / 2**20:.0f} MiB limit",
            path=str(path),
            bytes=size,
        )


def _start(ctx: Any, path: Path, timeout_s: float, memory_mb: int, max_pages: int) -> _Job:
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(send, str(path), max_pages, memory_mb), daemon=True)
    proc.start()
    send.close()  # the child holds the other end; EOF on recv then means the child is gone
    return _Job(path, proc, recv, time.monotonic() + timeout_s, timeout_s, memory_mb)


def _finish(job: _Job, timed_out: bool) -> Document | ParseError:
    """Collect a finished (or overdue) child's result and reap it."""
    result = None
    if not timed_out:
        try:
            result = job.conn.recv()
        except (EOFError, OSError):
            result = None
    job.conn.close()
    if timed_out:
        job.process.kill()
    job.process.join(5)
    if job.process.is_alive():  # sent its result but hangs on the way out: reap it, leave no orphan
        job.process.kill()
        job.process.join(5)
    path = job.path
    if timed_out:
        return ParseError(f"{path}: parsing timed out after {job.timeout_s:g} s", path=str(path), reason="timeout")
    if result is None:
        code = job.process.exitcode
        if code is not None and code < 0:
            reason = f"crashed with signal {-code}"
            if -code == 9:  # the kernel's OOM killer, or someone else, sent SIGKILL
                reason += " (killed: out of memory?)"
            return ParseError(f"{path}: parser {reason}", path=str(path), reason="crash", signal=-code)
        return ParseError(f"{path}: parser exited with code {code} without a result", path=str(path), reason="crash")
    if result[0] == "ok":
        return result[1]
    return ParseError(result[1], path=str(path), reason=result[2])


def parse_many(
    paths: Iterable[Path | str],
    *,
    workers: int,
    timeout_s: float = 120,
    memory_mb: int = 2048,
    max_pages: int = 2000,
    max_bytes: int = 100 * 2**20,
) -> Iterator[tuple[Path, Document | ParseError | TooLarge]]:
    """Parse PDFs in up to `workers` child processes at once; yield (path, Document or error)
    as each finishes (order may differ from `paths`). A failing file never stops the batch:
    its error (a ParseError, or TooLarge for a file over `max_bytes`) is yielded in its place."""
    ctx = _context()
    todo = [Path(p) for p in paths]
    todo.reverse()
    running: list[_Job] = []
    try:
        while todo or running:
            while todo and len(running) < max(1, workers):
                path = todo.pop()
                try:
                    _check_size(path, max_bytes)
                except (ParseError, TooLarge) as e:
                    yield path, e
                    continue
                running.append(_start(ctx, path, timeout_s, memory_mb, max_pages))
            if not running:
                continue
            now = time.monotonic()
            wait_s = max(0.0, min(j.deadline for j in running) - now)
            ready = multiprocessing.connection.wait(
                [j.conn for j in running] + [j.process.sentinel for j in running], timeout=wait_s
            )
            now = time.monotonic()
            for job in list(running):
                done = job.conn in ready or job.process.sentinel in ready
                overdue = not done and now >= job.deadline
                if done or overdue:
                    running.remove(job)
                    yield job.path, _finish(job, timed_out=overdue)
    finally:
        for job in running:  # the consumer stopped early: leave no orphans
            job.process.kill()
            job.process.join(5)
            job.conn.close()


def parse_pdf(
    path: Path | str,
    *,
    timeout_s: float = 120,
    memory_mb: int = 2048,
    max_pages: int = 2000,
    max_bytes: int = 100 * 2**20,
) -> Document:
    """Parse one PDF in a child process; raise ParseError (or TooLarge) naming the file."""
    path = Path(path)
    for _, result in parse_many(
        [path], workers=1, timeout_s=timeout_s, memory_mb=memory_mb, max_pages=max_pages, max_bytes=max_bytes
    ):
        if isinstance(result, Exception):
            raise result
        return result
    raise AssertionError("unreachable")  # parse_many yields exactly once per path


# --------------------------------------------------------------------------------------------
# the parse itself (runs in the child)


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


def _rows_of(lines: list[tuple[dict[str, Any], list[dict[str, Any]]]]) -> list[_Row]:
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
            _Row(
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


def _read_page(page: pymupdf.Page, number: int, stamp: list[str]) -> _Page:
    out = _Page(number, page.rect.width, page.rect.height)
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
                if number == 1 and _STAMP.search(text):
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
            out.blocks.append(_Blk(_rows_of(kept)))
        if ocr:
            hidden_only.append((len(out.blocks), ocr))
    if not visible_chars and hidden_only and _covered_by_image(page):
        # A scan with an invisible OCR text layer: the image shows exactly that text, so it is
        # what a reader sees. Hidden text on a page that also has visible text stays dropped.
        out.blocks = [_Blk(_rows_of(ocr)) for _, ocr in hidden_only]
        out.hidden_chars = -out.hidden_chars  # signals "kept as OCR layer" to the caller
    out.blocks = [b for b in out.blocks if b.rows]
    for b in out.blocks:
        b.fit()
    return out


def _covered_by_image(page: pymupdf.Page) -> bool:
    area = abs(page.rect)
    return any(abs(pymupdf.Rect(info["bbox"]) & page.rect) >= 0.7 * area for info in page.get_image_info())


def _margin_key(row: _Row, page: _Page) -> tuple[str, str] | None:
    margin = 0.09 * page.height
    if row.y1 <= margin:
        zone = "top"
    elif row.y0 >= page.height - margin:
        zone = "bottom"
    else:
        return None
    return zone, re.sub(r"\d+", "#", " ".join(row.text.lower().split()))


def _drop_running_text(pages: list[_Page]) -> None:
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


def _reading_order(page: _Page, body_size: float) -> list[_Blk]:
    """Blocks in reading order: between full-width blocks, the left column, then the right."""
    body = [b for b in page.blocks if any(r.size >= 0.8 * body_size for r in b.rows)] or page.blocks
    if not body:
        return []
    mid = (min(b.x0 for b in body) + max(b.x1 for b in body)) / 2
    tol = 0.02 * page.width
    ordered: list[_Blk] = []
    left: list[_Blk] = []
    right: list[_Blk] = []

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


def _body_size(pages: list[_Page]) -> float:
    sizes: Counter[float] = Counter()
    for p in pages:
        for b in p.blocks:
            for r in b.rows:
                sizes[round(r.size * 2) / 2] += len(r.text)
    return sizes.most_common(1)[0][0] if sizes else 10.0


def _heading(row: _Row, n_rows: int, body: float, aligned: bool = True) -> str | None:
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
    if _KNOWN_HEADING.fullmatch(text):
        return text.rstrip(".:：").strip()
    larger = row.size >= body + 0.8
    styled = row.bold or larger
    if _ZH_HEADING.match(text) and len(text) <= 40 and (styled or n_rows == 1):
        return text.rstrip("：:").strip()
    if text[-1] in ".,;(" or sum(c.isalpha() for c in text) < 3:
        return None
    if re.search(r"\.{3,}|…", text) or re.search(r"\s{2,}\d{1,4}\s*$", row.text):
        return None  # a table-of-contents line ("3 Method ..... 7", "3 Method      7")
    m = _NUMBERED_HEADING.match(text)
    if m:
        title = m.group(1)
        first = title[0]
        digits = sum(c.isdigit() for c in title)
        if _KNOWN_HEADING.fullmatch(title):  # "1. introduction"
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


def _title_rows(page: _Page, body: float) -> list[_Row]:
    """The largest-font rows near the top of page 1 (whole rows, so small caps count)."""
    rows = [
        r
        for b in page.blocks
        for r in b.rows
        if r.y0 < 0.6 * page.height
        and sum(c.isalpha() for c in r.text) >= 4
        and not _FRONT_MATTER.match(r.text.strip())
        and not _KNOWN_HEADING.fullmatch(normalize(r.text).strip())
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


def _join_rows(rows: list[_Row]) -> str:
    return " ".join(normalize(dehyphenate_lines([r.text for r in rows])).split())


def _meta_title(raw: str | None, path: Path) -> str:
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


def _authors(page: _Page, title: list[_Row], stop_y: float, body: float) -> list[str]:
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


def _stamp_meta(stamp: list[str]) -> tuple[str | None, int | None, list[str], str | None]:
    for text in stamp:
        m = _STAMP.search(text)
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


def _pdf_date(raw: str | None) -> str | None:
    m = re.match(r"(?:D:)?(\d{4})(\d{2})(\d{2})", raw or "")
    if not m:
        return None
    try:
        return datetime(int(m[1]), int(m[2]), int(m[3])).strftime("%Y-%m-%d")
    except ValueError:
        return None


def _column_edges(page: _Page, body: float) -> list[float]:
    """Left edges shared by several body-text rows: where column-aligned headings start."""
    xs = Counter(round(r.x0) for b in page.blocks for r in b.rows if abs(r.size - body) <= 0.6)
    return [float(x) for x, n in xs.items() if n >= 3]


def _front_matter_end(page: _Page, body: float) -> float:
    """Top of page 1's abstract or first numbered heading: above it are title, authors and
    affiliations, whose larger fonts must not pass for section headings. 0 when not found."""
    ends = []
    for b in page.blocks:
        for r in b.rows:
            t = normalize(r.text).strip()
            if re.match(r"^(abstract|摘要)\b", t, re.I) or (
                _NUMBERED_HEADING.match(t) and _heading(r, len(b.rows), body)
            ):
                ends.append(r.y0)
    return min(ends, default=0.0)


def _first_page_arxiv(page: _Page) -> tuple[str, int | None] | None:
    """An arXiv id printed horizontally on page 1 as a stamp ("arXiv:ID [cat] date") or in a
    header/footer line; ids cited in the body (notes quoting a paper) do not count."""
    for b in page.blocks:
        for r in b.rows:
            m = _STAMP.search(r.text)
            in_margin = r.y1 <= 0.1 * page.height or r.y0 >= 0.9 * page.height
            if m and ((m.group("cat") and m.group("date")) or in_margin):
                return parse_arxiv_id(m.group("id"))
    return None


FRONT_MATTER = "Front matter"


def _to_blocks(pages: list[_Page], body: float, title_rows: list[_Row]) -> list[Block]:
    """Pages -> Blocks in reading order, headings turned into section names."""
    blocks: list[Block] = []
    # Title, authors and affiliations come before any heading: name them, so that every chunk
    # (and every citation) has a section a reader can find.
    section = FRONT_MATTER
    front_end = _front_matter_end(pages[0], body) if pages else 0.0
    for p in pages:
        edges = _column_edges(p, body)
        for blk in _reading_order(p, body):
            para: list[str] = []

            def flush() -> None:
                text = " ".join(normalize(dehyphenate_lines(para)).split())
                if text:
                    blocks.append(Block(text=text, page=p.number, section=section))
                para.clear()

            if p.number == 1 and any(r in title_rows for r in blk.rows):
                blocks.append(Block(text=_join_rows(blk.rows), page=1, section=section))
                continue
            for row in blk.rows:
                text = normalize(row.text).strip()
                run_in = _RUN_IN_ABSTRACT.match(text)
                front = p.number == 1 and row.y0 < front_end
                aligned = any(abs(row.x0 - e) <= 3 for e in edges) or abs((row.x0 + row.x1 - p.width) / 2) <= 3
                name = None if front else _heading(row, len(blk.rows), body, aligned)
                if name is not None:
                    flush()
                    section = name
                elif run_in and section == FRONT_MATTER:  # "Abstract. We propose ..." / "Abstract—..."
                    flush()
                    section = run_in.group(1)
                    para.append(run_in.group(2))
                else:
                    para.append(row.text)
            flush()
    return blocks


def parse_pdf_inprocess(path: Path | str, max_pages: int = 2000) -> Document:
    """Parse in this process (the child's work; also handy for profiling). Raises ParseError."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ParseError(f"{path}: cannot read file ({e.strerror})", path=str(path), reason="missing") from e
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
                pages.append(_Page(i + 1, 1, 1))
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

    arxiv_id, version, cats, date = _stamp_meta(stamp)
    if arxiv_id is None:
        found = _first_page_arxiv(pages[0])
        for source in (pdf_meta.get("subject"), pdf_meta.get("keywords")):
            if found:
                break
            m = _ARXIV_IN_TEXT.search(source or "")
            found = parse_arxiv_id(m.group(1)) if m else None
        if found:
            arxiv_id, version = found

    _drop_running_text(pages)
    body = _body_size(pages)
    title_rows = _title_rows(pages[0], body)
    blocks = _to_blocks(pages, body, title_rows)
    stop_y = _front_matter_end(pages[0], body) or 0.6 * pages[0].height
    if not blocks:
        warnings.append("no text layer: nothing to index (scanned PDF? OCR is not done)")
    meta = PaperMeta(
        paper_id=paper_id_for_arxiv(arxiv_id) if arxiv_id else paper_id_for_bytes(data),
        title=_meta_title(pdf_meta.get("title"), path) or _join_rows(title_rows),
        authors=_authors(pages[0], title_rows, stop_y, body),
        arxiv_id=arxiv_id,
        arxiv_version=version,
        date=date or _pdf_date(pdf_meta.get("creationDate")),
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
