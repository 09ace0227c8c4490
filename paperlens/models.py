"""Plain data types shared by ingest, index and api. No heavy imports here.

A *paper* is identified by ``paper_id`` (``arxiv:2409.17058`` when the arXiv id is known, else
``sha:<16 hex>`` of the file's bytes). A paper can have several *documents*, one per kind of source:
``metadata`` (an arXiv record: title + abstract), ``digest`` (an entry of a digest page, with its
Chinese summary) and ``pdf`` (the full text). Each document is replaced as a whole when it changes,
so a PDF ingested later adds the full text without losing the digest's Chinese summary.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

DocKind = Literal["metadata", "digest", "pdf"]
DOC_KINDS: tuple[str, ...] = ("metadata", "digest", "pdf")

# Namespace for every deterministic id paperlens makes (uuid5).
ID_NAMESPACE = uuid.UUID("6f1c3a52-8a4e-4f8e-9d7a-2b1f0c9e4d11")

_ARXIV_NEW = re.compile(r"(?<![\w.])(\d{4}\.\d{4,5})(?:v(\d+))?(?![\w])")
_ARXIV_OLD = re.compile(r"(?<![\w.])([a-z\-]+(?:\.[A-Z]{2})?/\d{7})(?:v(\d+))?(?![\w])")


def parse_arxiv_id(text: str) -> tuple[str, int | None] | None:
    """'2409.17058v2', 'arXiv:2409.17058', 'https://arxiv.org/abs/2409.17058' -> ('2409.17058', 2)."""
    text = text.strip()
    m = _ARXIV_NEW.search(text) or _ARXIV_OLD.search(text)
    if not m:
        return None
    return m.group(1), (int(m.group(2)) if m.group(2) else None)


def paper_id_for_arxiv(arxiv_id: str) -> str:
    return f"arxiv:{arxiv_id}"


def paper_id_for_bytes(data: bytes) -> str:
    return "sha:" + hashlib.sha256(data).hexdigest()[:16]


def chunk_uuid(paper_id: str, doc_kind: str, rev: str, index: int) -> str:
    """Deterministic point id: re-ingesting the same document writes the same ids."""
    return str(uuid.uuid5(ID_NAMESPACE, f"{paper_id}|{doc_kind}|{rev}|{index}"))


def date_int(date: str | None) -> int | None:
    """'2024-05-17' -> 20240517 (numeric so Qdrant can range-filter it)."""
    if not date:
        return None
    digits = re.sub(r"\D", "", date)[:8]
    return int(digits) if len(digits) == 8 else None


def author_keys(authors: list[str]) -> list[str]:
    """Lower-cased full names and last names, so a filter on 'Kaiming He' or 'he' both match."""
    keys: set[str] = set()
    for a in authors:
        name = " ".join(a.lower().split())
        if not name:
            continue
        keys.add(name)
        keys.add(name.split(" ")[-1])
    return sorted(keys)


@dataclass
class PaperMeta:
    paper_id: str
    title: str = ""
    authors: list[str] = field(default_factory=list)
    arxiv_id: str | None = None
    arxiv_version: int | None = None
    date: str | None = None  # YYYY-MM-DD: first publication when known, else the source's date
    categories: list[str] = field(default_factory=list)
    abstract: str = ""
    links: dict[str, str] = field(default_factory=dict)  # arxiv, pdf, code, project, ...
    extra: dict[str, Any] = field(default_factory=dict)  # zh_summary, affiliations, keywords, ...

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Block:
    """A run of text in reading order: one paragraph/heading-delimited piece of one page."""

    text: str
    page: int  # 1-based; 0 for sources without pages
    section: str = ""


@dataclass
class Document:
    """What an ingester produces: metadata + text blocks, before chunking."""

    meta: PaperMeta
    kind: str  # one of DOC_KINDS
    blocks: list[Block]
    source: str  # path or URL it came from
    content_hash: str  # sha256 of the source bytes (or of the record) -> unchanged detection
    warnings: list[str] = field(default_factory=list)  # e.g. image-only pages, hidden text dropped
    lang: str = "en"  # dominant language of the text: 'en' or 'zh'

    @property
    def key(self) -> str:
        """Which document of the paper this is: one per kind, except digests, where each digest
        page that covers the paper is its own document (two pages must not replace each other)."""
        if self.kind != "digest":
            return self.kind
        page = self.source.split("#", 1)[0].replace("\\", "/").rsplit("/", 1)[-1]
        return f"digest:{page}"


@dataclass
class Chunk:
    chunk_id: str
    paper_id: str
    doc_kind: str
    rev: str
    index: int
    text: str
    section: str
    page_start: int
    page_end: int
    char_start: int  # offsets into the document's full text (blocks joined by "\n\n")
    char_end: int
    is_summary: bool = False  # title/abstract/digest summary: also gets the cross-lingual vector
    lang: str = "en"


@dataclass
class Hit:
    chunk_id: str
    paper_id: str
    arxiv_id: str | None
    title: str
    authors: list[str]
    date: str | None
    section: str
    page: int
    page_end: int
    text: str
    score: float
    doc_kind: str = "pdf"
    categories: list[str] = field(default_factory=list)
    links: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SearchFilters:
    date_from: str | None = None
    date_to: str | None = None
    categories: list[str] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)
    paper_ids: list[str] = field(default_factory=list)
    doc_kinds: list[str] = field(default_factory=list)
