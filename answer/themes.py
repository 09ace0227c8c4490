"""Grouping a roundup's papers into themes, like the sections of a weekly digest: papers are
clustered by the meaning of their title and abstract (all-MiniLM-L6-v2, average linkage), and a
theme is named by the words its papers' titles share and the other themes' titles do not."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np

from .evidence import ZH_TERMS

# The average MiniLM cosine at which two groups of papers are one theme. Not calibrated against a
# labelled grouping: the corpus digests' own groups do not separate by this cosine (measured with
# bench/calibrate_answers.py, docs/benchmarks.md "Answer thresholds"), so it is a judgement to revisit
# with labelled roundups.
LINK_THRESHOLD = 0.45
MAX_THEMES = 6
_STOP = set(
    "a an the of for and or with via to in on from by towards toward using based is are we our as at into "
    "new novel efficient improved simple learning model models network networks method approach "
    "framework paper image images generation".split()
)


def group_themes(metas: list[dict[str, Any]], encode: Callable[[list[str]], np.ndarray], language: str = "en") -> list[tuple[str, list[str]]]:
    if not metas:
        return []
    ids = [m["paper_id"] for m in metas]
    if len(metas) <= 2:
        return [(_name([metas], metas, language) or _other(language), ids)]
    texts = [f"{m.get('title', '')}. {(m.get('abstract') or '')[:400]}" for m in metas]
    vecs = encode(texts)
    sim = vecs @ vecs.T
    clusters: list[list[int]] = [[i] for i in range(len(metas))]
    while len(clusters) > 1:
        best, pair = -1.0, None
        for a in range(len(clusters)):
            for b in range(a + 1, len(clusters)):
                s = float(np.mean(sim[np.ix_(clusters[a], clusters[b])]))
                if s > best:
                    best, pair = s, (a, b)
        if best < LINK_THRESHOLD and len(clusters) <= MAX_THEMES:
            break
        a, b = pair
        clusters[a] = sorted(clusters[a] + clusters[b])
        del clusters[b]
    # Singletons are gathered into one "other" theme when there are real themes beside them.
    real = [c for c in clusters if len(c) > 1]
    singles = [i for c in clusters if len(c) == 1 for i in c]
    groups = sorted(real, key=lambda c: (-len(c), c[0])) + ([singles] if singles else [])
    out = []
    for g in groups:
        members = [metas[i] for i in g]
        if g is singles and real:
            name = _other(language)
        else:
            name = _name([members], metas, language) or _other(language)
        out.append((name, [ids[i] for i in g]))
    return out


def _other(language: str) -> str:
    return "其他" if language == "zh" else "Other papers"


def _words(title: str) -> list[str]:
    return [w for w in re.findall(r"[a-z0-9][a-z0-9\-]+", title.lower()) if w not in _STOP and len(w) > 2]


def _name(groups: list[list[dict[str, Any]]], everyone: list[dict[str, Any]], language: str) -> str:
    members = groups[0]
    inside = Counter()
    for m in members:
        ws = _words(m.get("title", ""))
        inside.update(set(ws))
        inside.update({f"{a} {b}" for a, b in zip(ws, ws[1:])})
    outside = Counter()
    for m in everyone:
        if m in members:
            continue
        ws = _words(m.get("title", ""))
        outside.update(set(ws))
        outside.update({f"{a} {b}" for a, b in zip(ws, ws[1:])})
    n_in, n_out = len(members), max(1, len(everyone) - len(members))

    def score(term: str) -> float:
        return inside[term] / n_in - outside[term] / n_out + (0.15 if " " in term else 0)

    terms = sorted((t for t in inside if inside[t] >= min(2, n_in)), key=lambda t: (-score(t), t))
    if not terms:
        return ""
    top = [terms[0]]
    for t in terms[1:]:
        if len(top) == 2:
            break
        if all(w not in top[0] for w in t.split()) and score(t) > 0.2:
            top.append(t)
    name = " / ".join(top)
    if language == "zh":
        back = {en: zh for zh, en in ZH_TERMS.items() if len(zh) > 1}
        for en, zh in sorted(back.items(), key=lambda kv: -len(kv[0])):
            name = name.replace(en, zh)
    return name[:1].upper() + name[1:]
