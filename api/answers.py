"""Grounded answers over HTTP: /api/summarize, /api/compare, /api/roundup, /api/ask.

Each runs on a generation thread under `generation_timeout_s` (504 past it). The answer service
(and, for the LLM backends, the model) is created on first use, so a server that only searches
never loads an LLM."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Annotated, Literal, TypeVar

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from paperlens.answer.ask_task import Reply
from paperlens.answer.compare_task import Comparison
from paperlens.answer.roundup_task import Roundup
from paperlens.answer.service import Answerer
from paperlens.answer.summarize_task import Card
from paperlens.models import SearchFilters

from .schemas import NOT_BLANK, Filters, not_blank
from .security import run_with_deadline

router = APIRouter(tags=["answers"])
T = TypeVar("T")
_lock = threading.Lock()


def get_answerer(request: Request) -> Answerer:
    state = request.app.state
    with _lock:
        if getattr(state, "answerer", None) is None:
            from paperlens.answer.llm import open_llm

            settings = state.settings
            state.answerer = Answerer(state.library, settings, open_llm(settings))
        return state.answerer


Ans = Annotated[Answerer, Depends(get_answerer)]


# --- bodies ------------------------------------------------------------------------------------
class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


_TEXT = {"pattern": NOT_BLANK}  # documents the blank check (the schema and the server agree)
_DATE = {"format": "date"}


Aspect = Annotated[str, Field(min_length=1, max_length=80, json_schema_extra=_TEXT)]


class SummarizeRequest(_Body):
    paper_id: str = Field(..., min_length=1, max_length=200, examples=["arxiv:2409.17058"])
    language: Literal["en", "zh"] = "en"


class CompareRequest(_Body):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"anyOf": [
        {"required": ["query"], "properties": {"query": {"type": "string"}}},
        {"required": ["paper_ids"], "properties": {"paper_ids": {"type": "array", "minItems": 1}}},
    ]})
    query: str | None = Field(None, max_length=500, description="A topic; every indexed paper on it becomes a row",
                              examples=["diffusion super-resolution"], json_schema_extra=_TEXT)
    paper_ids: list[Annotated[str, Field(max_length=200)]] = Field(default_factory=list, max_length=100, description="Or exactly these papers")
    aspects: list[Aspect] | None = Field(None, min_length=1, max_length=16, description="Columns; default: task, key "
                                         "idea, base model / prior, sampling steps / NFE, training data, benchmarks, metrics, code")
    filters: Filters = Field(default_factory=Filters)
    language: Literal["en", "zh"] = "en"

    @field_validator("query")
    @classmethod
    def _query(cls, v: str | None) -> str | None:
        return v if v is None else not_blank(v, "query")

    @model_validator(mode="after")
    def _what(self) -> CompareRequest:
        if not self.query and not self.paper_ids:
            raise ValueError("give a query or paper_ids")
        return self

    @field_validator("aspects")
    @classmethod
    def _aspects(cls, v: list[str] | None) -> list[str] | None:
        return v if v is None else [not_blank(a, "an aspect") for a in v]


class RoundupRequest(_Body):
    topic: str = Field(..., min_length=1, max_length=500, examples=["video generation"], json_schema_extra=_TEXT)
    date_from: str | None = Field(None, description="Inclusive, YYYY-MM-DD", json_schema_extra=_DATE)
    date_to: str | None = Field(None, description="Inclusive, YYYY-MM-DD", json_schema_extra=_DATE)
    language: Literal["en", "zh"] = "en"
    filters: Filters = Field(default_factory=Filters)

    @field_validator("topic")
    @classmethod
    def _topic(cls, v: str) -> str:
        return not_blank(v, "topic")

    @field_validator("date_from", "date_to")
    @classmethod
    def _dates(cls, v: str | None) -> str | None:
        return Filters._date(v)


class AskRequest(_Body):
    question: str = Field(..., min_length=1, max_length=2000, json_schema_extra=_TEXT)
    filters: Filters = Field(default_factory=Filters)
    language: Literal["en", "zh"] | None = Field(None, description="Answer language; default: the question's")

    @field_validator("question")
    @classmethod
    def _question(cls, v: str) -> str:
        return not_blank(v, "question")


def _filters(f: Filters) -> SearchFilters:
    return SearchFilters(**f.model_dump())


def _run(request: Request, what: str, fn: Callable[[], T]) -> T:
    return run_with_deadline(fn, request.app.state.settings.generation_timeout_s, what)


# --- routes: each returns its task's response type as it is (the schema is the type's) ------------
@router.post("/api/summarize")
def summarize(body: SummarizeRequest, ans: Ans, request: Request) -> Card:
    """A paper card (background, prior methods, method, results, limitations), every sentence cited."""
    return _run(request, "the summary", lambda: ans.answer("summarize", paper_id=body.paper_id, language=body.language))


@router.post("/api/compare")
def compare(body: CompareRequest, ans: Ans, request: Request) -> Comparison:
    """A table of every indexed paper on a topic (or the given papers), each cell cited or 'not reported'."""
    return _run(request, "the comparison", lambda: ans.answer(
        "compare", query=body.query, paper_ids=body.paper_ids or None, aspects=body.aspects,
        filters=_filters(body.filters), language=body.language))


@router.post("/api/roundup")
def roundup(body: RoundupRequest, ans: Ans, request: Request) -> Roundup:
    """A digest of the papers on a topic in a date window, grouped by theme, each line cited."""
    return _run(request, "the roundup", lambda: ans.answer(
        "roundup", topic=body.topic, date_from=body.date_from, date_to=body.date_to, language=body.language,
        filters=_filters(body.filters)))


@router.post("/api/ask")
def ask(body: AskRequest, ans: Ans, request: Request) -> Reply:
    """A cited answer, or a plain statement that the indexed papers do not answer the question."""
    return _run(request, "the answer", lambda: ans.answer(
        "ask", question=body.question, filters=_filters(body.filters), language=body.language))
