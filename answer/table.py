"""The comparison table: one row per paper, one column per aspect, each cell a value with the
passage it was read from, or "not reported". Numbers in a cell come from the cited sentence."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from pydantic import Field
from pydantic.dataclasses import dataclass as record
from pydantic.json_schema import SkipJsonSchema

from .candidates import Candidate, candidates, pick
from .checker import terms
from .citation import RECORD, Citation, PaperRef, Passage, Record, cite
from .card import code_link
from .facts import Fact, base_models_in, datasets_in, metrics_in, steps_in
from paperlens.text import split_sentences as split

NOT_REPORTED = "not reported"

# Default columns; a request's "aspects" replace them. Each known aspect has an extractor; any
# other aspect is matched by meaning against the paper's sentences.
DEFAULT_ASPECTS = ["task", "key idea", "base model / prior", "sampling steps / NFE", "training data", "benchmarks", "metrics", "code"]
_ALIASES = {
    "task": "task", "tasks": "task", "problem": "task",
    "key idea": "key idea", "idea": "key idea", "method": "key idea", "approach": "key idea", "contribution": "key idea",
    "base model / prior": "base", "base model": "base", "prior": "base", "backbone": "base", "base": "base", "foundation model": "base",
    "sampling steps / nfe": "steps", "sampling steps": "steps", "steps": "steps", "nfe": "steps", "inference steps": "steps",
    "training data": "train", "training dataset": "train", "dataset": "train", "datasets": "train", "data": "train",
    "benchmarks": "bench", "benchmark": "bench", "evaluation data": "bench", "test sets": "bench",
    "metrics": "metrics", "results": "metrics", "numbers": "metrics", "performance": "metrics", "scores": "metrics",
    "code": "code", "code link": "code", "github": "code", "link": "code",
}
_METRIC_NAMES = {"psnr", "ssim", "lpips", "fid", "kid", "fvd", "is", "clip score", "cmmd", "niqe", "musiq", "maniqa", "clipiqa", "dists", "ms-ssim"}
_OWN = re.compile(r"\b(our|ours|we|proposed)\b", re.I)
_FACT_HINT = re.compile(r"\d|github|step|NFE|train|fine-?tun|based on|built|backbone|pre-?train|initiali|evaluat|benchmark", re.I)


@record(config=RECORD)
class Cell(Record):
    """One cell of a comparison table: a value read from the cited sentences, or "not reported"."""

    value: str = Field(NOT_REPORTED, description='The value as read from the paper, or "not reported"')
    citations: list[Citation] = Field(default_factory=list, description="The sentences the value was read from "
                                      "(none for \"not reported\"); every number in the value occurs in them")


@record(config=RECORD)
class Row(PaperRef):
    """One paper of a comparison table, one cell per aspect (column)."""

    cells: dict[str, Cell] = Field(description="Aspect -> cell, for every requested aspect")
    matched_by: str = Field("", description="Why the paper is in the table: 'abstract' (it names the topic), "
                                            "'full text' (it discusses it at length), 'search' or 'requested'")
    # The sentence behind the "key idea" cell, for the comparison's synthesis: not part of the response.
    key_idea: SkipJsonSchema[Candidate | None] = Field(None, exclude=True, repr=False)


def column_kind(aspect: str) -> str:
    a = " ".join(aspect.lower().split())
    if a in _ALIASES:
        return _ALIASES[a]
    if a in _METRIC_NAMES:
        return "metric:" + a
    return "free"


def build_row(meta: dict[str, Any], passages: list[Passage], aspects: list[str],
              similarity: Callable[[str, list[str]], list[float]] | None = None, language: str = "en") -> Row:
    head = [p for p in passages if p.is_summary or re.search(r"abstract|introduction|摘要|引言", p.section, re.I)][:12]
    if not head:
        head = passages[:8]
    head_cands = candidates(head)
    same = [c for c in head_cands if c.lang == language]
    head_cands = same if same else head_cands  # a digest's Chinese lines only when nothing else exists
    # Fact sentences from the whole paper (references and appendices excluded by candidates()).
    body = [p for p in passages if _FACT_HINT.search(p.text)]
    fact_sents = [(p, s.text) for p in body for s in split(p.text) if _FACT_HINT.search(s.text) and len(s.text) < 600]
    row = Row(meta.get("paper_id", ""), meta.get("arxiv_id"), meta.get("title", ""), meta.get("date"), {})
    ideas = pick(head_cands, lambda c: c.roles.get("method", 0) * c.quality + (0.3 if c.passage.is_summary else 0), 1)
    row.key_idea = ideas[0] if ideas else None
    for aspect in aspects:
        kind = column_kind(aspect)
        row.cells[aspect] = _cell(kind, aspect, meta, passages, head_cands, fact_sents, row, similarity)
    return row


def _cell(kind, aspect, meta, passages, head_cands, fact_sents, row, similarity) -> Cell:
    if kind == "task":
        got = pick(head_cands, lambda c: (c.roles.get("task", 0) + 0.5 * c.roles.get("problem", 0)) * c.quality
                   if c.roles.get("task", 0) >= 1 else 0, 1)
        return _from_candidate(got[0]) if got else Cell()
    if kind == "key idea":
        return _from_candidate(row.key_idea) if row.key_idea else Cell()
    if kind == "code":
        found = code_link(passages)
        if found:
            return Cell(found[0], [found[1]])
        code = (meta.get("links") or {}).get("code")
        return Cell(code, []) if code else Cell()
    extract: Callable[[str], list[Fact]]
    if kind == "base":
        extract = base_models_in
    elif kind == "steps":
        extract = steps_in
    elif kind == "train":
        extract = lambda s: datasets_in(s, training=True)  # noqa: E731
    elif kind == "bench":
        extract = lambda s: datasets_in(s, training=False)  # noqa: E731
    elif kind == "metrics" or kind.startswith("metric:"):
        wanted = kind.split(":", 1)[1] if ":" in kind else None
        extract = lambda s: [f for f in metrics_in(s) if wanted is None or f.name.lower() == wanted]  # noqa: E731
    else:
        return _free_cell(aspect, passages, similarity)
    facts: list[tuple[Passage, Fact]] = []
    for p, s in fact_sents:
        for f in extract(s):
            facts.append((p, f))
    if not facts:
        return Cell()
    if kind in ("metrics",) or kind.startswith("metric:"):
        # The paper's own numbers ("we achieve", "ours") before numbers it quotes for baselines.
        facts.sort(key=lambda pf: (0 if _OWN.search(pf[1].quote) else 1))
        chosen, names = [], set()
        for p, f in facts:
            if f.name in names:
                continue
            names.add(f.name)
            chosen.append((p, f))
            if len(chosen) == 3:
                break
        return Cell("; ".join(f.value for _, f in chosen), [cite(p, f.quote) for p, f in chosen])
    # What the paper itself did ("we train on", "our backbone") before what it says of others.
    facts.sort(key=lambda pf: (0 if _OWN.search(pf[1].quote) else 1))
    p, f = facts[0]
    if kind in ("train", "bench", "base"):
        names: list[str] = []
        cites = []
        for p2, f2 in facts:
            new = [n for n in f2.value.split(", ") if n not in names]
            if new:
                names += new
                cites.append(cite(p2, f2.quote))
            if len(names) >= 5 or len(cites) >= 3:
                break
        return Cell(", ".join(names), cites)
    return Cell(f.value, [cite(p, f.quote)])


def _free_cell(aspect: str, passages: list[Passage], similarity) -> Cell:
    """An aspect without an extractor: the sentence that shares the aspect's words and, with an
    embedding model at hand, is closest to it in meaning."""
    want = terms(aspect)
    if not want:
        return Cell()
    scored = []
    for c in candidates(passages):
        share = len(want & c.terms) / len(want)
        if share >= 0.5:
            scored.append((share * c.quality, c))
    if not scored:
        return Cell()
    scored.sort(key=lambda sc: (-sc[0], sc[1].position))
    top = [c for _, c in scored[:20]]
    if similarity is not None:
        sims = similarity(aspect, [c.text for c in top])
        best = max(range(len(top)), key=lambda i: (sims[i], -i))
        return _from_candidate(top[best])
    return _from_candidate(top[0])


def _from_candidate(c: Candidate) -> Cell:
    return Cell(c.text, [cite(c.passage, c.text)])
