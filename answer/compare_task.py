"""compare: a comparison table of every indexed paper on a topic (or the given papers), one row per
paper and one cell per aspect, each cell cited or "not reported" (rows and cells: table.py), with a
short synthesis of how the methods differ, and its Markdown."""

from __future__ import annotations

from typing import Any

from pydantic import Field
from pydantic.dataclasses import dataclass as record

from paperlens.errors import BadInput, NotFound
from paperlens.models import SearchFilters

from . import table as tablelib
from .citation import RECORD, CheckStats, Sentence
from .markdown import Sources, check_line, escape_cell
from .task import Answer, Context, check_language, unique

MAX_ASPECTS = 16


@record(config=RECORD, kw_only=True)
class Comparison(Answer):
    """A comparison table with its synthesis."""

    query: str | None = Field(None, description="The topic asked for (None when the papers were given)")
    aspects: list[str] = Field(default_factory=list, description="The columns, in order")
    rows: list[tablelib.Row] = Field(default_factory=list, description="One row per paper, most on-topic first")
    synthesis: list[Sentence] = Field(default_factory=list, description="How the papers' methods differ, cited")
    topic_terms: list[str] = Field(default_factory=list, description="The topic's terms a paper had to name")


class CompareTask:
    name = "compare"
    response = Comparison

    def run(self, ctx: Context, /, *, query: str | None = None, paper_ids: list[str] | None = None,
            aspects: list[str] | None = None, filters: SearchFilters | None = None, language: str = "en") -> Comparison:
        language = check_language(language)
        aspects = [a.strip() for a in (aspects or tablelib.DEFAULT_ASPECTS) if a and a.strip()]
        if not aspects or len(aspects) > MAX_ASPECTS:
            raise BadInput(f"aspects must name 1 to {MAX_ASPECTS} columns", field="aspects")
        limit = ctx.settings.compare_max_papers
        if paper_ids:
            metas = ctx.lib.catalog.papers_meta(list(dict.fromkeys(paper_ids)))
            missing = [pid for pid in paper_ids if pid not in metas]
            if missing:
                raise NotFound(f"no paper {missing[0]!r}", paper_id=missing[0])
            found = [(metas[pid], "requested") for pid in dict.fromkeys(paper_ids)][:limit]
            topic_groups: list[list[str]] = []
        elif query and query.strip():
            topic, matches = ctx.evidence.find_papers(query, filters, limit=limit)
            found = [(m.meta, m.why) for m in matches]
            topic_groups = topic.groups
        else:
            raise BadInput("give a query or paper_ids", field="query")
        stats = CheckStats()
        rows = []
        for meta, why in found:
            passages = ctx.evidence.paper_passages(meta["paper_id"])
            row = tablelib.build_row(meta, passages, aspects, ctx.similarity, language)
            row.matched_by = why
            by_id = {p.chunk_id: p for p in passages}
            for name, cell in row.cells.items():
                if not cell.citations:
                    continue
                stats.checked += 1
                cell.citations, reason = ctx.checker.check_fact(cell.value, cell.citations, by_id)
                if reason:
                    stats.dropped += 1
                    stats.reasons.append(f"{row.title[:60]} / {name}: {reason}")
                    row.cells[name] = tablelib.Cell()
            rows.append(row)
        synthesis = self._synthesis(ctx, rows, language, stats)
        return Comparison(query=query, aspects=aspects, topic_terms=[g[0] for g in topic_groups], rows=rows,
                          synthesis=synthesis, backend=ctx.backend, check=stats, language=language)

    def _synthesis(self, ctx: Context, rows: list[tablelib.Row], language: str, stats: CheckStats) -> list[Sentence]:
        ideas = [r.key_idea for r in rows if r.key_idea is not None][:8]
        if not ideas:
            return []
        passages = unique([c.passage for c in ideas])
        if ctx.llm is not None:
            task = ("In 3-5 sentences, contrast how these papers' methods differ (key idea, base model, "
                    "sampling steps, results). Cite every sentence.")
            written = ctx.check(ctx.write(task, passages, language, 5), passages, stats)
            if written:
                return written
        return ctx.check([c.sentence("method") for c in ideas], passages, stats)

    def markdown(self, out: Comparison, ctx: Context, /) -> str:
        zh = out.language == "zh"
        src = Sources()
        rows = out.rows
        lines = [f"# {'比较' if zh else 'Comparison'}: {out.query or ', '.join(r.title for r in rows)}", ""]
        if not rows:
            lines.append("_没有找到相关论文。_" if zh else "_No indexed paper matches this topic._")
        else:
            lines.append("| Paper | " + " | ".join(escape_cell(a) for a in out.aspects) + " |")
            lines.append("|---" * (len(out.aspects) + 1) + "|")
            for r in rows:
                cells = []
                for a in out.aspects:
                    c = r.cells[a]
                    if not c.citations and c.value == tablelib.NOT_REPORTED:
                        cells.append("not reported")
                        continue
                    value = c.value if len(c.value) <= 160 else c.value[:157] + "..."
                    cells.append(escape_cell(value) + " " + src.marks(Sentence(c.value, c.citations)))
                label = r.title + (f" ({r.arxiv_id})" if r.arxiv_id else "")
                lines.append(f"| {escape_cell(label)} | " + " | ".join(cells) + " |")
        if out.synthesis:
            lines += ["", "## " + ("方法差异" if zh else "How they differ"), ""]
            lines += [f"- {src.line(s)}" for s in out.synthesis]
        lines += ["", check_line(out.check, out.backend, zh)]
        titles: dict[str, Any] = {r.paper_id: r.title for r in rows}
        return "\n".join(lines) + "\n" + src.render(titles, "来源" if zh else "Sources")
