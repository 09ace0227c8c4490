"""When a paper was first submitted, as far as the catalog can tell: a roundup of a date window
lists the papers that first appeared in it, not older papers whose newest version did.

What the catalog holds today (index/catalog.py, the merged `date`): the v1 date for papers fetched
from the arXiv API and for OAI snapshot records; the crawl date (the day a version was listed) for
the shared dump's records; the date printed in a PDF's arXiv stamp (the newest version's) or the
PDF's creation date; a digest entry's date line or page date. Only the arXiv id is sure to carry
v1's month (YYMM), so a date later than the id's month is a later version's, and v1 is known to
the month only. `first_submitted` gives the interval v1 lies in; `in_window` asks whether it can
lie in a window.
"""

from __future__ import annotations

import calendar
import re
from typing import Any

_NEW_ID = re.compile(r"^(\d{2})(\d{2})\.\d{4,5}$")
_OLD_ID = re.compile(r"^[a-z\-]+(?:\.[A-Z]{2})?/(\d{2})(\d{2})\d{3}$")


def id_month(arxiv_id: str | None) -> str | None:
    """'2409.17058' -> '2024-09'; 'cs/0601001' -> '2006-01'; anything else -> None."""
    if not arxiv_id:
        return None
    m = _NEW_ID.match(arxiv_id) or _OLD_ID.match(arxiv_id)
    if not m:
        return None
    yy, mm = int(m.group(1)), int(m.group(2))
    if not 1 <= mm <= 12:
        return None
    year = (2000 + yy) if (_NEW_ID.match(arxiv_id) or yy < 91) else (1900 + yy)
    return f"{year:04d}-{mm:02d}"


def first_submitted(meta: dict[str, Any]) -> tuple[str | None, str | None, bool]:
    """(earliest, latest, exact): the days v1 lies between (ISO dates, inclusive). exact: the day is
    known. (None, None, False) when the paper has no date at all."""
    extra = meta.get("extra") or {}
    published = extra.get("published")  # the v1 date, once ingest records it (issue 15)
    if isinstance(published, str) and len(published) >= 10:
        return published[:10], published[:10], True
    date = (meta.get("date") or "")[:10] or None
    month = id_month(meta.get("arxiv_id"))
    if month is None:
        return date, date, date is not None
    if date and date[:7] == month:
        return date, date, True
    year, mm = int(month[:4]), int(month[5:7])
    last = f"{month}-{calendar.monthrange(year, mm)[1]:02d}"
    if date and date < f"{month}-01":
        return date, date, True  # a date before the id's month: trust the date
    return f"{month}-01", min(last, date) if date else last, False


def in_window(meta: dict[str, Any], date_from: str | None, date_to: str | None) -> bool:
    """Can the paper's first submission lie in [date_from, date_to]? A paper without a date is
    outside every window that has a bound."""
    if not date_from and not date_to:
        return True
    lo, hi, _ = first_submitted(meta)
    if lo is None or hi is None:
        return False
    return (not date_to or lo <= date_to[:10]) and (not date_from or hi >= date_from[:10])
