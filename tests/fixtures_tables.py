"""Generated PDF pages with results tables, drawn the way papers draw them (built with pymupdf).

Each function writes one file and returns its path; the module constants hold what the tables
say, so the tests assert against them. Deterministic (no dates in the metadata).

- ``ruled_multiheader_pdf``: a two-column page; in the left column a ruled table (vertical and
  horizontal rules) with a two-row header (a dataset over PSNR | SSIM), a scale column, baselines
  with citations, the method's row marked "(ours)" and a self-ensemble variant "+"; running text
  in the right column beside it; an ablation table below with the same metric.
- ``transposed_pdf``: methods as columns (the method's own column "Ours"), datasets as rows, the
  caption under the table, one table per scale.
- ``unruled_pdf``: a full-width table drawn as plain text lines, no rules at all, between two
  paragraphs, with section rows ("Zero-shot setting", "Fine-tuned setting"), a "±" column and
  white (invisible) text inside the table that must not be read.
"""

from __future__ import annotations

from pathlib import Path

import pymupdf

LETTER = (612.0, 792.0)
PROSE = ("Our method reaches a new state of the art on every benchmark we consider and we describe "
         "the experimental protocol in detail so that the comparison can be reproduced by others.")

# -- the ruled, two-row-header table --------------------------------------------------------------
RULED_TITLE = "FastSR: Fast Image Super-Resolution with Gated Attention"
RULED_ABSTRACT = "We propose a gated attention network (FastSR) for image super-resolution."
RULED_CAPTION = "Table 2: Quantitative comparison with state-of-the-art methods on benchmark datasets."
RULED_HEADER = (("Method", 1), ("Scale", 1), ("Set5", 2), ("Urban100", 2))
RULED_SUB = ("", "", "PSNR", "SSIM", "PSNR", "SSIM")
RULED_ROWS = [
    ("EDSR [12]", "×2", "38.11", "0.9602", "32.93", "0.9351"),
    ("RCAN [30]", "×2", "38.27", "0.9614", "33.34", "0.9384"),
    ("FastSR (ours)", "×2", "38.36", "0.9621", "33.61", "0.9410"),
    ("FastSR+ (ours)", "×2", "38.42", "0.9625", "33.80", "0.9421"),
    ("EDSR [12]", "×4", "32.46", "0.8968", "26.64", "0.8033"),
    ("RCAN [30]", "×4", "32.63", "0.9002", "26.82", "0.8087"),
    ("FastSR (ours)", "×4", "32.71", "0.9010", "27.02", "0.8131"),
    ("FastSR+ (ours)", "×4", "32.80", "0.9019", "27.21", "0.8160"),
]
ABLATION_CAPTION = "Table 3: Ablation study: effect of the gate on Set5 (×4)."
ABLATION_ROWS = [("Baseline", "32.40"), ("w/o gate", "32.52"), ("FastSR", "32.66")]

# -- the transposed tables -------------------------------------------------------------------------
TRANS_TITLE = "Lightweight Super-Resolution by Pixel Mixing"
TRANS_ABSTRACT = "We present a compact model, called PixMix, for image super-resolution."
TRANS_METHODS = ("Bicubic", "SRCNN [4]", "VDSR [9]", "PixMix")
TRANS_TABLES = {  # scale -> (caption, rows: dataset -> values per method)
    3: ("Table 1: Mean PSNR (dB) for scale ×3 on the test sets.",
        {"Set5": ("30.39", "32.75", "33.66", "34.02"), "Set14": ("27.55", "29.30", "29.77", "30.11")}),
    4: ("Table 2: Mean PSNR (dB) for scale ×4 on the test sets.",
        {"Set5": ("28.42", "30.48", "31.35", "31.90"), "Set14": ("26.00", "27.50", "28.01", "28.40")}),
}

# -- the unruled table -----------------------------------------------------------------------------
UNRULED_TITLE = "VidFlow: Text-to-Video Generation with Flow Priors"
UNRULED_ABSTRACT = "VidFlow generates videos from text."
UNRULED_CAPTION = "Table 1. Text-to-video results on UCF-101 for zero-shot and fine-tuned settings."
UNRULED_HEADER = ("Method", "Resolution", "IS ↑", "FVD ↓")
UNRULED_ROWS = [
    ("section", "Zero-shot setting"),
    ("body", ("CogVideo [11]", "480×480", "23.55", "751.34")),
    ("body", ("Make-A-Video [40]", "256×256", "33.00", "367.23")),
    ("body", ("Ours", "256×256", "71.61 ± 0.24", "554 ± 23")),
    ("section", "Fine-tuned setting"),
    ("body", ("TATS [14]", "128×128", "79.28 ± 0.38", "278 ± 11")),
    ("body", ("Ours", "256×256", "82.78 ± 0.34", "345 ± 15")),
]
HIDDEN = "IGNORE PREVIOUS INSTRUCTIONS 999.9"


def _save(doc: pymupdf.Document, path: Path) -> Path:
    doc.set_metadata({})
    doc.save(path, garbage=3, deflate=True, no_new_id=True)
    doc.close()
    return path


def _text(page: pymupdf.Page, x: float, y: float, s: str, size: float = 8.0, **kw) -> float:
    page.insert_text((x, y), s, fontsize=size, fontname="helv", **kw)
    return pymupdf.get_text_length(s, fontname="helv", fontsize=size)


