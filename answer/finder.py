"""The paper finder of comparisons and roundups: every indexed paper on a topic, and only those.

Recall first. A comparison of "all diffusion super-resolution methods" that kept the top search
hits would miss papers whose chunks rank lower, so candidates come from several lanes, aggregated
per paper over a deep list:

- the hybrid search (dense + BM25 + cross-lingual, both languages) of the question and of its
  topic terms (a long question reduced to them: answer/concepts.py), `finder_search_depth` chunks;
- a dense search of the topic's English terms (a Chinese question's English forms included);
- a scan of the catalog: every paper whose title, abstract, digest summary or keywords name most of
  each concept of the topic (matched by word keys, acronyms and Chinese field terms included).

Then precise. A topic is a set of concepts a paper must be about (answer/concepts.py): for
"diffusion in medical imaging", diffusion AND medical imaging. Each candidate is checked against
each concept (answer/relevance.py) by what it says (the concept named in its title; named in its
abstract or summary twice, or once with the paper close to the topic: a passing mention, "unlike
diffusion models, our GAN ...", is not the paper's subject; named in several full-text passages;
or met by the words that go with the concept in this library) and by what it means (MiniLM's
cosine of the concept to the paper's summary, computed by the store over the stored vectors,
restricted to the candidates). Then the paper's own summary must be close to the topic by e5,
read against the best candidates (`_closeness`): closer when no concept is in its title.

Every match says why (`FoundPaper.why`), and the finding says how many matched and how many are
shown (`finder_max_papers`, a setting): the caller lists the rest on request.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

from paperlens.index.library import Library

from paperlens.models import SearchFilters
from paperlens.settings import Settings
from paperlens.text import HAN

from .concepts import Aspect, Phrase, TopicSpec, keys, reduce_question
from .published import first_submitted, in_window
from .relevance import (
    SIM_UNNAMED,
    Idf,
    Profile,
    coverage,
    english,
    judge,
    make_profile,
    positions,
    related_words,
    zh_named,
)

_CJK = re.compile(f"[{HAN}]")

# The thresholds here and in relevance.py were set on the dev questions of
# bench/finder_questions.json (the held-out ones were not run while they were chosen);
# docs/benchmarks.md, "Paper finder", has the figures.
SIM_TOPIC = 0.25  # the whole topic against the paper's best chunk
# e5 closeness of the paper's own summary to the topic, against the best three candidates':
CLOSE_GAP = 0.06  # how far below them a paper may be when its title names one of the concepts
CLOSE_GAP_LOOSE = 0.035  # ... when no concept is in its title, or one is met only by related words or meaning
CLOSE_FLOOR = 0.80  # the least e5 cosine that can count as close
ZH_GAP = 0.03  # a concept with no English form is met within this of the best candidates
# Candidates and ranking:
PART_MIN = 0.6  # the catalog scan: least share of each concept's words a candidate names
OPTIONAL_BONUS = 0.2  # an optional concept the paper has raises its rank by this share of a required one
NEAR_MISSES = 15  # rejected candidates a finding names, closest first


@dataclass
class FoundPaper:
    paper_id: str
    meta: dict[str, Any]
    score: float  # higher is more on-topic
    why: dict[str, Any]  # how each concept matched: title / abstract / full text / similarity

    @property
    def reason(self) -> str:
        """One line for people: 'title: attention; abstract: image super-resolution; similarity 0.61'."""
        parts = []
        for where in ("title", "abstract", "full text", "related terms", "meaning"):
            concepts = [a for a, how in self.why["aspects"].items() if how == where]
            if concepts:
                parts.append(f"{where}: {', '.join(concepts)}")
        parts.append(f"similarity {self.why['similarity']:.2f}")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        lo, hi, exact = first_submitted(self.meta)
        return {"paper_id": self.paper_id, "arxiv_id": self.meta.get("arxiv_id"), "title": self.meta.get("title", ""),
                "date": self.meta.get("date"), "first_submitted": lo if exact else (lo and lo[:7]),
                "score": round(self.score, 4), "why": self.why, "reason": self.reason}


@dataclass
class Finding:
    topic: TopicSpec
    papers: list[FoundPaper]  # every match, best first
    cap: int  # how many a response shows
    considered: int  # candidate papers checked
    elapsed_s: float = 0.0
    near_misses: list[tuple[str, str]] = field(default_factory=list)  # (paper id, the concept it lacked), closest first

    @property
    def matched(self) -> int:
        return len(self.papers)

    @property
    def shown(self) -> list[FoundPaper]:
        return self.papers[: self.cap]

    def to_dict(self) -> dict[str, Any]:
        return {"topic_terms": self.topic.terms(), "matched": self.matched, "shown": len(self.shown),
                "considered": self.considered, "papers": [p.to_dict() for p in self.papers]}


class PaperFinder:
    def __init__(self, library: Library, settings: Settings) -> None:
        self.lib = library
        self.settings = settings
        self._lock = threading.Lock()
        self._cache: tuple[object, dict[str, Profile], dict[str, float]] = (None, {}, {})
        self._vectors: dict[str, tuple[Profile, Any]] = {}
        self._related_cache: dict[tuple, dict[str, float]] = {}

    # --- the finder ----------------------------------------------------------------------------
    def find(self, question: str, filters: SearchFilters | None = None, *, cap: int | None = None) -> Finding:
        t0 = time.perf_counter()
        spec = reduce_question(question)
        if not spec.aspects:  # nothing but asking words: the question as one concept
            spec = TopicSpec(question, [Aspect([Phrase(question.strip(), zh=question.strip())])], spec.zh)
        f = filters or SearchFilters()
        profiles, idf = self._profiles()
        allowed = self._allowed(profiles, f)
        # Search filters: categories, authors and ids as given; the date window as a lower bound
        # only (a paper's stored date is never before its first submission, which decides).
        sf = SearchFilters(date_from=f.date_from, categories=list(f.categories), authors=list(f.authors),
                           paper_ids=list(f.paper_ids))
        self.lib.store_filter(f)  # a bad date is the caller's error, named
        depth = self.settings.finder_search_depth
        lanes: dict[str, float] = {}
        chunks: dict[str, list[str]] = {}

        def lane(query: str, mode: str, k: int, per_paper: int, weight: float) -> None:
            if not query.strip():
                return
            for rank, h in enumerate(self.lib.search(query, k=k, filters=sf, mode=mode, max_per_paper=per_paper)):
                if h.paper_id not in allowed:
                    continue
                lanes[h.paper_id] = lanes.get(h.paper_id, 0.0) + weight / (10 + rank)
                chunks.setdefault(h.paper_id, []).append(h.text)

        lane(question, "hybrid", depth, 3, 1.0)
        if spec.text.strip() and spec.text != question.strip():
            lane(spec.text, "hybrid", depth, 3, 1.0)
        if spec.english:
            lane(spec.english, "dense", depth, 1, 1.0)
        scan = self._scan(spec, profiles, idf, allowed)
        cands = list(dict.fromkeys([*sorted(lanes, key=lambda p: -lanes[p]), *scan]))[: self.settings.finder_max_candidates]
        if not cands:
            return Finding(spec, [], self._cap(cap), 0, round(time.perf_counter() - t0, 3))
        restrict = replace(sf, paper_ids=cands, date_from=None)
        sims = [self._similarity(a, restrict, cands, profiles, chunks) for a in spec.aspects]
        # A concept's related words never include the topic's own words: in a library of papers on
        # the topic, 'diffusion' goes with 'medical imaging', but it does not stand for it.
        own = {w for a in spec.aspects for p in a.phrases for w in p.words}
        required = [a for a in spec.aspects if not a.optional]
        related = [{w: v for w, v in self._related(a, [b for b in required if b is not a], profiles, idf).items()
                    if w not in own} for a in spec.aspects]
        core = spec.core or spec.english
        whole = Aspect([Phrase(core, words=tuple(keys(core)))] if core
                       else [Phrase(spec.question, zh=spec.question)])
        topic_sim, _ = self._similarity(whole, restrict, cands, profiles, None)
        closeness = self._closeness(spec, restrict, cands)
        passages = {pid: [positions(keys(t)) for t in texts] for pid, texts in chunks.items()}
        found: list[FoundPaper] = []
        misses: list[tuple[float, str, str]] = []
        for pid in cands:
            prof = profiles.get(pid)
            if prof is None:
                continue
            how: dict[str, str] = {}
            strength = 0.0
            lacking = ""
            for a, (summary, body), rel in zip(spec.aspects, sims, related):
                verdict, st = judge(a, prof, idf, summary.get(pid, 0.0), body.get(pid, 0.0), topic_sim.get(pid, 0.0),
                                     passages.get(pid, []), rel)
                if verdict is None:
                    if not a.optional:
                        lacking = a.text
                        break
                    continue
                how[a.text] = verdict
                strength += OPTIONAL_BONUS * st if a.optional else st
            ts = topic_sim.get(pid, 0.0)
            near = closeness.get(pid, -1.0)
            # A paper whose title names one of the topic's concepts and that names every concept
            # itself may sit further from the best candidates than one that names them only in
            # its abstract or by related words: the title says what a paper is about, the
            # abstract also what it compares with, builds on or applies to.
            firm = "title" in how.values() and not {"related terms", "meaning"} & set(how.values())
            if not lacking and near < -(CLOSE_GAP if firm else CLOSE_GAP_LOOSE):
                lacking = "closeness to the topic"
            if lacking or ts < SIM_TOPIC:
                misses.append((-ts, pid, lacking or "similarity to the topic"))
            else:
                score = strength / max(1, sum(1 for a in spec.aspects if not a.optional)) + ts
                found.append(FoundPaper(pid, prof.meta, score + near,
                                        {"aspects": how, "similarity": round(ts, 3), "closeness": round(near, 3)}))
        found.sort(key=lambda m: (-m.score, m.paper_id))
        near = [(pid, why) for _, pid, why in sorted(misses)[:NEAR_MISSES]]
        return Finding(spec, found, self._cap(cap), len(cands), round(time.perf_counter() - t0, 3), near)

    def warm(self) -> int:
        """Build what the first question would otherwise pay for: the papers' profiles and the
        summary vectors of papers known only from their PDF. Returns how many papers it read."""
        profiles, _ = self._profiles()
        pdf_only, offset = [], 0
        while page := self.lib.catalog.papers(limit=500, offset=offset):
            pdf_only += [p["paper_id"] for p in page if set(p.get("documents") or []) == {"pdf"} and p["paper_id"] in profiles]
            offset += len(page)
        for i in range(0, len(pdf_only), 64):
            self._summary_vectors(pdf_only[i:i + 64], profiles)
        return len(profiles)

    def _cap(self, cap: int | None) -> int:
        return max(1, cap if cap is not None else self.settings.finder_max_papers)

    # --- lanes ---------------------------------------------------------------------------------
    def _scan(self, spec: TopicSpec, profiles: dict[str, Profile], idf: dict[str, float], allowed: set[str]) -> list[str]:
        """Papers whose own title / abstract / summary name most of every concept, best first."""
        scored = []
        for pid in allowed:
            prof = profiles[pid]
            covs = [coverage(a, prof.text, idf) if english(a) else (1.0 if zh_named(a, prof) else 0.5)
                    for a in spec.aspects if not a.optional]
            if covs and min(covs) >= PART_MIN:
                scored.append((-sum(covs), pid))
        return [pid for _, pid in sorted(scored)]

    def _similarity(self, a: Aspect, restrict: SearchFilters, cands: list[str], profiles: dict[str, Profile],
                    chunks: dict[str, list[str]] | None) -> tuple[dict[str, float], dict[str, float]]:
        """(summary, body): paper id -> cosine of the concept to what the paper says about itself
        (its title + abstract or digest summary) and to its best full-text passage, over the
        candidates only. The store scores the stored vectors; a paper known only from its PDF
        has its catalog title + abstract embedded here once (cached). A concept with no English
        form is compared with the cross-lingual vectors, which only summary and Chinese chunks have."""
        text = english(a)
        n = len(cands)  # with one chunk a paper, Library.search reads 3n chunks: every candidate's summary
        if not text:
            if not self.lib.xling:
                return {}, {}
            # e5's cosines sit on a compressed scale (0.80-0.92), so they are read against the
            # best candidates': a paper within ZH_GAP of them reaches SIM_UNNAMED ('meaning').
            best: dict[str, float] = {}
            for h in self.lib.search(a.query, k=n, filters=restrict, mode="xling", max_per_paper=1):
                best.setdefault(h.paper_id, h.score)
            if not best:
                return {}, {}
            top = sorted(best.values(), reverse=True)[:3]
            ref = max(sum(top) / len(top), CLOSE_FLOOR + ZH_GAP)
            return {pid: SIM_UNNAMED + ZH_GAP + v - ref for pid, v in best.items()}, {}
        summary: dict[str, float] = {}
        for h in self.lib.search(text, k=n, filters=replace(restrict, doc_kinds=["metadata", "digest"]),
                                 mode="dense", max_per_paper=1):
            summary.setdefault(h.paper_id, h.score)
        body: dict[str, float] = {}
        for h in [] if chunks is None else self.lib.search(text, k=n, filters=replace(restrict, doc_kinds=["pdf"]),
                                                              mode="dense", max_per_paper=1):
            if h.paper_id not in body:
                body[h.paper_id] = h.score
                chunks.setdefault(h.paper_id, []).append(h.text)
        rest = [pid for pid in cands if pid not in summary and pid in profiles]
        if rest:
            qv = self.lib.embedder.encode_query(text)
            for pid, vec in zip(rest, self._summary_vectors(rest, profiles)):
                if vec is not None:
                    summary[pid] = float(vec @ qv)
        return summary, body

    def _closeness(self, spec: TopicSpec, restrict: SearchFilters, cands: list[str]) -> dict[str, float]:
        """paper id -> how close the paper's own summary is to the topic, against the closest
        papers: e5's cosine (the cross-lingual vectors are on summary chunks) minus the mean of
        the best three candidates'. e5 ranks on-topic papers far better than MiniLM does (AUC 0.82-0.93
        against 0.37-0.88 on the dev questions' labelled papers, docs/benchmarks.md) but on a
        compressed scale (0.80-0.92), so its scores are read against the best ones. The English
        terms are asked, also for a Chinese question (e5 scores a Chinese question against
        English abstracts far worse); a topic with no English form asks its own text."""
        if not self.lib.xling:
            return {pid: 0.0 for pid in cands}
        text = spec.core or spec.english or spec.question
        best: dict[str, float] = {}
        for h in self.lib.search(text, k=len(cands), filters=restrict, mode="xling", max_per_paper=1):
            best.setdefault(h.paper_id, h.score)
        if not best:
            return {}
        top = sorted(best.values(), reverse=True)[:3]
        ref = max(sum(top) / len(top), CLOSE_FLOOR + CLOSE_GAP)
        return {pid: v - ref for pid, v in best.items()}

    def _summary_vectors(self, pids: list[str], profiles: dict[str, Profile]) -> list[Any]:
        """MiniLM vectors of papers' catalog title + abstract (papers without a summary document),
        made once per paper and kept while its metadata is unchanged."""
        todo = [pid for pid in pids if pid not in self._vectors or self._vectors[pid][0] is not profiles[pid]]
        texts = [_summary_text(profiles[pid].meta) for pid in todo]
        if any(texts):
            vecs = self.lib.embedder.encode([t or "-" for t in texts])
            for pid, t, v in zip(todo, texts, vecs):
                self._vectors[pid] = (profiles[pid], v if t else None)
        return [self._vectors[pid][1] if pid in self._vectors else None for pid in pids]

    def _related(self, a: Aspect, others: list[Aspect], profiles: dict[str, Profile],
                 idf: dict[str, float]) -> dict[str, float]:
        """_related, kept per catalog state: the same concepts come back in many questions."""
        if a.optional:
            return {}
        ident = (self._cache[0], tuple(p.words or (p.zh,) for p in a.phrases),
                 tuple(tuple(p.words or (p.zh,) for p in b.phrases) for b in others))
        with self._lock:
            if ident in self._related_cache:
                return self._related_cache[ident]
        rel = related_words(a, others, profiles, idf)
        with self._lock:
            if len(self._related_cache) > 512:
                self._related_cache.clear()
            self._related_cache[ident] = rel
        return rel

    # --- catalog -------------------------------------------------------------------------------
    def _allowed(self, profiles: dict[str, Profile], f: SearchFilters) -> set[str]:
        ids = set(f.paper_ids)
        cats = set(f.categories)
        akeys = {" ".join(a.lower().split()) for a in f.authors}
        out = set()
        for pid, prof in profiles.items():
            m = prof.meta
            if ids and pid not in ids:
                continue
            if cats and not cats & set(m.get("categories") or []):
                continue
            if akeys and not akeys & _author_keys(m.get("authors") or []):
                continue
            if not in_window(m, f.date_from, f.date_to):
                continue
            out.add(pid)
        return out

    def _profiles(self) -> tuple[dict[str, Profile], dict[str, float]]:
        """Every paper's profile and the library's word idf, rebuilt when the catalog changes
        (a scan of 2,000 abstracts costs more than the searches; a question is asked far more
        often than papers are added). Unchanged papers keep their profile."""
        version = self.lib.catalog.version()
        with self._lock:
            if self._cache[0] == version:
                return self._cache[1], self._cache[2]
            old = self._cache[1]
            profiles: dict[str, Profile] = {}
            for meta in self.lib.catalog.iter_papers():
                pid = meta["paper_id"]
                prev = old.get(pid)
                profiles[pid] = prev if prev is not None and prev.meta == meta else make_profile(meta)
            df = Counter(k for p in profiles.values() for k in p.text)
            n = len(profiles)
            idf = Idf({k: math.log((n + 1) / (d + 1)) + 1.0 for k, d in df.items()})
            idf.unseen = math.log(n + 1) + 1.0  # a word no paper has is the rarest of all
            self._cache = (version, profiles, idf)
            return profiles, idf


def _summary_text(meta: dict[str, Any]) -> str:
    return "\n".join(x for x in (meta.get("title") or "", meta.get("abstract") or "") if x)


def _author_keys(authors: list[str]) -> set[str]:
    names = {" ".join(a.lower().split()) for a in authors}
    return names | {n.split(" ")[-1] for n in names if n}
