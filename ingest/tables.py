"""Tables on a PDF page -> ``paperlens.tables.Table``: caption, header rows, rows, page, position.

The caller (the PDF parser, the only importer of pymupdf) hands over a PyMuPDF ``Page``; this
module calls only its methods (``get_text``, ``get_cdrawings``), so it needs no import of its own.

Tables are found from their captions: a line that starts "Table 3:" / "TABLE IV." / "Tab. 2"
anchors a table directly above or below it. Results tables in papers are mostly drawn as plain
text lines (booktabs rules at most), which ``Page.find_tables()`` does not see, and where it does
see a grid its cell text interleaves the rows of a column (measured in docs/benchmarks.md), so
the grid is rebuilt here from word positions for ruled and unruled tables alike; ruling lines,
when the page has them, bound the table and split its columns (table_grid.py).

Steps per page: words (rotated and invisible ones dropped) -> the page's PyMuPDF lines, split
into cell segments at wide gaps -> prose lines (running text, which no table cell is) and caption
lines -> for each caption, the rows of non-prose segments next to it in its column band, grown
row by row while the gaps stay row-sized -> table_grid.build.
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from paperlens.ingest.table_grid import Rules, Seg, build
from paperlens.ingest.textclean import normalize
from paperlens.tables import Table

_CAPTION = re.compile(r"^(?:Table|TABLE|Tab\.)\s*([0-9]{1,3}|[IVXL]{1,6})(?:\s*[:.|]|\s+(?=[A-Z(]))")
_OTHER_CAPTION = re.compile(r"^(?:Fig(?:ure)?\.?|FIGURE|Algorithm|Listing)\s*[0-9IVX]{1,4}\s*[:.|]")
_WORD = re.compile(r"[A-Za-z]{2,}")
_HEADING = re.compile(r"^(?:\d{1,2}(?:\.\d{1,2}){0,3}\.?|[A-Z]\.\d{1,2}(?:\.\d{1,2})*)\s+[A-Z][a-z]+(?:\s+\S+){0,8}$")
_NUMERIC = re.compile(r"^[-+−–]?[\d.,]+[%KMBG]?$")
_JOINERS = {"±", "/", "×", "x", "+", "-", "(", ")"}


@dataclass
class _Line:
    """A PyMuPDF text line: in a table usually one cell, in running text one line of prose."""

    words: list[tuple[float, float, float, float, str]]
    block: int
    x0: float = 0.0
    y0: float = 0.0
    x1: float = 0.0
    y1: float = 0.0
    segs: list[Seg] = field(default_factory=list)
    prose: bool = False

    @property
    def text(self) -> str:
        return " ".join(w[4] for w in self.words)

    @property
    def h(self) -> float:
        return self.y1 - self.y0

    @property
    def yc(self) -> float:
        return (self.y0 + self.y1) / 2


@dataclass
class PageStats:
    """What one call cost and found (for the benchmark and the parser's log)."""

    seconds: float = 0.0
    captions: int = 0
    tables: int = 0


def _hidden_words(page: Any, textpage: Any) -> list[tuple[float, float, float, float]]:
    """Boxes of the page's text that a reader cannot see (white, tiny, invisible): kept out of
    tables, as the parser keeps it out of the text (prompt injections hide there)."""
    out = []
    for b in page.get_text("dict", textpage=textpage)["blocks"]:
        for line in b.get("lines", ()):
            for s in line["spans"]:
                flags = s.get("char_flags")
                if (s["color"] == 0xFFFFFF or s["size"] < 1.5 or s.get("alpha", 255) == 0
                        or (flags is not None and not flags & 48)):
                    out.append(tuple(s["bbox"]))
    return out


def _visible(row: list[Seg], hidden: list[tuple[float, float, float, float]]) -> list[Seg]:
    out = []
    for s in row:
        words = s.words or ((s.x0, s.x1, s.text),)
        keep = [w for w in words if not any(hx0 <= (w[0] + w[1]) / 2 <= hx1 and hy0 <= s.yc <= hy1
                                            for hx0, hy0, hx1, hy1 in hidden)]
        if keep:
            out.append(Seg(keep[0][0], s.y0, keep[-1][1], s.y1, " ".join(w[2] for w in keep), tuple(keep)))
    return out


def _has_caption(words: list[tuple]) -> bool:
    """Cheap test on the raw words: does any line start with 'Table N'?"""
    for i, w in enumerate(words[:-1]):
        if w[7] == 0 and w[4] in ("Table", "TABLE", "Tab.") and words[i + 1][6] == w[6] and words[i + 1][5] == w[5]:
            return True
        if w[7] == 0 and re.match(r"^(?:Table|TABLE)\d", w[4]):
            return True
    return False


def _lines(words: list[tuple]) -> list[_Line]:
    by_line: dict[tuple[int, int], _Line] = {}
    for x0, y0, x1, y1, text, block, line, _ in words:
        if len(text) >= 3 and (y1 - y0) > 1.6 * (x1 - x0):
            continue  # rotated (a figure's axis label, the arXiv stamp)
        if not text.isascii():
            text = normalize(text)
        if not text:
            continue
        key = (block, line)
        if key not in by_line:
            by_line[key] = _Line([], block)
        by_line[key].words.append((x0, y0, x1, y1, text))
    out = []
    for ln in by_line.values():
        ln.words.sort(key=lambda w: w[0])
        ln.x0 = min(w[0] for w in ln.words)
        ln.y0 = min(w[1] for w in ln.words)
        ln.x1 = max(w[2] for w in ln.words)
        ln.y1 = max(w[3] for w in ln.words)
        ln.segs = _segments(ln)
        out.append(ln)
    return out


def _segments(ln: _Line) -> list[Seg]:
    """Split a line into cells at gaps wider than a word space, and between two bare numbers."""
    h = max(ln.h, 1.0)
    groups: list[list[tuple[float, float, float, float, str]]] = [[ln.words[0]]]
    for prev, w in zip(ln.words, ln.words[1:]):
        gap = w[0] - prev[2]
        number_next = bool(_NUMERIC.match(w[4])) and prev[4] not in _JOINERS
        both_numbers = number_next and _NUMERIC.match(prev[4]) and gap > 0.15 * h
        after_label = number_next and prev[4].endswith("]") and gap > 0.15 * h
        # two baselines in one text line: the lines of two header cells set side by side
        other_line = abs((w[1] + w[3]) / 2 - (prev[1] + prev[3]) / 2) > 0.3 * min(w[3] - w[1], prev[3] - prev[1])
        if gap > 1.0 * h or both_numbers or after_label or other_line:
            groups.append([w])
        else:
            groups[-1].append(w)
    return [Seg(min(w[0] for w in g), min(w[1] for w in g), max(w[2] for w in g), max(w[3] for w in g),
                " ".join(w[4] for w in g), tuple((w[0], w[2], w[4]) for w in g)) for g in groups]


def _split_at_rules(page: Any, lines: list[_Line], rules: Rules, textpage: Any) -> None:
    """Cells of a ruled table are bounded by its vertical rules: a segment that a rule crosses is
    cut there (between two words, or inside a word whose glyphs run into the next cell)."""
    if not rules.vertical:
        return
    # vertical rules by 20-pt band of height: a figure's vector strokes can number thousands
    bands: dict[int, list[tuple[float, float, float]]] = defaultdict(list)
    for r in rules.vertical:
        for k in range(int(r[1] // 20), int(r[2] // 20) + 1):
            bands[k].append(r)
    for ln in lines:
        if ln.prose:
            continue
        yc = ln.yc
        xs = sorted({round(x, 1) for x, a, b in bands.get(int(yc // 20), ()) if a - 1 <= yc <= b + 1 and ln.x0 + 1 < x < ln.x1 - 1})
        if not xs:
            continue
        out: list[Seg] = []
        for seg in ln.segs:
            cuts = [x for x in xs if seg.x0 + 1 < x < seg.x1 - 1]
            if not cuts:
                out.append(seg)
                continue
            words: list[tuple[float, float, str]] = []
            for w in seg.words:
                inside = [x for x in cuts if w[0] + 1 < x < w[1] - 1]
                words += _cut_word(page, textpage, w, seg, inside) if inside else [w]
            groups: list[list[tuple[float, float, str]]] = [[]]
            for w in words:
                if groups[-1] and any(groups[-1][-1][1] - 1 <= x <= w[0] + 1 for x in cuts):
                    groups.append([])
                groups[-1].append(w)
            out += [Seg(g[0][0], seg.y0, g[-1][1], seg.y1, " ".join(w[2] for w in g), tuple(g)) for g in groups if g]
        ln.segs = out


def _cut_word(page: Any, textpage: Any, w: tuple[float, float, str], seg: Seg, xs: list[float]) -> list[tuple[float, float, str]]:
    """A word drawn across cell borders ('24.55/0.648926.06/0.7261'): its glyphs, cut at the rules."""
    chars = []
    # (a clip is ignored when a whole page's TextPage is passed: this reads just the word's box)
    for b in page.get_text("rawdict", clip=(w[0] - 0.5, seg.y0, w[1] + 0.5, seg.y1))["blocks"]:
        for line in b.get("lines", ()):
            for span in line["spans"]:
                chars += [(c["bbox"][0], c["bbox"][2], c["c"]) for c in span["chars"]]
    # the word's own text, placed by its glyphs' positions (a glyph's character can read
    # differently in the glyph dump than in the word list, e.g. a styled '.')
    inside = [c for c in chars if c[0] >= w[0] - 0.6 and c[1] <= w[1] + 0.6]
    if len(inside) != len(w[2]):
        return [w]
    out, start = [], 0
    for k in range(1, len(inside)):
        gap = inside[k][0] - inside[k - 1][1]
        if gap > 0.3 and any(inside[k - 1][1] - 0.8 <= x <= inside[k][0] + 0.8 for x in xs):
            out.append((inside[start][0], inside[k - 1][1], w[2][start:k]))
            start = k
    out.append((inside[start][0], inside[-1][1], w[2][start:]))
    return out


def _mark_prose(lines: list[_Line], width: float) -> None:
    """Running text is no table: lines of six or more words set with word spaces only, in a
    block that is mostly such lines (its short last line included), or alone in a block and wide.
    A table's header line can look like prose by itself; in a block of cells it is not."""
    blocks: dict[int, list[_Line]] = defaultdict(list)
    for ln in lines:
        blocks[ln.block].append(ln)
    for members in blocks.values():
        like = []
        for ln in members:
            words = ln.text.split()
            wordy = sum(bool(_WORD.search(w)) for w in words)
            gaps = [b[0] - a[2] for a, b in zip(ln.words, ln.words[1:])]
            lower = sum(w[0].islower() for w in words)  # running text is mostly lower-case words
            like.append(len(words) >= 6 and wordy >= 0.6 * len(words) and lower >= 0.3 * len(words)
                        and max(gaps, default=0) < 0.8 * max(ln.h, 1.0))
        n = sum(like)
        if n >= 2 and n >= 0.5 * len(members):
            for ln in members:
                ln.prose = len(ln.segs) <= 2
        else:
            for ln, is_like in zip(members, like):
                ln.prose = is_like and (ln.x1 - ln.x0 > 0.45 * width or len(ln.text.split()) >= 12)


def _rules(page: Any) -> Rules:
    horizontal, vertical = [], []
    for d in page.get_cdrawings():
        for item in d["items"]:
            if item[0] == "l":
                (ax, ay), (bx, by) = item[1], item[2]
                if abs(ay - by) < 1.0 and abs(ax - bx) > 3:
                    horizontal.append(((ay + by) / 2, min(ax, bx), max(ax, bx)))
                elif abs(ax - bx) < 1.0 and abs(ay - by) > 3:
                    vertical.append(((ax + bx) / 2, min(ay, by), max(ay, by)))
            elif item[0] == "re":
                x0, y0, x1, y1 = item[1]
                w, h = abs(x1 - x0), abs(y1 - y0)
                if h < 2.0 and w > 3:
                    horizontal.append(((y0 + y1) / 2, min(x0, x1), max(x0, x1)))
                elif w < 2.0 and h > 3:
                    vertical.append(((x0 + x1) / 2, min(y0, y1), max(y0, y1)))
                elif "s" in (d.get("type") or "") and w > 3 and h > 3:  # a stroked box: its edges
                    horizontal += [(min(y0, y1), min(x0, x1), max(x0, x1)), (max(y0, y1), min(x0, x1), max(x0, x1))]
                    vertical += [(min(x0, x1), min(y0, y1), max(y0, y1)), (max(x0, x1), min(y0, y1), max(y0, y1))]
    return Rules(horizontal, vertical)


def _columns_of_page(lines: list[_Line], width: float) -> float | None:
    """The x of the gutter when the page's running text is set in two columns, else None."""
    prose = [ln for ln in lines if ln.prose and ln.x1 - ln.x0 > 0.25 * width]
    if len(prose) < 6:
        return None
    mid = width / 2
    crossing = sum(ln.x0 < mid - 10 and ln.x1 > mid + 10 for ln in prose)
    left = sorted(ln.x1 for ln in prose if ln.x1 <= mid + 10)
    right = sorted(ln.x0 for ln in prose if ln.x0 >= mid - 10)
    if crossing > 0.2 * len(prose) or len(left) < 3 or len(right) < 3:
        return None
    return (left[int(0.9 * (len(left) - 1))] + right[int(0.1 * (len(right) - 1))]) / 2


def _caption(lines: list[_Line], i: int) -> list[_Line]:
    """The caption's lines: its first line and the lines set right under it like it (flush with
    its left edge, or centred under it), alone at their height."""
    cap = [lines[i]]
    below = sorted((x for x in lines if x.y0 > lines[i].y0 + 1), key=lambda x: x.y0)
    for ln in below:
        last = cap[-1]
        if ln.y0 - last.y1 > 0.6 * last.h or len(cap) >= 8:
            break
        first = cap[0]
        flush = abs(ln.x0 - first.x0) < 3
        centred = abs((ln.x0 + ln.x1) / 2 - (first.x0 + first.x1) / 2) < 6
        if not (flush or centred) or (not flush and ln.x1 > first.x1 + 0.1 * (first.x1 - first.x0) + 3):
            continue
        beside = [x for x in below if x is not ln and abs(x.yc - ln.yc) < 0.5 * ln.h and x.x1 > first.x0 and x.x0 < first.x1]
        if beside or (len(ln.segs) > 1 and not ln.prose) or _NUMERIC.match(ln.text) or _CAPTION.match(ln.text) or ln.h > 1.4 * first.h:
            break
        cap.append(ln)
    return cap


def find_tables(page: Any, *, page_number: int | None = None, textpage: Any = None,
                stats: PageStats | None = None) -> list[Table]:
    """The captioned tables of one page. ``page`` is a PyMuPDF Page; ``page_number`` (1-based)
    defaults to ``page.number + 1``; ``textpage`` is the page's TextPage when the caller has one
    (it is made here otherwise, once)."""
    t0 = time.perf_counter()
    number = page_number if page_number is not None else page.number + 1
    if textpage is None:
        textpage = page.get_textpage()
    words = page.get_text("words", textpage=textpage)
    # Cheap gate: most pages have no table caption; such a page costs one word pass.
    if not _has_caption(words):
        if stats is not None:
            stats.seconds += time.perf_counter() - t0
        return []
    lines = _lines(words)
    if stats is not None:
        stats.captions += sum(1 for ln in lines if _CAPTION.match(ln.text))
    _mark_prose(lines, page.rect.width)
    width, height = page.rect.width, page.rect.height
    gutter = _columns_of_page(lines, width)
    rules = _rules(page)
    _split_at_rules(page, lines, rules, textpage)
    captions = []
    used: set[int] = set()
    for i, ln in enumerate(lines):
        if _CAPTION.match(ln.text) and _is_caption_start(lines, ln):
            cap = _caption(lines, i)
            captions.append(cap)
            used |= {id(c) for c in cap}
    blockers = [ln for ln in lines if ln.prose or _OTHER_CAPTION.match(ln.text) or id(ln) in used]
    segs = [s for ln in lines if not ln.prose and id(ln) not in used and not _OTHER_CAPTION.match(ln.text)
            for s in ln.segs if height * 0.04 < s.yc < height * 0.96]
    found = [_regions(cap, segs, blockers, _band(cap, captions, gutter, width), rules) for cap in captions]
    out: list[Table] = []
    hidden: list[tuple[float, float, float, float]] | None = None
    for cap, region in zip(captions, _assign(found)):
        if not region:
            continue
        rows, box = region
        if hidden is None:
            hidden = _hidden_words(page, textpage)
        if hidden:
            rows = [kept for r in rows if (kept := _visible(r, hidden))]
        sub_rules = Rules([r for r in rules.horizontal if box[1] - 3 <= r[0] <= box[3] + 3 and r[2] > box[0] and r[1] < box[2]],
                          [r for r in rules.vertical if box[0] - 3 <= r[0] <= box[2] + 3 and r[2] > box[1] and r[1] < box[3]])
        caption = " ".join(c.text for c in cap)
        m = _CAPTION.match(caption)
        label = f"Table {m.group(1)}" if m else ""
        for t in build(rows, sub_rules):
            t.caption, t.label, t.page, t.bbox = caption, label, number, tuple(round(v, 1) for v in box)
            t.detector = "ruled" if sub_rules.vertical else "words"
            out.append(t)
    if stats is not None:
        stats.seconds += time.perf_counter() - t0
        stats.tables += len(out)
    return out


def _is_caption_start(lines: list[_Line], ln: _Line) -> bool:
    """'Table 2. Results ...' opens a caption; 'Table 2 shows' inside a paragraph does not:
    a caption's first line is not the continuation of a line right above it in the same block."""
    above = [x for x in lines if x.block == ln.block and x.y1 <= ln.y0 + 1 and x.x1 > ln.x0 and x.x0 < ln.x1]
    if not above:
        return True
    nearest = max(above, key=lambda x: x.y1)
    return ln.y0 - nearest.y1 > 0.4 * ln.h or not nearest.prose


def _band(cap: list[_Line], captions: list[list[_Line]], gutter: float | None, width: float) -> tuple[float, float]:
    """The x-range the table may occupy: the caption's text column (the whole width when the
    caption crosses the gutter), split between captions printed side by side."""
    x0 = min(c.x0 for c in cap)
    x1 = max(c.x1 for c in cap)
    lo, hi = 0.0, width
    if gutter is not None and not (x0 < gutter - 5 and x1 > gutter + 5):
        lo, hi = (0.0, gutter) if x1 <= gutter + 5 else (gutter, width)
    for other in captions:
        if other is cap or other[0].y1 < cap[0].y0 - 2 or other[0].y0 > cap[0].y1 + 2:
            continue
        if other[0].x0 >= x1:
            hi = min(hi, (x1 + other[0].x0) / 2)
        elif other[0].x1 <= x0:
            lo = max(lo, (other[0].x1 + x0) / 2)
    return lo, hi


def _rows(segs: list[Seg]) -> list[list[Seg]]:
    rows: list[list[Seg]] = []
    for s in sorted(segs, key=lambda s: s.yc):
        if rows:
            r = rows[-1]
            top = min(x.y0 for x in r)
            bot = max(x.y1 for x in r)
            h = bot - top
            if abs(s.yc - sum(x.yc for x in r) / len(r)) < 0.35 * max(h, s.y1 - s.y0):
                r.append(s)
                continue
        rows.append([s])
    return [sorted(r, key=lambda s: s.x0) for r in rows]


_Region = tuple[list[list[Seg]], tuple[float, float, float, float]]


def _assign(found: list[dict[int, tuple[float, _Region]]]) -> list[_Region | None]:
    """Which side of its caption each table is on. A page's captions follow one convention
    (above or below their tables): take the one that gives the most captions a table without
    two captions claiming the same rows; when both do equally well, each caption's closer side."""
    def pick(rule) -> list[_Region | None]:
        return [rule(f) for f in found]

    def closest(f):
        if not f:
            return None
        return min(f.values(), key=lambda gr: (round(gr[0] / 3), -_numeric(gr[1][0])))[1]

    options = [pick(closest), pick(lambda f: f[1][1] if 1 in f else None), pick(lambda f: f[-1][1] if -1 in f else None)]

    def score(regions: list[_Region | None]) -> tuple[int, int]:
        boxes = [r[1] for r in regions if r]
        clash = any(_overlap(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])
        return (-1, 0) if clash else (len(boxes), 0)

    best = max(range(len(options)), key=lambda i: (score(options[i]), -i))
    return options[best]


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return min(a[2], b[2]) - max(a[0], b[0]) > 2 and min(a[3], b[3]) - max(a[1], b[1]) > 2


def _numeric(rows: list[list[Seg]]) -> int:
    return sum(1 for r in rows for s in r if re.search(r"\d", s.text))


def _regions(cap: list[_Line], segs: list[Seg], blockers: list[_Line], band: tuple[float, float],
             rules: Rules) -> dict[int, tuple[float, _Region]]:
    """The rows of a table next to the caption, below (+1) and above (-1), each with its distance
    from the caption."""
    top = min(c.y0 for c in cap)
    bottom = max(c.y1 for c in cap)
    h = sorted(c.h for c in cap)[len(cap) // 2]
    cx0, cx1 = min(c.x0 for c in cap), max(c.x1 for c in cap)
    inband = [s for s in segs if band[0] <= s.xc <= band[1]]
    stops = [(b.x0, b.x1, b.yc) for b in blockers if band[0] <= (b.x0 + b.x1) / 2 <= band[1]]
    found: dict[int, tuple[float, _Region]] = {}
    for direction in (1, -1):
        side = [s for s in inband if (s.y0 >= bottom - 1 if direction > 0 else s.y1 <= top + 1)]
        rows = _rows(side)
        if direction < 0:
            rows.reverse()
        got: list[list[Seg]] = []
        edge = bottom if direction > 0 else top
        x_lo, x_hi = cx0, cx1
        for r in rows:
            r_top, r_bot = min(s.y0 for s in r), max(s.y1 for s in r)
            gap = (r_top - edge) if direction > 0 else (edge - r_bot)
            rh = sorted(s.y1 - s.y0 for s in r)[len(r) // 2]
            allowed = max(1.6 * rh, 6.0) if got else max(2.5 * h, 12.0)
            if any(_between(rule[0], edge, r_top if direction > 0 else r_bot) and rule[2] > x_lo and rule[1] < x_hi
                   for rule in rules.horizontal):
                allowed *= 1.8
            if gap > allowed:
                break
            if got and rh > 1.3 * max(sorted(s.y1 - s.y0 for s in g)[len(g) // 2] for g in got):
                break  # a larger font: a heading or the running text after the table
            if len(r) <= 2 and _HEADING.match(" ".join(s.text for s in r)):
                break  # '5.2 Performance comparison': the section after the table
            mid = (r_top + r_bot) / 2
            if any(bx1 > x_lo and bx0 < x_hi and _between(byc, edge, mid) for bx0, bx1, byc in stops):
                break
            got.append(r)
            edge = r_bot if direction > 0 else r_top
            x_lo = min(x_lo, min(s.x0 for s in r))
            x_hi = max(x_hi, max(s.x1 for s in r))
            if len(got) > 120:
                break
        if direction < 0:
            got.reverse()
        if len(got) >= 2 and _numeric(got) >= 2:
            first_gap = (min(s.y0 for s in got[0]) - bottom) if direction > 0 else (top - max(s.y1 for s in got[-1]))
            allsegs = [s for r in got for s in r]
            box = (min(s.x0 for s in allsegs), min(s.y0 for s in allsegs), max(s.x1 for s in allsegs), max(s.y1 for s in allsegs))
            found[direction] = (first_gap, (got, box))
    return found


def _between(y: float, a: float, b: float) -> bool:
    return min(a, b) < y < max(a, b)
