"""The one error hierarchy of paperlens.

    PaperlensError                  every error we raise on purpose; carries a JSON-able problem
    ├── BadInput                    the user's input is wrong (HTTP 400/422); names the input
    │   ├── UnsupportedSource       a path/URL that no ingester understands
    │   ├── TooLarge                an upload or file over the configured limit (413)
    │   └── Forbidden               a server path or role the caller may not use (403)
    ├── NotFound                    a paper / chunk / job id that does not exist (404)
    ├── Overloaded                  a bounded queue is full; retry later (503 + Retry-After)
    ├── InsufficientStorage         the uploads quota is used up (507)
    ├── Stopped                     an ingest job was cancelled or ran past its time limit
    ├── ParseError                  a document could not be parsed (file named, page when known)
    ├── SourceError                 a remote source (arXiv) failed after retries
    ├── StoreError                  the vector store failed or is misconfigured
    │   ├── StoreLocked             another process owns the embedded store
    │   └── FingerprintMismatch     the collection was built by another embedding configuration
    ├── ModelError                  an embedding model or LLM could not be loaded
    ├── GenerationError             an LLM backend failed (bad reply, endpoint down) (502)
    └── GenerationTimeout           an answer took longer than generation_timeout_s (504)

Third-party exceptions are translated at the boundary module that imports the library
(ingest/pdf/, index/edge_store.py, ...), so callers only ever see these; by exception type, never
by what a message says (the stores' type maps go through index/qdrant_store.map_exceptions).
"""

from __future__ import annotations

from typing import Any


class PaperlensError(Exception):
    status = 500
    title = "Internal error"
    type_ = "about:blank"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra

    def problem(self) -> dict[str, Any]:
        """RFC 9457 problem body; `extra` carries machine-readable context (field, path, ...)."""
        body: dict[str, Any] = {
            "type": self.type_,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        body.update(self.extra)
        return body


class BadInput(PaperlensError):
    status = 400
    title = "Bad input"


class UnsupportedSource(BadInput):
    title = "Unsupported source"


class TooLarge(BadInput):
    status = 413
    title = "Too large"


class Forbidden(BadInput):
    status = 403
    title = "Forbidden"


class NotFound(PaperlensError):
    status = 404
    title = "Not found"


class Overloaded(PaperlensError):
    """`retry_after_s` (in extra) becomes the Retry-After header."""

    status = 503
    title = "Busy"


class InsufficientStorage(PaperlensError):
    status = 507
    title = "Insufficient storage"


class Stopped(PaperlensError):
    status = 409
    title = "Job stopped"


class ParseError(PaperlensError):
    status = 422
    title = "Document could not be parsed"


class SourceError(PaperlensError):
    status = 502
    title = "Source failed"


class StoreError(PaperlensError):
    status = 503
    title = "Store error"


class StoreLocked(StoreError):
    title = "Store in use by another process"


class FingerprintMismatch(StoreError):
    status = 409
    title = "Index built by another configuration"


class ModelError(PaperlensError):
    status = 503
    title = "Model unavailable"


class GenerationError(PaperlensError):
    status = 502
    title = "Generation failed"


class GenerationTimeout(PaperlensError):
    status = 504
    title = "Generation timed out"
