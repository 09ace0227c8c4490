"""LaTeX source -> ``paperlens.tables.Table`` (``source="latex"``): the ``tabular`` environments of
an arXiv e-print, which are exact where PDF extraction is not (no column guessing, no glued
cells, no subscripts run into names).

Read: comments, simple macros (``\\newcommand{\\ours}{...}``, ``\\def\\ours{...}``, up to one
argument), ``table``/``table*`` floats with their ``\\caption`` (numbered in source order, as
LaTeX numbers them), ``tabular``/``tabular*``/``tabularx`` bodies: rows split at ``\\\\``, cells at
``&``, ``\\multicolumn`` spans, ``\\multirow`` labels copied down their rows, rules (``\\hline``,
``\\midrule``, ``\\cline``, ``\\cmidrule``) ending the header, formatting (``\\textbf``,
``\\underline``, colours) dropped, math symbols written as text (``\\pm`` -> ±, ``\\times`` -> ×,
arrows). ``\\cite`` becomes "[cite]", so a cited row reads as another paper's method.

The grid rules (column names, stub, section rows, side-by-side halves) are table_grid's, so a
table reads the same from either source.
"""

from __future__ import annotations

import re

from paperlens.ingest.table_grid import column_names, is_value, split_side_by_side, stub_width
from paperlens.tables import HeaderCell, Table

_SYMBOLS = {
    r"\pm": "±", r"\times": "×", r"\uparrow": "↑", r"\downarrow": "↓", r"\Uparrow": "↑", r"\Downarrow": "↓",
    r"\rightarrow": "→", r"\to": "→", r"\leftarrow": "←", r"\leftrightarrow": "↔", r"\dagger": "†", r"\ddagger": "‡",
    r"\checkmark": "✓", r"\cmark": "✓", r"\xmark": "✗", r"\ast": "*", r"\star": "⋆", r"\sim": "∼", r"\approx": "≈",
    r"\geq": "≥", r"\leq": "≤", r"\ge": "≥", r"\le": "≤", r"\lambda": "λ", r"\alpha": "α", r"\beta": "β",
    r"\gamma": "γ", r"\sigma": "σ", r"\mu": "μ", r"\%": "%", r"\&": "&", r"\_": "_", r"\#": "#", r"\$": "$",
    r"\textasciitilde": "~", r"\ldots": "...", r"\dots": "...", r"\cdot": "·", r"\,": " ", r"\;": " ", r"\!": "",
    r"\quad": " ", r"\qquad": " ", r"\ ": " ", r"\textendash": "–", r"\textemdash": "—", r"\degree": "°",
}
# Commands whose argument is the text (formatting): keep the argument.
_KEEP_ARG = ("textbf", "textit", "emph", "underline", "uline", "textsc", "texttt", "textrm", "textsf", "mathbf",
             "mathrm", "mathit", "mathsf", "mathtt", "boldsymbol", "bm", "text", "mbox", "hbox", "makecell",
             "shortstack", "ul", "textnormal", "small", "footnotesize", "scriptsize", "tiny", "large", "fbox", "best",
             "second", "first")
# Commands dropped with their arguments (colours, sizes, spacing).
_DROP_ARGS = {"cellcolor": 1, "rowcolor": 1, "color": 1, "textcolor": 1, "colorbox": 1, "hspace": 1, "vspace": 1,
              "label": 1, "rule": 2, "cmidrule": 1, "cline": 1, "resizebox": 2, "scalebox": 1, "setlength": 2,
              "arraystretch": 0, "footnote": 1, "tnote": 1, "thanks": 1}
_RULES = re.compile(r"\\(?:hline|toprule|midrule|bottomrule|specialrule|addlinespace|hdashline|Xhline|noalign|"
                    r"cline|cmidrule|arrayrulecolor|rowcolors?|hhline)\b")


_FULL_RULE = re.compile(r"\\(?:hline|toprule|midrule|bottomrule|specialrule|Xhline|hhline)\b")


def _strip_comments(tex: str) -> str:
    return "\n".join(re.sub(r"(?<!\\)%.*$", "", line) for line in tex.split("\n"))


