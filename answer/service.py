"""The answer service: one object per process that the API and the CLI call. It gathers passages
through the Library, lets the configured backend write cited sentences (extractive: verbatim
sentences; llamacpp / openai: an LLM writing from numbered passages), and passes every sentence
through the checker before anything is returned."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from paperlens.errors import BadInput, NotFound
from paperlens.index.library import Library
from paperlens.models import SearchFilters
from paperlens.settings import Settings
from paperlens.text import count_han

from . import card as cardlib
from . import table as tablelib
from .candidates import candidates, pick
from .checker import terms
from .markdown import escape_cell
from .themes import group_themes
from .checker import Checker
from .citation import CheckStats, Passage, Sentence
from .evidence import Evidence
from .markdown import Sources, check_line, link_line

LANGUAGES = ("en", "zh")


class Answerer:
    def __init__(self, library: Library, settings: Settings, llm: Any = None) -> None:
        self.lib = library
        self.settings = settings
        self.llm = llm  # paperlens.answer.llm.LLM or None (extractive)
        self.evidence = Evidence(library)
        judge = None
        if llm is not None and settings.llm_judge:
            from .llm import judge_support

            judge = lambda sentence, passage: judge_support(llm, sentence, passage)  # noqa: E731
        xl = library.xling
        self.checker = Checker(
            encode=library.embedder.encode,
            encode_xling=xl.encode_passages if xl else None,
            min_overlap=settings.support_min_overlap,
            min_similarity=settings.support_min_similarity,
            judge=judge,
        )

    @property
    def backend(self) -> str:
        return getattr(self.llm, "name", None) or "extractive"

    # --- helpers -------------------------------------------------------------------------------
    def _write(self, task: str, passages: list[Passage], language: str, n: int) -> list[Sentence]:
        from .writer import write_cited

        xl = self.lib.xling
        return write_cited(
            self.llm, task, passages, language=language, max_sentences=n, max_tokens=self.settings.llm_max_tokens,
            timeout_s=self.settings.generation_timeout_s,
            # A Chinese sentence has no words in common with its English passage: pick its quote by meaning.
            encode=xl.encode_passages if (xl and language == "zh") else self.lib.embedder.encode,
        )

    def _check(self, sentences: list[Sentence], passages: list[Passage], stats: CheckStats) -> list[Sentence]:
        kept, st = self.checker.check(sentences, {p.chunk_id: p for p in passages})
        stats.add(st)
        return kept

    # --- paper card ----------------------------------------------------------------------------
    def summarize(self, paper_id: str, language: str = "en") -> dict[str, Any]:
        t0 = time.perf_counter()
        language = _language(language)
        meta = self.lib.paper(paper_id)  # NotFound for an unknown id
        passages = self.evidence.paper_passages(paper_id)
        chosen, notes = cardlib.select_sections(passages, meta, language)
        stats = CheckStats()
        zh = language == "zh"
        sections: list[cardlib.CardSection] = []
        for key, en_name, zh_name, n, purpose in cardlib.SECTIONS:
            cands = chosen.get(key, [])
            if self.llm is not None and cands:
                evidence = _unique([c.passage for c in cands])
                task = (f"Write the '{en_name}' part of a summary card of the paper \"{meta.get('title', '')}\": "
                        f"{purpose}. Use only the passages.")
                sentences = self._write(task, evidence, language, n)
                sentences = self._check(sentences, evidence, stats)
                if not sentences:
                    notes.append(f"{en_name}: the model's sentences failed the check; the paper's own sentences are shown.")
                    sentences = self._check([c.sentence(key) for c in cands], evidence, stats)
            else:
                sentences = self._check([c.sentence(key) for c in cands], [c.passage for c in cands], stats)
            for s in sentences:
                s.role = key
            sections.append(cardlib.CardSection(key, zh_name if zh else en_name, sentences))
        affils = self._check(cardlib.affiliations(passages, meta.get("authors") or []), passages, stats)
        link_map, link_cites = cardlib.links(passages, meta)
        card = cardlib.Card(
            paper_id=paper_id, title=meta.get("title", ""), authors=meta.get("authors") or [], language=language,
            sections=sections, affiliations=affils, keywords=cardlib.keywords(passages, meta), links=link_map,
            link_citations=link_cites, arxiv_id=meta.get("arxiv_id"), date=meta.get("date"), notes=notes,
        )
        out = {
            "paper_id": paper_id, "arxiv_id": card.arxiv_id, "title": card.title, "authors": card.authors,
            "date": card.date, "language": language,
            "affiliations": [s.to_dict() for s in affils], "keywords": card.keywords, "links": link_map,
            "link_citations": {k: c.to_dict() for k, c in link_cites.items()},
            "sections": [s.to_dict() for s in sections],
            "sentences": [s.to_dict() for sec in sections for s in sec.sentences],
            "backend": self.backend, "check": stats.to_dict(), "notes": notes,
        }
        out["markdown"] = _card_markdown(card, out, self.backend)
        out["elapsed_s"] = round(time.perf_counter() - t0, 3)
        return out


    # --- comparison ----------------------------------------------------------------------------
    def compare(self, query: str | None = None, paper_ids: list[str] | None = None, aspects: list[str] | None = None,
                filters: SearchFilters | None = None, language: str = "en") -> dict[str, Any]:
        t0 = time.perf_counter()
        language = _language(language)
        aspects = [a.strip() for a in (aspects or tablelib.DEFAULT_ASPECTS) if a and a.strip()]
        if not aspects or len(aspects) > 16:
            raise BadInput("aspects must name 1 to 16 columns", field="aspects")
        limit = self.settings.compare_max_papers
        if paper_ids:
            metas = self.lib.catalog.papers_meta(list(dict.fromkeys(paper_ids)))
            missing = [pid for pid in paper_ids if pid not in metas]
            if missing:
                raise NotFound(f"no paper {missing[0]!r}", paper_id=missing[0])
            found = [(metas[pid], "requested") for pid in dict.fromkeys(paper_ids)][:limit]
            topic_groups: list[list[str]] = []
        elif query and query.strip():
            topic, matches = self.evidence.find_papers(query, filters, limit=limit)
            found = [(m.meta, m.why) for m in matches]
            topic_groups = topic.groups
        else:
            raise BadInput("give a query or paper_ids", field="query")
        stats = CheckStats()
        rows = []
        for meta, why in found:
            passages = self.evidence.paper_passages(meta["paper_id"])
            row = tablelib.build_row(meta, passages, aspects, self._similarity, language)
            by_id = {p.chunk_id: p for p in passages}
            for name, cell in row.cells.items():
                if not cell.citations:
                    continue
                stats.checked += 1
                cell.citations, reason = self.checker.check_fact(cell.value, cell.citations, by_id)
                if reason:
                    stats.dropped += 1
                    stats.reasons.append(f"{row.title[:60]} / {name}: {reason}")
                    row.cells[name] = tablelib.Cell()
            rows.append((row, why, passages))
        synthesis = self._synthesis([r for r, _, _ in rows], language, stats)
        out = {
            "query": query, "aspects": aspects, "topic_terms": [g[0] for g in topic_groups],
            "rows": [{**r.to_dict(), "matched_by": why} for r, why, _ in rows],
            "synthesis": [s.to_dict() for s in synthesis],
            "backend": self.backend, "check": stats.to_dict(), "language": language,
        }
        out["markdown"] = _table_markdown(out, [r for r, _, _ in rows], synthesis, self.backend)
        out["elapsed_s"] = round(time.perf_counter() - t0, 3)
        return out

    def _synthesis(self, rows: list[tablelib.Row], language: str, stats: CheckStats) -> list[Any]:
        ideas = [r.key_idea for r in rows if r.key_idea is not None][:8]
        if not ideas:
            return []
        passages = _unique([c.passage for c in ideas])
        if self.llm is not None:
            task = ("In 3-5 sentences, contrast how these papers' methods differ (key idea, base model, "
                    "sampling steps, results). Cite every sentence.")
            written = self._check(self._write(task, passages, language, 5), passages, stats)
            if written:
                return written
        return self._check([c.sentence("method") for c in ideas], passages, stats)

    def _similarity(self, text: str, others: list[str]) -> list[float]:
        vecs = self.lib.embedder.encode([text, *others])
        return [float(x) for x in vecs[1:] @ vecs[0]]

    # --- roundup -------------------------------------------------------------------------------
    def roundup(self, topic: str, date_from: str | None = None, date_to: str | None = None,
                language: str = "en", filters: SearchFilters | None = None) -> dict[str, Any]:
        t0 = time.perf_counter()
        language = _language(language)
        if not topic or not topic.strip():
            raise BadInput("topic is empty", field="topic")
        f = filters or SearchFilters()
        f = SearchFilters(date_from=date_from or f.date_from, date_to=date_to or f.date_to, categories=f.categories,
                          authors=f.authors, paper_ids=f.paper_ids)
        self.lib.store_filter(f)  # validates the dates (400 naming the field)
        _, matches = self.evidence.find_papers(topic, f, limit=self.settings.roundup_max_papers)
        stats = CheckStats()
        entries = []
        for m in matches:
            passages = self.evidence.paper_passages(m.paper_id)
            lines = self._paper_lines(m.meta, passages, language, stats)
            if lines:
                entries.append((m.meta, lines))
        groups = group_themes([meta for meta, _ in entries], self.lib.embedder.encode, language)
        by_id = {meta["paper_id"]: (meta, lines) for meta, lines in entries}
        themes = []
        for title, pids in groups:
            papers = []
            for pid in pids:
                meta, lines = by_id[pid]
                papers.append({
                    "paper_id": pid, "arxiv_id": meta.get("arxiv_id"), "title": meta.get("title", ""),
                    "date": meta.get("date"), "links": cardlib.links([], meta)[0],
                    "sentences": [s.to_dict() for s in lines],
                })
            themes.append({"title": title, "papers": papers})
        out = {"topic": topic, "date_from": f.date_from, "date_to": f.date_to, "language": language,
               "themes": themes, "backend": self.backend, "check": stats.to_dict()}
        out["markdown"] = _roundup_markdown(out, self.backend)
        out["elapsed_s"] = round(time.perf_counter() - t0, 3)
        return out

    def _paper_lines(self, meta: dict[str, Any], passages: list[Passage], language: str, stats: CheckStats) -> list[Sentence]:
        """1-3 cited lines on what a paper does and finds."""
        chosen, _ = cardlib.select_sections(
            [p for p in passages if p.is_summary or p.doc_kind != "pdf" or p.index < 12], meta, language)
        cands = (chosen.get("method") or [])[:2] + (chosen.get("result") or [])[:1]
        if not cands:
            return []
        if self.llm is not None:
            ps = _unique([c.passage for c in cands])
            task = f"In 1-3 sentences, say what the paper \"{meta.get('title', '')}\" proposes and what it finds."
            written = self._check(self._write(task, ps, language, 3), ps, stats)
            if written:
                return written
        return self._check([c.sentence() for c in cands], [c.passage for c in cands], stats)

    # --- question ------------------------------------------------------------------------------
    def ask(self, question: str, filters: SearchFilters | None = None, language: str | None = None) -> dict[str, Any]:
        t0 = time.perf_counter()
        if not question or not question.strip():
            raise BadInput("question is empty", field="question")
        zh_q = count_han(question) > 0
        language = _language(language or ("zh" if zh_q else "en"))
        named = self.evidence.named_papers(question)
        if named:  # "What learning rate does RCAN use?": search RCAN, not the corpus
            f = filters or SearchFilters()
            allowed = [pid for pid in named if not f.paper_ids or pid in f.paper_ids]
            filters = replace(f, paper_ids=allowed or f.paper_ids)
        # A question about named papers reads as many of their passages as it needs.
        passages = self.evidence.search(question, k=8, filters=filters, max_per_paper=0 if named else None)
        stats = CheckStats()
        sentences: list[Sentence] = []
        if passages:
            if self.llm is not None:
                task = (f"Answer the question: {question}\nUse only the passages. If they do not answer it, "
                        "write nothing but NO_ANSWER.")
                sentences = self._check(self._write(task, passages, language, 4), passages, stats)
            if not sentences:
                sentences = self._check(self._extract_answer(question, passages, zh_q), passages, stats)
        answered = bool(sentences)
        out = {
            "question": question, "answered": answered, "language": language,
            "sentences": [s.to_dict() for s in sentences],
            "statement": None if answered else (
                "索引中的论文没有回答这个问题。" if language == "zh" else "The indexed papers do not answer this question."),
            "passages": [{"paper_id": p.paper_id, "chunk_id": p.chunk_id, "page": p.page, "section": p.section}
                         for p in passages],
            "backend": self.backend, "check": stats.to_dict(),
        }
        out["markdown"] = _answer_markdown(out, sentences, self.backend, self.lib)
        out["elapsed_s"] = round(time.perf_counter() - t0, 3)
        return out

    def _extract_answer(self, question: str, passages: list[Passage], zh_q: bool) -> list[Sentence]:
        """The sentences of the retrieved passages that answer the question: they must share its
        key terms (English) and sit close to it in meaning; none close enough -> no answer."""
        cands = candidates(passages)
        if not cands:
            return []
        qterms = {t for t in terms(question) if t not in _QUESTION_WORDS}
        q_lang = "zh" if zh_q else "en"
        same = [c for c in cands if c.lang == q_lang == "en"]
        cross = [c for c in cands if c not in same]
        score: dict[int, float] = {}
        if same:  # English question, English sentence: MiniLM, and the question's key words
            vecs = self.lib.embedder.encode([question, *[c.text for c in same]])
            for c, sim in zip(same, vecs[1:] @ vecs[0]):
                share = len(qterms & c.terms) / len(qterms) if qterms else 1.0
                if sim >= ASK_MIN_SIMILARITY and share >= ASK_MIN_SHARE:
                    score[id(c)] = float(sim) + 0.2 * share
        if cross and self.lib.xling:
            # Chinese on either side: e5, which costs ~0.3 s a sentence on a CPU, so only for the
            # sentences sharing most words with the question or from the best-ranked passages.
            order = {p.chunk_id: i for i, p in enumerate(passages)}
            cross = sorted(cross, key=lambda c: (-len(qterms & c.terms), order.get(c.passage.chunk_id, 99), c.position))[:8]
            vecs = self.lib.xling.encode_passages([question, *[c.text for c in cross]])
            for c, sim in zip(cross, vecs[1:] @ vecs[0]):
                if sim >= ASK_MIN_SIMILARITY_XLING:
                    score[id(c)] = float(sim) - 0.4  # e5 cosines run higher: bring them level with MiniLM's
        got = pick(cands, lambda c: score.get(id(c), 0.0), 3)
        return [c.sentence("answer") for c in got]


# Below these cosines no retrieved sentence is taken as an answer (calibrated on the corpus:
# tests/test_answers.py asks questions the papers answer and questions they do not).
# On the corpus, sentences that answer a question score 0.43-0.53 with MiniLM and share a third or
# more of its key words; the best sentences for off-topic questions score 0.1-0.2 and share none.
ASK_MIN_SIMILARITY = 0.38
ASK_MIN_SHARE = 0.33
ASK_MIN_SIMILARITY_XLING = 0.84
_QUESTION_WORDS = {"what", "which", "how", "why", "when", "who", "does", "do", "paper", "papers", "method", "propos"}


def _table_markdown(out: dict[str, Any], rows: list[tablelib.Row], synthesis: list[Sentence], backend: str) -> str:
    zh = out.get("language") == "zh"
    src = Sources()
    aspects = out["aspects"]
    lines = [f"# {'比较' if zh else 'Comparison'}: {out.get('query') or ', '.join(r.title for r in rows)}", ""]
    if not rows:
        lines.append("_没有找到相关论文。_" if zh else "_No indexed paper matches this topic._")
    else:
        lines.append("| Paper | " + " | ".join(escape_cell(a) for a in aspects) + " |")
        lines.append("|---" * (len(aspects) + 1) + "|")
        for r in rows:
            cells = []
            for a in aspects:
                c = r.cells[a]
                if not c.citations and c.value == tablelib.NOT_REPORTED:
                    cells.append("not reported")
                    continue
                value = c.value if len(c.value) <= 160 else c.value[:157] + "..."
                cells.append(escape_cell(value) + " " + src.marks(Sentence(c.value, c.citations)))
            label = r.title + (f" ({r.arxiv_id})" if r.arxiv_id else "")
            lines.append(f"| {escape_cell(label)} | " + " | ".join(cells) + " |")
    if synthesis:
        lines += ["", "## " + ("方法差异" if zh else "How they differ"), ""]
        lines += [f"- {src.line(s)}" for s in synthesis]
    lines += ["", check_line(out["check"], backend, zh)]
    return "\n".join(lines) + "\n" + src.render({r.paper_id: r.title for r in rows}, "来源" if zh else "Sources")


def _roundup_markdown(out: dict[str, Any], backend: str) -> str:
    zh = out["language"] == "zh"
    src = Sources()
    window = " – ".join(x for x in (out.get("date_from"), out.get("date_to")) if x)
    lines = [f"# {'综述' if zh else 'Roundup'}: {out['topic']}" + (f" ({window})" if window else ""), ""]
    titles = {}
    if not out["themes"]:
        lines.append("_该时间段内没有相关论文。_" if zh else "_No indexed paper on this topic in this window._")
    for theme in out["themes"]:
        lines += [f"## {theme['title']}", ""]
        for p in theme["papers"]:
            titles[p["paper_id"]] = p["title"]
            head = f"**{p['title']}**" + (f" ({p['date']})" if p.get("date") else "")
            ln = link_line(p.get("links") or {})
            lines.append(f"- {head}" + (f" {ln}" if ln else ""))
            for s in p["sentences"]:
                lines.append(f"  - {src.line(_sentence(s))}")
        lines.append("")
    lines.append(check_line(out["check"], backend, zh))
    return "\n".join(lines) + "\n" + src.render(titles, "来源" if zh else "Sources")


def _answer_markdown(out: dict[str, Any], sentences: list[Sentence], backend: str, lib: Library) -> str:
    zh = out["language"] == "zh"
    src = Sources()
    lines = [f"# {out['question']}", ""]
    if sentences:
        lines += [src.line(s) for s in sentences]
    else:
        lines.append(out["statement"])
    lines += ["", check_line(out["check"], backend, zh)]
    metas = lib.catalog.papers_meta(sorted({c.paper_id for c in src.items}))
    return "\n".join(lines) + "\n" + src.render({k: v.get("title", k) for k, v in metas.items()}, "来源" if zh else "Sources")


def _sentence(d: dict[str, Any]) -> Sentence:
    from .citation import Citation

    return Sentence(d["text"], [Citation(**c) for c in d["citations"]], d.get("role", ""))


def _card_markdown(card: cardlib.Card, out: dict[str, Any], backend: str) -> str:
    zh = card.language == "zh"
    src = Sources()
    lines = [f"# {card.title or card.paper_id}", ""]
    meta_rows = []
    if card.authors:
        meta_rows.append(f"**{'作者' if zh else 'Authors'}:** {', '.join(card.authors)}")
    if card.affiliations:
        meta_rows.append(f"**{'机构' if zh else 'Affiliations'}:** " + "; ".join(src.line(s) for s in card.affiliations))
    if card.date:
        meta_rows.append(f"**{'日期' if zh else 'Date'}:** {card.date}")
    if card.keywords:
        meta_rows.append(f"**{'关键词' if zh else 'Keywords'}:** {', '.join(card.keywords)}")
    if card.links:
        meta_rows.append(f"**{'链接' if zh else 'Links'}:** {link_line(card.links)}")
    lines += [r + "  " for r in meta_rows]
    for sec in card.sections:
        lines += ["", f"## {sec.name}", ""]
        if sec.sentences:
            lines += [f"- {src.line(s)}" for s in sec.sentences]
        else:
            lines.append("_论文文本中未找到相关内容。_" if zh else "_Not stated in the indexed text._")
    lines += ["", check_line(out["check"], backend, zh)]
    for n in card.notes:
        lines.append(f"> {n}")
    return "\n".join(lines) + "\n" + src.render({card.paper_id: card.title}, "来源" if zh else "Sources")


def _language(language: str | None) -> str:
    lang = (language or "en").lower()
    if lang not in LANGUAGES:
        raise BadInput(f"language {language!r} is not supported; use 'en' or 'zh'", field="language")
    return lang


def _unique(passages: list[Passage]) -> list[Passage]:
    seen: dict[str, Passage] = {}
    for p in passages:
        seen.setdefault(p.chunk_id, p)
    return list(seen.values())


