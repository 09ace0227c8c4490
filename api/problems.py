"""One JSON error shape for every error: RFC 9457 application/problem+json.

    {"type": "about:blank", "title": "...", "status": 422, "detail": "...", "errors": [{"field": ..., "message": ...}]}

Every refusal of the request's input carries `errors`, one {field, message} per bad part: the
app's own 400s (their `field`), 422s from validation, and bodies that are not JSON at all (not
UTF-8, truncated, nested too deeply, a number too long), which name the field "body". Errors that
say "retry later" (429, 503) carry Retry-After. Uvicorn's own 400 for a request it cannot parse
is replaced in api/server.py.
"""

from __future__ import annotations

import logging
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from paperlens.errors import InsufficientStorage, Overloaded, PaperlensError

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
    resp = JSONResponse(body, status_code=status, media_type=PROBLEM)
    if isinstance(extra.get("retry_after_s"), int):
        resp.headers["Retry-After"] = str(extra["retry_after_s"])
    return resp


def _body_error(cause: BaseException | None) -> str:
    """Why a body could not be read as JSON, from the decoder's exception type."""
    if isinstance(cause, UnicodeDecodeError):
        return f"the body is not UTF-8 (byte {cause.start})"
    if isinstance(cause, RecursionError):
        return "the JSON is nested too deeply"
    if isinstance(cause, ValueError):  # int() past sys.get_int_max_str_digits
        return "the JSON holds a number too long to read"
    return "the body could not be read as JSON"


def _short(path: str) -> str:
    return path if len(path) <= 200 else f"{path[:200]}... ({len(path)} characters)"


def install(app: FastAPI) -> None:
    @app.exception_handler(PaperlensError)
    async def _ours(request: Request, exc: PaperlensError) -> JSONResponse:
        if exc.status >= 500 and not isinstance(exc, (Overloaded, InsufficientStorage)):  # those are the bounds working
            log.error("%s %s: %s", request.method, _short(request.url.path), exc.detail)
        body = exc.problem()
        if exc.status < 500 and "errors" not in body and isinstance(body.get("field"), str):
            body["errors"] = [{"field": body["field"], "message": exc.detail}]
        return problem(exc.status, body.pop("title"), body.pop("detail"), **{k: v for k, v in body.items() if k != "status"})

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for e in exc.errors():
            if e.get("type") == "json_invalid":  # its loc is a byte offset, not a field
                pos = e.get("loc", ("body", "?"))[-1]
                reason = (e.get("ctx") or {}).get("error", "invalid")
                errors.append({"field": "body", "message": f"not valid JSON: {reason} (at character {pos})"})
                continue
            loc = [str(x) for x in e.get("loc", ())]
            if loc and loc[0] in ("body", "query", "path", "header"):  # where, not which field
                loc = loc[1:]
            errors.append({"field": ".".join(loc) or "body", "message": e.get("msg", "invalid")})
        fields = ", ".join(sorted({e["field"] for e in errors}))
        return problem(422, "Invalid request", f"invalid field(s): {fields}", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.__cause__ is not None:  # FastAPI could not decode the body
            message = _body_error(exc.__cause__)
            return problem(422, "Invalid request", f"invalid field(s): body ({message})",
                           errors=[{"field": "body", "message": message}])
        try:
            title = HTTPStatus(exc.status_code).phrase
        except ValueError:
            title = "HTTP error"
        extra = {"errors": [{"field": "body", "message": str(exc.detail)}]} if exc.status_code == 400 else {}
        resp = problem(exc.status_code, title, str(exc.detail), **extra)
        resp.headers.update(exc.headers or {})  # e.g. Allow on a 405
        return resp

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, _short(request.url.path))
        resp = problem(500, "Internal error", "the server failed on this request; see its log")
        # Starlette re-raises after this reply and uvicorn then drops the connection: say so, or a
        # keep-alive client sends its next request into a closed socket (connection reset)
        resp.headers["Connection"] = "close"
        return resp