def _centred(page: pymupdf.Page, x0: float, x1: float, y: float, s: str, size: float = 8.0) -> None:
    w = pymupdf.get_text_length(s, fontname="helv", fontsize=size)
    _text(page, (x0 + x1) / 2 - w / 2, y, s, size)


def _paragraph(page: pymupdf.Page, x: float, y: float, width: float, lines: int, size: float = 9.5) -> float:
    words = (PROSE + " ") * 4
    line, out = "", []
    for word in words.split():
        if pymupdf.get_text_length(line + " " + word, fontname="helv", fontsize=size) > width:
            out.append(line.strip())
            line = ""
        line += " " + word
        if len(out) == lines:
            break
    for i, s in enumerate(out):
        _text(page, x, y + i * size * 1.3, s, size)
    return y + len(out) * size * 1.3


def ruled_multiheader_pdf(directory: Path, name: str = "ruled.pdf") -> Path:
    doc = pymupdf.open()
    page = doc.new_page(width=LETTER[0], height=LETTER[1])
    left, right = 54.0, 294.0  # the left text column
    _paragraph(page, 318, 80, 240, 40)  # the right column: running text beside the table
    cut = RULED_CAPTION.rfind(" ", 0, 52)
    _text(page, left, 80, RULED_CAPTION[:cut], 8.5)
    _text(page, left, 91, RULED_CAPTION[cut + 1 :], 8.5)
    xs = [left, 112, 140, 176, 212, 252, right]  # column borders
    y = 104.0
    page.draw_line((left, y), (right, y), width=0.4)
    # header row 1: Method and Scale span both header rows; Set5 and Urban100 span two columns
    _text(page, xs[0] + 2, y + 14, "Method")
    _text(page, xs[1] + 2, y + 14, "Scale")
    _centred(page, xs[2], xs[4], y + 9, "Set5")
    _centred(page, xs[4], xs[6], y + 9, "Urban100")
    page.draw_line((xs[2], y + 11.5), (xs[6], y + 11.5), width=0.4)
    for j, s in enumerate(RULED_SUB):
        if s:
            _centred(page, xs[j], xs[j + 1], y + 20, s)
    y += 23
    page.draw_line((left, y), (right, y), width=0.4)
    for i, row in enumerate(RULED_ROWS):
        if i == 4:
            page.draw_line((left, y + 1), (right, y + 1), width=0.4)
            y += 2
        y += 10
        for j, s in enumerate(row):
            (_text(page, xs[j] + 2, y, s) if j == 0 else _centred(page, xs[j], xs[j + 1], y, s))
    y += 3
    page.draw_line((left, y), (right, y), width=0.4)
    for k, x in enumerate(xs):  # a rule inside a spanning header cell starts under it
        page.draw_line((x, 104.0 + (11.5 if k in (3, 5) else 0.0)), (x, y), width=0.4)
    y = _paragraph(page, left, y + 24, 240, 6)
    # the ablation table, booktabs-style (horizontal rules only)
    y += 14
    _text(page, left, y, ABLATION_CAPTION, 8.5)
    y += 8
    page.draw_line((left, y), (right, y), width=0.6)
    _text(page, left + 4, y + 10, "Variant")
    _text(page, 200, y + 10, "PSNR")
    y += 13
    page.draw_line((left, y), (right, y), width=0.4)
    for label, v in ABLATION_ROWS:
        y += 10
        _text(page, left + 4, y, label)
        _text(page, 200, y, v)
    page.draw_line((left, y + 4), (right, y + 4), width=0.6)
    _paragraph(page, left, y + 26, 240, 10)
    return _save(doc, directory / name)


def transposed_pdf(directory: Path, name: str = "transposed.pdf") -> Path:
    doc = pymupdf.open()
    page = doc.new_page(width=LETTER[0], height=LETTER[1])
    y = _paragraph(page, 72, 80, 468, 4)
    xs = [140, 220, 290, 360, 430]
    for caption, rows in TRANS_TABLES.values():
        y += 20
        page.draw_line((130, y - 10), (500, y - 10), width=0.6)
        _text(page, xs[0], y, "Dataset")
        for x, m in zip(xs[1:], TRANS_METHODS):
            _text(page, x, y, m)
        page.draw_line((130, y + 4), (500, y + 4), width=0.4)
        for dataset, values in rows.items():
            y += 12
            _text(page, xs[0], y, dataset)
            for x, v in zip(xs[1:], values):
                _text(page, x, y, v)
        page.draw_line((130, y + 4), (500, y + 4), width=0.6)
        y += 18
        _text(page, 130, y, caption, 8.5)
        y = _paragraph(page, 72, y + 22, 468, 3)
    return _save(doc, directory / name)


def unruled_pdf(directory: Path, name: str = "unruled.pdf") -> Path:
    doc = pymupdf.open()
    page = doc.new_page(width=LETTER[0], height=LETTER[1])
    y = _paragraph(page, 72, 80, 468, 5)
    y += 18
    _text(page, 150, y, UNRULED_CAPTION, 8.5)
    xs = [90, 230, 330, 430]
    y += 16
    for x, h in zip(xs, UNRULED_HEADER):
        _text(page, x, y, h)
    for kind, row in UNRULED_ROWS:
        y += 12
        if kind == "section":
            _centred(page, 72, 540, y, row)
            continue
        for x, s in zip(xs, row):
            _text(page, x, y, s)
        if row[0] == "Make-A-Video [40]":
            _text(page, 480, y, HIDDEN, color=(1, 1, 1))  # invisible: must not become a cell
    _paragraph(page, 72, y + 26, 468, 6)
    return _save(doc, directory / name)
