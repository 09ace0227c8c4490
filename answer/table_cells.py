"""A paper's own number for an aspect, read from its main results table.

Given a paper's tables (``paperlens.tables.Table``, from its PDF or its LaTeX source), its title
and abstract, and an aspect ("PSNR on Urban100 (x4)"), ``own_cell`` finds:

1. the paper's own method: rows (or, in a transposed table, columns) marked "Ours"/"(ours)", or
   labelled with the method's name or acronym from the title and abstract ("RAM: ...", "a network
   (SRRAM)", "called SelNet"); a label with a citation ("RCAN [50]") is another paper's method;
   among the own lines the plain name is the main one and "+", self-ensemble or size suffixes are
   variants;
2. the cell at the own line under the column (or in the row) that names the aspect's metric, with
   the dataset and setting (scale, zero-shot, Y/RGB, ...) found in the column header, the row's
   stub cells, the section row above it or the caption, and no other dataset or setting there;
3. the main comparison table when several qualify: results and comparison captions before
   ablations ("ablation", "effect of", check marks, a "Baseline" line), tables that list other
   methods, earlier tables.

The cell quotes its row as the table's rendering prints it (``Table.row_line``) and the column
header it was read under; ``verify`` checks that the number is there. Nothing found: ``None``,
which the comparison shows as "not reported". Another paper's number in this paper's table is
returned only by ``cross_reported``, labelled "as reported by" this paper.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import BaseModel, Field

from paperlens.tables import Table, cell_numbers, same_number

from .metrics import (
    DATASETS,
    METRICS,
    Aspect,
    datasets_in,
    direction_of,
    metrics_in,
    named_as_benchmark,
    opposite_settings,
    parse_aspect,
    scales_in,
    setting_pattern,
)


class TableCell(BaseModel):
    """A comparison cell read from a paper's table."""

    value: str = Field(description="The value as printed, with its error and unit ('26.82 dB', '554 ± 23', '15.7M').")
    number: float = Field(description="The number itself.")
    unit: str = Field("", description="Unit: 'dB', '%', 'K', 'M', 's', ... ('' when none).")
    higher_is_better: bool | None = Field(None, description="Direction of the metric (the header's arrow, else the metric's).")
    metric: str = Field(description="The metric it is a value of ('PSNR').")
    dataset: str = Field("", description="The benchmark it was measured on ('Urban100'), '' when the table names none.")
    setting: str = Field("", description="Scale and setting the row or column states ('×4', 'Zero-Shot Setting').")
    variant: str = Field("", description="The label of the row (or column) it was read from ('RCAN (ours)').")
    variants: list[str] = Field(default_factory=list, description="Other lines of the paper's own method with a value for the same aspect, as 'label: value' ('RCAN+ (ours): 27.10').")
    row_quote: str = Field(description="The row, verbatim as one line of the table's rendering.")
    header_quote: str = Field(description="The column header the value was read under, verbatim.")
    table: str = Field(description="Which table: 'Table 2 (p. 10)'.")
    table_label: str = Field("", description="The table's label ('Table 2').")
    page: int = Field(0, description="1-based page of the table (0 for LaTeX source).")
    row: int = Field(description="Index of the row in the table's rows.")
    col: int = Field(description="Index of the column.")
    reported_by: str = Field("", description="For a number of another paper read from this paper's table: 'as reported by <this paper>'; '' for the paper's own number.")


# -- the paper's own method ---------------------------------------------------------------------

