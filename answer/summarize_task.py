"""summarize: the paper card, a structured summary of one paper like the users' digest entries,
with every sentence cited (which sentences: card.py), and its Markdown."""

from __future__ import annotations

from pydantic import Field
from pydantic.dataclasses import dataclass as record

from . import card as cardlib
from .citation import RECORD, CheckStats, Citation, Record, Sentence
from .markdown import Sources, check_line, link_line
from .task import Answer, Context, check_language, unique


@record(config=RECORD)
class CardSection(Record):
    """One section of a card (background, problem, method, result, limitation)."""

    key: str = Field(description="background, problem, method, result or limitation")
    name: str = Field(description="The section's heading in the card's language")
    sentences: list[Sentence] = Field(default_factory=list, description="Its cited sentences (none: not stated)")


@record(config=RECORD, kw_only=True)
class Card(Answer):
    """A paper card: who, what, how, how well, and what not, every sentence cited."""

    paper_id: str = Field(description="The paper")
    arxiv_id: str | None = Field(None, description="Its arXiv id, when it has one")
    title: str = Field("", description="Its title")
    authors: list[str] = Field(default_factory=list, description="Its authors")
    date: str | None = Field(None, description="Its date (YYYY-MM-DD), when known")
    affiliations: list[Sentence] = Field(default_factory=list, description="Institution lines of its first page, quoted")
    keywords: list[str] = Field(default_factory=list, description="Terms the paper is about")
    links: dict[str, str] = Field(default_factory=dict, description="arxiv, pdf, code, project: URLs")
    sections: list[CardSection] = Field(default_factory=list, description="The card's five sections, in order")
    sentences: list[Sentence] = Field(default_factory=list, description="Every section's sentences in one list")
    notes: list[str] = Field(default_factory=list, description="What the reader should know about how the card was made")
    link_citations: dict[str, Citation] = Field(default_factory=dict, description="Link name -> the passage it was read "
                                                "from (links from the metadata have none)")


class SummarizeTask:
    name = "summarize"
    response = Card

    def run(self, ctx: Context, /, *, paper_id: str, language: str = "en") -> Card:
        language = check_language(language)
        meta = ctx.lib.paper(paper_id)  # NotFound for an unknown id
        passages = ctx.evidence.paper_passages(paper_id)
        chosen, notes = cardlib.select_sections(passages, meta, language)
        stats = CheckStats()
        zh = language == "zh"
        sections: list[CardSection] = []
        for key, en_name, zh_name, n, purpose in cardlib.SECTIONS:
            cands = chosen.get(key, [])
            if ctx.llm is not None and cands:
                evidence = unique([c.passage for c in cands])
                task = (f"Write the '{en_name}' part of a summary card of the paper \"{meta.get('title', '')}\": "
                        f"{purpose}. Use only the passages.")
                sentences = ctx.write(task, evidence, language, n)
                sentences = ctx.check(sentences, evidence, stats)
                if not sentences:
                    notes.append(f"{en_name}: the model's sentences failed the check; the paper's own sentences are shown.")
                    sentences = ctx.check([c.sentence(key) for c in cands], evidence, stats)
            else:
                sentences = ctx.check([c.sentence(key) for c in cands], [c.passage for c in cands], stats)
            for s in sentences:
                s.role = key
            sections.append(CardSection(key, zh_name if zh else en_name, sentences))
        affils = ctx.check(cardlib.affiliations(passages, meta.get("authors") or []), passages, stats)
        link_map, link_cites = cardlib.links(passages, meta)
        return Card(
            paper_id=paper_id, arxiv_id=meta.get("arxiv_id"), title=meta.get("title", ""),
            authors=meta.get("authors") or [], date=meta.get("date"), language=language,
            affiliations=affils, keywords=cardlib.keywords(passages, meta), links=link_map, link_citations=link_cites,
            sections=sections, sentences=[s for sec in sections for s in sec.sentences],
            backend=ctx.backend, check=stats, notes=notes,
        )

    def markdown(self, card: Card, ctx: Context, /) -> str:
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
        lines += ["", check_line(card.check, card.backend, zh)]
        for n in card.notes:
            lines.append(f"> {n}")
        return "\n".join(lines) + "\n" + src.render({card.paper_id: card.title}, "来源" if zh else "Sources")

