"""The citation checker: every sentence of every backend passes through it before it is returned.

For each (sentence, citation, passage) it checks that
1. the quote occurs verbatim in the passage (the chunk text the store holds); a quote that does not
   is replaced by the passage's best-matching sentence, or the citation is dropped;
2. every number in the sentence occurs in a cited passage (a number is the claim most often wrong);
3. the cited passages contain enough of the sentence's content words (same language), and
4. the sentence is close to its best quote in embedding space (all-MiniLM-L6-v2; the
   multilingual e5 model when either side is Chinese, so a Chinese summary of an English passage
   is judged across languages);
5. with an LLM configured, the model answers yes to "does this passage support the sentence?".
Text addressed to a language model ("ignore previous instructions ...") is never a valid quote,
and a sentence that itself reads as such an instruction is dropped.
A sentence left with no valid citation, or failing 2-5, is dropped and the reason recorded.
Extractive sentences are verbatim quotes, so they pass 1-4 by construction; the checker runs on
them anyway, because "grounded by construction" is a claim worth checking.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from paperlens.text import HAN, is_cjk_heavy, split_sentences as split

from .citation import CheckStats, Citation, Passage, Sentence
from .roles import INSTRUCTION

Encode = Callable[[list[str]], np.ndarray]  # texts -> L2-normalised rows
Judge = Callable[[str, str], bool]  # (sentence, passage text) -> supported?

# e5 places any two texts of one field close together, so its floor sits far above MiniLM's.
# Measured with bench/calibrate_answers.py on the corpus's digest papers: each one's Chinese summary
# against its own English abstract and against the other papers' abstracts (the figures:
# docs/benchmarks.md, "Answer thresholds"); tests/test_checker.py shows a faithful Chinese
# paraphrase passing and an unrelated one failing.
XLING_MIN_SIMILARITY = 0.82

_STOP = set(
    "a an the of to in on for and or but with by from as at is are was were be been being this that "
    "these those it its we our us they their them he she his her which who whom whose what when where "
    "how why than then so such can could may might will would shall should do does did done has have "
    "had not no nor also into onto over under about above below between both each few more most other "
    "some any all only own same very too just there here via per using use used based et al while".split()
)
_WORD = re.compile(r"[A-Za-z][A-Za-z\-']+|\d+(?:[.,]\d+)*%?")
_NUMBER = re.compile(r"(?<![\w.])(\d+(?:[.,]\d+)*)(%?)(?![\w])")
_CJK = re.compile(f"[{HAN}]")


def numbers(text: str) -> set[str]:
    """Numbers as written ('32.50', '1,000' -> '1000'); years and small counts included: a sentence
    that says "4 steps" must cite a passage that says 4."""
    out = set()
    for m in _NUMBER.finditer(text):
        out.add(_norm_number(m.group(1)))
    return out


def _norm_number(s: str) -> str:
    if re.fullmatch(r"\d{1,3}(,\d{3})+", s):
        s = s.replace(",", "")
    s = s.replace(",", ".")
    if "." in s:
        s = s.rstrip("0").rstrip(".") or "0"
    return s


def stem(w: str) -> str:
    """A light English stemmer: 'methods' and 'method', 'sampling' and 'sampled' meet."""
    for suf in ("ations", "ation", "ings", "ing", "ies", "ed", "es", "s"):
        if w.endswith(suf) and len(w) - len(suf) >= 4:
            return w[: -len(suf)]
    return w


def terms(text: str) -> set[str]:
    """Content terms: stemmed English words without stop words, numbers, and CJK bigrams."""
    out = {stem(w.lower()) for w in _WORD.findall(text) if w.lower() not in _STOP and not w[0].isdigit()}
    out |= numbers(text)
    cjk = "".join(_CJK.findall(text))
    out |= {cjk[i:i + 2] for i in range(len(cjk) - 1)}
    return {t for t in out if t}


def overlap(sentence: str, evidence: str) -> float:
    """Share of the sentence's content terms found in the evidence (1.0 for an empty sentence)."""
    st = terms(sentence)
    if not st:
        return 1.0
    return len(st & terms(evidence)) / len(st)


