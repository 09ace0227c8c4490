"""Request and response bodies of the HTTP API (they make /openapi.json)."""

from __future__ import annotations

import re
from typing import Any, Literal

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

# "Holds a character that is not white space", spelled so that Python and JavaScript (the schema's
# regex dialect) read the same set: their \s differ by \x1c-\x1f, \x85 and \ufeff.
NOT_BLANK = r"[^\s\x1c-\x1f\x85\ufeff]"


# Every list and string a client sends has a maximum (a shared server trusts no size it is sent);
# the README lists them.
MAX_LIST = 100
MAX_UPLOAD_FILES = 100
MAX_PATH_CHARS = 4096  # PATH_MAX on Linux
Short = Annotated[str, Field(max_length=200)]
CLOSED = ConfigDict(extra="forbid")


def _json_integer(v):
    """An integer as JSON Schema has it: a number with no fraction (10 or 10.0), never "10" or
    true (pydantic's lax mode takes both; its strict mode refuses 10.0, which the schema allows)."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise ValueError("Input should be a JSON integer (a number, not a string or a boolean)")
    return v


Integer = Annotated[int, BeforeValidator(_json_integer)]


def not_blank(v: str, what: str) -> str:
    if not re.search(NOT_BLANK, v):
        raise ValueError(f"{what} is blank")
    return v


class Filters(BaseModel):
    model_config = CLOSED
    # format "date" tells clients (and the schema fuzzer) what the validator below accepts
    date_from: str | None = Field(
        None, max_length=10, description="Inclusive, YYYY-MM-DD", examples=["2024-01-01"],
        json_schema_extra={"format": "date"},
    )
    date_to: str | None = Field(None, max_length=10, description="Inclusive, YYYY-MM-DD", json_schema_extra={"format": "date"})
    categories: list[Short] = Field(default_factory=list, max_length=MAX_LIST, description="arXiv categories; any matches",
                                    examples=[["cs.CV"]])
    authors: list[Short] = Field(default_factory=list, max_length=MAX_LIST, description="Full or last names; any matches")
    paper_ids: list[Short] = Field(default_factory=list, max_length=500, description="Restrict to these paper ids")

    @field_validator("date_from", "date_to")
    @classmethod
    def _date(cls, v: str | None) -> str | None:
        import datetime as dt

        if v is None:
            return v
        try:
            dt.date.fromisoformat(v)
        except ValueError:
            raise ValueError(f"{v!r} is not a date in YYYY-MM-DD form") from None
        return v


class SearchRequest(BaseModel):
    model_config = CLOSED
    query: str = Field(
        ..., min_length=1, max_length=2000, description="English or Chinese",
        json_schema_extra={"pattern": NOT_BLANK},  # documents the check below, which keeps its own message
    )
    k: Integer = Field(10, ge=1, le=100)
    filters: Filters = Field(default_factory=Filters)
    mode: Literal["hybrid", "dense", "bm25", "xling"] = "hybrid"

    @field_validator("query")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        return not_blank(v, "query")


class HitOut(BaseModel):
    paper_id: str
    arxiv_id: str | None
    title: str
    authors: list[str]
    date: str | None
    section: str
    page: int
    page_end: int
    chunk_id: str
    text: str
    score: float
    doc_kind: str
    categories: list[str]
    links: dict[str, str]


class SearchResponse(BaseModel):
    hits: list[HitOut]


class ChunkOut(BaseModel):
    chunk_id: str
    paper_id: str
    page: int
    page_end: int
    section: str
    text: str
    doc_kind: str
    char_start: int
    char_end: int


class PaperOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    paper_id: str
    arxiv_id: str | None = None
    title: str
    authors: list[str] = []
    date: str | None = None
    categories: list[str] = []
    abstract: str = ""
    links: dict[str, str] = {}
    documents: list[str] = []
    n_chunks: int = 0


class PapersResponse(BaseModel):
    papers: list[PaperOut]
    total: int


class IngestRequest(BaseModel):
    # the schema says what the route checks: something to ingest
    model_config = ConfigDict(extra="forbid", json_schema_extra={"anyOf": [
        {"required": ["paths"], "properties": {"paths": {"type": "array", "minItems": 1}}},
        {"required": ["arxiv_ids"], "properties": {"arxiv_ids": {"type": "array", "minItems": 1}}},
        {"required": ["arxiv_query"], "properties": {"arxiv_query": {"type": "string", "minLength": 1}}},
    ]})
    paths: list[Annotated[str, Field(min_length=1, max_length=MAX_PATH_CHARS)]] = Field(
        default_factory=list, max_length=MAX_LIST,
        description="Files or folders on the server, inside PAPERLENS_INGEST_ROOTS (relative paths are taken "
        "inside each root); off unless the operator sets that (403)",
    )
    arxiv_ids: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(default_factory=list, max_length=200)
    arxiv_query: str | None = Field(None, max_length=500)
    max: Integer = Field(20, ge=1, le=500, description="Most results for arxiv_query")


class JobCreated(BaseModel):
    job_id: str
    status: str


class JobOut(BaseModel):
    job_id: str
    status: Literal["queued", "running", "done", "failed"]
    progress: dict[str, Any]
    report: dict[str, Any] | None = None
    error: str | None = None
    created_at: float
    finished_at: float | None = None


class Problem(BaseModel):
    """Every error (RFC 9457 application/problem+json); routes may add fields naming the input."""

    model_config = ConfigDict(extra="allow")
    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[dict[str, str]] | None = Field(None, description="422: one {field, message} per invalid field")
