"""What goes on a paper card: the sentences of each section (background, prior methods and their
problems, method, tasks and results, limitations), and the affiliations, keywords and links read
from the paper. The card itself, its task and its Markdown are in summarize_task.py."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from .candidates import Candidate, candidates, pick
from .checker import terms
from .citation import Citation, Passage, Sentence, cite
from .facts import code_links_in, metrics_in
from .roles import INSTRUCTION, main_role
from paperlens.text import split_sentences as split

# (key, English name, Chinese name, sentences wanted, what the section is for an LLM writer)
SECTIONS = [
    ("background", "Background", "背景", 2, "the research area and why the problem matters"),
    ("problem", "Prior methods and their problems", "已有方法及其问题", 2, "what earlier methods do and where they fall short"),
    ("method", "Method", "方法", 3, "what this paper proposes and how it works"),
    ("result", "Tasks and results", "任务与结果", 3, "the tasks, datasets and the results with their numbers"),
    ("limitation", "Limitations", "局限性", 2, "limitations, failure cases and future work the authors state"),
]
_AFFIL = re.compile(
    r"(universit|institut|laborator|\blab\b|college|school of|academy|research|inc\.|corporation|google|microsoft|meta ai|"
    r"nvidia|adobe|bytedance|tencent|alibaba|baidu|huawei|deepmind|openai|samsung|sensetime|kuaishou|大学|研究院|实验室)", re.I,
)


def select_sections(passages: list[Passage], meta: dict[str, Any], language: str) -> tuple[dict[str, list[Candidate]], list[str]]:
    """The extractive choice of sentences per section."""
    notes: list[str] = []
    cands = candidates(passages)
    want = "zh" if language == "zh" else "en"
    pool = [c for c in cands if c.lang == want]
    if want == "zh" and len(pool) < 3:
        notes.append("The paper has little Chinese text indexed (no digest entry); its card quotes the English text.")
        pool = [c for c in cands if c.lang == "en"]
    elif want == "en" and len(pool) < 3:
        pool = cands
    core = frozenset(terms(" ".join(str(x) for x in (meta.get("title"), meta.get("abstract")) if x)))
    chosen: list[Candidate] = []
    out: dict[str, list[Candidate]] = {}
    for key, _, _, n, _ in SECTIONS:
        def score(c: Candidate, key: str = key, strict: bool = True) -> float:
            r = c.roles.get(key, 0.0)
            if r < 1.0:
                return 0.0
            if strict and main_role(c.roles) != key:
                return 0.0  # a sentence serves the section it is most clearly about
            if not strict and r < max(c.roles.values()) - 0.5:
                return 0.0
            central = len(c.terms & core) / max(1, len(c.terms)) if core else 0.0
            s = (r + central) * c.quality
            if key == "result" and metrics_in(c.text):
                s += 1.0  # results with numbers are what a reader wants
            if c.passage.is_summary:
                s += 0.3
            return s

        got = pick(pool, score, n, chosen=chosen)
        if not got:  # nothing is mainly about this section: take what is nearly so
            got = pick(pool, lambda c, key=key: score(c, key, strict=False), 1, chosen=chosen)
        chosen.extend(got)
        out[key] = sorted(got, key=lambda c: c.position)
    return out, notes


def affiliations(passages: list[Passage], authors: list[str]) -> list[Sentence]:
    """Institution lines of the first page (above the abstract), quoted from their chunk."""
    out: list[Sentence] = []
    for p in passages:
        if p.doc_kind != "pdf" or p.page != 1 or (p.section and not re.match(r"front matter|title", p.section, re.I)):
            continue
        for line in p.text.split("\n"):
            line = line.strip()
            if 6 <= len(line) <= 160 and _AFFIL.search(line) and "@" not in line and not re.search(r"abstract", line, re.I):
                if all(line != s.text for s in out):
                    out.append(Sentence(text=line, citations=[cite(p, line)], role="affiliation"))
        if out:
            break
    return out[:6]


def keywords(passages: list[Passage], meta: dict[str, Any], k: int = 8) -> list[str]:
    """Terms the paper is about: its named acronyms and the word pairs its title/abstract share
    with its body most often."""
    given = (meta.get("extra") or {}).get("keywords")
    if isinstance(given, list) and given:
        return [str(x) for x in given][:k]
    head = _without_instructions(" ".join(str(x) for x in (meta.get("title"), meta.get("abstract")) if x))
    body = _without_instructions(" ".join(p.text for p in passages if p.doc_kind == "pdf")[:400_000]) or head
    acronyms = Counter(m for m in re.findall(r"\b[A-Z][A-Za-z]*[A-Z][A-Za-z0-9\-]*\b", head) if 2 <= len(m) <= 15)
    words = re.findall(r"[a-z][a-z\-]{2,}", head.lower())
    stop = {"the", "and", "for", "with", "that", "this", "from", "our", "are", "can", "which", "these", "such", "into",
            "more", "than", "both", "while", "also", "has", "have", "its", "their", "been", "not", "but", "via", "using",
            "based", "propose", "proposed", "present", "method", "methods", "approach", "paper", "show", "results", "new", "novel"}
    pairs = Counter(
        f"{a} {b}" for a, b in zip(words, words[1:]) if a not in stop and b not in stop
    )
    body_low = body.lower()
    scored = sorted(pairs, key=lambda p: (-(pairs[p] + body_low.count(p)), p))
    out = [a for a, _ in acronyms.most_common(4) if body.count(a) >= 2 or a in head]
    for p in scored:
        if len(out) >= k:
            break
        if body_low.count(p) >= 2 and not any(p in o.lower() or o.lower() in p for o in out):
            out.append(p)
    return out[:k]


def links(passages: list[Passage], meta: dict[str, Any]) -> tuple[dict[str, str], dict[str, Citation]]:
    out = dict(meta.get("links") or {})
    aid = meta.get("arxiv_id")
    if aid:
        out.setdefault("arxiv", f"https://arxiv.org/abs/{aid}")
        out.setdefault("pdf", f"https://arxiv.org/pdf/{aid}")
    cites: dict[str, Citation] = {}
    if "code" not in out:
        found = code_link(passages)
        if found:
            out["code"] = found[0]
            cites["code"] = found[1]
    return out, cites


_CODE_CUE = re.compile(r"\b(code|implementation|available|released|project page|open[- ]sourced?|github)\b|代码|开源", re.I)
_NOT_OURS = re.compile(r"\b(dataset|data set|benchmark|we use|we adopt|baseline|official implementation of|from)\b", re.I)


def code_link(passages: list[Passage]) -> tuple[str, Citation] | None:
    """The paper's own code link: a repository URL next to words like 'code is available', outside
    the references, and not introduced as a dataset or someone else's tool."""
    for p in passages:
        if re.match(r"references|bibliography|参考文献", p.section or "", re.I):
            continue
        for url in code_links_in(p.text):
            at = p.text.find(url)
            around = p.text[max(0, at - 160):at]
            if _CODE_CUE.search(around) and not _NOT_OURS.search(around[-80:]):
                return url, cite(p, url)
    return None


def _without_instructions(text: str) -> str:
    """The text less any sentence addressed to a language model (see roles.INSTRUCTION) and any
    markup a PDF may carry as text ('<img src=x onerror=...>' is not a keyword)."""
    text = re.sub(r"<[^>]{0,200}>", " ", text)
    return " ".join(sp.text for sp in split(text) if not INSTRUCTION.search(sp.text))