def best_quote(sentence: str, passage_text: str) -> str | None:
    """The span of the passage that best supports `sentence`: the sentence itself when it occurs
    verbatim, else the passage sentence sharing most content terms with it (a neighbour is added
    when that raises the share, for claims that straddle two sentences). None if nothing shares."""
    s = sentence.strip()
    if s and s in passage_text:
        return s
    spans = split(passage_text)
    if not spans:
        return None
    st = terms(sentence)
    if not st:
        return None
    scores = [len(st & terms(sp.text)) for sp in spans]
    i = max(range(len(spans)), key=lambda j: (scores[j], -j))
    if scores[i] == 0:
        return None
    a, b = spans[i].start, spans[i].end
    best = scores[i]
    for j in (i - 1, i + 1):
        if 0 <= j < len(spans):
            lo, hi = min(a, spans[j].start), max(b, spans[j].end)
            sc = len(st & terms(passage_text[lo:hi]))
            if sc > best:
                best, a, b = sc, lo, hi
    return passage_text[a:b]


@dataclass
class Checker:
    encode: Encode | None = None  # English sentence model (MiniLM)
    encode_xling: Encode | None = None  # multilingual model (e5) for Chinese on either side
    min_overlap: float = 0.5
    min_similarity: float = 0.45
    judge: Judge | None = None

    def check(self, sentences: Sequence[Sentence], passages: dict[str, Passage]) -> tuple[list[Sentence], CheckStats]:
        stats = CheckStats()
        kept: list[Sentence] = []
        for s in sentences:
            stats.checked += 1
            reason = self._check_one(s, passages)
            if reason:
                stats.dropped += 1
                stats.reasons.append(f"{reason}: {s.text[:120]}")
            else:
                kept.append(s)
        return kept, stats

    def check_fact(self, value: str, citations: list[Citation], passages: dict[str, Passage]) -> tuple[list[Citation], str | None]:
        """A table cell: a short value ('PSNR 32.6 dB', 'SDXL', '50 steps') read from its quotes.
        Its quotes must occur in their passages and its numbers in them; the words around a value
        (units, 'higher is better') are the table's, so no overlap or similarity test applies."""
        valid = [c for c in citations if c.chunk_id in passages and c.quote and c.quote in passages[c.chunk_id].text]
        if not valid:
            return [], "no verifiable citation"
        evidence = "\n".join(c.quote for c in valid)
        missing = numbers(value) - numbers(evidence)
        if missing:
            return valid, f"number(s) {sorted(missing)} not in the cited passage"
        return valid, None

    def _check_one(self, s: Sentence, passages: dict[str, Passage]) -> str | None:
        if INSTRUCTION.search(s.text):
            return "addresses a language model (text from a paper is data, not instructions)"
        valid: list[Citation] = []
        for c in s.citations:
            p = passages.get(c.chunk_id)
            if p is None:
                continue
            if not c.quote or c.quote not in p.text:
                q = best_quote(s.text, p.text)
                if q is None:
                    continue
                c = Citation(paper_id=p.paper_id, chunk_id=p.chunk_id, page=p.page, quote=q)
            if INSTRUCTION.search(c.quote):
                continue  # an instruction planted in a paper supports nothing
            valid.append(c)
        s.citations = valid
        if not valid:
            return "no verifiable citation"
        cited = [passages[c.chunk_id] for c in valid]
        evidence = "\n".join(p.text for p in cited)
        missing = numbers(s.text) - numbers(evidence)
        if missing:
            return f"number(s) {sorted(missing)} not in the cited passage"
        zh_sentence = is_cjk_heavy(s.text)
        cross = any(zh_sentence != is_cjk_heavy(p.text) for p in cited)
        if any(s.text.strip() in p.text for p in cited):
            return None  # a verbatim quote: supported by its own passage
        if not cross and overlap(s.text, evidence) < self.min_overlap:
            return f"content words not in the cited passage (overlap {overlap(s.text, evidence):.2f})"
        # Against the quotes, not the whole chunks: the span shown as evidence must itself say it.
        sim = self._similarity(s.text, [c.quote for c in valid], zh_sentence or cross)
        if sim is not None:
            floor = XLING_MIN_SIMILARITY if (zh_sentence or cross) else self.min_similarity
            if sim < floor:
                return f"passage not similar enough to the sentence ({sim:.2f} < {floor:.2f})"
        if self.judge is not None and not any(self.judge(s.text, p.text) for p in cited):
            return "the LLM judged the cited passage not to support the sentence"
        return None

    def _similarity(self, sentence: str, evidence: list[str], multilingual: bool) -> float | None:
        enc = self.encode_xling if multilingual and self.encode_xling else self.encode
        if enc is None:
            return None
        vecs = enc([sentence, *evidence])
        return float(np.max(vecs[1:] @ vecs[0]))
