"""What a browser could be tricked into: the outermost layer of the API.

* Host allowlist. A page on attacker.example whose name is re-pointed at 127.0.0.1 (DNS rebinding)
  reaches the API as same-origin and can read it; its requests carry `Host: attacker.example`.
  Only the bind address, localhost, 127.0.0.1, ::1 and PAPERLENS_ALLOWED_HOSTS are answered (400).
* Origin of state-changing requests. A form or fetch() from another origin may POST a
  multipart upload with no preflight. A POST (PUT, PATCH, DELETE) that carries an `Origin` must
  come from the server's own origin or one in PAPERLENS_CORS_ORIGINS (403). Requests without
  `Origin` (the CLI, scripts, curl) are not affected.
* URLs that are not UTF-8 once percent-decoded get a 400 problem instead of being read with
  replacement characters.
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes, urlsplit

from paperlens.settings import Settings

from . import problems

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
EXEMPT = frozenset({"/healthz"})  # probes use whatever address reaches the process


def host_name(value: str) -> str:
    """'Example.org:8000' -> 'example.org'; '[::1]:8000' -> '::1'."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:].split("]", 1)[0]
    if value.count(":") > 1:  # a bare IPv6 address
        return value
    return value.rsplit(":", 1)[0].rstrip(".")


class HostCheck:
    def __init__(self, app, settings: Settings) -> None:
        self.app = app
        names = {settings.host, "localhost", "127.0.0.1", "::1", *settings.allowed_hosts}
        self.any_host = "*" in names
        self.hosts = {host_name(h) for h in names if h != "*"}
        self.origins = {o.rstrip("/").lower() for o in settings.cors_origins}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        host = headers.get(b"host", b"").decode("latin-1")
        if scope.get("path") not in EXEMPT and host and not self.any_host and host_name(host) not in self.hosts:
            resp = problems.problem(
                400, "Invalid host", "this server does not answer to that Host name (PAPERLENS_ALLOWED_HOSTS)",
                errors=[{"field": "header.host", "message": "not an allowed host"}],
            )
            return await resp(scope, receive, send)
        origin = headers.get(b"origin")
        if origin is not None and scope.get("method", "GET") not in SAFE_METHODS:
            allowed = origin.decode("latin-1").rstrip("/").lower()
            same = urlsplit(allowed).netloc == host.lower() if host else False
            if not same and allowed not in self.origins:
                resp = problems.problem(
                    403, "Cross-origin request refused",
                    "a request that changes state from another origin must come from one in PAPERLENS_CORS_ORIGINS",
                    errors=[{"field": "header.origin", "message": "not an allowed origin"}],
                )
                return await resp(scope, receive, send)
        for part, field in ((scope.get("raw_path") or b"", "path"), (scope.get("query_string") or b"", "query")):
            try:
                unquote_to_bytes(part).decode("utf-8")
            except UnicodeDecodeError as exc:
                resp = problems.problem(
                    400, "Bad Request", f"the URL {field} is not UTF-8 once percent-decoded (byte {exc.start})",
                    errors=[{"field": field, "message": "not UTF-8"}],
                )
                return await resp(scope, receive, send)
        return await self.app(scope, receive, send)
