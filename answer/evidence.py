"""Where answers get their passages: a paper's own chunks, search hits for a question, and the
set of papers on a topic (for comparisons and roundups), read through the Library only.

Finding *all* papers on a topic: search hits rank chunks, and a comparison of "all diffusion
super-resolution methods" that took the top chunks would miss papers whose chunks rank lower.
So the topic's terms (acronyms expanded, generic words like "compare" or "methods" removed, common
Chinese field terms mapped to English) are matched against every paper's title, abstract and
digest summary in the catalog, and the hybrid search adds papers whose text discusses the topic
at length without naming it in the abstract.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from paperlens.index.library import Library
from paperlens.models import SearchFilters
from paperlens.text import is_cjk_heavy

from .checker import stem
from .citation import Passage

# Words that say what to do with papers, not which papers.
GENERIC = set(
    "compare comparison comparisons contrast all every method methods approach approaches paper papers work works "
    "technique techniques different various recent latest new list summarize summary overview review survey vs versus "
    "between among which what how who are is the a an of on for in to and or with using based about me show give find "
    "roundup digest week weekly month monthly topic topics research study studies model models network networks "
    "framework frameworks".split()
)
# Acronyms of the field -> spelled-out forms (any form counts as a match).
ACRONYMS: dict[str, list[str]] = {
    "sr": ["super resolution", "super-resolution", "superresolution"],
    "vsr": ["video super resolution"],
    "isr": ["image super resolution"],
    "t2i": ["text to image", "text-to-image"],
    "t2v": ["text to video", "text-to-video"],
    "i2v": ["image to video", "image-to-video"],
    "gan": ["generative adversarial"],
    "gans": ["generative adversarial"],
    "ldm": ["latent diffusion"],
    "dm": ["diffusion model"],
    "vae": ["variational autoencoder", "variational auto-encoder"],
    "nerf": ["neural radiance"],
    "llm": ["large language model"],
    "llms": ["large language model"],
    "vlm": ["vision language model", "vision-language model"],
    "cfg": ["classifier free guidance", "classifier-free guidance"],
    "3dgs": ["gaussian splatting"],
    "sde": ["stochastic differential equation"],
    "ode": ["ordinary differential equation"],
}
# Common Chinese field terms -> English, so a Chinese topic finds English papers lexically too.
ZH_TERMS: dict[str, str] = {
    "超分辨率": "super resolution", "超分": "super resolution", "扩散模型": "diffusion", "扩散": "diffusion",
    "文生图": "text to image", "文本到图像": "text to image", "文生视频": "text to video", "视频生成": "video generation",
    "图像生成": "image generation", "图像编辑": "image editing", "视频编辑": "video editing", "个性化": "personalization",
    "可控生成": "controllable generation", "可控": "control", "运动控制": "motion control", "光照": "lighting",
    "分割": "segmentation", "三维": "3d", "3D": "3d", "对抗生成网络": "generative adversarial", "生成对抗网络": "generative adversarial",
    "自回归": "autoregressive", "评估指标": "evaluation metric", "评价指标": "evaluation metric", "注意力": "attention",
    "视频": "video", "图像": "image", "语言模型": "language model", "大语言模型": "large language model",
    "激活函数": "activation function", "可信": "trustworthiness", "去噪": "denoising", "采样": "sampling",
    "蒸馏": "distillation", "加速": "acceleration", "风格迁移": "style transfer", "图像翻译": "image translation",
    "通道": "channel", "特征": "feature", "数据集": "dataset", "指标": "metric",
}


def _norm(text: str) -> str:
    """Lower case, hyphens as spaces, words stemmed: 'Super-Resolution' ~ 'super resolution'."""
    words = re.findall(r"[a-z0-9]+", text.lower().replace("-", " "))
    return " " + " ".join(stem(w) for w in words) + " "


@dataclass
class Topic:
    """A topic as groups of alternatives; a text is on the topic when every group matches."""

    query: str
    groups: list[list[str]] = field(default_factory=list)  # normalised phrases

    def matched(self, text_norm: str) -> frozenset[int]:
        return frozenset(i for i, g in enumerate(self.groups) if any(f" {alt} " in text_norm for alt in g))

    def coverage(self, text_norm: str) -> float:
        if not self.groups:
            return 0.0
        return len(self.matched(text_norm)) / len(self.groups)


def on_topic(topic: Topic, matched: frozenset[int], idf: list[float]) -> bool:
    """A short topic ('diffusion super-resolution') needs every term. A longer one ('attention
    mechanisms for single image super-resolution') needs its field terms (multi-word or acronym:
    'super-resolution') and half of its other words weighted by rarity: papers say 'channel
    attention' without saying 'mechanism', and 'image' alone says little."""
    n = len(topic.groups)
    if n == 0:
        return False
    if n <= 3:
        return len(matched) == n
    core = [i for i, g in enumerate(topic.groups) if len(g) > 1 or " " in g[0]]
    if any(i not in matched for i in core):
        return False
    rest = [i for i in range(n) if i not in core]
    if not rest:
        return True
    return sum(idf[i] for i in rest if i in matched) >= 0.5 * sum(idf[i] for i in rest)