_OURS = re.compile(r"(?<![A-Za-z])(?:ours|our method|our model|proposed)(?![A-Za-z])", re.I)
_CITATION = re.compile(r"\[\s*\d[\d,\s–-]*\]|\(\s*\d{4}\s*\)|\bet al\b")
_VARIANT = re.compile(r"\+|self-ensemble|ensemble|\bw/o\b|\bwithout\b|-(?:S|B|L|XL|small|base|large|tiny|r\d+)\b|\b(?:small|large|tiny|lite|light)\b", re.I)
_MARKS = re.compile(r"[*†‡§¶⋆∗✝]+")
_GENERIC = frozenset(
    "SR SISR VSR GAN GANS CNN CNNS DNN LLM LLMS MLLM MLLMS VAE VAES T2I T2V I2V P-T2I L2I SOTA HR LR RGB YCBCR GPU GPUS "
    "NTIRE RELU LSTM RNN MLP SD SDXL LDM LDMS DDPM DDIM ODE SDE AI AIGC US NN ID API IQA UNET U-NET ViT VIT CLIP "
    "BLIP SVD LORA IEEE CVPR ICCV ECCV NEURIPS ICLR ICML AAAI ARXIV PDF TV SU SUS".split()
)


_NOT_NAMES = frozenset("ours table figure appendix left right top bottom see section supplementary note best".split())
_STOP = frozenset("a an and the of for with using via in on to by from at towards toward based".split())
_NAME_CUE = re.compile(r"(?:network|model|method|framework|approach|architecture|pipeline|system|algorithm)s?\s*$", re.I)


def own_names(title: str, abstract: str) -> list[tuple[str, float]]:
    """Names the paper gives its method, each with a weight (how surely it names the method, not
    a component): a short title prefix before ':', an acronym in parentheses after 'network' /
    'model' / 'method', one after 'called / named / dubbed', 'our final model — X', the code
    repository's name, CamelCase words of the title; other acronyms in parentheses weigh less."""
    names: dict[str, float] = {}

    def add(n: str, w: float) -> None:
        n = n.strip(" .,;:()[]'\"“”")
        if len(n) < 2 or n.upper() in _GENERIC or any(m.pattern.fullmatch(n) for m in METRICS) or datasets_in(n):
            return
        if not re.search(r"[A-Za-zλ]", n):
            return
        names[n] = max(names.get(n, 0.0), w)

    title = " ".join(title.split())
    head = re.match(r"^\s*([^:]{2,40}?)\s*:", title)
    if head and len(head.group(1).split()) <= 3:
        add(head.group(1), 1.0)
    text = f"{title} . {abstract}"
    for m in re.finditer(r"\(([A-Za-zλ][\w\-+λ.]*)\)", text):
        tok = m.group(1)
        acronym = sum(c.isupper() for c in tok) >= 2
        word = (tok[0].isupper() and tok[1:].isalpha() and tok[1:].islower() and 4 <= len(tok) <= 8
                and tok.lower() not in _NOT_NAMES)
        if acronym or word:
            before = text[max(0, m.start() - 120) : m.start()]
            cued = _NAME_CUE.search(before) or re.search(r"\b(?:we|our|propose[sd]?|present|introduce[sd]?)\b", before, re.I)
            if cued or word:
                add(tok, 1.0 if _NAME_CUE.search(before[-40:]) or word else 0.8)
            elif _defines(tok, before):
                add(tok, 0.6)  # an acronym the paper defines: its method, or one of its parts
    for m in re.finditer(r"\b(?:called|named|dubbed|termed|coined)\s+(?:as\s+)?([A-Za-zλ][\w\-+λ]*)", text):
        if any(c.isupper() for c in m.group(1)):
            add(m.group(1), 1.0)
    for m in re.finditer(r"\b(?:our|final|proposed)\s+(?:\w+\s+){0,2}(?:model|network|method|framework)\s*[—–:,-]+\s*([A-Z][\w\-+]+)", text):
        add(m.group(1), 1.0)
    for m in re.finditer(r"github\.com/[\w.-]+/([\w-]+)", text):
        if any(c.isupper() for c in m.group(1)):
            add(m.group(1), 0.8)
    shouted = sum(c.isupper() for c in title) > 0.6 * max(1, sum(c.isalpha() for c in title))
    for tok in re.findall(r"[A-Za-zλ][\w\-λ]*", title):
        camel = "-" not in tok and re.search(r"[a-z][A-Z]", tok) and tok[0].isupper()
        if camel or (tok.isupper() and len(tok) >= 3 and "-" not in tok and not shouted):
            add(tok, 0.9)
    return sorted(names.items(), key=lambda nw: -nw[1])


