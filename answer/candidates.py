"""Candidate sentences for the extractive backend: every sentence of a set of passages, kept as the
exact span of its chunk (so its quote is verbatim), scored for each role, de-duplicated (the
chunker's overlap repeats sentences in neighbouring chunks; an arXiv record repeats the abstract)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from paperlens.text import HAN, is_cjk_heavy, split_sentences as split

from .checker import terms
from .citation import Passage, Sentence, cite
from .roles import quality, role_scores

# Sections whose sentences never summarise the paper itself.
SKIP_SECTIONS = re.compile(r"^(references|bibliography|acknowledge?ments?|参考文献|致谢|appendix|supplementary)", re.I)


@dataclass
class Candidate:
    text: str
    passage: Passage
    position: int  # order in the paper: passages in document order, then sentence order
    lang: str
    quality: float
    roles: dict[str, float] = field(default_factory=dict)
    terms: frozenset[str] = frozenset()

    def sentence(self, role: str = "") -> Sentence:
        return Sentence(text=self.text, citations=[cite(self.passage, self.text)], role=role)


def candidates(passages: Iterable[Passage]) -> list[Candidate]:
    out: list[Candidate] = []
    seen: set[str] = set()
    pos = 0
    for p in passages:
        if SKIP_SECTIONS.search(p.section or ""):
            continue
        for span in split(p.text):
            pos += 1
            span = _strip_label(span)
            key = re.sub(r"\W+", "", span.text.lower())
            if not key or key in seen:
                continue
            seen.add(key)
            q = quality(span.text)
            if q <= 0:
                continue
            out.append(Candidate(
                text=span.text, passage=p, position=pos, lang="zh" if is_cjk_heavy(span.text) else "en",
                quality=q, roles=role_scores(span.text, p.section), terms=frozenset(terms(span.text)),
            ))
    return out


def similar(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def pick(cands: list[Candidate], score, n: int, *, chosen: list[Candidate] | None = None, max_similar: float = 0.5) -> list[Candidate]:
    """The n best by `score` (a function of a candidate; <= 0 excludes it), skipping any that
    repeats an already chosen sentence (maximal marginal relevance, greedy)."""
    taken = list(chosen or [])
    out: list[Candidate] = []
    for c in sorted(cands, key=lambda c: (-score(c), c.position)):
        if len(out) >= n:
            break
        if score(c) <= 0:
            break
        if any(similar(c.terms, t.terms) > max_similar for t in taken):
            continue
        out.append(c)
        taken.append(c)
    return out


# List markers and digest labels ahead of a sentence ("- (3)研究方法：", "• ", "2) "): the sentence
# starts after them, so the quote stays a verbatim slice without the scaffolding.
_LABEL = re.compile(rf"^(?:[-•*·]\s*)?(?:\(?\d{{1,2}}[.)）]\s*)?(?:[{HAN}]{{2,10}}[：:]\s*)?")


def _strip_label(span):
    m = _LABEL.match(span.text)
    if not m or not m.end() or m.end() >= len(span.text):
        return span
    cut = m.end()
    return type(span)(span.start + cut, span.end, span.text[cut:])
