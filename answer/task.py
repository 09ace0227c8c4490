"""The answer-task contract: what every kind of answer is given, what it returns, and the shared
machinery it calls.

    AnswerTask        one kind of answer: name, response type, run(), markdown()
    ├── summarize_task.py   SummarizeTask -> Card         a paper card
    ├── compare_task.py     CompareTask   -> Comparison   a comparison table
    ├── roundup_task.py     RoundupTask   -> Roundup      a digest of a topic over a date window
    └── ask_task.py         AskTask       -> Reply        an answer to a question
    Context           what every task reads and calls: library, settings, model, evidence, checker
    Answer            the fields every response has: backend, check, markdown, language, elapsed_s

A task module holds its response type, its ``run`` (gather passages, write, check) and its
Markdown renderer. ``service.TASKS`` registers it by name and ``service.Answerer`` runs it (and
sets ``markdown`` and ``elapsed_s``); the API adds its route (api/answers.py), whose response
model is the task's response type. tests/test_answer_tasks.py runs one contract suite over every
registered task. Responses are pydantic dataclasses (citation.RECORD), so the OpenAPI schema is
their fields and descriptions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

from pydantic import Field
from pydantic.dataclasses import dataclass as record

from paperlens.errors import BadInput

from .checker import Checker
from .citation import RECORD, CheckStats, Passage, Record, Sentence
from .evidence import Evidence

if TYPE_CHECKING:
    from paperlens.index.library import Library
    from paperlens.settings import Settings

    from .llm import LLM

LANGUAGES = ("en", "zh")


@record(config=RECORD, kw_only=True)
class Answer(Record):
    """The fields of every answer."""

    backend: str = Field("", description="What wrote the sentences: 'extractive' or the LLM's name")
    check: CheckStats = Field(default_factory=CheckStats, description="What the checker verified and removed")
    markdown: str = Field("", description="The answer as Markdown, citations numbered, with a sources list")
    language: Literal["en", "zh"] = Field("en", description="The answer's language")
    elapsed_s: float = Field(0.0, description="Seconds the answer took to write")


class AnswerTask(Protocol):
    """One kind of answer. ``run`` takes the request's fields as keyword arguments (each task names
    its own) and returns a ``response`` with everything but ``markdown`` and ``elapsed_s``, which the
    Answerer sets from ``markdown`` and its clock."""

    name: ClassVar[str]  # the registry key, the Answerer's method and the route: /api/<name>
    response: ClassVar[type[Answer]]

    def run(self, ctx: Context, /, **request: Any) -> Answer: ...

    def markdown(self, answer: Any, ctx: Context, /) -> str: ...


class Context:
    """What every task reads and calls, made once per Answerer: the library, the settings, the model
    (None: the extractive backend), the evidence finder and the checker."""

    def __init__(self, library: Library, settings: Settings, llm: LLM | None = None) -> None:
        self.lib = library
        self.settings = settings
        self.llm = llm
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

    def write(self, task: str, passages: list[Passage], language: str, n: int) -> list[Sentence]:
        """The model's cited sentences for `task` from `passages` (a draft: check them)."""
        from .writer import write_cited

        xl = self.lib.xling
        return write_cited(
            self.llm, task, passages, language=language, max_sentences=n, max_tokens=self.settings.llm_max_tokens,
            timeout_s=self.settings.generation_timeout_s,
            # A Chinese sentence has no words in common with its English passage: pick its quote by meaning.
            encode=xl.encode_passages if (xl and language == "zh") else self.lib.embedder.encode,
        )

    def check(self, sentences: list[Sentence], passages: list[Passage], stats: CheckStats) -> list[Sentence]:
        """The sentences the checker keeps; what it did is added to `stats`."""
        kept, st = self.checker.check(sentences, {p.chunk_id: p for p in passages})
        stats.add(st)
        return kept

    def similarity(self, text: str, others: list[str]) -> list[float]:
        """Cosine of `text` with each of `others` (MiniLM)."""
        vecs = self.lib.embedder.encode([text, *others])
        return [float(x) for x in vecs[1:] @ vecs[0]]


def check_language(value: str | None) -> str:
    """'en' or 'zh' (default 'en'); anything else is a BadInput naming the field."""
    lang = (value or "en").lower()
    if lang not in LANGUAGES:
        raise BadInput(f"language {value!r} is not supported; use 'en' or 'zh'", field="language")
    return lang


def unique(passages: list[Passage]) -> list[Passage]:
    """The passages without repeats of a chunk, in first-seen order."""
    seen: dict[str, Passage] = {}
    for p in passages:
        seen.setdefault(p.chunk_id, p)
    return list(seen.values())
