"""How the answer engine's calibrated thresholds were measured, re-runnable: the score distributions
each threshold has to separate, on the corpus library (the one bench/eval_answers.py builds).

    .venv/bin/python bench/calibrate_answers.py [--data-dir DIR]

- ask (answer/ask_task.py: ASK_MIN_SIMILARITY, ASK_MIN_SHARE, ASK_MIN_SIMILARITY_XLING): for
  questions the papers answer and questions they do not (the "ask" questions of
  bench/eval_questions.json, those of tests/test_answers.py, and Chinese ones), the best MiniLM
  cosine of a retrieved English sentence with the question and the share of the question's key
  words it holds, and the best e5 cosine of a retrieved sentence when Chinese is on either side;
  and, because the hybrid list of an off-topic English question can hold Chinese chunks only, the
  same two figures for the English sentences of the dense retriever's top 8 chunks.
  A threshold works when every answerable question's best sentence is above it and every
  unanswerable one's below.
- the checker's cross-lingual floor (answer/checker.py: XLING_MIN_SIMILARITY): for each digest
  paper, the e5 cosine of its Chinese summary with the closest sentence of its own English abstract
  (a faithful summary) and with the closest sentence of every other digest paper's abstract (same
  field, another paper).
- theme grouping (answer/themes.py: LINK_THRESHOLD): the MiniLM cosine of two papers' title and
  abstract (the text group_themes embeds) when the digest put them in the same group, and when it
  put them in different groups.

Results: bench/results/calibration.json; the figures are in docs/benchmarks.md ("Answer thresholds").
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
from pathlib import Path

from common import RESULTS, fill_corpus_library, machine, write_json

HERE = Path(__file__).resolve().parent

# Questions beyond bench/eval_questions.json: tests/test_answers.py's, and Chinese ones.
MORE = [
    ("Which layer does ESPCN use to upscale feature maps to the high-resolution output?", True),
    ("What new metric does the Rethinking FID paper propose?", True),
    ("How do I bake sourdough bread at home?", False),
    ("RCAN 使用什么来重新缩放通道特征？", True),
    ("扩散模型如何用于图像超分辨率？", True),
    ("钨的沸点是多少？", False),
    ("2018年世界杯冠军是哪个国家？", False),
]


def spread(xs: list[float]) -> dict[str, float]:
    xs = sorted(xs)
    if not xs:
        return {}
    q = statistics.quantiles(xs, n=10, method="inclusive") if len(xs) > 1 else [xs[0]] * 9
    return {"n": len(xs), "min": round(xs[0], 3), "p10": round(q[0], 3), "median": round(statistics.median(xs), 3),
            "p90": round(q[-1], 3), "max": round(xs[-1], 3)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", type=Path, default=RESULTS / "answers-lib")
    args = ap.parse_args()

    from paperlens.answer import ask_task, checker, themes
    from paperlens.answer.candidates import candidates
    from paperlens.answer.checker import terms
    from paperlens.answer.citation import Passage
    from paperlens.text import split_sentences as split
    from paperlens.answer.task import Context
    from paperlens.ingest.pipeline import open_library
    from paperlens.models import SearchFilters
    from paperlens.text import is_cjk_heavy
    from paperlens.settings import Settings

    settings = Settings(_env_file=None, data_dir=args.data_dir, rate_limit_per_minute=0)
    questions = [(q["question"], q["answerable"]) for q in json.loads((HERE / "eval_questions.json").read_text())["ask"]]
    questions += [q for q in MORE if q[0] not in {x for x, _ in questions}]
    with open_library(settings) as lib:
        fill_corpus_library(lib, settings)
        ctx = Context(lib, settings)
        xl = lib.xling

        # --- ask: the same passages and candidates AskTask reads ---------------------------------
        asked = []
        for question, answerable in questions:
            zh_q = is_cjk_heavy(question)
            named = ctx.evidence.named_papers(question)
            filters = SearchFilters(paper_ids=named) if named else None
            passages = ctx.evidence.search(question, k=8, filters=filters, max_per_paper=0 if named else None)
            cands = candidates(passages)
            qterms = {t for t in terms(question) if t not in ask_task._QUESTION_WORDS}
            same = [c for c in cands if c.lang == ("zh" if zh_q else "en") == "en"]
            cross = [c for c in cands if c not in same]
            row = {"question": question, "answerable": answerable, "language": "zh" if zh_q else "en"}
            if same:
                vecs = lib.embedder.encode([question, *[c.text for c in same]])
                pairs = [(float(s), len(qterms & c.terms) / len(qterms) if qterms else 1.0) for c, s in zip(same, vecs[1:] @ vecs[0])]
                row["best_minilm"] = round(max(s for s, _ in pairs), 3)
                row["best_share"] = round(max(sh for _, sh in pairs), 3)
                passing = [s for s, sh in pairs if sh >= ask_task.ASK_MIN_SHARE]
                row["best_minilm_with_share"] = round(max(passing), 3) if passing else None
            if cross and xl:
                vecs = xl.encode_passages([question, *[c.text for c in cross]])
                row["best_e5"] = round(float(max(vecs[1:] @ vecs[0])), 3)
            if not zh_q:
                # The best English sentences any question can reach: those of the dense retriever's
                # top chunks (the hybrid list of an off-topic question may hold no English at all).
                hits = lib.search(question, k=8, mode="dense", filters=filters)
                dense = [c for c in candidates([Passage(h.chunk_id, h.paper_id, h.text) for h in hits]) if c.lang == "en"]
                if dense:
                    vecs = lib.embedder.encode([question, *[c.text for c in dense]])
                    pairs = [(float(s), len(qterms & c.terms) / len(qterms) if qterms else 1.0)
                             for c, s in zip(dense, vecs[1:] @ vecs[0])]
                    row["dense_best_minilm"] = round(max(s for s, _ in pairs), 3)
                    row["dense_best_share"] = round(max(sh for _, sh in pairs), 3)
            asked.append(row)
            print(json.dumps(row, ensure_ascii=False), file=sys.stderr)

        # --- the checker's e5 floor, and theme links: the digest papers -------------------------
        digest = [m for m in lib.catalog.iter_papers() if (m.get("extra") or {}).get("zh_summary") and m.get("abstract")]
        own, other = [], []
        if xl:
            abstracts = {m["paper_id"]: [s.text for s in split(m["abstract"])] for m in digest}
            vec = {pid: xl.encode_passages(sents) for pid, sents in abstracts.items()}
            for m in digest:
                zh = xl.encode_passages([m["extra"]["zh_summary"]])[0]
                own.append(float(max(vec[m["paper_id"]] @ zh)))
                other += [float(max(vec[pid] @ zh)) for pid in vec if pid != m["paper_id"]]
        texts = [f"{m.get('title', '')}. {(m.get('abstract') or '')[:400]}" for m in digest]
        vecs = lib.embedder.encode(texts) if texts else []
        same_group, other_group = [], []
        for i, j in itertools.combinations(range(len(digest)), 2):
            gi, gj = (digest[k]["extra"].get("digest_group") for k in (i, j))
            if gi and gj:
                (same_group if gi == gj else other_group).append(float(vecs[i] @ vecs[j]))

    def group(key: str, answerable: bool, lang: str | None = None) -> dict[str, float]:
        return spread([r[key] for r in asked if r.get(key) is not None and r["answerable"] == answerable
                       and (lang is None or r["language"] == lang)])

    result = {
        "machine": machine(),
        "thresholds": {"ASK_MIN_SIMILARITY": ask_task.ASK_MIN_SIMILARITY, "ASK_MIN_SHARE": ask_task.ASK_MIN_SHARE,
                       "ASK_MIN_SIMILARITY_XLING": ask_task.ASK_MIN_SIMILARITY_XLING,
                       "XLING_MIN_SIMILARITY": checker.XLING_MIN_SIMILARITY, "LINK_THRESHOLD": themes.LINK_THRESHOLD},
        "ask": {
            "minilm_with_share (en)": {"answerable": group("best_minilm_with_share", True, "en"),
                                       "unanswerable": group("best_minilm_with_share", False, "en")},
            "minilm (en)": {"answerable": group("best_minilm", True, "en"), "unanswerable": group("best_minilm", False, "en")},
            "share (en)": {"answerable": group("best_share", True, "en"), "unanswerable": group("best_share", False, "en")},
            "minilm, dense top 8 (en)": {"answerable": group("dense_best_minilm", True, "en"),
                                         "unanswerable": group("dense_best_minilm", False, "en")},
            "share, dense top 8 (en)": {"answerable": group("dense_best_share", True, "en"),
                                        "unanswerable": group("dense_best_share", False, "en")},
            "e5 (zh on either side)": {"answerable": group("best_e5", True), "unanswerable": group("best_e5", False)},
            "questions": asked,
        },
        "checker_e5": {"own abstract": spread(own), "another paper's abstract": spread(other)},
        "themes_minilm": {"same digest group": spread(same_group), "different groups": spread(other_group)},
    }
    out = write_json(RESULTS / "calibration.json", result)
    print(json.dumps({k: v for k, v in result.items() if k != "machine"} | {"ask": {k: v for k, v in result["ask"].items()
                      if k != "questions"}}, indent=1, ensure_ascii=False))
    print("written", out, file=sys.stderr)


if __name__ == "__main__":
    main()
