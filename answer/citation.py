"""The data of a grounded answer: passages (retrieved chunks), citations and cited sentences.

Citation, Sentence and CheckStats are what the API returns, as they are: pydantic dataclasses
whose field descriptions are the OpenAPI schema's, so there is one definition of each shape
(``Record`` gives them ``to_dict``, the same JSON the API sends). They keep the dataclass
constructor (positional or keyword), which the engine's code uses. ``Passage`` stays a plain
dataclass: the API never returns one, so validating it would buy nothing, and one is made for
every chunk of every paper an answer reads, where a validating constructor is several times as slow
(bench/answer_types.py measures it: docs/benchmarks.md, "Answer types").
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from pydantic import ConfigDict, Field, TypeAdapter, field_serializer
from pydantic.dataclasses import dataclass as record

# Every field of a response is always sent, defaults included: the response schema says so.
RECORD = ConfigDict(json_schema_serialization_defaults_required=True)
MAX_REASONS = 50  # a response lists at most this many checker reasons (the counts stay exact)


class Record:
    """Base of the answer records: their JSON is their fields, serialized by pydantic."""

    def to_dict(self) -> dict[str, Any]:
        return _adapter(type(self)).dump_python(self, mode="json")


@cache
def _adapter(cls: type) -> TypeAdapter[Any]:
    return TypeAdapter(cls)


@dataclass
class Passage:
    """A chunk as evidence. ``text`` is exactly the chunk text the store holds (and
    ``GET /api/chunks/{chunk_id}`` returns), so a quote found in it is verifiable by anyone."""

    chunk_id: str
    paper_id: str
    text: str
    page: int = 0
    page_end: int = 0
    section: str = ""
    doc_kind: str = "pdf"
    lang: str = "en"
    index: int = 0
    is_summary: bool = False  # title / abstract / digest summary

    @classmethod
    def from_payload(cls, p: dict[str, Any]) -> Passage:
        return cls(
            chunk_id=p["chunk_id"], paper_id=p["paper_id"], text=p["text"],
            page=int(p.get("page_start") or p.get("page") or 0), page_end=int(p.get("page_end") or 0),
            section=p.get("section", ""), doc_kind=p.get("doc_kind", "pdf"), lang=p.get("lang", "en"),
            index=int(p.get("index", 0)), is_summary=bool(p.get("is_summary")),
        )


@record(config=RECORD)
class ChunkRef(Record):
    """A place in the library: one chunk of one paper."""

    paper_id: str = Field(description="The paper")
    chunk_id: str = Field(description="The chunk (GET /api/chunks/{chunk_id})")
    page: int = Field(description="Page of the chunk's start; 0 for metadata (title, abstract, digest)")


@record(config=RECORD)
class Citation(ChunkRef):
    """Where a claim stands: a verbatim span of one chunk."""

    quote: str = Field(description="Occurs verbatim in the chunk's text (GET /api/chunks/{chunk_id})")


@record(config=RECORD)
class PaperRef(Record):
    """The paper a part of an answer (a table row, a roundup entry) is about."""

    paper_id: str = Field(description="The paper")
    arxiv_id: str | None = Field(description="Its arXiv id, when it has one")
    title: str = Field(description="Its title")
    date: str | None = Field(description="Its date (YYYY-MM-DD), when known")


@record(config=RECORD)
class Sentence(Record):
    """One sentence of an answer with the passages that state it."""

    text: str = Field(description="The sentence as shown")
    citations: list[Citation] = Field(default_factory=list, description="Every passage the sentence stands on")
    role: str = Field("", description="What the sentence is: background, problem, method, result, "
                                      "limitation, answer, affiliation, ... (informational)")


def cite(passage: Passage, quote: str) -> Citation:
    return Citation(paper_id=passage.paper_id, chunk_id=passage.chunk_id, page=passage.page, quote=quote)


@record(config=RECORD)
class CheckStats(Record):
    """What the checker did to an answer: reported with every response."""

    checked: int = Field(0, description="Sentences (or table cells) the checker verified")
    dropped: int = Field(0, description="How many of them it removed as unsupported")
    reasons: list[str] = Field(default_factory=list, description=f"Why, one line per dropped item (at most {MAX_REASONS})")

    def add(self, other: CheckStats) -> None:
        self.checked += other.checked
        self.dropped += other.dropped
        self.reasons.extend(other.reasons)

    @field_serializer("reasons")
    def _first_reasons(self, reasons: list[str]) -> list[str]:
        return reasons[:MAX_REASONS]


def iter_citations(obj: Any):
    """Every citation dict anywhere in a JSON response (cards, tables, roundups, answers): what a
    client verifies against GET /api/chunks/{chunk_id}."""
    if isinstance(obj, dict):
        if {"chunk_id", "quote", "page", "paper_id"} <= obj.keys():
            yield obj
        for v in obj.values():
            yield from iter_citations(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from iter_citations(v)
