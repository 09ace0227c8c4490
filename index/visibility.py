"""Which document revisions search must not see yet (or any more).

A document's points are written in several batches; until the last is in and the catalog marks
the revision complete, the revision is hidden, and an older revision it replaces is hidden the
moment the new one appears. Searches pass the hidden set as StoreFilter.exclude_revs. Shared by
the writer (which hides and reveals) and the searcher (which reads it), across threads.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable


class HiddenRevisions:
    def __init__(self) -> None:
        self._revs: set[str] = set()
        self._lock = threading.Lock()

    def hide(self, revs: Iterable[str]) -> None:
        with self._lock:
            self._revs.update(revs)

    def reveal(self, revs: Iterable[str]) -> None:
        with self._lock:
            self._revs.difference_update(revs)

    def snapshot(self) -> list[str]:
        with self._lock:
            return sorted(self._revs)