def _defines(acronym: str, before: str) -> bool:
    """'residual channel attention networks (RCAN)': the acronym spells the words before it."""
    letters = [c for c in acronym if c.isupper()]
    words = [w for w in re.split(r"[\s\-]+", before) if w and w[0].isalpha()]
    initials = "".join(w[0].upper() for w in words[-(len(letters) + 2) :])  # noqa: E203
    it = iter(initials)
    return len(letters) >= 2 and all(ch in it for ch in letters)


def _title_acronym(core: str, title: str) -> bool:
    """'ESPCN' from '... an Efficient Sub-Pixel Convolutional Neural Network': the initials of a
    run of consecutive title words (one may be skipped)."""
    if not re.fullmatch(r"[A-Z][A-Z0-9]{2,7}", core):
        return False
    words = [w for w in re.split(r"[\s\-]+", title) if w and w.lower() not in _STOP and w[0].isalpha()]
    initials = "".join(w[0].upper() for w in words)
    letters = re.sub(r"\d", "", core)
    for start in range(len(initials)):
        k, skipped = start, 0
        for ch in letters:
            while k < len(initials) and initials[k] != ch and skipped == 0 and k > start:
                k += 1
                skipped += 1
            if k < len(initials) and initials[k] == ch:
                k += 1
            else:
                break
        else:
            return True
    return False


def _label_core(label: str) -> str:
    core = _MARKS.sub(" ", label)
    core = re.sub(r"\((?:ours|our[^)]*|proposed)\)", " ", core, flags=re.I)
    core = re.sub(r"\(\s*\d+\s*frames?\s*\)|\(recurrent\)", " ", core, flags=re.I)
    return " ".join(core.split())


def _own_score(label: str, names: list[tuple[str, float]], title: str = "") -> tuple[float, bool, str]:
    """How surely a row or column label is the paper's own method, whether it is a variant, and
    what the label adds to the method's name ('SDXL' in 'ELLA SDXL', '+' in 'RCAN+')."""
    if not label.strip():
        return 0.0, False, ""
    ours = bool(_OURS.search(label))
    cited = bool(_CITATION.search(label))
    core = _label_core(label)
    variant = bool(_VARIANT.search(core)) or bool(re.search(r"\+\s*ours|ours\s*\+", label, re.I))
    score = 3.0 if ours else 0.0
    if cited and not ours:
        return 0.0, False, ""
    rest = core
    norm = core.lower().replace(" ", "")
    spaced = core.lower()
    for n, w in names:
        nn = n.lower().replace(" ", "")
        if norm == nn:
            score = max(score, 2.5 * w)
            rest = ""
        elif re.match(rf"{re.escape(nn)}(?![a-z])", norm) or (len(core.split()) <= 4 and re.search(rf"(?<![a-z0-9]){re.escape(n.lower())}(?![a-z0-9])", spaced)) \
                or (norm.startswith(nn) and len(nn) >= 3 and re.match(r"[A-Z]", core[len(n):len(n) + 1] or "a")):
            if 1.5 * w > score:
                rest = core[len(n):].strip() if core.lower().startswith(n.lower()) else core
            score = max(score, 1.5 * w)
            variant = variant or norm != nn
    if score == 0.0 and title:
        if _title_acronym(core.split(" ")[0], title):
            score, variant = 2.0, variant or " " in core
        elif len(core.split()) >= 2 and re.search(rf"(?<![A-Za-z]){re.escape(core)}(?![A-Za-z])", title, re.I):
            score = 2.0  # 'Adversarial nets' in 'Generative Adversarial Nets'
    return score, variant, rest


# -- where an aspect's value sits ----------------------------------------------------------------

@dataclass
class _Candidate:
    table: Table
    ti: int
    row: int
    col: int
    label: str
    own: float
    variant: bool
    pair_index: int
    score: float
    dataset: str
    setting: str
    header: str
    direction: bool | None