def parse_topic(query: str) -> Topic:
    """'compare diffusion super-resolution methods' -> [[diffusion], [super resolut, sr, ...]]."""
    groups: list[list[str]] = []
    text = query
    for zh, en in sorted(ZH_TERMS.items(), key=lambda kv: -len(kv[0])):
        if zh in text:
            groups.append(_alternatives(_norm(en).strip()))
            text = text.replace(zh, " ")
    for phrase in re.findall(r'"([^"]+)"', text):
        groups.append([_norm(phrase).strip()])
        text = text.replace(f'"{phrase}"', " ")
    norm = _norm(text)
    for form in sorted(_FORMS, key=len, reverse=True):  # multi-word field terms stay whole
        if " " in form and f" {form} " in norm:
            groups.append(_alternatives(form))
            norm = norm.replace(f" {form} ", " ")
    for w in norm.split():
        if w not in _GENERIC:
            groups.append(_alternatives(w))
    unique: list[list[str]] = []
    for g in groups:
        if g not in unique:
            unique.append(g)
    return Topic(query=query, groups=unique)


def _alternatives(term: str) -> list[str]:
    """A normalised term with its acronym or spelled-out forms."""
    alts = [term]
    for acro, forms in _ACRO_NORM.items():
        if term == acro or term in forms:
            alts += [acro, *forms]
    return list(dict.fromkeys(alts))


_GENERIC = {stem(w) for w in GENERIC}
_ACRO_NORM = {a: [_norm(f).strip() for f in forms] for a, forms in ACRONYMS.items()}
_FORMS = {f for forms in _ACRO_NORM.values() for f in forms}


@dataclass
class PaperMatch:
    paper_id: str
    meta: dict[str, Any]
    score: float  # higher is more on-topic
    why: str  # 'abstract' (the topic in title/abstract/summary) or 'full text' (discussed at length)


