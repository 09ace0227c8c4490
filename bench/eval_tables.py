"""Table cells against the hand-read ground truth (bench/table_truth.json), on the corpus PDFs.

Runs the table detector (ingest/tables.py) on every page of each PDF the truth names, opened
with PyMuPDF here (no library, no index), takes the paper's title and abstract from the product's
own parser, and asks the cell finder (answer/table_cells.py) for each truth aspect. Reports:

- precision: filled cells whose number is the truth's; recall: cells filled (and cells right),
  overall and per table layout tag;
- traps returned: a baseline's, an ablation's or another setting's number given for the aspect;
- unverifiable cells: a filled cell whose number is not in its cited row under its header
  (``table_cells.verify``), which must be 0.

    .venv/bin/python bench/eval_tables.py                 # the figures, and each miss
    .venv/bin/python bench/eval_tables.py --show           # every cell
    .venv/bin/python bench/eval_tables.py --holdout        # what it returns on papers outside the truth
    .venv/bin/python bench/eval_tables.py --timing         # detection time per page against the parse
    .venv/bin/python bench/eval_tables.py --compare        # pymupdf4llm / layout tables on the truth pages

Results go to bench/results/tables-*.json. Timings on a loaded machine are ratios measured in one
run of this script, and say so.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

import pymupdf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, ROOT, corpus_dir, machine, write_json  # noqa: E402

from paperlens.answer.table_cells import own_cell, verify  # noqa: E402
from paperlens.ingest.pdf import parse_pdf_inprocess  # noqa: E402
from paperlens.ingest.tables import PageStats, find_tables  # noqa: E402
from paperlens.tables import Table, same_number  # noqa: E402

TRUTH = ROOT / "bench" / "table_truth.json"
# Aspects a digest writer asks of any paper, for the held-out check.
HOLDOUT_ASPECTS = ["PSNR", "SSIM", "LPIPS", "FID", "FID on COCO", "IS", "CLIP score", "FVD", "KID", "accuracy",
                   "mIoU", "bpd", "NLL", "parameters", "runtime", "DINO", "CLIP-T", "user preference"]


def paper_tables(pdf: Path) -> tuple[list[Table], str, str, float, int]:
    doc = pymupdf.open(pdf)
    stats = PageStats()
    tables = [t for page in doc for t in find_tables(page, stats=stats)]
    pages = len(doc)
    doc.close()
    meta = parse_pdf_inprocess(pdf).meta
    return tables, meta.title, meta.abstract, stats.seconds, pages


def evaluate(truth: dict, pdfs: Path, show: bool) -> dict:
    papers = sorted({c["paper"] for c in truth["cells"]} | {t["paper"] for t in truth["traps"]})
    loaded = {p: paper_tables(pdfs / p) for p in papers}
    by_tag: dict[str, dict[str, int]] = defaultdict(lambda: {"cells": 0, "filled": 0, "right": 0})
    rows = []
    unverifiable = 0
    for c in truth["cells"]:
        tables, title, abstract, _, _ = loaded[c["paper"]]
        got = own_cell(tables, title, abstract, c["aspect"])
        filled = got is not None
        right = filled and any(same_number(got.number, n) for n in [c["number"], *c.get("accept", [])])
        ok = True
        if filled:
            table = next(t for t in tables if t.ref == got.table)
            ok = verify(got, table)
            unverifiable += not ok
        split = c.get("split", "tuned")
        for tag in ["all", f"split:{split}"] + c["layout"]:
            by_tag[tag]["cells"] += 1
            by_tag[tag]["filled"] += filled
            by_tag[tag]["right"] += right
        rows.append({"id": c["id"], "paper": c["paper"], "aspect": c["aspect"], "truth": c["value"],
                     "got": got.value if got else None, "table": got.table if got else None, "right": right,
                     "verified": ok, "variant": got.variant if got else None, "variants": got.variants if got else []})
        if show or not right:
            mark = "ok  " if right else ("MISS" if not filled else "WRONG")
            where = f"{got.table} row '{got.variant}' col '{got.header_quote}' -> {got.value}" if got else "not reported"
            print(f"{mark} {c['id']} {c['paper'][:28]:28s} {c['aspect']:38s} truth {c['value']:>8s} | {where}")
    traps = []
    for t in truth["traps"]:
        tables, title, abstract, _, _ = loaded[t["paper"]]
        got = own_cell(tables, title, abstract, t["aspect"])
        hit = got is not None and same_number(got.number, t["number"])
        traps.append({"id": t["id"], "paper": t["paper"], "aspect": t["aspect"], "trap": t["number"], "returned": hit,
                      "got": got.value if got else None})
        if hit:
            print(f"TRAP {t['id']} {t['paper'][:28]:28s} {t['aspect']:38s} returned {t['number']} ({t['why']})")
    summary = {tag: {**v, "precision": round(v["right"] / v["filled"], 3) if v["filled"] else None,
                     "recall_filled": round(v["filled"] / v["cells"], 3), "recall_right": round(v["right"] / v["cells"], 3)}
               for tag, v in sorted(by_tag.items(), key=lambda kv: (kv[0] != "all", not kv[0].startswith("split"), kv[0]))}
    return {"summary": summary, "traps_returned": sum(t["returned"] for t in traps), "traps": len(traps),
            "unverifiable": unverifiable, "cells": rows, "trap_rows": traps, "papers": len(papers)}


def print_summary(res: dict) -> None:
    print(f"\n{'layout':18s} {'cells':>5s} {'filled':>6s} {'right':>5s} {'precision':>9s} {'recall(filled)':>14s} {'recall(right)':>13s}")
    for tag, v in res["summary"].items():
        prec = f"{v['precision']:.3f}" if v["precision"] is not None else "-"
        print(f"{tag:18s} {v['cells']:5d} {v['filled']:6d} {v['right']:5d} {prec:>9s} {v['recall_filled']:14.3f} {v['recall_right']:13.3f}")
    print(f"traps returned: {res['traps_returned']} of {res['traps']}; unverifiable cells: {res['unverifiable']}")


def holdout(truth: dict, pdfs: Path) -> list[dict]:
    """Papers not in the truth: what the finder returns for common aspects (to read by eye)."""
    inside = {c["paper"] for c in truth["cells"]}
    out = []
    for pdf in sorted(pdfs.glob("*.pdf")):
        if pdf.name in inside or pdf.name.startswith("zh_"):
            continue
        tables, title, abstract, _, _ = paper_tables(pdf)
        print(f"\n## {pdf.name}: {len(tables)} tables; title: {title[:80]}")
        for a in HOLDOUT_ASPECTS:
            got = own_cell(tables, title, abstract, a)
            if got:
                table = next(t for t in tables if t.ref == got.table)
                print(f"  {a:18s} {got.value:>10s}  {got.table:18s} row '{got.variant[:30]}' col '{got.header_quote[:40]}'"
                      f" dataset={got.dataset!r} setting={got.setting!r} verified={verify(got, table)}")
                out.append({"paper": pdf.name, "aspect": a, **got.model_dump()})
    return out


def timing(pdfs: Path, with_ingest: bool) -> dict:
    """Per-page cost of table detection against the product's parse of the same pages, in one
    run: detection making its own TextPage, and detection handed the page's TextPage (what the
    parser will pass: it makes one for its own text pass). With ``with_ingest``, also the
    product's full ingest of the same PDFs (bench/ingest_bench.py, variant product-xling, in a
    child process), so detection's share of ingest is measured under the same load."""
    files = sorted(pdfs.glob("*.pdf"))
    parse_s = own_tp_s = shared_tp_s = textpage_s = 0.0
    pages = tables = 0
    load_before = os.getloadavg()
    for pdf in files:
        t0 = time.perf_counter()
        parse_pdf_inprocess(pdf)
        parse_s += time.perf_counter() - t0
        doc = pymupdf.open(pdf)
        t0 = time.perf_counter()
        for page in doc:
            tables += len(find_tables(page))
        own_tp_s += time.perf_counter() - t0
        for page in doc:
            t0 = time.perf_counter()
            tp = page.get_textpage()
            textpage_s += time.perf_counter() - t0
            t0 = time.perf_counter()
            find_tables(page, textpage=tp)
            shared_tp_s += time.perf_counter() - t0
        pages += len(doc)
        doc.close()
    res = {"pdfs": len(files), "pages": pages, "tables": tables, "parse_s": round(parse_s, 2),
           "detect_s": round(own_tp_s, 2), "detect_given_textpage_s": round(shared_tp_s, 2),
           "parse_ms_per_page": round(1000 * parse_s / pages, 2), "detect_ms_per_page": round(1000 * own_tp_s / pages, 2),
           "detect_given_textpage_ms_per_page": round(1000 * shared_tp_s / pages, 2),
           "textpage_ms_per_page": round(1000 * textpage_s / pages, 2),
           "detect_over_parse": round(own_tp_s / parse_s, 3), "detect_given_textpage_over_parse": round(shared_tp_s / parse_s, 3),
           "load_before": load_before, "load_after_detection": os.getloadavg()}
    if with_ingest:
        from common import run_variant

        r = run_variant(ROOT / "bench" / "ingest_bench.py", ["--variant", "product-xling"], RESULTS / "tmp" / "tables-ingest.json")
        res["ingest_wall_s"] = r.get("wall_s")
        res["ingest_pages"] = r.get("pages")
        if r.get("wall_s"):
            res["detect_given_textpage_over_ingest"] = round(shared_tp_s / r["wall_s"], 3)
            res["detect_over_ingest"] = round(own_tp_s / r["wall_s"], 3)
        res["load_after_ingest"] = os.getloadavg()
    print(json.dumps(res, indent=1))
    return res