def _group(s: str, i: int) -> tuple[str, int]:
    """The brace group starting at s[i] == '{' -> (its content, index after it)."""
    depth, j = 0, i
    while j < len(s):
        if s[j] == "\\":
            j += 2
            continue
        if s[j] == "{":
            depth += 1
        elif s[j] == "}":
            depth -= 1
            if depth == 0:
                return s[i + 1 : j], j + 1
        j += 1
    return s[i + 1 :], len(s)


def _args(s: str, i: int, n: int) -> tuple[list[str], int]:
    """n brace arguments after position i (optional [..] arguments skipped)."""
    out = []
    while len(out) < n:
        while i < len(s) and s[i] in " \t\n":
            i += 1
        if i < len(s) and s[i] == "[":
            close = s.find("]", i)
            i = close + 1 if close > 0 else len(s)
            continue
        if i < len(s) and s[i] == "{":
            g, i = _group(s, i)
            out.append(g)
        elif i < len(s) and s[i] == "\\":  # an unbraced command as the argument (\newcommand\ours)
            m = re.match(r"\\[A-Za-z@]+", s[i:])
            out.append(m.group(0) if m else "")
            i += len(m.group(0)) if m else 1
        else:
            out.append(s[i : i + 1])
            i += 1
    return out, i


def _macros(tex: str) -> dict[str, tuple[int, str]]:
    """Simple user macros: name -> (number of arguments, body)."""
    out: dict[str, tuple[int, str]] = {}
    for m in re.finditer(r"\\(?:re)?newcommand\*?|\\providecommand\*?|\\DeclareRobustCommand\*?", tex):
        i = m.end()
        while i < len(tex) and tex[i] in " \t":
            i += 1
        if i < len(tex) and tex[i] == "{":
            name, i = _group(tex, i)
        else:
            nm = re.match(r"\\[A-Za-z@]+", tex[i:])
            if not nm:
                continue
            name, i = nm.group(0), i + len(nm.group(0))
        nargs = 0
        am = re.match(r"\s*\[(\d)\]", tex[i:])
        if am:
            nargs, i = int(am.group(1)), i + am.end()
            dm = re.match(r"\s*\[[^\]]*\]", tex[i:])  # a default for the optional argument
            if dm:
                i += dm.end()
        while i < len(tex) and tex[i] in " \t\n":
            i += 1
        if i < len(tex) and tex[i] == "{" and nargs <= 1:
            body, _ = _group(tex, i)
            out[name.strip()] = (nargs, body)
    for m in re.finditer(r"\\def\s*(\\[A-Za-z@]+)\s*\{", tex):
        body, _ = _group(tex, m.end() - 1)
        out[m.group(1)] = (0, body)
    return out


def _expand(s: str, macros: dict[str, tuple[int, str]], depth: int = 0) -> str:
    if not macros or depth > 5:
        return s
    names = sorted(macros, key=len, reverse=True)
    rx = re.compile("(" + "|".join(re.escape(n) for n in names) + r")(?![A-Za-z@])")
    out, i = [], 0
    for m in rx.finditer(s):
        if m.start() < i:
            continue
        out.append(s[i : m.start()])
        nargs, body = macros[m.group(1)]
        j = m.end()
        if nargs:
            args, j = _args(s, j, 1)
            body = body.replace("#1", args[0])
        else:
            if s[j : j + 2] == "{}":
                j += 2
        out.append(body)
        i = j
    out.append(s[i:])
    text = "".join(out)
    return _expand(text, macros, depth + 1) if rx.search(text) else text


