"""The paper catalog: which papers and documents exist, and the per-document completion marker.

SQLite (stdlib) in the data dir, beside the vector store. Qdrant holds the chunks; this holds what
Qdrant cannot make atomic: a document's points are written in batches, and a kill between batches
would leave half a paper. So every document goes through

    begin(pending_rev)  ->  points upserted + flushed  ->  complete()  ->  old revision deleted  ->  settle()

and at start-up ``recover()`` lists the revisions whose points must be deleted (pending ones never
completed, stale ones never deleted). Until a revision is complete it is hidden from search.
Each step commits before the next store write, so the catalog is always the authority.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from paperlens.models import PaperMeta

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    paper_id      TEXT NOT NULL,
    kind          TEXT NOT NULL,  -- Document.key: 'pdf', 'metadata' or 'digest:<page file>'

    complete_rev  TEXT,
    pending_rev   TEXT,
    stale_rev     TEXT,
    content_hash  TEXT,
    arxiv_version INTEGER,
    source        TEXT,
    n_chunks      INTEGER NOT NULL DEFAULT 0,
    meta          TEXT NOT NULL,
    warnings      TEXT NOT NULL DEFAULT '[]',
    updated_at    REAL NOT NULL,
    PRIMARY KEY (paper_id, kind)
);
CREATE TABLE IF NOT EXISTS papers (
    paper_id   TEXT PRIMARY KEY,
    arxiv_id   TEXT,
    title      TEXT NOT NULL,
    date       TEXT,
    meta       TEXT NOT NULL,
    kinds      TEXT NOT NULL,
    n_chunks   INTEGER NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS papers_date ON papers(date);
CREATE TABLE IF NOT EXISTS jobs (
    id         TEXT PRIMARY KEY,
    body       TEXT NOT NULL,
    updated_at REAL NOT NULL
);
"""

# Which document's metadata wins for each field: arXiv's own record is the most reliable title and
# author list, a digest's next, a PDF's page-1 heuristics last.
_PRIORITY = ("metadata", "digest", "pdf")


@dataclass
class DocState:
    paper_id: str
    kind: str
    complete_rev: str | None
    pending_rev: str | None
    stale_rev: str | None
    content_hash: str | None
    arxiv_version: int | None
    n_chunks: int
    meta: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


@dataclass
class Completed:
    meta: PaperMeta
    kind: str
    rev: str
    content_hash: str
    n_chunks: int
    source: str
    warnings: list[str] = field(default_factory=list)


