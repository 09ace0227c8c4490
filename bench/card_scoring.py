"""Scoring of paper cards, answers and roundups against bench/card_facts.json and
bench/card_questions.json: fact matching, the language of a sentence, numbers a sentence shares
with its quotes, and the display defects issue 13 names. Pure functions on the product's JSON
responses (the shapes of POST /api/summarize, /api/ask, /api/roundup), so bench/eval_cards.py
can score the in-process service and the HTTP API alike, and a test can import the same rules.

Matching rules (also stated in card_facts.json): a fact is stated by one sentence when each of
its `all` groups has an alternative in that sentence. Text is NFKC-normalized, lower-cased,
hyphens / dashes / underscores become spaces, digit-group commas are dropped and whitespace is
collapsed. An alternative that starts with a Latin letter must begin at a word start (prefix match; a digit
may precede it: '0.15dB' states 'db'); one that starts with a digit must not continue a number
('0.49' is not in '10.49'); a Chinese alternative is a substring.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
FACTS_PATH = HERE / "card_facts.json"
QUESTIONS_PATH = HERE / "card_questions.json"
SECTIONS = ("background", "problem", "method", "result", "limitation")

_DASHES = re.compile(r"[\-‐‑‒–—―_/]+")
_DIGIT_COMMA = re.compile(r"(?<=\d),(?=\d{3}\b)")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_LATIN_WORD = re.compile(r"[A-Za-z]+")


def norm(text: str) -> str:
    text = unicodedata.normalize("NFKC", text or "").lower().replace("×", "x")
    text = _DIGIT_COMMA.sub("", text)
    text = _DASHES.sub(" ", text)
    return " ".join(text.split())


def _alt_pattern(alt: str) -> re.Pattern[str]:
    a = norm(alt)
    if a[:1].isdigit():  # '0.49' must not match inside '10.49'
        return re.compile(r"(?<![a-z0-9.])" + re.escape(a))
    if re.match(r"[a-z]", a):  # a word start; a digit may precede ('0.15db' states 'db')
        return re.compile(r"(?<![a-z])" + re.escape(a))
    return re.compile(re.escape(a))


_PATTERNS: dict[str, re.Pattern[str]] = {}


def has_alt(normed: str, alt: str) -> bool:
    pat = _PATTERNS.get(alt)
    if pat is None:
        pat = _PATTERNS[alt] = _alt_pattern(alt)
    return pat.search(normed) is not None


def states(fact: dict[str, Any], sentence: str) -> bool:
    """Whether one sentence states `fact` (its `all` groups, none of its `none` phrases)."""
    n = norm(sentence)
    if any(has_alt(n, a) for a in fact.get("none", [])):
        return False
    return all(any(has_alt(n, a) for a in group) for group in fact["all"])


# --- language ---------------------------------------------------------------------------------

def language_of(sentence: str) -> str:
    """'zh' when CJK characters are at least half of CJK characters + Latin words (a Chinese
    sentence keeps method names, datasets and numbers in Latin script), 'en' when it has no CJK
    character or they are under a tenth, else 'mixed'."""
    cjk = len(_CJK.findall(sentence))
    words = len(_LATIN_WORD.findall(sentence))
    if cjk == 0:
        return "en" if words else "other"
    share = cjk / (cjk + words)
    return "zh" if share >= 0.5 else ("en" if share < 0.1 else "mixed")


# --- numbers ----------------------------------------------------------------------------------

_SCALE = {"万": 1e4, "百万": 1e6, "千万": 1e7, "亿": 1e8, "k": 1e3, "m": 1e6, "million": 1e6, "b": 1e9, "billion": 1e9, "thousand": 1e3}
_NUMBER = re.compile(r"(?<![a-z0-9.])(\d+(?:\.\d+)?)\s*(百万|千万|万|亿|million\b|billion\b|thousand\b|[kmb]\b)?")
_IDENT = re.compile(r"\b(?=[a-z0-9.+]*[a-z])(?=[a-z0-9.+]*\d)[a-z0-9.+]+\b")
_NUMBER_WITH_UNIT = re.compile(r"^\d+(?:\.\d+)?(?:k|m|b|ms|s|db|x|k?b)$")


def _identifiers(normed: str) -> list[str]:
    return [m.group() for m in _IDENT.finditer(normed) if not _NUMBER_WITH_UNIT.match(m.group())]


def numbers_in(text: str) -> list[set[float]]:
    """Each number of `text` (outside identifiers such as Set5, T5, v1.5) as a set of values: the
    value as written, or, with a unit after it, only the scaled value (2000万 -> 2e7, 16M -> 1.6e7),
    so that '1 万' (1e4) does not pass for '1 million' (1e6)."""
    n = norm(text)
    for ident in _identifiers(n):
        n = re.sub(r"(?<![a-z0-9.+])" + re.escape(ident) + r"(?![a-z0-9.+])", " ", n)
    out: list[set[float]] = []
    for m in _NUMBER.finditer(n):
        v = float(m.group(1))
        out.append({v * _SCALE[m.group(2)]} if m.group(2) else {v})
    return out


def identifiers_in(text: str) -> set[str]:
    return set(_identifiers(norm(text)))


def unsupported_numbers(sentence: str, quotes: Iterable[str]) -> list[str]:
    """Numbers and digit-bearing identifiers of `sentence` that no quote contains (by value, so
    '2000万' matches '20 million' and '0.50' matches '0.5')."""
    joined = " ".join(quotes)
    have: set[float] = set().union(*numbers_in(joined)) if joined else set()
    idents = identifiers_in(joined)
    missing = []
    for vals in numbers_in(sentence):
        if not any(math.isclose(v, h, rel_tol=1e-9) for v in vals for h in have):
            missing.append(f"{min(vals):g}")
    missing += sorted(i for i in identifiers_in(sentence) if i not in idents)
    return missing


# --- display defects ----------------------------------------------------------------------------

DEFECTS: dict[str, re.Pattern[str]] = {
    "reference_bracket": re.compile(r"\[\s*\d+(?:\s*[,–\-]\s*\d+)*\s*\]"),
    "footnote_glued": re.compile(r"(?:^|[\s.)])\d(?=[A-Z][a-z])"),
    "html_entity": re.compile(r"&(?:#\d+|#x[0-9a-f]+|[a-z]{2,8});", re.I),
    "digest_label": re.compile(r"^\s*(?:[（(]\s*\d+\s*[)）]|\d+\s*[.、])\s*[:：]?"),
    "digest_boilerplate": re.compile(r"未提及|未给出|未提供|待插入|如可用|如果可用|not provided in the text|not mentioned"),
    "figure_callout": re.compile(r"\b(?:fig\.|figure|table|tab\.)\s*\d", re.I),
    "outline_line": re.compile(r"\bsections?\s+\d|\bsec\.\s*\d|第\s*[一二三四五六七八九十\d]+\s*[节章]", re.I),
}


def defects_of(sentence: str) -> list[str]:
    return [name for name, pat in DEFECTS.items() if pat.search(sentence)]


# --- loading the eval sets ----------------------------------------------------------------------

def load_facts(path: Path = FACTS_PATH) -> list[dict[str, Any]]:
    papers = json.loads(path.read_text(encoding="utf-8"))["papers"]
    seen: set[str] = set()
    for p in papers:
        for f in p["facts"]:
            if f["section"] not in SECTIONS:
                raise ValueError(f"{path}: fact {f['id']} has unknown section {f['section']!r}")
            if f["id"] in seen or not f["all"] or not all(f["all"]):
                raise ValueError(f"{path}: fact {f['id']} repeats an id or has an empty group")
            seen.add(f["id"])
    return papers


def load_questions(path: Path = QUESTIONS_PATH) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    for q in data["questions"]:
        if q["answerable"] and not (q.get("paper") and q.get("must")):
            raise ValueError(f"{path}: answerable question {q['id']} needs 'paper' and 'must'")
    return data


# --- scoring one response -------------------------------------------------------------------------

@dataclass
class SentenceCheck:
    text: str
    section: str
    language: str
    citations: int
    verbatim: int  # citations whose quote occurs in the chunk text the store returns
    right_paper: int  # citations whose chunk belongs to the cited paper (and the card's paper)
    unsupported: list[str]  # numbers of the sentence no cited quote contains
    defects: list[str]

    @property
    def verified(self) -> bool:
        return self.citations > 0 and self.verbatim == self.citations == self.right_paper and not self.unsupported


@dataclass
class ResponseScore:
    sentences: list[SentenceCheck] = field(default_factory=list)

    def share(self, language: str) -> float | None:
        return sum(s.language == language for s in self.sentences) / len(self.sentences) if self.sentences else None


def check_sentences(items: Iterable[tuple[str, dict[str, Any]]], chunk_text: Any, expect_paper: str | None = None
                    ) -> ResponseScore:
    """`items`: (section key, sentence dict) pairs. `chunk_text(chunk_id)` -> (paper_id, text) of
    the stored chunk, or None when the store has no such chunk."""
    out = ResponseScore()
    for section, s in items:
        cites = s.get("citations") or []
        verbatim = right = 0
        for c in cites:
            got = chunk_text(c["chunk_id"])
            if got is None:
                continue
            paper, text = got
            verbatim += int(bool(c.get("quote")) and c["quote"] in text)
            right += int(paper == c.get("paper_id") and (expect_paper is None or paper == expect_paper))
        out.sentences.append(SentenceCheck(
            text=s["text"], section=section, language=language_of(s["text"]), citations=len(cites),
            verbatim=verbatim, right_paper=right,
            unsupported=unsupported_numbers(s["text"], [c.get("quote", "") for c in cites]),
            defects=defects_of(s["text"]),
        ))
    return out


def card_items(card: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(section key, sentence) of a card's sections (the flat `sentences` list repeats them)."""
    return [(sec["key"], s) for sec in card.get("sections", []) for s in sec.get("sentences", [])]


