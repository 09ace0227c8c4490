"""Server paths in API requests: which ones a client may name, and how the server's own paths are
shown back to clients.

`POST /api/ingest {"paths": [...]}` reads files on the server. That is off unless the operator
lists folders in PAPERLENS_INGEST_ROOTS; then each path must resolve (symlinks and '..' followed)
to a regular file or folder inside one of them (ingest/files.py: Scope). Every refusal is the same
403, whether the path is missing, outside the roots, hidden or a FIFO: the answer never tells a
client which server paths exist.

Job reports, progress and errors are written by the pipeline with the server's absolute paths;
`Redactor` turns them into what a client may see: paths relative to their root, `upload:NAME`
for an uploaded file, and nothing of the data dir's location.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from paperlens.errors import Forbidden
from paperlens.ingest.files import REFUSED, Scope
from paperlens.settings import Settings

DISABLED = ("server paths are turned off: this server ingests uploads (POST /api/ingest/upload) and arXiv "
            "papers only; its operator can allow folders with PAPERLENS_INGEST_ROOTS")


def api_scope(settings: Settings) -> Scope:
    """What a path job may read: the configured roots, never the data dir (catalog, uploads, keys of
    other jobs) even when a root holds it."""
    return Scope(settings.ingest_roots, hidden=settings.ingest_hidden, exclude=[settings.data_dir])


def resolve_paths(raw: list[str], settings: Settings) -> list[Path]:
    """The real paths of a request's `paths`, or Forbidden (403) naming the index of the first
    one refused; never a different answer for a path that exists."""
    if raw and not settings.ingest_roots:
        raise Forbidden(DISABLED, errors=[{"field": "paths", "message": DISABLED}])
    scope = api_scope(settings)
    out = []
    for i, p in enumerate(raw):
        try:
            out.append(scope.resolve(p))
        except Forbidden:
            raise Forbidden(f"paths[{i}] is {REFUSED}", errors=[{"field": f"paths.{i}", "message": REFUSED}]) from None
    return out


class Redactor:
    """Rewrites the server's paths in any JSON-able value: uploads to `upload:NAME`, paths under a
    root relative to it, the data dir's own files (downloads) relative to the data dir."""

    def __init__(self, roots: list[Path], names: dict[str, str] | None = None) -> None:
        self.names = sorted((names or {}).items(), key=lambda kv: -len(kv[0]))
        self.prefixes = sorted({os.path.realpath(r) for r in roots} | {str(r) for r in roots}, key=len, reverse=True)

    def text(self, s: str) -> str:
        for full, name in self.names:
            s = s.replace(full, name)
        for root in self.prefixes:
            root = root.rstrip(os.sep)
            s = s.replace(root + os.sep, "")
            # the root itself, where it ends a path (not '/srv/p' inside '/srv/papers2')
            s = re.sub(re.escape(root) + r"(?=$|[\s'\"),:;#])", ".", s)
        return s

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self(v) for v in value]
        if isinstance(value, dict):
            return {k: self(v) for k, v in value.items()}
        return value
