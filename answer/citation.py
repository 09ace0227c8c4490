"""The data of a grounded answer: passages (retrieved chunks), citations and cited sentences."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


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


@dataclass
class Citation:
    paper_id: str
    chunk_id: str
    page: int
    quote: str  # occurs verbatim in the chunk's text

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Sentence:
    text: str
    citations: list[Citation] = field(default_factory=list)
    role: str = ""  # background / problem / method / result / limitation / ... (informational)

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "citations": [c.to_dict() for c in self.citations], "role": self.role}


def cite(passage: Passage, quote: str) -> Citation:
    return Citation(paper_id=passage.paper_id, chunk_id=passage.chunk_id, page=passage.page, quote=quote)


@dataclass
class CheckStats:
    """What the checker did to an answer: reported with every response."""

    checked: int = 0
    dropped: int = 0
    reasons: list[str] = field(default_factory=list)  # one line per dropped sentence

    def add(self, other: CheckStats) -> None:
        self.checked += other.checked
        self.dropped += other.dropped
        self.reasons.extend(other.reasons)

    def to_dict(self) -> dict[str, Any]:
        return {"checked": self.checked, "dropped": self.dropped, "reasons": self.reasons[:50]}


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
