"""roundup: a digest of the papers on a topic in a date window, grouped by theme like the sections
of a weekly digest (themes.py), one to three cited lines per paper, and its Markdown."""

from __future__ import annotations

from typing import Any

from pydantic import Field
from pydantic.dataclasses import dataclass as record

from paperlens.errors import BadInput
from paperlens.models import SearchFilters

from . import card as cardlib
from .citation import RECORD, CheckStats, PaperRef, Passage, Record, Sentence
from .markdown import Sources, check_line, link_line
from .task import Answer, Context, check_language, unique
from .themes import group_themes


@record(config=RECORD)
class RoundupPaper(PaperRef):
    """One paper of a roundup."""

    links: dict[str, str] = Field(description="arxiv, pdf, code, project: URLs")
    sentences: list[Sentence] = Field(description="One to three cited lines on what it does and finds")


@record(config=RECORD)
class Theme(Record):
    """Papers that belong together, under a name their titles share."""

    title: str = Field(description="The theme's name")
    papers: list[RoundupPaper] = Field(description="Its papers")


@record(config=RECORD, kw_only=True)
class Roundup(Answer):
    """The papers on a topic in a date window, grouped by theme."""

    topic: str = Field(description="The topic asked for")
    themes: list[Theme] = Field(default_factory=list, description="The themes, largest first")
    date_from: str | None = Field(None, description="The window's first day (YYYY-MM-DD), inclusive")
    date_to: str | None = Field(None, description="The window's last day (YYYY-MM-DD), inclusive")


class RoundupTask:
    name = "roundup"
    response = Roundup

    def run(self, ctx: Context, /, *, topic: str, date_from: str | None = None, date_to: str | None = None,
            language: str = "en", filters: SearchFilters | None = None) -> Roundup:
        language = check_language(language)
        if not topic or not topic.strip():
            raise BadInput("topic is empty", field="topic")
        f = filters or SearchFilters()
        f = SearchFilters(date_from=date_from or f.date_from, date_to=date_to or f.date_to, categories=f.categories,
                          authors=f.authors, paper_ids=f.paper_ids)
        ctx.lib.store_filter(f)  # validates the dates (400 naming the field)
        _, matches = ctx.evidence.find_papers(topic, f, limit=ctx.settings.roundup_max_papers)
        stats = CheckStats()
        entries = []
        for m in matches:
            passages = ctx.evidence.paper_passages(m.paper_id)
            lines = self._paper_lines(ctx, m.meta, passages, language, stats)
            if lines:
                entries.append((m.meta, lines))
        groups = group_themes([meta for meta, _ in entries], ctx.lib.embedder.encode, language)
        by_id = {meta["paper_id"]: (meta, lines) for meta, lines in entries}
        themes = []
        for title, pids in groups:
            papers = []
            for pid in pids:
                meta, lines = by_id[pid]
                papers.append(RoundupPaper(
                    paper_id=pid, arxiv_id=meta.get("arxiv_id"), title=meta.get("title", ""), date=meta.get("date"),
                    links=cardlib.links([], meta)[0], sentences=lines,
                ))
            themes.append(Theme(title=title, papers=papers))
        return Roundup(topic=topic, date_from=f.date_from, date_to=f.date_to, language=language, themes=themes,
                       backend=ctx.backend, check=stats)

    def _paper_lines(self, ctx: Context, meta: dict[str, Any], passages: list[Passage], language: str,
                     stats: CheckStats) -> list[Sentence]:
        """1-3 cited lines on what a paper does and finds."""
        chosen, _ = cardlib.select_sections(
            [p for p in passages if p.is_summary or p.doc_kind != "pdf" or p.index < 12], meta, language)
        cands = (chosen.get("method") or [])[:2] + (chosen.get("result") or [])[:1]
        if not cands:
            return []
        if ctx.llm is not None:
            ps = unique([c.passage for c in cands])
            task = f"In 1-3 sentences, say what the paper \"{meta.get('title', '')}\" proposes and what it finds."
            written = ctx.check(ctx.write(task, ps, language, 3), ps, stats)
            if written:
                return written
        return ctx.check([c.sentence() for c in cands], [c.passage for c in cands], stats)

    def markdown(self, out: Roundup, ctx: Context, /) -> str:
        zh = out.language == "zh"
        src = Sources()
        window = " – ".join(x for x in (out.date_from, out.date_to) if x)
        lines = [f"# {'综述' if zh else 'Roundup'}: {out.topic}" + (f" ({window})" if window else ""), ""]
        titles = {}
        if not out.themes:
            lines.append("_该时间段内没有相关论文。_" if zh else "_No indexed paper on this topic in this window._")
        for theme in out.themes:
            lines += [f"## {theme.title}", ""]
            for p in theme.papers:
                titles[p.paper_id] = p.title
                head = f"**{p.title}**" + (f" ({p.date})" if p.date else "")
                ln = link_line(p.links or {})
                lines.append(f"- {head}" + (f" {ln}" if ln else ""))
                for s in p.sentences:
                    lines.append(f"  - {src.line(s)}")
            lines.append("")
        lines.append(check_line(out.check, out.backend, zh))
        return "\n".join(lines) + "\n" + src.render(titles, "来源" if zh else "Sources")