def score_facts(facts: list[dict[str, Any]], items: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Per fact: stated anywhere in the card, stated in its own section, by which sentence."""
    rows = []
    for f in facts:
        where = [sec for sec, s in items if states(f, s["text"])]
        rows.append({"id": f["id"], "section": f["section"], "stated": bool(where), "placed": f["section"] in where,
                     "found_in": sorted(set(where))})
    return rows


def trap_hits(traps: list[dict[str, Any]], items: list[tuple[str, dict[str, Any]]]) -> list[dict[str, str]]:
    hits = []
    for t in traps:
        for sec, s in items:
            n = norm(s["text"])
            if (t["section"] in ("any", sec)) and any(has_alt(n, a) for a in t["any"]):
                hits.append({"section": sec, "why": t["why"], "text": s["text"][:160]})
    return hits


# --- the eval set against the papers' own text ------------------------------------------------------

_SENT_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9\u4e00-\u9fff])|(?<=[。！？；])|\n\s*\n")


def sentences_of(text: str) -> list[str]:
    """A plain sentence split (English and Chinese ends, paragraph breaks), independent of the
    product's splitter on purpose."""
    return [x.strip() for x in _SENT_END.split(text) if x and x.strip()]


def fact_sources(facts: list[dict[str, Any]], sentences: list[str]) -> list[dict[str, Any]]:
    """Per fact, how many source sentences state it and the first one: a fact no sentence of its
    paper states is a rule no card can meet; one that dozens state is a loose rule."""
    rows = []
    for f in facts:
        hits = [x for x in sentences if states(f, x)]
        rows.append({"id": f["id"], "section": f["section"], "source_sentences": len(hits),
                     "example": hits[0][:200] if hits else None})
    return rows