_ABLATION = re.compile(r"ablat|effects? of|impact of|influence of|investigat|analysis of|variants?|w/o|components?|"
                       r"design choices?|sensitivity|varying|different (?:settings|choices|modules|configurations)|"
                       r"study on|studies on", re.I)
_MAIN = re.compile(r"compar|state-of-the-art|\bsota\b|quantitative|benchmark|results|evaluation|performance", re.I)
_CHECKS = re.compile(r"^[✓✗✔✘×xX!%]$")
_SCALE_HEAD = re.compile(r"scale|factor|upscal", re.I)


def _table_score(t: Table, index: int, own_axis_labels: list[str]) -> float:
    score = 0.0
    cap = t.caption
    if _MAIN.search(cap):
        score += 1.0
    if _ABLATION.search(cap):
        score -= 3.0
    checks = sum(1 for r in t.rows for c in r if _CHECKS.match(c.strip())) + sum(1 for c in t.columns if re.search(r"[✓✗]", c))
    if checks >= 2:
        score -= 2.0
    labels = " ".join(own_axis_labels)
    if re.search(r"\bbaseline\b", labels, re.I):
        score -= 1.0
    others = sum(1 for lab in own_axis_labels if lab.strip() and _CITATION.search(lab))
    score += 0.3 * min(others, 5)
    score -= 0.05 * index
    return score


def _row_stub(t: Table, i: int) -> str:
    return " | ".join(f"{t.columns[j]}: {t.rows[i][j]}" if t.columns[j] else t.rows[i][j] for j in range(t.stub) if t.rows[i][j])


def _section_above(t: Table, i: int) -> str:
    for k in range(i, -1, -1):
        if t.kinds[k] == "section":
            return t.rows[k][0]
    return ""


def _scale_columns(t: Table) -> set[int]:
    """Stub columns that hold upscaling factors: headed 'Scale', or unheaded with only 2-8 in them."""
    out = set()
    for j in range(t.stub):
        vals = [r[j].strip() for r, k in zip(t.rows, t.kinds) if k == "body" and r[j].strip()]
        bare = vals and all(re.fullmatch(r"[×xX]?\s?[2-8]\s?[×xX]?", v) for v in vals)
        if bare and (_SCALE_HEAD.search(t.columns[j]) or not t.columns[j].strip()):
            out.add(j)
    return out


def _scale_of_row(t: Table, i: int) -> list[int]:
    out: list[int] = []
    scale_cols = _scale_columns(t)
    for j in range(t.stub):
        v = t.rows[i][j].strip()
        if not v:
            continue
        if j in scale_cols:
            out.append(int(re.sub(r"\D", "", v)))
        else:
            out += scales_in(v)
    return out


def _caption_of(t: Table) -> str:
    """The caption as it applies to this table: for one half of a side-by-side pair, the
    common words and that half's 'Left: ...' / 'Right: ...' clause only."""
    if not t.part:
        return t.caption
    clauses = re.split(r"(?=\b(?:Left|Right|Top|Bottom)\s*:)", t.caption)
    mine = [c for c in clauses if re.match(rf"{t.part}\s*:", c, re.I)]
    common = [c for c in clauses if not re.match(r"(?:Left|Right|Top|Bottom)\s*:", c)]
    return " ".join(common + mine) if mine else t.caption


def _contexts(t: Table, i: int, j: int) -> tuple[str, str, str]:
    """(strong, section, caption): the header and stub of the cell; the section row; the caption."""
    strong = f"{t.columns[j]} || {_row_stub(t, i)}"
    return strong, _section_above(t, i), _caption_of(t)


def _pair_index(header: str, aspect: Aspect, values: int) -> int | None:
    """Which of a cell's numbers is the aspect's: 'PSNR/SSIM' over '38.31/.9620' gives SSIM the
    second. None when the header pairs metrics that do not include the aspect's."""
    if values <= 1:
        return 0
    named = [m.name for m in metrics_in(header)]
    if len(named) >= values:
        pos = [k for k, n in enumerate(named) if n == aspect.metric_name]
        return pos[0] if pos else None
    return 0  # a number and a note beside it ('0.72 (+0.35)'): the first is the value