class Catalog:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # One connection shared by the API's threads; sqlite3 serializes, our lock orders writes.
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a completion marker must survive power loss
        self._db.executescript(_SCHEMA)
        self._lock = threading.RLock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- documents -----------------------------------------------------------------------------
    def doc_state(self, paper_id: str, kind: str) -> DocState | None:
        row = self._db.execute(
            "SELECT paper_id, kind, complete_rev, pending_rev, stale_rev, content_hash, arxiv_version,"
            " n_chunks, meta, warnings FROM documents WHERE paper_id=? AND kind=?",
            (paper_id, kind),
        ).fetchone()
        if not row:
            return None
        return DocState(*row[:8], meta=json.loads(row[8]), warnings=json.loads(row[9]))

    def begin(self, items: list[tuple[PaperMeta, str, str, str]]) -> None:
        """Record (meta, kind, rev, source) revisions as being written; hidden until complete()."""
        with self._lock:
            now = time.time()
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(
                "INSERT INTO documents (paper_id, kind, pending_rev, source, meta, updated_at)"
                " VALUES (?,?,?,?,?,?) ON CONFLICT(paper_id, kind) DO UPDATE SET"
                " pending_rev=excluded.pending_rev, updated_at=excluded.updated_at",
                [(m.paper_id, kind, rev, src, json.dumps(m.to_dict()), now) for m, kind, rev, src in items],
            )
            self._db.execute("COMMIT")

    def complete(self, items: list[Completed]) -> list[tuple[str, str, str]]:
        """Mark revisions complete in one transaction; returns (paper_id, kind, replaced_rev) of the
        revisions they replace, now stale: the caller deletes their points, then calls settle()."""
        stale: list[tuple[str, str, str]] = []
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for c in items:
                    state = self.doc_state(c.meta.paper_id, c.kind)
                    old = state.complete_rev if state and state.complete_rev != c.rev else None
                    if old:
                        stale.append((c.meta.paper_id, c.kind, old))
                    self._db.execute(
                        "UPDATE documents SET complete_rev=?, pending_rev=NULL, stale_rev=?, content_hash=?,"
                        " arxiv_version=?, source=?, n_chunks=?, meta=?, warnings=?, updated_at=?"
                        " WHERE paper_id=? AND kind=?",
                        (c.rev, old, c.content_hash, c.meta.arxiv_version, c.source, c.n_chunks,
                         json.dumps(c.meta.to_dict()), json.dumps(c.warnings), time.time(),
                         c.meta.paper_id, c.kind),
                    )
                    self._refresh_paper(c.meta.paper_id)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return stale

    def settle(self, items: list[tuple[str, str]]) -> None:
        """The stale revisions' points of these (paper_id, kind) documents are gone."""
        with self._lock:
            self._db.executemany(
                "UPDATE documents SET stale_rev=NULL WHERE paper_id=? AND kind=?", items
            )

    def abandon(self, items: list[tuple[str, str]]) -> None:
        """Writes failed and their points were deleted: forget the pending revisions."""
        with self._lock:
            for paper_id, kind in items:
                self._db.execute(
                    "UPDATE documents SET pending_rev=NULL WHERE paper_id=? AND kind=?", (paper_id, kind)
                )
                self._db.execute(
                    "DELETE FROM documents WHERE paper_id=? AND kind=? AND complete_rev IS NULL",
                    (paper_id, kind),
                )

    def unfinished(self) -> list[tuple[str, str, str]]:
        """(paper_id, kind, rev) of every revision whose points must be deleted at start-up."""
        out: list[tuple[str, str, str]] = []
        for pid, kind, pending, stale in self._db.execute(
            "SELECT paper_id, kind, pending_rev, stale_rev FROM documents"
            " WHERE pending_rev IS NOT NULL OR stale_rev IS NOT NULL"
        ):
            if pending:
                out.append((pid, kind, pending))
            if stale:
                out.append((pid, kind, stale))
        return out

    def papers_from_source(self, name: str) -> list[str]:
        """Paper ids of completed documents whose source path ends with `name` (a file name)."""
        rows = self._db.execute(
            "SELECT DISTINCT paper_id FROM documents WHERE complete_rev IS NOT NULL AND (source = ? OR source LIKE ?)",
            (name, f"%/{name}"),
        )
        return [r[0] for r in rows]

    def complete_documents(self) -> dict[tuple[str, str], tuple[str, int]]:
        """(paper_id, kind) -> (complete revision, chunk count) of every completed document."""
        return {
            (pid, kind): (rev, n)
            for pid, kind, rev, n in self._db.execute(
                "SELECT paper_id, kind, complete_rev, n_chunks FROM documents WHERE complete_rev IS NOT NULL"
            )
        }

    def remove_paper(self, paper_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM documents WHERE paper_id=?", (paper_id,))
            self._db.execute("DELETE FROM papers WHERE paper_id=?", (paper_id,))

    # --- papers --------------------------------------------------------------------------------
    def _refresh_paper(self, paper_id: str) -> None:
        rows = self._db.execute(
            "SELECT kind, meta, n_chunks FROM documents WHERE paper_id=? AND complete_rev IS NOT NULL",
            (paper_id,),
        ).fetchall()
        if not rows:
            self._db.execute("DELETE FROM papers WHERE paper_id=?", (paper_id,))
            return
        # The `kind` column holds the document key ('pdf', 'metadata', 'digest:<page>').
        ranked = sorted(rows, key=lambda r: (_PRIORITY.index(r[0].split(":")[0]), r[0]))
        merged = merge_meta([json.loads(meta) for _, meta, _ in ranked])
        kinds = list(dict.fromkeys(key.split(":")[0] for key, _, _ in ranked))
        self._db.execute(
            "INSERT OR REPLACE INTO papers (paper_id, arxiv_id, title, date, meta, kinds, n_chunks, updated_at)"
            " VALUES (?,?,?,?,?,?,?,?)",
            (paper_id, merged.get("arxiv_id"), merged.get("title") or "", merged.get("date"),
             json.dumps(merged), json.dumps(kinds), sum(n for _, _, n in rows), time.time()),
        )

    def paper(self, paper_id: str) -> dict[str, Any] | None:
        row = self._db.execute(
            "SELECT meta, kinds, n_chunks FROM papers WHERE paper_id=?", (paper_id,)
        ).fetchone()
        if not row:
            return None
        return {**json.loads(row[0]), "documents": json.loads(row[1]), "n_chunks": row[2]}

    def papers(self, *, limit: int = 100, offset: int = 0, query: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT meta, kinds, n_chunks FROM papers"
        args: list[Any] = []
        if query:
            sql += " WHERE title LIKE ? OR arxiv_id LIKE ?"
            args += [f"%{query}%", f"%{query}%"]
        sql += " ORDER BY date DESC, paper_id LIMIT ? OFFSET ?"
        args += [limit, offset]
        return [
            {**json.loads(m), "documents": json.loads(k), "n_chunks": n}
            for m, k, n in self._db.execute(sql, args)
        ]

    def iter_papers(self, *, date_from: str | None = None, date_to: str | None = None):
        """Every paper's merged metadata (abstract and digest summary included), in date order:
        a comparison must consider every paper on its topic, not only the top search hits, and a
        scan of titles and abstracts in SQLite is cheap next to one embedding (74k papers: ~1 s)."""
        sql, args = "SELECT meta FROM papers", []
        if date_from or date_to:
            sql += " WHERE date >= ? AND date <= ?"
            args = [date_from or "0000", (date_to or "9999") + "\uffff"]
        sql += " ORDER BY date DESC, paper_id"
        rows = self._db.execute(sql, args).fetchall()  # no cursor left open across yields
        for (meta,) in rows:
            yield json.loads(meta)

    def version(self) -> tuple[int, float]:
        """Changes whenever a paper is added, changed or removed: (paper count, latest update)."""
        n, latest = self._db.execute("SELECT COUNT(*), MAX(updated_at) FROM papers").fetchone()
        return int(n), float(latest or 0.0)

    def count_papers(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM papers").fetchone()[0])

    def papers_meta(self, paper_ids: list[str]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for i in range(0, len(paper_ids), 500):
            part = paper_ids[i : i + 500]
            q = ",".join("?" * len(part))
            for pid, meta in self._db.execute(f"SELECT paper_id, meta FROM papers WHERE paper_id IN ({q})", part):
                out[pid] = json.loads(meta)
        return out

    # --- jobs ----------------------------------------------------------------------------------
    def save_job(self, job_id: str, body: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO jobs (id, body, updated_at) VALUES (?,?,?)",
                (job_id, json.dumps(body), time.time()),
            )

    def job(self, job_id: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT body FROM jobs WHERE id=?", (job_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def unfinished_jobs(self) -> list[dict[str, Any]]:
        """Jobs saved as queued or running (by a process that is gone, at start-up), oldest first."""
        rows = self._db.execute(
            "SELECT body FROM jobs WHERE json_extract(body, '$.status') IN ('queued', 'running')"
        ).fetchall()
        return sorted((json.loads(b) for (b,) in rows), key=lambda j: j.get("created_at") or 0.0)


def merge_meta(metas: list[dict[str, Any]]) -> dict[str, Any]:
    """Field-wise merge in priority order: the first non-empty value wins; links/extra are unioned."""
    merged: dict[str, Any] = {}
    for meta in metas:
        for key, value in meta.items():
            if key in ("links", "extra"):
                merged.setdefault(key, {})
                for k, v in (value or {}).items():
                    merged[key].setdefault(k, v)
            elif value not in (None, "", [], {}) and merged.get(key) in (None, "", [], {}):
                merged[key] = value
    return merged