def compare(truth: dict, pdfs: Path) -> dict:
    """What pymupdf4llm (its markdown tables) and PyMuPDF's layout-gated find_tables give on the
    truth pages: time per page and how many truth numbers appear in the same row as the method
    label, against this detector on the same pages."""
    import pymupdf4llm

    pages = sorted({(c["paper"], c["page"]) for c in truth["cells"]})
    res: dict[str, dict[str, float]] = {}
    for name in ("ours", "find_tables(layout)", "find_tables(lines)", "pymupdf4llm"):
        t0 = time.perf_counter()
        texts: dict[tuple[str, int], str] = {}
        for paper, pno in pages:
            doc = pymupdf.open(pdfs / paper)
            page = doc[pno - 1]
            if name == "ours":
                texts[(paper, pno)] = "\n".join(t.render() for t in find_tables(page))
            elif name.startswith("find_tables"):
                found = page.find_tables(use_layout=name.endswith("(layout)"))
                texts[(paper, pno)] = "\n".join("\n".join(" | ".join(str(c or "").replace("\n", " ") for c in row)
                                                          for row in t.extract()) for t in found.tables)
            else:
                texts[(paper, pno)] = pymupdf4llm.to_markdown(doc, pages=[pno - 1], show_progress=False)
            doc.close()
        secs = time.perf_counter() - t0
        present = 0
        for c in truth["cells"]:
            lines = texts[(c["paper"], c["page"])].split("\n")
            row_key = c["row"].split(" | ")[0].split(" (")[0]
            if any(c["value"] in ln and row_key.split()[0] in ln for ln in lines):
                present += 1
        res[name] = {"pages": len(pages), "s_per_page": round(secs / len(pages), 3), "truth_values_in_a_row_line": present,
                     "of": len(truth["cells"])}
        print(name, res[name])
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--show", action="store_true", help="print every cell, not only the misses")
    ap.add_argument("--holdout", action="store_true", help="papers outside the truth: print what is found")
    ap.add_argument("--timing", action="store_true", help="detection time per page against the parse")
    ap.add_argument("--with-ingest", action="store_true", help="with --timing: also time the product's ingest of the corpus")
    ap.add_argument("--compare", action="store_true", help="pymupdf4llm / find_tables on the truth pages")
    args = ap.parse_args()
    pdfs = corpus_dir("pdfs")
    truth = json.loads(TRUTH.read_text())
    out = {"machine": machine()}
    if args.timing:
        out["timing"] = timing(pdfs, args.with_ingest)
        write_json(RESULTS / "tables-timing.json", out)
        return
    if args.compare:
        out["compare"] = compare(truth, pdfs)
        write_json(RESULTS / "tables-compare.json", out)
        return
    if args.holdout:
        out["holdout"] = holdout(truth, pdfs)
        write_json(RESULTS / "tables-holdout.json", out)
        return
    res = evaluate(truth, pdfs, args.show)
    print_summary(res)
    out.update(res)
    write_json(RESULTS / "tables-eval.json", out)


if __name__ == "__main__":
    main()