def _psnr_ssim_pair(nums: list, aspect: Aspect) -> int | None:
    """The field's convention for an unnamed 'a/b' pair: PSNR in dB, then SSIM in (0, 1]."""
    if aspect.metric_name not in ("PSNR", "SSIM") or len(nums) != 2:
        return None
    psnr, ssim = nums[0].value, nums[1].value
    if 10 <= psnr <= 60 and 0 < ssim <= 1 and "." in nums[1].text and len(nums[1].text.split(".")[-1]) >= 3:
        return 0 if aspect.metric_name == "PSNR" else 1
    return None


def _match(t: Table, ti: int, i: int, j: int, aspect: Aspect, label: str, own: float, variant: bool,
           table_score: float, label_rest: str = "") -> _Candidate | None:
    cell = t.rows[i][j]
    nums = cell_numbers(cell)
    if not nums:
        return None
    strong, section, caption = _contexts(t, i, j)
    metric_rx = aspect.metric_pattern()
    header_metrics = metrics_in(strong)
    pair: int | None = 0
    if aspect.metric is not None and aspect.metric.not_with and re.search(aspect.metric.not_with, t.columns[j] + " " + _row_stub(t, i), re.I):
        return None
    if metric_rx.search(strong):
        metric_score = 2.0
        pair = _pair_index(strong, aspect, len(nums))
    elif not header_metrics and metric_rx.search(caption):
        metric_score = 0.5
    elif not header_metrics and not metrics_in(caption) and _psnr_ssim_pair(nums, aspect) is not None:
        # super-resolution tables that print 'PSNR/SSIM' pairs without naming them anywhere
        metric_score = 0.3
        pair = _psnr_ssim_pair(nums, aspect)
    else:
        return None
    if pair is None or pair >= len(nums):
        return None
    score = table_score + metric_score + own
    dataset = ""
    found_strong = datasets_in(strong)
    found_weak = datasets_in(section) + named_as_benchmark(caption)
    drx = aspect.dataset_pattern()
    if aspect.dataset:
        if drx.search(strong):
            score += 2.0
            dataset = aspect.dataset
        elif found_strong:
            return None  # the cell names another benchmark
        elif drx.search(section) or aspect.dataset in found_weak or (aspect.dataset not in DATASETS and drx.search(caption)):
            others = [d for d in found_weak if d != aspect.dataset]
            score += 1.0 if not others else 0.5
            dataset = aspect.dataset
        else:
            return None
    else:
        dataset = (found_strong or found_weak or [""])[0]
    scales = _scale_of_row(t, i) + scales_in(t.columns[j]) or scales_in(section) or scales_in(caption)
    if aspect.scale is not None:
        if scales and aspect.scale not in scales:
            return None
        if len(set(scales)) > 1 and not (_scale_of_row(t, i) or scales_in(t.columns[j])):
            score -= 0.5  # a caption that lists several scales does not say which this is
        score += 1.0 if scales else -1.0
    settings = []
    for s in aspect.settings:
        rx = setting_pattern(s)
        if rx.search(strong) or rx.search(section) or (label_rest and rx.search(label_rest)):
            score += 1.0
            settings.append(s)
        elif rx.search(caption):
            score += 0.5
            settings.append(s)
        else:
            return None
        for o in opposite_settings(s):
            if setting_pattern(o).search(f"{strong} || {section}"):
                return None
    if not aspect.settings:
        # no setting asked: the first of several settings is the main one (a later setting
        # loses a little, so 'zero-shot' before 'fine-tuning' wins)
        score -= 0.001 * i + 0.0001 * j
    average = r"^(?:[^:|]*:\s*)?(?:average|avg\.?|mean|overall|all)\b"
    if not aspect.is_item:
        # a benchmark's number is its average over clips or images, not one clip's
        leaf = t.columns[j].split(" / ")[-1]
        if re.match(average, _row_stub(t, i), re.I):
            score += 1.5
        if re.match(average, leaf, re.I) and not metric_rx.search(leaf):
            score += 1.5
    setting_bits = [f"×{scales[0]}"] if scales and (aspect.scale or _scale_of_row(t, i)) else []
    if section and section not in setting_bits:
        setting_bits.append(section)
    setting_bits += [s for s in settings if not any(s.lower() in b.lower() for b in setting_bits)]
    return _Candidate(t, ti, i, j, label, own, variant, pair, score, dataset, ", ".join(setting_bits),
                      t.columns[j], direction_of(t.columns[j] + " " + _row_stub(t, i)))


