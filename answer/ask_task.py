"""ask: an answer to a question from the passages search finds (a question about a named paper
reads that paper), every sentence cited, or a plain statement that the indexed papers do not
answer it; and its Markdown."""

from __future__ import annotations

from dataclasses import replace

from pydantic import Field
from pydantic.dataclasses import dataclass as record

from paperlens.errors import BadInput
from paperlens.models import SearchFilters
from paperlens.text import count_han

from .candidates import candidates, pick
from .checker import terms
from .citation import RECORD, CheckStats, ChunkRef, Passage, Sentence
from .markdown import Sources, check_line
from .task import Answer, Context, check_language

# Below these scores no retrieved sentence is taken as an answer. Calibrated on the corpus with
# questions the papers answer and questions they do not (the "ask" questions of
# bench/eval_questions.json and tests/test_answers.py, and Chinese ones): bench/calibrate_answers.py
# measures, per question, the best score a retrieved sentence reaches, and each threshold sits between
# the answerable and the unanswerable questions' best (the figures: docs/benchmarks.md, "Answer
# thresholds").
ASK_MIN_SIMILARITY = 0.38  # MiniLM cosine, English question and sentence
ASK_MIN_SHARE = 0.33  # share of the question's key words the sentence must contain (English)
ASK_MIN_SIMILARITY_XLING = 0.84  # e5 cosine, Chinese on either side
# e5's cosines run higher than MiniLM's (the same calibration shows both): an e5 score is lowered by
# this much so that the two rank together. Set by hand, not fitted.
XLING_OFFSET = 0.4
_QUESTION_WORDS = {"what", "which", "how", "why", "when", "who", "does", "do", "paper", "papers", "method", "propos"}


@record(config=RECORD)
class RetrievedPassage(ChunkRef):
    """A passage the answer was looked for in."""

    section: str = Field(description="Its section")


@record(config=RECORD, kw_only=True)
class Reply(Answer):
    """An answer to a question, or the statement that the papers do not answer it."""

    question: str = Field(description="The question asked")
    answered: bool = Field(False, description="Whether any cited sentence answers it")
    sentences: list[Sentence] = Field(default_factory=list, description="The answer's cited sentences")
    statement: str | None = Field(None, description="When not answered: a sentence saying so")
    passages: list[RetrievedPassage] = Field(default_factory=list, description="Where the answer was looked for")


class AskTask:
    name = "ask"
    response = Reply

    def run(self, ctx: Context, /, *, question: str, filters: SearchFilters | None = None,
            language: str | None = None) -> Reply:
        if not question or not question.strip():
            raise BadInput("question is empty", field="question")
        zh_q = count_han(question) > 0
        language = check_language(language or ("zh" if zh_q else "en"))
        named = ctx.evidence.named_papers(question)
        if named:  # "What learning rate does RCAN use?": search RCAN, not the corpus
            f = filters or SearchFilters()
            allowed = [pid for pid in named if not f.paper_ids or pid in f.paper_ids]
            filters = replace(f, paper_ids=allowed or f.paper_ids)
        # A question about named papers reads as many of their passages as it needs.
        passages = ctx.evidence.search(question, k=8, filters=filters, max_per_paper=0 if named else None)
        stats = CheckStats()
        sentences: list[Sentence] = []
        if passages:
            if ctx.llm is not None:
                task = (f"Answer the question: {question}\nUse only the passages. If they do not answer it, "
                        "write nothing but NO_ANSWER.")
                sentences = ctx.check(ctx.write(task, passages, language, 4), passages, stats)
            if not sentences:
                sentences = ctx.check(self._extract(ctx, question, passages, zh_q), passages, stats)
        answered = bool(sentences)
        return Reply(
            question=question, answered=answered, language=language, sentences=sentences,
            statement=None if answered else (
                "索引中的论文没有回答这个问题。" if language == "zh" else "The indexed papers do not answer this question."),
            passages=[RetrievedPassage(p.paper_id, p.chunk_id, p.page, p.section) for p in passages],
            backend=ctx.backend, check=stats,
        )

    def _extract(self, ctx: Context, question: str, passages: list[Passage], zh_q: bool) -> list[Sentence]:
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
            vecs = ctx.lib.embedder.encode([question, *[c.text for c in same]])
            for c, sim in zip(same, vecs[1:] @ vecs[0]):
                share = len(qterms & c.terms) / len(qterms) if qterms else 1.0
                if sim >= ASK_MIN_SIMILARITY and share >= ASK_MIN_SHARE:
                    score[id(c)] = float(sim) + 0.2 * share
        if cross and ctx.lib.xling:
            # Chinese on either side: e5, which is slow on a CPU (docs/benchmarks.md), so only for the
            # sentences sharing most words with the question or from the best-ranked passages.
            order = {p.chunk_id: i for i, p in enumerate(passages)}
            cross = sorted(cross, key=lambda c: (-len(qterms & c.terms), order.get(c.passage.chunk_id, 99), c.position))[:8]
            vecs = ctx.lib.xling.encode_passages([question, *[c.text for c in cross]])
            for c, sim in zip(cross, vecs[1:] @ vecs[0]):
                if sim >= ASK_MIN_SIMILARITY_XLING:
                    score[id(c)] = float(sim) - XLING_OFFSET
        got = pick(cands, lambda c: score.get(id(c), 0.0), 3)
        return [c.sentence("answer") for c in got]

    def markdown(self, out: Reply, ctx: Context, /) -> str:
        zh = out.language == "zh"
        src = Sources()
        lines = [f"# {out.question}", ""]
        if out.sentences:
            lines += [src.line(s) for s in out.sentences]
        else:
            lines.append(out.statement)
        lines += ["", check_line(out.check, out.backend, zh)]
        metas = ctx.lib.catalog.papers_meta(sorted({c.paper_id for c in src.items}))
        return "\n".join(lines) + "\n" + src.render({k: v.get("title", k) for k, v in metas.items()}, "来源" if zh else "Sources")
