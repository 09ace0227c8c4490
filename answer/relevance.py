"""Whether a paper is about a concept of a topic (answer/concepts.py), from what it says about
itself: the concept named in its title, named in its abstract or digest summary (as a phrase: its
words within a few words of each other), named in several of its full-text passages, met by the
words that go with the concept in this library, or close in meaning. Used by answer/finder.py,
which gathers the candidates and the similarities; everything here is plain text matching.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from paperlens.text import HAN

from .concepts import DROP, ZH_GLOSSARY, Aspect, Phrase, acronym_forms, keys

_CJK = re.compile(f"[{HAN}]")

# Set on the dev questions of bench/finder_questions.json (docs/benchmarks.md, "Paper finder").
# MiniLM cosines (a short concept phrase against a paper's best chunk):
SIM_NAMED = 0.35  # a concept named once in the abstract: the paper (or the topic) must be this close
SIM_PARTLY = 0.38  # a concept named but for its commonest word
SIM_UNNAMED = 0.55  # a concept not named at all: the meaning alone must be this close
SIM_RELATED = 0.25  # a concept met by its related words: the concept against the paper's summary
MENTIONS = 2  # a concept named this often in title + abstract is the paper's subject
BODY_PASSAGES = 2  # full-text passages naming a concept that make it the paper's subject
# Related words (related_words):
RELATED_FROM = 5  # fewer papers naming a concept are too few to learn its related words from
RELATED_SHARE = 0.06  # a related word is in at least this share of the papers that name the concept
RELATED_LIFT = 2.5  # ... and this many times more common there than in the library
RELATED_TERMS = 40  # the most related words kept
RELATED_MIN = 0.10  # share of the related words' weight the paper's own text must hold
RELATED_BELOW = 0.5  # ... and it names less than this share of the concept's own words


@dataclass
class Profile:
    """What a paper says about itself, as match keys: title, and title + abstract + summary."""

    meta: dict[str, Any]
    title: frozenset[str]
    text: frozenset[str]
    title_pos: dict[str, list[int]]  # word key -> positions, for phrases named as phrases
    text_pos: dict[str, list[int]]
    zh: str  # its Chinese text (title, digest summary), for Chinese concepts with no English form


class Idf(dict):
    """Word key -> inverse document frequency over the library's profiles."""

    unseen = 1.0

    def __missing__(self, key: str) -> float:
        return self.unseen


def make_profile(meta: dict[str, Any]) -> Profile:
    extra = meta.get("extra") or {}
    kw = extra.get("keywords")
    kw = " ".join(kw) if isinstance(kw, list) else (kw or "")
    title = meta.get("title") or ""
    zh = " ".join(x for x in (title, extra.get("zh_summary") or "") if _CJK.search(x))
    body = " ".join(x for x in (title, meta.get("abstract") or "", extra.get("zh_summary") or "", kw) if x)
    tk, bk = keys(title + " " + english_of(title)), keys(body + " " + english_of(body))
    return Profile(meta, frozenset(tk), frozenset(bk), positions(tk), positions(bk), zh)