def _own_lines(t: Table, names: list[tuple[str, float]], title: str) -> tuple[str, list[tuple[int, str, float, bool, str]]]:
    """('rows' | 'cols', [(index, label, own score, variant)]): where the paper's method is."""
    rows = []
    for i, r in enumerate(t.rows):
        if t.kinds[i] != "body":
            continue
        label = " ".join(c for c in r[: t.stub] if c)
        # the method is one stub cell (beside a scale, a base model, a parameter count); the
        # row's label is that cell, with a scale beside it
        scored = [(_own_score(c, names, title), j) for j, c in enumerate(r[: t.stub]) if c]
        if not scored:
            continue
        (score, variant, rest), jbest = max(scored, key=lambda sj: sj[0][0])
        if score > 0:
            label = " ".join([r[jbest]] + [r[j] for j in _scale_columns(t) if j != jbest and r[j]])
            rows.append((i, label, score, variant, rest))
    cols = []
    for j in range(t.stub, len(t.columns)):
        label = t.columns[j]
        # the method may be the column's own header or a group title over it ('Ours / Overall')
        score, variant, rest = max((_own_score(part, names, title) for part in label.split(" / ") if part),
                                   default=(0.0, False, ""))
        if score > 0:
            cols.append((j, label, score, variant, rest))
    if rows and (not cols or max(x[2] for x in rows) >= max(x[2] for x in cols)):
        return "rows", rows
    return ("cols", cols) if cols else ("rows", [])


def own_cell(tables: list[Table | dict], title: str, abstract: str, aspect: str | Aspect) -> TableCell | None:
    """The paper's own number for ``aspect`` from its main results table, or None."""
    asp = aspect if isinstance(aspect, Aspect) else parse_aspect(aspect)
    if not asp.metric_name:
        return None
    ts = [t if isinstance(t, Table) else Table.model_validate(t) for t in tables]
    names = own_names(title, abstract)
    cands: list[_Candidate] = []
    for ti, t in enumerate(ts):
        if not t.rows or not t.columns:
            continue
        axis, lines = _own_lines(t, names, title)
        if not lines:
            continue
        axis_labels = ([" ".join(c for c in r[: t.stub] if c) for r, k in zip(t.rows, t.kinds) if k == "body"]
                       if axis == "rows" else list(t.columns[t.stub :]))
        tscore = _table_score(t, ti, axis_labels)
        for idx, label, own, variant, rest in lines:
            own_w = own - (1.0 if variant else 0.0)
            if axis == "rows":
                pairs = [(idx, j) for j in range(t.stub, len(t.columns))]
            else:
                pairs = [(i, idx) for i in range(len(t.rows)) if t.kinds[i] == "body"]
            for i, j in pairs:
                c = _match(t, ti, i, j, asp, label, own_w, variant, tscore, rest)
                if c:
                    cands.append(c)
    if not cands:
        return None
    cands.sort(key=lambda c: -c.score)
    best = cands[0]
    return _to_cell(best, asp, _variants(best, cands))


def _value_of(c: _Candidate) -> tuple[str, float, str]:
    nums = cell_numbers(c.table.rows[c.row][c.col])
    n = nums[c.pair_index]
    text = n.text + (f" ± {n.error:g}" if n.error is not None else "")
    return text, n.value, n.unit