def clean(cell: str) -> str:
    """A cell's LaTeX as the reader sees it: '\\textbf{38.27}$\\pm$0.1' -> '38.27±0.1'."""
    s = cell
    s = re.sub(r"\\cite[pt]?\*?(?:\[[^\]]*\])*\{[^}]*\}", "[cite]", s)
    s = re.sub(r"\\(?:ref|eqref|autoref|cref)\{[^}]*\}", "", s)
    for name, n in _DROP_ARGS.items():
        for m in list(re.finditer(rf"\\{name}\b", s))[::-1]:
            _, end = _args(s, m.end(), n) if n else ([], m.end())
            s = s[: m.start()] + s[end:]
    # formatting commands: keep the argument (innermost first, by repetition)
    for _ in range(4):
        s = re.sub(r"\\(?:" + "|".join(_KEEP_ARG) + r")\*?\s*(?:\[[^\]]*\])?\{([^{}]*)\}", r"\1", s)
    for k in sorted(_SYMBOLS, key=len, reverse=True):
        s = s.replace(k, _SYMBOLS[k])
    s = re.sub(r"[\^_]\{([^{}]*)\}", r"\1", s)  # sub/superscripts: their content
    s = re.sub(r"[\^_](\S)", r"\1", s)
    s = re.sub(r"\\[A-Za-z@]+\*?", "", s)  # any other command
    s = s.replace("$", "").replace("{", "").replace("}", "").replace("~", " ")
    s = re.sub(r"\s*±\s*", " ± ", s)
    return " ".join(s.split())


def _split_top(s: str, sep: str) -> list[str]:
    """Split at ``sep`` outside braces and not escaped."""
    out, depth, cur, i = [], 0, [], 0
    while i < len(s):
        ch = s[i]
        if ch == "\\" and s.startswith(sep, i) and sep == "\\\\" and depth == 0:
            out.append("".join(cur))
            cur = []
            i += 2
            continue
        if ch == "\\":
            cur.append(s[i : i + 2])
            i += 2
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if depth == 0 and sep != "\\\\" and s.startswith(sep, i):
            out.append("".join(cur))
            cur = []
            i += len(sep)
            continue
        cur.append(ch)
        i += 1
    out.append("".join(cur))
    return out


def _spec_columns(spec: str) -> int:
    spec = re.sub(r"@\{[^}]*\}|!\{[^}]*\}|>\{[^}]*\}|<\{[^}]*\}", "", spec)
    for m in list(re.finditer(r"\*\{(\d+)\}\{([^}]*)\}", spec))[::-1]:
        spec = spec[: m.start()] + m.group(2) * int(m.group(1)) + spec[m.end() :]
    spec = re.sub(r"[pmbwX]\{[^}]*\}", "c", spec)
    spec = re.sub(r"S(?:\[[^\]]*\])?", "c", spec)
    return max(1, len(re.findall(r"[lcrXS]", spec)))


def _rows(body: str) -> list[tuple[list[tuple[str, int, int]], bool]]:
    """Rows of (text, span, multirow) cells, each with 'a rule follows this row'."""
    out = []
    for raw in _split_top(body, "\\\\"):
        if out and _FULL_RULE.search(raw.split("&")[0]):
            out[-1] = (out[-1][0], True)  # a rule across the table follows the previous row
        line = re.sub(r"\\(?:cmidrule|cline)\s*(?:\([^)]*\))?\s*\{[^}]*\}", " ", raw)
        line = re.sub(r"\\(?:specialrule|arrayrulecolor)\s*(?:\{[^}]*\})*", " ", line)
        line = _RULES.sub(" ", line)
        if not line.strip():
            continue
        cells = []
        for part in _split_top(line, "&"):
            part = part.strip()
            span, rows = 1, 1
            mc = re.match(r"\\multicolumn\s*\{(\d+)\}", part)
            if mc:
                args, _ = _args(part, mc.start() + len("\\multicolumn"), 3)
                span, part = int(args[0]), args[2]
            mr = re.match(r"\s*\\multirow\s*", part)
            if mr:
                args, _ = _args(part, mr.end(), 3)
                try:
                    rows = abs(int(float(args[0])))
                except ValueError:
                    rows = 1
                part = args[2]
            cells.append((clean(part), span, rows))
        out.append((cells, False))
    return out