class Evidence:
    def __init__(self, library: Library) -> None:
        self.lib = library
        # name -> paper ids, in catalog order; rebuilt when the catalog changes (see _name_index)
        self._names: tuple[object, dict[str, list[str]]] = (None, {})

    def paper_passages(self, paper_id: str) -> list[Passage]:
        return [Passage.from_payload(p) for p in self.lib.paper_chunks(paper_id)]

    def search(self, query: str, k: int = 10, filters: SearchFilters | None = None, *,
               max_per_paper: int | None = None) -> list[Passage]:
        hits = self.lib.search(query, k=k, filters=filters, max_per_paper=max_per_paper)
        return [
            Passage(chunk_id=h.chunk_id, paper_id=h.paper_id, text=h.text, page=h.page, page_end=h.page_end,
                    section=h.section, doc_kind=h.doc_kind, lang="zh" if is_cjk_heavy(h.text) else "en")
            for h in hits
        ]

    def find_papers(self, query: str, filters: SearchFilters | None = None, *, limit: int = 40) -> tuple[Topic, list[PaperMatch]]:
        """Papers on the topic: every paper whose title/abstract/summary names all of the topic's
        terms, plus papers whose full text does so in several passages among the search hits."""
        topic = parse_topic(query)
        f = filters or SearchFilters()
        allowed = set(f.paper_ids)
        cats = set(f.categories)
        akeys = {a.lower() for a in f.authors}
        matches: dict[str, PaperMatch] = {}
        seen: list[tuple[dict[str, Any], frozenset[int]]] = []
        for meta in self.lib.catalog.iter_papers(date_from=f.date_from, date_to=f.date_to):
            pid = meta.get("paper_id")
            if not pid or (allowed and pid not in allowed):
                continue
            if cats and not cats & set(meta.get("categories") or []):
                continue
            if akeys and not _author_match(akeys, meta.get("authors") or []):
                continue
            extra = meta.get("extra") or {}
            profile = " ".join(
                str(x) for x in (meta.get("title"), meta.get("abstract"), extra.get("zh_summary"), extra.get("keywords")) if x
            )
            seen.append((meta, topic.matched(_norm(profile) + _zh_norm(profile))))
        n = max(1, len(seen))
        df = [sum(1 for _, m in seen if i in m) for i in range(len(topic.groups))]
        idf = [math.log((n + 1) / (d + 1)) + 1.0 for d in df]
        for meta, matched in seen:
            if on_topic(topic, matched, idf):
                matches[meta["paper_id"]] = PaperMatch(meta["paper_id"], meta, 2.0, "abstract")
        # Search: ranks the lexical matches, and adds papers that discuss the topic in their body.
        hits = self.lib.search(query, k=100, filters=filters)
        rank: dict[str, int] = {}
        body: dict[str, int] = {}
        for i, h in enumerate(hits):
            rank.setdefault(h.paper_id, i)
            if topic.groups and on_topic(topic, topic.matched(_norm(h.text) + _zh_norm(h.text)), idf):
                body[h.paper_id] = body.get(h.paper_id, 0) + 1
        metas = self.lib.catalog.papers_meta(sorted(set(rank) - set(matches)))
        for pid, n in body.items():
            if pid not in matches and n >= 2 and pid in metas:
                matches[pid] = PaperMatch(pid, metas[pid], 1.0, "full text")
        if not topic.groups:
            # Nothing lexical to hold on to (say, a Chinese topic outside the glossary): the papers
            # of the best hits, by their first rank.
            for pid in list(dict.fromkeys(h.paper_id for h in hits))[:10]:
                if pid in metas:
                    matches[pid] = PaperMatch(pid, metas[pid], 0.5, "search")
        for m in matches.values():
            m.score += 1.0 / (1 + rank.get(m.paper_id, 200))
        ordered = sorted(matches.values(), key=lambda m: (-m.score, m.paper_id))
        return topic, ordered[:limit]


    def named_papers(self, text: str, limit: int = 5) -> list[str]:
        """Papers the text names: by a short title ("Rethinking FID: ..." -> "Rethinking FID") or by
        an acronym the paper defines in its title or abstract ("... networks (RCAN)"). A question
        about RCAN must be answered from RCAN, not from whichever paper's passage ranks first.
        Names shared by more than `limit` papers (say "FID") identify none."""
        found: list[str] = []
        for name, pids in self._name_index().items():
            if name in text and re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text):
                found += [pid for pid in pids if pid not in found]
        if len(found) > limit:
            return []
        if found:
            return found
        # An acronym the paper uses in its body only ("ESPCN"): the papers that use it repeatedly.
        for name in acronyms(text):
            counts: dict[str, int] = {}
            for h in self.lib.search(name, k=40, mode="bm25"):
                if re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", h.text):
                    counts[h.paper_id] = counts.get(h.paper_id, 0) + 1
            users = [pid for pid, n in counts.items() if n >= 2]
            if 0 < len(users) <= limit:
                found += [u for u in users if u not in found]
        return found[:limit]


    def _name_index(self) -> dict[str, list[str]]:
        """Every paper's names, read from the catalog once per catalog state rather than once per
        question: a question is asked far more often than papers are added."""
        version = self.lib.catalog.version()
        if self._names[0] != version:
            index: dict[str, list[str]] = {}
            for meta in self.lib.catalog.iter_papers():
                for name in dict.fromkeys(_names(meta)):
                    index.setdefault(name, []).append(meta["paper_id"])
            self._names = (version, index)
        return self._names[1]


_ACRONYM = re.compile(r"\(([A-Z][A-Za-z0-9-]*[A-Z][A-Za-z0-9-]*)\)")
_NAME = re.compile(r"(?<![\w-])([A-Z][A-Za-z0-9-]*[A-Z][A-Za-z0-9-]*)(?![\w-])")


def acronyms(text: str) -> list[str]:
    """Method names written as acronyms or CamelCase ('ESPCN', 'DiLightNet'), at least 3 letters."""
    return list(dict.fromkeys(m for m in _NAME.findall(text) if len(m) >= 3))


def _names(meta: dict[str, Any]) -> list[str]:
    title = meta.get("title") or ""
    names = []
    head = title.split(":", 1)[0].strip()
    if ":" in title and 1 <= len(head.split()) <= 4 and len(head) >= 3:
        names.append(head)
    names += [m for m in _ACRONYM.findall(f"{title} {meta.get('abstract') or ''}") if len(m) >= 3]
    return names


def english_terms(text: str) -> str:
    """The English forms of the Chinese field terms in `text` ('超分辨率' -> 'super resolution')."""
    return " ".join(en for zh, en in ZH_TERMS.items() if zh in text)


def _zh_norm(text: str) -> str:
    """English forms of the Chinese field terms in `text`, normalised, so Chinese summaries match too."""
    found = english_terms(text)
    return _norm(found) if found else ""


def _author_match(keys: set[str], authors: list[str]) -> bool:
    names = {" ".join(a.lower().split()) for a in authors}
    names |= {n.split(" ")[-1] for n in names if n}
    return bool(keys & names)