def _variants(best: _Candidate, cands: list[_Candidate]) -> list[str]:
    """The paper's other lines for the same aspect in the same table (RCAN+ beside RCAN, the
    fine-tuned setting beside zero-shot), as 'label: value'."""
    out: list[str] = []
    for c in cands:
        if c is best or c.ti != best.ti or c.dataset != best.dataset:
            continue
        if c.label == best.label and c.setting == best.setting:
            continue
        tag = c.label if c.label != best.label else (c.setting or c.header)
        item = f"{tag}: {_value_of(c)[0]}"
        if item not in out:
            out.append(item)
    return out[:4]


def _to_cell(c: _Candidate, asp: Aspect, variants: list[str], reported_by: str = "") -> TableCell:
    text, number, unit = _value_of(c)
    metric = asp.metric
    if not unit and metric is not None and metric.unit and metric.kind == "quality":
        unit = metric.unit if metric.unit != "%" or "%" in c.header else ""
    if not unit:
        hm = re.search(r"\((dB|%|s|ms|M|K|G)\)", c.header)
        unit = hm.group(1) if hm else ""
    direction = c.direction if c.direction is not None else (metric.higher_is_better if metric else None)
    shown = text if (not unit or text.endswith(unit)) else f"{text} {unit}" if unit in ("dB", "s", "ms") else f"{text}{unit}" if unit == "%" else text
    t = c.table
    return TableCell(value=shown, number=number, unit=unit, higher_is_better=direction, metric=asp.metric_name,
                     dataset=c.dataset, setting=c.setting, variant=c.label, variants=variants,
                     row_quote=t.row_line(c.row), header_quote=c.header, table=t.ref, table_label=t.label,
                     page=t.page, row=c.row, col=c.col, reported_by=reported_by)


def cross_reported(tables: list[Table | dict], reporter: str, other_title: str, other_abstract: str,
                   aspect: str | Aspect) -> TableCell | None:
    """Another paper's number as this paper's table reports it (a baseline row), labelled
    'as reported by <reporter>'. Only for a comparison that asks for it."""
    asp = aspect if isinstance(aspect, Aspect) else parse_aspect(aspect)
    names = own_names(other_title, other_abstract)
    if not names:
        return None
    ts = [t if isinstance(t, Table) else Table.model_validate(t) for t in tables]
    cands: list[_Candidate] = []
    for ti, t in enumerate(ts):
        for i, r in enumerate(t.rows):
            if t.kinds[i] != "body":
                continue
            label = _CITATION.sub(" ", " ".join(c for c in r[: t.stub] if c))
            if _OURS.search(label):
                continue
            score, variant, _ = _own_score(label, names)
            if score <= 0:
                continue
            for j in range(t.stub, len(t.columns)):
                c = _match(t, ti, i, j, asp, " ".join(c for c in r[: t.stub] if c), score - variant, variant, _table_score(t, ti, []))
                if c:
                    cands.append(c)
    if not cands:
        return None
    best = max(cands, key=lambda c: c.score)
    return _to_cell(best, asp, [], reported_by=f"as reported by {reporter}")


def problems(cell: TableCell, table: Table | dict) -> list[str]:
    """Why a cell does not stand in the table it cites (empty when it does)."""
    t = table if isinstance(table, Table) else Table.model_validate(table)
    out = []
    if not (0 <= cell.row < len(t.rows)) or not (0 <= cell.col < len(t.columns)):
        return [f"row {cell.row} / column {cell.col} is not in {t.ref}"]
    if t.row_line(cell.row) != cell.row_quote:
        out.append("the quoted row is not that row of the table")
    if cell.row_quote not in t.render().split("\n"):
        out.append("the quoted row is not a line of the table's text")
    if t.columns[cell.col] != cell.header_quote:
        out.append("the quoted header is not that column's header")
    if not any(same_number(n.value, cell.number) for n in cell_numbers(t.rows[cell.row][cell.col])):
        out.append(f"{cell.number:g} is not in the cell under '{cell.header_quote}' in that row")
    return out


def verify(cell: TableCell, table: Table | dict) -> bool:
    """True when the cell's number is in its quoted row, under its quoted header, in ``table``."""
    return not problems(cell, table)
