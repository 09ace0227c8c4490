"""The answer service: one object per process that the API and the CLI call. It gathers passages
through the Library, lets the configured backend write cited sentences (extractive: verbatim
sentences; llamacpp / openai: an LLM writing from numbered passages), and passes every sentence
through the checker before anything is returned.

``Answerer`` is the facade: ``answer(name, **request)`` runs a registered task and returns its
typed response (what the API routes return); ``summarize`` / ``compare`` / ``roundup`` / ``ask``
return the same answer as a JSON-able dict. The tasks themselves are in ``*_task.py`` (the
contract: task.py); adding one is its module, a line in ``TASKS`` and its route.
"""

from __future__ import annotations

import time
from typing import Any

from paperlens.errors import BadInput
from paperlens.index.library import Library
from paperlens.models import SearchFilters
from paperlens.settings import Settings

from .ask_task import AskTask
from .compare_task import CompareTask
from .roundup_task import RoundupTask
from .summarize_task import SummarizeTask
from .task import LANGUAGES, Answer, AnswerTask, Context

__all__ = ["LANGUAGES", "TASKS", "Answerer"]

TASKS: dict[str, AnswerTask] = {t.name: t for t in (SummarizeTask(), CompareTask(), RoundupTask(), AskTask())}


class Answerer:
    def __init__(self, library: Library, settings: Settings, llm: Any = None) -> None:
        self.ctx = Context(library, settings, llm)  # llm: paperlens.answer.llm.LLM or None (extractive)
        self.lib, self.settings, self.llm = library, settings, llm
        self.evidence, self.checker = self.ctx.evidence, self.ctx.checker

    @property
    def backend(self) -> str:
        return self.ctx.backend

    def answer(self, task: str, **request: Any) -> Answer:
        """The registered task `task` run on `request` (its fields as keywords), with its Markdown."""
        t = TASKS.get(task)
        if t is None:
            raise BadInput(f"unknown answer task {task!r}; one of {', '.join(TASKS)}", field="task")
        t0 = time.perf_counter()
        out = t.run(self.ctx, **request)
        out.markdown = t.markdown(out, self.ctx)
        out.elapsed_s = round(time.perf_counter() - t0, 3)
        return out

    def summarize(self, paper_id: str, language: str = "en") -> dict[str, Any]:
        """A paper card (background, prior methods, method, results, limitations), every sentence cited."""
        return self.answer("summarize", paper_id=paper_id, language=language).to_dict()

    def compare(self, query: str | None = None, paper_ids: list[str] | None = None, aspects: list[str] | None = None,
                filters: SearchFilters | None = None, language: str = "en") -> dict[str, Any]:
        """A table of every indexed paper on `query` (or of `paper_ids`), one cited cell per aspect."""
        return self.answer("compare", query=query, paper_ids=paper_ids, aspects=aspects, filters=filters,
                           language=language).to_dict()

    def roundup(self, topic: str, date_from: str | None = None, date_to: str | None = None,
                language: str = "en", filters: SearchFilters | None = None) -> dict[str, Any]:
        """The papers on `topic` in a date window, grouped by theme, each line cited."""
        return self.answer("roundup", topic=topic, date_from=date_from, date_to=date_to, language=language,
                           filters=filters).to_dict()

    def ask(self, question: str, filters: SearchFilters | None = None, language: str | None = None) -> dict[str, Any]:
        """A cited answer, or a plain statement that the indexed papers do not answer the question."""
        return self.answer("ask", question=question, filters=filters, language=language).to_dict()
