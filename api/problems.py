"""One JSON error shape for every error: RFC 9457 application/problem+json.

    {"type": "about:blank", "title": "...", "status": 422, "detail": "...", "errors": [{"field": ..., "message": ...}]}
"""

from __future__ import annotations

import logging
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from paperlens.errors import PaperlensError

from .schemas import Problem

log = logging.getLogger(__name__)
PROBLEM = "application/problem+json"

# Documents the error shape on every operation of the schema (FastAPI(responses=RESPONSES)); it also
# replaces FastAPI's own 422 entry, whose body shape this API does not send.
RESPONSES: dict[int | str, dict] = {
    code: {"description": text, "content": {PROBLEM: {"schema": Problem.model_json_schema()}}}
    for code, text in (("4XX", "The request was refused; the body says why"), ("5XX", "The server or a backend failed"))
}


def problem(status: int, title: str, detail: str, **extra) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


def install(app: FastAPI) -> None:
    @app.exception_handler(PaperlensError)
    async def _ours(request: Request, exc: PaperlensError) -> JSONResponse:
        if exc.status >= 500:
            log.error("%s %s: %s", request.method, request.url.path, exc.detail)
        return JSONResponse(exc.problem(), status_code=exc.status, media_type=PROBLEM)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for e in exc.errors():
            loc = [str(x) for x in e.get("loc", ())]
            if loc and loc[0] in ("body", "query", "path", "header"):  # where, not which field
                loc = loc[1:]
            errors.append({"field": ".".join(loc) or "body", "message": e.get("msg", "invalid")})
        fields = ", ".join(sorted({e["field"] for e in errors}))
        return problem(422, "Invalid request", f"invalid field(s): {fields}", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        try:
            title = HTTPStatus(exc.status_code).phrase
        except ValueError:
            title = "HTTP error"
        resp = problem(exc.status_code, title, str(exc.detail))
        resp.headers.update(exc.headers or {})  # e.g. Allow on a 405
        return resp

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        resp = problem(500, "Internal error", "the server failed on this request; see its log")
        # Starlette re-raises after this reply and uvicorn then drops the connection: say so, or a
        # keep-alive client sends its next request into a closed socket (connection reset)
        resp.headers["Connection"] = "close"
        return resp
