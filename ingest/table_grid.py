"""Rows of positioned text -> a table grid: columns, header rows with spans, stub, section rows.

The input is what ``tables.py`` cut out of a page: visual rows, each a list of text segments with
their boxes (a segment is one cell's text as the page draws it), plus the ruling lines around them.
No PDF library here: the grid is rebuilt from geometry alone, so it is tested with plain data.

How (and why this way, see docs/benchmarks.md for what it gets right on the corpus):
1. body rows are rows that hold values (numbers, or '-' placeholders); the rows above the first
   body row are the header;
2. columns are the x-intervals the body rows' segments cover, split where few rows cover an x
   (a long label in one row must not merge two columns) and at vertical rules when the table has
   them;
3. a header segment covers the columns it overlaps; a group header ("Set5", "Video Synthesis")
   also takes the columns between it and its neighbour up to the widest gap between them, because
   a centred group title need not overlap its outer columns;
4. leading label columns (method, dataset, scale) form the stub; a sparse stub column (a label
   printed once for a group of rows, LaTeX's \\multirow) is filled down over its group, bounded by
   horizontal rules when there are any, else by the nearest labelled row;
5. rows without values after the header are section rows ("Zero-shot setting", "Scale ×2").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from paperlens.tables import HeaderCell, Table, cell_numbers

_PLACEHOLDER = re.compile(r"^(?:[-–—−]+|[-–—]/[-–—]|n/?a|N/?A|—\s*/\s*—|×|✗|✓|%|!)$")
_LEFTOVER = re.compile(r"[\d.,±/×x%+\-–—−~∼≈<>()\[\]↑↓*†‡§∗\s]|dB|\b[KMBGT]\b|ms\b|s\b")
_SCALE_VALUE = re.compile(r"^[×xX]?\s?\d{1,2}\s?[×xX]?$")
_SCALE_TOKEN = re.compile(r"^(?:[×xX]\s?\d{1,2}|\d{1,2}\s?[×xX])$")
_SCALE_HEADER = re.compile(r"scale|factor|upscal|^[×x]$", re.I)


@dataclass
class Seg:
    """One piece of text a table cell shows, with its box (PDF points, y down)."""

    x0: float
    y0: float
    x1: float
    y1: float
    text: str
    words: tuple[tuple[float, float, str], ...] = ()  # (x0, x1, text) of each word, when known

    @property
    def xc(self) -> float:
        return (self.x0 + self.x1) / 2

    @property
    def yc(self) -> float:
        return (self.y0 + self.y1) / 2


@dataclass
class Rules:
    """Ruling lines near a table: horizontal (y, x0, x1) and vertical (x, y0, y1)."""

    horizontal: list[tuple[float, float, float]]
    vertical: list[tuple[float, float, float]]


def is_value(text: str) -> bool:
    """A cell that holds a value: a number with at most a unit or an error around it, or a
    placeholder for a missing one ('-', 'N/A')."""
    t = text.strip()
    if not t:
        return False
    if _PLACEHOLDER.match(t):
        return True
    if not cell_numbers(t):
        return False
    rest = _LEFTOVER.sub("", t)
    return len(rest) <= 1


def _holds_value(r: list[Seg]) -> bool:
    """A body row: at least two cells, one of them a value that is not a bare scale label ('×2')."""
    return len(r) >= 2 and any(is_value(s.text) and not _SCALE_TOKEN.match(s.text.strip()) for s in r)


def _has_number(text: str) -> bool:
    t = text.strip()
    return bool(t) and not _PLACEHOLDER.match(t) and is_value(t)


def _stretches(bins, keep) -> list[list[int]]:
    """The maximal runs of consecutive bins for which ``keep`` holds."""
    out: list[list[int]] = []
    cur: list[int] = []
    for b in bins:
        if keep(b):
            cur.append(b)
        elif cur:
            out.append(cur)
            cur = []
    if cur:
        out.append(cur)
    return out


def _columns(body: list[list[Seg]], vrules: list[float]) -> list[tuple[float, float]]:
    """Column intervals covered by the body rows, split at low coverage and at vertical rules."""
    segs = [s for row in body for s in row]
    lo = min(s.x0 for s in segs)
    hi = max(s.x1 for s in segs)
    step = 0.5
    n = int((hi - lo) / step) + 2
    cover = [0] * n
    for row in body:
        hit = [False] * n
        for s in row:
            for b in range(int((s.x0 - lo) / step), int((s.x1 - lo) / step) + 1):
                hit[b] = True
        for b in range(n):
            cover[b] += hit[b]
    rows = len(body)
    low = max(1.0, 0.4 * rows)  # a valley: an x that fewer than 40 % of the rows cover
    runs = _stretches(range(n), lambda b: cover[b] > 0)
    # a stretch that only one or two rows reach (a value centred across two columns) is no column
    # (a sparse run at the left edge is a stub column printed once per group: it stays)
    major = [max(cover[b] for b in run) >= min(max(2, 0.25 * rows), rows) for run in runs]
    if any(major):
        first = major.index(True)
        runs = [run for k, run in enumerate(runs) if major[k] or k < first]
    out: list[tuple[float, float]] = []
    for run in runs:
        # a run that a few rows bridge (one long label) holds several columns: split it in the
        # middle of each valley between two stretches that most rows cover
        peaks = [p for p in _stretches(run, lambda b: cover[b] > low) if max(cover[i] for i in p) >= max(2, 0.6 * rows)]
        start, end = lo + run[0] * step, lo + (run[-1] + 1) * step
        if len(peaks) <= 1:
            out.append((start, end))
            continue
        cuts = [lo + (a[-1] + 1 + b[0]) / 2 * step for a, b in zip(peaks, peaks[1:])]
        edges = [start] + cuts + [end]
        out += [(edges[i], edges[i + 1]) for i in range(len(edges) - 1)]
    # vertical rules are cell borders: a column that one crosses is two columns
    for x in vrules:
        for i, (a, b) in enumerate(out):
            if a + 2 < x < b - 2:
                left = [s for s in segs if a <= s.xc < x]
                right = [s for s in segs if x <= s.xc < b]
                if left and right:
                    out[i : i + 1] = [(a, x), (x, b)]
                break
    return out


def _split_at_columns(row: list[Seg], cols: list[tuple[float, float]], gap: float = 0.33) -> list[Seg]:
    """A segment whose words stand over different columns, a little apart, is several cells
    (header lines like 'FVD FVD32 DTFVD' come as one text line); a group title's words
    ('Image Synthesis') sit closer than that and stay together."""
    out: list[Seg] = []
    for s in row:
        if len(s.words) < 2:
            out.append(s)
            continue
        h = max(s.y1 - s.y0, 1.0)
        parts = [[s.words[0]]]
        for prev, w in zip(s.words, s.words[1:]):
            a = _col_of(Seg(prev[0], s.y0, prev[1], s.y1, prev[2]), cols)
            b = _col_of(Seg(w[0], s.y0, w[1], s.y1, w[2]), cols)
            if a != b and w[0] - prev[1] > gap * h:
                parts.append([w])
            else:
                parts[-1].append(w)
        out += [Seg(p[0][0], s.y0, p[-1][1], s.y1, " ".join(w[2] for w in p), tuple(p)) for p in parts]
    return out


def _col_of(s: Seg, cols: list[tuple[float, float]]) -> int:
    best, best_ov = -1, 0.0
    for j, (a, b) in enumerate(cols):
        ov = min(b, s.x1) - max(a, s.x0)
        if ov > best_ov:
            best, best_ov = j, ov
    if best >= 0:
        return best
    return min(range(len(cols)), key=lambda j: abs((cols[j][0] + cols[j][1]) / 2 - s.xc))


def _cols_covered(s: Seg, cols: list[tuple[float, float]]) -> list[int]:
    hit = [j for j, (a, b) in enumerate(cols) if min(b, s.x1) - max(a, s.x0) > 0.5]
    return hit or [_col_of(s, cols)]


def _center(cols: list[tuple[float, float]], cs: list[int]) -> float:
    return (cols[cs[0]][0] + cols[cs[-1]][1]) / 2


def _header_span(s: Seg, cols: list[tuple[float, float]], vertical: list[tuple[float, float, float]]) -> list[int]:
    """The columns a header cell covers; in a ruled table, the ones between the rules around it."""
    rules = [x for x, a, b in vertical if a <= s.yc <= b]
    left = [x for x in rules if x <= s.x0 + 1]
    right = [x for x in rules if x >= s.x1 - 1]
    if left and right:
        lo, hi = max(left), min(right)
        inside = [j for j, (a, b) in enumerate(cols) if a >= lo - 2 and b <= hi + 2 or lo - 1 <= (a + b) / 2 <= hi + 1]
        if inside:
            return inside
    return _cols_covered(s, cols)


def _header(head: list[list[Seg]], cols: list[tuple[float, float]],
            vertical: list[tuple[float, float, float]]) -> list[list[HeaderCell]]:
    rows: list[list[tuple[Seg, list[int]]]] = []
    for r, row in enumerate(head):
        # leaf headers cover what they overlap; a group title (alone between two rules in its
        # row), the columns between its rules
        def span(s: Seg) -> list[int]:
            if r == len(head) - 1:
                return _cols_covered(s, cols)
            ruled = _header_span(s, cols, vertical)
            if len(ruled) > 1 and any(o is not s and _header_span(o, cols, vertical) == ruled for o in row):
                return _cols_covered(s, cols)
            width = cols[ruled[-1]][1] - cols[ruled[0]][0]
            if len(ruled) > 1 and abs(_center(cols, ruled) - s.xc) > 0.25 * width:
                return _cols_covered(s, cols)  # set over one column, not centred over the group
            return ruled

        placed = sorted(((s, span(s)) for s in row), key=lambda sc: sc[1][0])
        merged: list[tuple[Seg, list[int]]] = []
        for s, cs in placed:  # two segments over the same single column are one cell
            if merged and merged[-1][1] == cs:
                p = merged[-1][0]
                merged[-1] = (Seg(p.x0, min(p.y0, s.y0), s.x1, max(p.y1, s.y1), p.text + " " + s.text), cs)
            else:
                merged.append((s, cs))
        rows.append(merged)
    # A centred group title covers the columns whose extent it is centred on ("Set5" over
    # PSNR | SSIM may overlap only one of them).
    for r, row in enumerate(rows):
        lower = {j for below in rows[r + 1 :] for _, cs in below for j in cs}
        taken = {j for _, cs in row for j in cs}
        for k, (s, cs) in enumerate(row):
            width = s.x1 - s.x0

            def fit(c: list[int]) -> float:  # how far off centre; a span narrower than the text does not fit
                extent = cols[c[-1]][1] - cols[c[0]][0]
                return abs(_center(cols, c) - s.xc) if extent >= 0.8 * width else 1e9

            best, best_d = cs, fit(cs)
            for left in range(0, 3):
                for right in range(0, 3):
                    cand = list(range(cs[0] - left, cs[-1] + right + 1))
                    if cand[0] < 0 or cand[-1] >= len(cols) or len(cand) < 2:
                        continue
                    extra = [j for j in cand if j not in cs]
                    if any(j in taken or j not in lower for j in extra):
                        continue
                    d = fit(cand)
                    if d < best_d - 1.0 and cols[cand[0]][0] - 2 <= s.x0 and s.x1 <= cols[cand[-1]][1] + 2:
                        best, best_d = cand, d
            row[k] = (s, best)
            taken |= set(best)
    # A group header also owns the columns between it and its neighbour that have a header of
    # their own lower down: split that run at the widest gap between adjacent columns.
    for r, row in enumerate(rows):
        lower = {j for below in rows[r + 1 :] for _, cs in below for j in cs}
        for k in range(len(row) - 1):
            (a, ca), (b, cb) = row[k], row[k + 1]
            if len(ca) < 2 and len(cb) < 2:
                continue
            between = [j for j in range(ca[-1] + 1, cb[0]) if j in lower]
            if not between:
                continue
            span = [ca[-1]] + between + [cb[0]]
            gaps = [(cols[span[i + 1]][0] - cols[span[i]][1], i) for i in range(len(span) - 1)]
            cut = max(gaps)[1]
            row[k] = (a, sorted(set(ca + span[1 : cut + 1])))
            row[k + 1] = (b, sorted(set(span[cut + 1 : -1] + cb)))
    return [[HeaderCell(text=s.text, col=cs[0], span=cs[-1] - cs[0] + 1) for s, cs in row] for row in rows]


def column_names(header: list[list[HeaderCell]], ncols: int) -> list[str]:
    names = []
    for j in range(ncols):
        # the header cells over column j, top to bottom; after a group title (a cell over several
        # columns) comes ' / ', after one line of a cell set on two lines a space
        parts: list[HeaderCell] = []
        for row in header:
            for c in row:
                if c.col <= j < c.col + c.span and c.text and (not parts or parts[-1].text != c.text):
                    parts.append(c)
        text = ""
        for i, c in enumerate(parts):
            text = c.text if i == 0 else text + (" / " if parts[i - 1].span > 1 else " ") + c.text
        names.append(text)
    return names


def stub_width(cells: list[list[str]], names: list[str]) -> int:
    ncols = len(names)
    stub = 0
    for j in range(ncols):
        vals = [r[j] for r in cells if r[j].strip()]
        if not vals:
            if j == stub:
                stub += 1  # an empty leading column (a scale column written once elsewhere)
                continue
            break
        texty = sum(not _has_number(v) for v in vals) / len(vals)
        scale = all(_SCALE_VALUE.match(v.strip()) for v in vals) and (
            _SCALE_HEADER.search(names[j]) or not names[j] or all(re.search(r"[×xX]", v) for v in vals)
        )
        if texty >= 0.6 or scale:
            stub = j + 1
            continue
        break
    return max(1, min(stub, ncols - 1)) if ncols > 1 else ncols


def build(rows: list[list[Seg]], rules: Rules) -> list[Table]:
    """The grid of one table region (a list of visual rows, top to bottom). Returns one table,
    or two when one header line carries two tables side by side ('Method ... Method ...')."""
    first_body = next((i for i, r in enumerate(rows) if _holds_value(r) and any(_has_number(s.text) for s in r)), None)
    if first_body is None:
        return []
    head = rows[:first_body]
    rest = rows[first_body:]
    # a short row right above the first values, under a fuller header row, is a section label
    # ('Zero-shot setting', 'Scale ×2'), not part of the header
    while len(head) >= 2 and len(head[-1]) <= 2 and len(head[-2]) >= 3:
        rest.insert(0, head.pop())
    body = [r for r in rest if _holds_value(r)]
    if len(body) < 1 or sum(sum(_has_number(s.text) for s in r) for r in body) < 2:
        return []
    # vertical rules that run along the body are column borders
    y0 = min(s.y0 for r in body for s in r)
    y1 = max(s.y1 for r in body for s in r)
    vx: dict[int, float] = {}
    for x, a, b in rules.vertical:
        ov = min(b, y1) - max(a, y0)
        if ov > 0:
            vx[round(x)] = vx.get(round(x), 0.0) + ov
    vrules = sorted(float(x) for x, cov in vx.items() if cov >= 0.5 * (y1 - y0))
    # labels printed once for a group of rows (a \\multirow scale) have a column of their own
    widths = sorted(s.x1 - s.x0 for r in body for s in r)
    narrow = widths[len(widths) // 2] * 1.5
    labels = [r for r in rest if not _holds_value(r) and all(s.x1 - s.x0 <= narrow for s in r)]
    cols = _columns(body + labels, vrules)
    # leaf headers are split where their words stand over different columns; a group title's
    # words ('Attribute Binding') only at a wide gap
    head = [_split_at_columns(r, cols, 0.33 if k == len(head) - 1 else 0.8) for k, r in enumerate(head)]
    rest = [_split_at_columns(r, cols) for r in rest]
    header = _header(head, cols, rules.vertical)
    names = column_names(header, len(cols))
    ncols = len(cols)
    raw: list[tuple[list[str], bool, list[Seg]]] = []
    for r in rest:
        row = [""] * ncols
        for s in sorted(r, key=lambda s: s.x0):
            j = _col_of(s, cols)
            row[j] = (row[j] + " " + s.text).strip()
        raw.append((row, _holds_value(r), r))
    stub = stub_width([row for row, is_body, _ in raw if is_body], names)
    cells, kinds = _rows_with_stub(raw, cols, stub, rules)
    table = Table(caption="", columns=names, header=header, rows=cells, kinds=kinds, stub=stub)
    return split_side_by_side(table)


def _rows_with_stub(raw, cols, stub, rules) -> tuple[list[list[str]], list[str]]:
    """Body rows as they are; a row without values is either a stub label printed once for a
    group of rows (LaTeX's \\multirow, often on a line of its own between the rows it names),
    which is copied to every row of its group, or a section row over the rows below it."""
    body_rows = [row for row, is_body, _ in raw if is_body]
    sparse = {j for j in range(stub) if sum(not r[j] for r in body_rows) >= 0.3 * max(1, len(body_rows))}
    cells: list[list[str]] = []
    kinds: list[str] = []
    ys: list[float] = []
    sources: list[tuple[float, int, str]] = []
    for row, is_body, segs in raw:
        yc = sum(s.yc for s in segs) / len(segs)
        if is_body:
            cells.append(row)
            kinds.append("body")
            ys.append(yc)
            continue
        filled = [j for j, t in enumerate(row) if t]
        if filled and all(j in sparse for j in filled) and not any(len(_cols_covered(s, cols)) > 1 for s in segs):
            sources += [(yc, j, row[j]) for j in filled]
            continue
        cells.append([" ".join(s.text for s in sorted(segs, key=lambda s: s.x0))] + [""] * (len(row) - 1))
        kinds.append("section")
        ys.append(yc)
    body = [i for i, k in enumerate(kinds) if k == "body"]
    for j in sorted(sparse):
        # the rows a label names end at the rules that cross its column (a \\cline under the
        # other columns does not end its group)
        xc = (cols[j][0] + cols[j][1]) / 2
        rule_ys = sorted({round(y, 1) for y, a, b in rules.horizontal if a <= xc <= b})

        def group(y: float) -> int:
            return sum(1 for ry in rule_ys if ry < y)

        have = [(ys[i], cells[i][j]) for i in body if cells[i][j]] + [(y, t) for y, jj, t in sources if jj == j]
        for i in body:
            if cells[i][j] or not have:
                continue
            grouped = [(abs(y - ys[i]), t) for y, t in have if group(y) == group(ys[i])]
            pool = grouped if len(rule_ys) >= 3 else [(abs(y - ys[i]), t) for y, t in have]
            if pool:
                cells[i][j] = min(pool)[1]
    return cells, kinds


def split_side_by_side(t: Table) -> list[Table]:
    """'Method | ... | Method | ...': two tables printed side by side under one caption."""
    if not t.header or t.stub < 1:
        return [t]
    names = [c.strip().lower() for c in t.columns]
    half = len(names) // 2
    if len(names) % 2 == 0 and half >= 2 and names[:half] == names[half:] and any(names):
        cut = half  # the same header twice: '| | mIoU | | mIoU |'
    else:
        first = names[0]
        cut = next((j for j in range(2, len(names)) if first and names[j] == first), None)
    if cut is None:
        return [t]
    out = []
    for part, (a, b) in (("left", (0, cut)), ("right", (cut, len(t.columns)))):
        header = [[HeaderCell(text=c.text, col=c.col - a, span=c.span) for c in row if a <= c.col < b] for row in t.header]
        rows = [r[a:b] for r in t.rows]
        keep = [i for i, r in enumerate(rows) if any(x.strip() for x in r)]
        out.append(t.model_copy(update={
            "columns": t.columns[a:b], "header": header, "rows": [rows[i] for i in keep],
            "kinds": [t.kinds[i] for i in keep], "part": part,
        }))
    return out
