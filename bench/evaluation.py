"""Retrieval quality on the real corpus: the queries, their relevant papers, recall@k and MRR.

Shared by bench/eval_retrieval.py (the report) and tests/test_retrieval_quality.py (the floors),
so both measure exactly the same thing.

A query names the papers a correct answer must retrieve by stable properties, never by the
paper ids of one particular index:

- ``arxiv:<id>``: the paper with that arXiv id (its paper id is ``arxiv:<id>``);
- ``file:<name>``: the paper the ingest made of the PDF with that file name (looked up in the
  ingest report), for papers without an arXiv id;
- ``title:<words>``: the paper whose catalog title contains these words (case-insensitive).
"""

from __future__ import annotations

import json
import platform
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

QUERIES_PATH = Path(__file__).resolve().with_name("eval_queries.json")
MODES: tuple[str, ...] = ("dense", "bm25", "xling", "hybrid")
CATEGORIES: dict[str, str] = {
    "en-en": "English query, English paper",
    "zh-en": "Chinese query, answer only in an English paper (cross-lingual)",
    "en-zh": "English query, answer only in Chinese text (zh PDFs, Chinese-only digest entries)",
    "zh-zh": "Chinese query, Chinese text",
}
CROSS_LINGUAL = ("zh-en", "en-zh")


@dataclass
class EvalQuery:
    qid: str
    query: str
    category: str
    relevant: list[str]  # 'arxiv:...', 'file:...' or 'title:...'
    note: str = ""


@dataclass
class QueryResult:
    qid: str
    mode: str
    category: str
    recall: float
    rr: float  # reciprocal rank of the first relevant paper; 0 when none in the top k
    relevant: list[str]
    ranked: list[str]  # paper ids of the top-k hits, best first (repeats kept: hits are chunks)
    titles: list[str]


@dataclass
class Score:
    n: int = 0
    recall: float = 0.0
    mrr: float = 0.0


@dataclass
class Evaluation:
    k: int
    results: list[QueryResult] = field(default_factory=list)

    def of(self, mode: str, category: str | None = None) -> list[QueryResult]:
        return [r for r in self.results if r.mode == mode and (category is None or r.category == category)]

    def score(self, mode: str, category: str | None = None) -> Score:
        rs = self.of(mode, category)
        if not rs:
            return Score()
        return Score(len(rs), sum(r.recall for r in rs) / len(rs), sum(r.rr for r in rs) / len(rs))


def load_queries(path: Path = QUERIES_PATH) -> list[EvalQuery]:
    raw = json.loads(path.read_text(encoding="utf-8"))
    queries = [EvalQuery(**q) for q in raw["queries"]]
    seen: set[str] = set()
    for q in queries:
        if q.category not in CATEGORIES:
            raise ValueError(f"{path}: query {q.qid} has unknown category {q.category!r}")
        if q.qid in seen:
            raise ValueError(f"{path}: query id {q.qid} appears twice")
        if not q.relevant:
            raise ValueError(f"{path}: query {q.qid} names no relevant paper")
        seen.add(q.qid)
    return queries


def source_index(report: Any) -> dict[str, str]:
    """PDF file name -> paper id, from an ingest report (ingested, replaced or unchanged items)."""
    return {
        Path(item.source).name: item.paper_id
        for item in report.items
        if item.kind == "pdf" and item.paper_id and item.status in ("ingested", "replaced", "unchanged")
    }


def resolve(ref: str, sources: dict[str, str], titles: dict[str, str]) -> str:
    """The paper id a relevance reference points at in this index; ValueError when none does."""
    kind, _, value = ref.partition(":")
    if kind == "arxiv":
        return f"arxiv:{value}"
    if kind == "file":
        if value in sources:
            return sources[value]
        raise ValueError(f"relevance {ref!r}: no ingested file named {value!r}")
    if kind == "title":
        want = _norm(value)
        found = sorted(pid for pid, t in titles.items() if want in _norm(t))
        if len(found) == 1:
            return found[0]
        raise ValueError(f"relevance {ref!r}: {len(found)} papers have such a title ({found[:3]})")
    raise ValueError(f"relevance {ref!r}: expected arxiv:, file: or title:")


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^\w]+", " ", text.lower()).split())


def paper_titles(library: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    offset = 0
    while page := library.catalog.papers(limit=500, offset=offset):
        out.update({p["paper_id"]: p.get("title") or "" for p in page})
        offset += len(page)
    return out


Searcher = Callable[[str, int], list[tuple[str, str]]]  # (query, k) -> [(paper_id, title)], best first


def mode_searcher(library: Any, mode: str) -> Searcher:
    """The product's own search in one mode."""
    return lambda query, k: [(h.paper_id, h.title) for h in library.search(query, k=k, mode=mode)]


def evaluate(
    library: Any,
    queries: Iterable[EvalQuery],
    report: Any,
    *,
    modes: Iterable[str] = MODES,
    k: int = 10,
    searchers: dict[str, Searcher] | None = None,
) -> Evaluation:
    """Runs every query in every mode (or every named searcher); relevance is resolved against
    this library's catalog."""
    sources = source_index(report)
    titles = paper_titles(library)
    searchers = searchers or {m: mode_searcher(library, m) for m in modes}
    ev = Evaluation(k=k)
    for q in queries:
        relevant = sorted({resolve(ref, sources, titles) for ref in q.relevant})
        missing = [pid for pid in relevant if pid not in titles]
        if missing:
            raise ValueError(f"query {q.qid}: relevant papers {missing} are not in the index")
        for mode, search in searchers.items():
            hits = search(q.query, k)
            ranked = [pid for pid, _ in hits]
            found = set(ranked) & set(relevant)
            first = next((i for i, pid in enumerate(ranked) if pid in relevant), None)
            ev.results.append(
                QueryResult(
                    q.qid, mode, q.category, len(found) / len(relevant),
                    0.0 if first is None else 1.0 / (first + 1), relevant, ranked,
                    [t for _, t in hits],
                )
            )
    return ev


def machine() -> str:
    from common import cpu_name  # bench/ is on sys.path for the scripts and the test

    import os

    return f"{os.cpu_count()} CPUs ({cpu_name()}), Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}"


def markdown(ev: Evaluation, modes: Iterable[str] = MODES) -> str:
    """One row per mode; recall@k and MRR overall and per category (n queries in the header)."""
    groups = [None, *CATEGORIES]
    head = ["mode"]
    for cat in groups:
        n = ev.score(next(iter(modes)), cat).n
        label = "all" if cat is None else cat
        head += [f"{label} R@{ev.k} (n={n})", f"{label} MRR"]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for mode in modes:
        cells = [mode]
        for cat in groups:
            s = ev.score(mode, cat)
            cells += [f"{s.recall:.3f}", f"{s.mrr:.3f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def failures(ev: Evaluation, queries: list[EvalQuery], mode: str = "hybrid", category: str | None = None) -> str:
    """One line per query of `mode` (and `category`) that missed a relevant paper or ranked it below 1st."""
    text = {q.qid: q for q in queries}
    out = []
    for r in ev.of(mode, category):
        if r.recall == 1.0 and r.rr == 1.0:
            continue
        q = text[r.qid]
        rank = "miss" if r.rr == 0 else f"first relevant at {round(1 / r.rr)}"
        top = r.titles[0][:60] if r.titles else "-"
        out.append(f"- {r.qid} [{r.category}] {q.query!r}: recall {r.recall:.2f}, {rank}; top hit: {top}")
    return "\n".join(out) or "(none)"