def _grid(rows, ncols: int) -> tuple[list[list[HeaderCell]], list[list[str]], list[bool], list[bool]]:
    """Place the cells on the grid: spans, multirow labels copied down; per row, whether it is
    one cell across the table (a section label) and whether a rule follows it."""
    carry: dict[int, tuple[str, int]] = {}  # column -> (text, rows left)
    grid, spans, full, ruled = [], [], [], []
    for cells, rule_after in rows:
        row = [""] * ncols
        placed: list[HeaderCell] = []
        j = 0
        for text, span, nrows in cells:
            if j >= ncols:
                break
            if not text and j in carry and carry[j][1] > 0:
                text = carry[j][0]  # the empty cell under a \multirow: its label
                carry[j] = (text, carry[j][1] - 1)
                row[j] = text
                j += span
                continue
            row[j] = text
            placed.append(HeaderCell(text=text, col=j, span=min(span, ncols - j)))
            if nrows > 1:
                carry[j] = (text, nrows - 1)
            j += span
        grid.append(row)
        spans.append(placed)
        full.append(len([c for c in placed if c.text]) == 1 and any(c.span >= max(2, ncols - 1) for c in placed if c.text))
        ruled.append(rule_after)
    return spans, grid, full, ruled


def tables_from_latex(tex: str) -> list[Table]:
    """Every tabular of a LaTeX document, with the caption of the float it sits in."""
    tex = _strip_comments(tex)
    macros = _macros(tex)
    tex = re.sub(r"\\(?:re)?newcommand\*?\s*\{?\\[A-Za-z@]+\}?(?:\[\d\])?(?:\[[^\]]*\])?", r"\\relax", tex)
    out: list[Table] = []
    floats = list(re.finditer(r"\\begin\{(table\*?|sidewaystable)\}(.*?)\\end\{\1\}", tex, re.S))
    spans_of_floats = [(m.start(), m.end()) for m in floats]
    number = 0
    items: list[tuple[int, str, str]] = []  # (position, caption, tabular source)
    for m in floats:
        inner = m.group(2)
        cap = re.search(r"\\caption(?:\[[^\]]*\])?\s*\{", inner)
        caption = ""
        if cap:
            number += 1
            text, _ = _group(inner, cap.end() - 1)
            caption = f"Table {number}: " + clean(_expand(text, macros))
        for tm in re.finditer(r"\\begin\{(tabular[x*]?)\}", inner):
            items.append((m.start() + tm.start(), caption, inner[tm.start():]))
    for tm in re.finditer(r"\\begin\{(tabular[x*]?)\}", tex):
        if not any(a <= tm.start() < b for a, b in spans_of_floats):
            items.append((tm.start(), "", tex[tm.start():]))
    for _, caption, src in sorted(items):
        t = _table(src, caption, macros)
        out += t
    return out


def _table(src: str, caption: str, macros: dict[str, tuple[int, str]]) -> list[Table]:
    m = re.match(r"\\begin\{(tabular[x*]?)\}", src)
    env = m.group(1)
    i = m.end()
    nargs = 2 if env in ("tabular*", "tabularx") else 1
    args, i = _args(src, i, nargs)
    ncols = _spec_columns(args[-1])
    end = src.find(f"\\end{{{env}}}", i)
    body = _expand(src[i : end if end >= 0 else len(src)], macros)
    spans, grid, full, ruled = _grid(_rows(body), ncols)
    if not grid:
        return []
    first_body = next((k for k, r in enumerate(grid) if sum(is_value(c) for c in r) >= 1 and not full[k]), None)
    if first_body is None:
        return []
    # the header ends at the first rule under it (booktabs' \midrule), else at the first values
    rule_end = next((k + 1 for k in range(first_body) if ruled[k]), None)
    head_n = rule_end if rule_end is not None and rule_end <= first_body else first_body
    header = [[c for c in spans[k] if c.text] for k in range(head_n)]
    names = column_names(header, ncols)
    rows, kinds = [], []
    for k in range(head_n, len(grid)):
        if not any(grid[k]):
            continue
        if full[k] or not any(is_value(c) for c in grid[k]):
            rows.append([" ".join(c for c in grid[k] if c)] + [""] * (ncols - 1))
            kinds.append("section")
        else:
            rows.append(grid[k])
            kinds.append("body")
    stub = stub_width([r for r, kd in zip(rows, kinds) if kd == "body"], names)
    label = caption.split(":", 1)[0] if caption else ""
    t = Table(caption=caption, label=label, header=header, columns=names, rows=rows, kinds=kinds, stub=stub,
              source="latex", detector="latex")
    return split_side_by_side(t)
