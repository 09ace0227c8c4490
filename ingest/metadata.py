"""Stream arXiv metadata records (JSONL, optionally gzipped) into ``metadata`` documents.

Two record shapes are understood, detected per record:

* the daily-crawl shape of ``shared/corpus/arxiv/*.jsonl.gz``: ``id, title, authors[list],
  categories[list], comment, summary, pdf, abs, crawl_date``;
* arXiv's own OAI snapshot (Kaggle ``arxiv-metadata-oai-snapshot.json``): ``id, submitter,
  authors "A, B and C", title, comments, journal-ref, doi, categories "a b", abstract,
  versions[{version, created}], update_date, authors_parsed[[last, first, suffix]]``.

Date choice: ``PaperMeta.date`` means first publication when known. The snapshot carries it
(``versions[0].created``, the v1 submission date); ``update_date`` is only a fallback there. The
crawl shape has no submission date, so its ``crawl_date`` (the day the paper was listed, within a
day or two of its announcement) is used; the id's YYMM alone would lose the day.

Bad lines never stop the stream: they come out as :class:`BadRecord` so the caller can report
them. The same id may appear several times (new versions); deduplication is the caller's job.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from paperlens.errors import BadInput, TooLarge, UnsupportedSource
from paperlens.models import Block, Document, PaperMeta, paper_id_for_arxiv, parse_arxiv_id
from paperlens.text import is_cjk_heavy, squash_spaces

from .files import Budget, Scope, bounded, open_bounded


@dataclass(frozen=True)
class BadRecord:
    line: int  # 1-based line number in the (decompressed) file
    reason: str
    arxiv_id: str | None = None


def read_metadata(path: Path, *, max_bytes: int | None = None, budget: Budget | None = None,
                  scope: Scope | None = None) -> Iterator[Document | BadRecord]:
    """Yield one Document (kind 'metadata') or BadRecord per non-blank line, streaming. At most
    `max_bytes` are read (of the inflated text, for a .gz); `budget` is checked as it reads."""
    path = Path(path)
    try:
        raw_fh = open_bounded(path, max_bytes, budget=budget, scope=scope)  # a regular file, never blocking
    except UnsupportedSource as exc:
        raise BadInput(f"arXiv metadata file not readable: {exc.detail}", path=str(path)) from None
    gzipped = raw_fh.peek(2)[:2] == b"\x1f\x8b"  # by content, not suffix: '.json' dumps are often gzipped
    line_no = 0
    with raw_fh, (bounded(gzip.GzipFile(fileobj=raw_fh), max_bytes, path.name, budget) if gzipped else raw_fh) as fh:
        try:
            for raw in fh:
                line_no += 1
                if raw.strip():
                    yield _parse_line(raw, line_no, path)
        except (EOFError, OSError, zlib.error) as exc:
            # A truncated download keeps everything read so far; the tail is reported, not raised.
            yield BadRecord(line_no + 1, f"{path.name}: file truncated or corrupt after line {line_no}: {exc}")
        except TooLarge as exc:  # an inflating .gz past the cap: what was read is kept
            yield BadRecord(line_no + 1, f"{exc.detail} (max_metadata_mb): the rest of the file was not read")


def _parse_line(raw: bytes, line_no: int, path: Path) -> Document | BadRecord:
    try:
        rec = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return BadRecord(line_no, f"not UTF-8 ({exc.reason} at byte {exc.start})")
    except json.JSONDecodeError as exc:
        return BadRecord(line_no, f"not JSON ({exc.msg} at column {exc.colno})")
    if not isinstance(rec, dict):
        return BadRecord(line_no, f"not a JSON object but {type(rec).__name__}")
    raw_id = rec.get("id")
    parsed = parse_arxiv_id(raw_id) if isinstance(raw_id, str) else None
    if parsed is None:
        return BadRecord(line_no, f"no valid arXiv id (id={raw_id!r})")
    arxiv_id, version = parsed
    snapshot = "versions" in rec or "authors_parsed" in rec or isinstance(rec.get("authors"), str)
    try:
        fields = _snapshot_fields(rec, arxiv_id) if snapshot else _crawl_fields(rec, arxiv_id)
    except (TypeError, ValueError, AttributeError, KeyError, IndexError) as exc:
        return BadRecord(line_no, f"malformed field ({type(exc).__name__}: {exc})", arxiv_id)
    if not fields["title"]:
        return BadRecord(line_no, "empty title", arxiv_id)
    if not fields["abstract"]:
        return BadRecord(line_no, "empty abstract", arxiv_id)
    fields["arxiv_version"] = fields["arxiv_version"] or version
    return _document(fields, arxiv_id, f"{path}#L{line_no}")


def _crawl_fields(rec: dict[str, Any], arxiv_id: str) -> dict[str, Any]:
    links = {"arxiv": rec.get("abs") or f"https://arxiv.org/abs/{arxiv_id}",
             "pdf": rec.get("pdf") or f"https://arxiv.org/pdf/{arxiv_id}"}
    version = None
    for url in (links["arxiv"], links["pdf"]):
        found = parse_arxiv_id(url)
        version = version or (found[1] if found else None)
    return {
        "title": _collapse(rec.get("title")),
        "authors": [_collapse(a) for a in rec.get("authors") or [] if _collapse(a)],
        "abstract": _collapse(rec.get("summary") or rec.get("abstract")),
        "categories": list(rec.get("categories") or []),
        "date": _iso_day(rec.get("crawl_date")),
        "arxiv_version": version,
        "links": links,
        "extra": {k: v for k, v in {"comment": _collapse(rec.get("comment"))}.items() if v},
    }


def _snapshot_fields(rec: dict[str, Any], arxiv_id: str) -> dict[str, Any]:
    versions = rec.get("versions") or []
    numbers = [int(v["version"].lstrip("v")) for v in versions if str(v.get("version", "")).lstrip("v").isdigit()]
    first = _rfc822_day(versions[0].get("created")) if versions else None
    if rec.get("authors_parsed"):
        authors = [" ".join(p for p in (parts[1], parts[0], *parts[2:]) if p.strip()) for parts in rec["authors_parsed"]]
    else:
        authors = _split_author_string(rec.get("authors") or "")
    links = {"arxiv": f"https://arxiv.org/abs/{arxiv_id}", "pdf": f"https://arxiv.org/pdf/{arxiv_id}"}
    if rec.get("doi"):
        links["doi"] = f"https://doi.org/{rec['doi'].split()[0]}"
    extra = {
        "comment": _collapse(rec.get("comments")),
        "journal_ref": _collapse(rec.get("journal-ref")),
        "doi": _collapse(rec.get("doi")),
        "submitter": _collapse(rec.get("submitter")),
    }
    return {
        "title": _collapse(rec.get("title")),
        "authors": [_collapse(a) for a in authors if _collapse(a)],
        "abstract": _collapse(rec.get("abstract")),
        "categories": (rec.get("categories") or "").split(),
        "date": first or _iso_day(rec.get("update_date")),
        "arxiv_version": max(numbers) if numbers else None,
        "links": links,
        "extra": {k: v for k, v in extra.items() if v},
    }


def _document(fields: dict[str, Any], arxiv_id: str, source: str) -> Document:
    meta = PaperMeta(paper_id=paper_id_for_arxiv(arxiv_id), arxiv_id=arxiv_id, **fields)
    canonical = json.dumps(meta.to_dict(), sort_keys=True, ensure_ascii=False)
    blocks = [Block(meta.title, 0, "Title"), Block(meta.abstract, 0, "Abstract")]
    return Document(
        meta=meta,
        kind="metadata",
        blocks=blocks,
        source=source,
        content_hash=hashlib.sha256(canonical.encode("utf-8")).hexdigest(),
        lang="zh" if is_cjk_heavy(meta.title + " " + meta.abstract) else "en",
    )


def _collapse(value: Any) -> str:
    """arXiv hard-wraps titles and abstracts at ~80 columns; the wraps carry no meaning."""
    return squash_spaces(value) if isinstance(value, str) else ""


def _split_author_string(authors: str) -> list[str]:
    """'A, B and C' -> ['A', 'B', 'C'] (used only when authors_parsed is missing)."""
    flat = _collapse(authors).replace(", and ", ", ").replace(" and ", ", ")
    return [a.strip() for a in flat.split(",") if a.strip()]


def _iso_day(value: Any) -> str | None:
    if isinstance(value, str) and len(value) >= 10 and value[4] == "-" and value[7] == "-":
        return value[:10]
    return None


def _rfc822_day(value: Any) -> str | None:
    """'Mon, 2 Apr 2007 19:18:42 GMT' -> '2007-04-02'."""
    if not isinstance(value, str):
        return None
    try:
        return parsedate_to_datetime(value).date().isoformat()
    except (TypeError, ValueError, IndexError):
        return None
