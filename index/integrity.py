"""Checks that the vector store and the catalog agree: every point belongs to a completed document
revision (no phantom or half-written papers) and every completed document has all its chunks
(nothing lost). Used by `paperlens check`, the crash tests and the crash-safety benchmark."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .store import StoreFilter


@dataclass
class IntegrityReport:
    points: dict[str, dict[str, Any]] = field(default_factory=dict)  # point id -> payload
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_consistency(library, max_problems: int = 20) -> IntegrityReport:
    report = IntegrityReport()
    offset = None
    while True:
        page, offset = library.store.scroll(StoreFilter(), limit=1024, offset=offset)
        for rec in page:
            if rec.id in report.points:
                report.problems.append(f"point {rec.id} returned twice")
            report.points[rec.id] = rec.payload
        if offset is None:
            break
    complete = library.catalog.complete_documents()
    unfinished = library.catalog.unfinished()
    if unfinished:
        report.problems.append(f"{len(unfinished)} unfinished revisions in the catalog: {unfinished[:3]}")
    per_rev = Counter((p["paper_id"], p["doc_key"], p["rev"]) for p in report.points.values())
    for (pid, kind, rev), n in per_rev.items():
        want = complete.get((pid, kind))
        if want is None or want[0] != rev:
            report.problems.append(f"{n} phantom points of {pid} ({kind}) revision {rev}")
    for (pid, kind), (rev, n) in complete.items():
        have = per_rev.get((pid, kind, rev), 0)
        if have != n:
            report.problems.append(f"{pid} ({kind}) revision {rev}: {have} points stored, catalog says {n}")
    del report.problems[max_problems:]
    return report