def positions(words: list[str]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for i, w in enumerate(words):
        out.setdefault(w, []).append(i)
    return out


def named(a: Aspect, pos: dict[str, list[int]]) -> bool:
    return mentions(a, pos) > 0


def mentions(a: Aspect, pos: dict[str, list[int]]) -> int:
    """How often the text names the concept as a phrase: all of one form's words within a few
    words of each other, in any order ('video generation', 'generating videos'; not 'video' in
    one sentence and 'generation' in another). The most of any phrase or form."""
    best = 0
    for p in a.phrases:
        for form in forms(p) if p.english else []:
            words = [w for w in form if w not in FILLER] or list(form)
            if not words or any(w not in pos for w in words):
                continue
            span = len(words) + 1  # 'text-to-image' spans 3 words, 'image super-resolution' 3
            n = sum(1 for start in pos[words[0]]
                    if all(any(abs(i - start) <= span - 1 for i in pos[w]) for w in words[1:]))
            best = max(best, n)
    return best


def english_of(text: str) -> str:
    """English forms of the Chinese field terms in a text."""
    if not _CJK.search(text):
        return ""
    return " ".join(en for zh, en in ZH_GLOSSARY.items() if zh in text)


def english(a: Aspect) -> str:
    return "; ".join(p.text for p in a.phrases if p.english)


def forms(p: Phrase) -> list[tuple[str, ...]]:
    return [p.words, *acronym_forms(p.words)]


def coverage(a: Aspect, keyset: frozenset[str], idf: dict[str, float]) -> float:
    """Best idf-weighted share of a phrase's words that `keyset` holds, over the aspect's phrases."""
    best = 0.0
    for p in a.phrases:
        for words in forms(p) if p.english else []:
            total = sum(idf[w] for w in words)
            if total:
                best = max(best, sum(idf[w] for w in words if w in keyset) / total)
    return best


def zh_named(a: Aspect, prof: Profile) -> bool:
    return any(p.zh and p.zh in prof.zh for p in a.phrases)


def related_words(a: Aspect, others: list[Aspect], profiles: dict[str, Profile], idf: dict[str, float]) -> dict[str, float]:
    """The words that go with a concept in this library, weighted: the words over-represented in
    the papers that name it in their title or abstract against the whole library (pseudo-relevance
    feedback). 'medical imaging' brings 'mri', 'ct', 'clinical', 'patholog', 'lesion', ...: a paper
    on "histopathology image synthesis with diffusion" is about medical imaging without naming it.
    Empty when fewer than RELATED_FROM papers name the concept (too few to learn from). `others`: the
    topic's other concepts."""
    if not english(a) or any(len([w for w in p.words if w not in FILLER]) > 2 for p in a.phrases):
        # A longer concept ('personalized text-to-image generation') is specific: the words that
        # go with it are those of its broader field ('prompt', 'diffusion'), which would let in
        # every paper of the field.
        return {}
    # Learnt from the papers that name this concept and not the topic's others: in a library of
    # super-resolution papers, the words that go with 'attention' would otherwise be those of
    # super-resolution ('lr', 'hr', 'psnr'), and every super-resolution paper would pass for it.
    naming = [p for p in profiles.values() if (named(a, p.title_pos) or named(a, p.text_pos))
              and not any(named(b, p.text_pos) for b in others)]
    if len(naming) < RELATED_FROM:
        return {}
    own = {w for p in a.phrases for f in forms(p) for w in f}
    n_all = len(profiles)
    df = Counter(w for p in naming for w in p.text if w not in own and w not in DROP and len(w) > 1 and not w.isdigit())
    min_df = max(2, min(3, len(naming) // 5))  # a word of one or two papers is chance; fewer in a small library
    out: dict[str, float] = {}
    for w, d in df.items():
        share = d / len(naming)
        base = ((n_all + 1) * math.exp(1.0 - idf[w]) - 1.0) / n_all  # the word's share of all papers, from its idf
        if d >= min_df and share >= RELATED_SHARE and share >= RELATED_LIFT * base:
            out[w] = share * math.log(share / base)
    return dict(sorted(out.items(), key=lambda kv: -kv[1])[:RELATED_TERMS])


def judge(a: Aspect, prof: Profile, idf: dict[str, float], summary: float, body: float, topic: float,
           passages: list[dict[str, list[int]]], related: dict[str, float]) -> tuple[str | None, float]:
    """How the paper is about the concept ('title', 'abstract', 'full text', 'related terms',
    'meaning'), with a strength, or (None, 0) when it is not. `summary` / `body`: the concept's
    cosine to the paper's title + abstract and to its best full-text passage; `topic`: the whole
    topic's cosine to the title + abstract. A concept named in the abstract must come with a
    paper close to the concept or to the topic: a one-word concept ('diffusion') embeds too
    poorly to judge alone (its cosine to a diffusion super-resolution abstract is ~0.1-0.3),
    while the topic tells a paper about it from one that mentions it in passing; so does a
    concept named twice or more ('an inpainting diffusion model ... the diffusion prior')."""
    fit = max(summary, body, topic)
    if english(a):
        if named(a, prof.title_pos):
            return "title", 1.0
        said = mentions(a, prof.text_pos)
        if said >= MENTIONS or (said and fit >= SIM_NAMED):
            return "abstract", 0.8
        if mostly_named(a, prof.text, idf) and fit >= SIM_PARTLY:
            return "abstract", 0.6
        # Discussed at length in the body, and the paper's own summary is near the topic: a
        # survey that touches every subject in some chapter fails the second part.
        in_body = sum(1 for pos in passages if named(a, pos))
        if in_body >= BODY_PASSAGES and body >= SIM_PARTLY and max(summary, topic) >= SIM_NAMED:
            return "full text", 0.7
    elif zh_named(a, prof):
        return "abstract", 0.8
    # Related terms stand in for a concept the paper does not name at all; a paper that uses the
    # concept's own distinctive words without naming it (says 'video', never 'video generation')
    # is about something else.
    if related and summary >= SIM_RELATED and (not english(a) or coverage(a, prof.text, idf) < RELATED_BELOW):
        # (only for concepts of one or two words: see _related)
        have = sum(wt for w, wt in related.items() if w in prof.text)
        if have >= RELATED_MIN * sum(related.values()):
            return "related terms", 0.5
    if summary >= SIM_UNNAMED:
        return "meaning", 0.5
    return None, 0.0


FILLER = {"to", "of", "the", "a", "an", "and", "in", "for", "on", "with", "from"}


def mostly_named(a: Aspect, keyset: frozenset[str], idf: dict[str, float]) -> bool:
    """All of a phrase's words but its most common one ('super-resolution' for 'image
    super-resolution'; not 'personalized text' for 'personalized text-to-image')."""
    for p in a.phrases:
        for form in forms(p) if p.english else []:
            words = [w for w in form if w not in FILLER]
            if len(words) < 2:
                continue
            commonest = min(words, key=lambda w: idf[w])
            if all(w in keyset for w in words if w != commonest):
                return True
    return False
