"""What guards the HTTP API: API keys and their roles, per-client rate limits, CORS, the bind
check and the deadline on generation.

Order of the layers, outermost first (see `install`):

    HostCheck     Host allowlist (DNS rebinding), Origin of state-changing requests, URL encoding (api/hosts.py)
    CORS          answers browser preflights before anything asks them for a key
    Guard         rate limit (per key, or per client address), then the key (401) and its role (403)
    BodyLimit     request size (413) and time to send it (408), in app.py
    the routes

Keys: `Authorization: Bearer KEY` or `X-API-Key: KEY`. `/healthz` and the web UI's own files (`/`,
`/ui/...`) need none: the page loads for anyone, and its scripts send the key with every API call.
Roles: `read` (search, papers, chunks, answers, the schema), `ingest` (ingest, uploads, jobs; a
key sees only the jobs it made) and `admin` (everything, every job). A plain-string key has all
three; without keys configured (loopback only) every client has all three.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from fastapi import FastAPI, Request

from paperlens.errors import GenerationTimeout, PaperlensError
from paperlens.settings import ROLES, ApiKey, Settings

from . import problems

T = TypeVar("T")

PUBLIC_PATHS = frozenset({"/healthz", "/", "/favicon.ico"})
PUBLIC_PREFIXES = ("/ui/",)
UNLIMITED_PATHS = frozenset({"/healthz"})  # probes must never be throttled into looking dead
INGEST_PREFIXES = ("/api/ingest", "/api/jobs")
MIN_KEY_CHARS = 16


# --- bind check ------------------------------------------------------------------------------


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and 'localhost'; false for 0.0.0.0, :: and every other name."""
    if host.strip().lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything, so it counts as exposed


def check_bind(host: str, settings: Settings) -> None:
    """Refuse to serve an exposed address without API keys, or with keys too short (call before binding)."""
    if not is_loopback(host) and not configured_keys(settings):
        raise PaperlensError(
            f"refusing to serve on {host!r} without API keys: anyone who can reach that address could "
            "read and ingest. Set PAPERLENS_API_KEYS (a JSON list, e.g. '[\"a-long-random-key\"]') or bind "
            "to 127.0.0.1.",
            host=host,
        )


# --- keys, roles and rate limit ---------------------------------------------------------------


@dataclass(frozen=True)
class Principal:
    """Who sent a request: `id` is a fingerprint of the key (never the key), 'local' without keys."""

    id: str
    roles: frozenset[str]

    @property
    def admin(self) -> bool:
        return "admin" in self.roles

    def can(self, role: str) -> bool:
        return role in self.roles or self.admin


LOCAL = Principal("local", frozenset(ROLES))


def configured_keys(settings: Settings) -> dict[str, Principal]:
    """key -> its principal; PaperlensError naming the entry for a key under 16 characters (a key
    that short can be guessed through the rate limit) or a key given twice."""
    out: dict[str, Principal] = {}
    for i, entry in enumerate(settings.api_keys):
        key = entry.key if isinstance(entry, ApiKey) else entry
        roles = frozenset(entry.roles) if isinstance(entry, ApiKey) else frozenset(ROLES)
        if len(key) < MIN_KEY_CHARS:
            raise PaperlensError(
                f"PAPERLENS_API_KEYS entry {i + 1} is {len(key)} characters long: keys need at least "
                f"{MIN_KEY_CHARS} (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(24))'`)",
                setting="api_keys",
            )
        if key in out:
            raise PaperlensError(f"PAPERLENS_API_KEYS entry {i + 1} repeats an earlier key", setting="api_keys")
        out[key] = Principal(hashlib.sha256(key.encode()).hexdigest()[:16], roles)
    return out


def principal(request: Request) -> Principal:
    """The dependency routes use to learn who asks (set by the Guard)."""
    return getattr(request.state, "principal", LOCAL)


def required_role(path: str) -> str:
    return "ingest" if path.startswith(INGEST_PREFIXES) else "read"


def presented_key(headers: dict[bytes, bytes]) -> str | None:
    """The key a request carries: `Authorization: Bearer KEY`, else `X-API-Key: KEY`."""
    auth = headers.get(b"authorization", b"").decode("latin-1").strip()
    scheme, _, token = auth.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    key = headers.get(b"x-api-key", b"").decode("latin-1").strip()
    return key or None


def _match(key: str | None, keys: list[tuple[bytes, Principal]]) -> Principal | None:
    if key is None:
        return None
    given = key.encode("utf-8", "replace")
    found = None
    # compare against every key, with no early exit, so timing does not tell which one nearly matched
    for k, who in keys:
        if hmac.compare_digest(given, k):
            found = who
    return found


class TokenBucket:
    """Buckets of `per_minute` tokens per client, refilled continuously; one request costs one."""

    MAX_CLIENTS = 10_000

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, last refill)

    def take(self, client: str) -> float:
        """0.0 when the request may go on, else the seconds until a token is back."""
        now = self.clock()
        tokens, last = self._buckets.get(client, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - last) * self.rate)
        if tokens >= 1.0:
            self._buckets[client] = (tokens - 1.0, now)
            if len(self._buckets) > self.MAX_CLIENTS:
                self._forget_full(now)
            return 0.0
        self._buckets[client] = (tokens, now)
        return (1.0 - tokens) / self.rate

    def _forget_full(self, now: float) -> None:
        # a bucket idle long enough to be full again is the same as no bucket: drop it
        full_after = self.capacity / self.rate
        self._buckets = {c: v for c, v in self._buckets.items() if now - v[1] < full_after}


class Guard:
    """ASGI middleware: per-client rate limit (429 + Retry-After), then API keys (401) and roles (403)."""

    def __init__(self, app, keys: dict[str, Principal], rate_limit_per_minute: int) -> None:
        self.app = app
        self.keys = [(k.encode("utf-8"), who) for k, who in keys.items()]
        self.bucket = TokenBucket(rate_limit_per_minute) if rate_limit_per_minute > 0 else None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        key = presented_key(dict(scope.get("headers") or []))
        who = _match(key, self.keys)
        known = who is not None
        if self.bucket is not None and path not in UNLIMITED_PATHS:
            # an unknown key counts against the address, so guessing keys is throttled too
            client = f"key:{key}" if known else f"addr:{(scope.get('client') or ('?', 0))[0]}"
            wait = self.bucket.take(client)
            if wait > 0:
                retry = max(1, math.ceil(wait))
                resp = problems.problem(
                    429, "Too many requests",
                    f"over the limit of {self.bucket.capacity:g} requests per minute; retry in {retry} s",
                    retry_after_s=retry,
                )
                resp.headers["Retry-After"] = str(retry)
                return await resp(scope, receive, send)
        if self.keys and not known and not _public(path):
            detail = "this endpoint needs an API key: send 'Authorization: Bearer KEY' or 'X-API-Key: KEY'"
            if key is not None:
                detail = "the API key sent is not one of the configured keys"
            resp = problems.problem(401, "Unauthorized", detail)
            resp.headers["WWW-Authenticate"] = 'Bearer realm="paperlens"'
            return await resp(scope, receive, send)
        if self.keys and known and not _public(path) and not who.can(required_role(path)):
            role = required_role(path)
            resp = problems.problem(403, "Forbidden", f"this API key lacks the '{role}' role this endpoint needs",
                                    role=role)
            return await resp(scope, receive, send)
        scope.setdefault("state", {})["principal"] = who if self.keys else LOCAL
        return await self.app(scope, receive, send)


def _public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


# --- wiring -----------------------------------------------------------------------------------


def install(app: FastAPI, settings: Settings) -> None:
    """Add the guard, CORS and the host check around the app; call after every other middleware is
    added. Raises PaperlensError for keys that are too short (the server does not start)."""
    from .hosts import HostCheck

    app.add_middleware(Guard, keys=configured_keys(settings), rate_limit_per_minute=settings.rate_limit_per_minute)
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type"],
            expose_headers=["Retry-After"],
            max_age=600,
        )
    app.add_middleware(HostCheck, settings=settings)


# --- deadlines --------------------------------------------------------------------------------

# Generation runs here, two at a time. A thread cannot be killed, so work past its deadline runs on
# to its end with the answer dropped; the small pool keeps such leftovers from piling up (requests
# behind them wait in the queue, on their own clocks, and are dropped unstarted when those run out).
_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="generation")


def _timeout(what: str, timeout_s: float) -> GenerationTimeout:
    return GenerationTimeout(
        f"{what} took longer than {timeout_s:g} s (generation_timeout_s); try fewer papers or a faster backend",
        timeout_s=timeout_s,
    )


def run_with_deadline(fn: Callable[[], T], timeout_s: float, what: str = "generation") -> T:
    """fn() on a generation thread, or GenerationTimeout (504) after timeout_s (for `def` endpoints)."""
    future = _POOL.submit(fn)
    try:
        return future.result(timeout=timeout_s)
    except TimeoutError:
        future.cancel()  # still queued: it never starts
        raise _timeout(what, timeout_s) from None


async def run_with_deadline_async(fn: Callable[[], T], timeout_s: float, what: str = "generation") -> T:
    """The same for `async def` endpoints: the event loop stays free while fn runs."""
    future = _POOL.submit(fn)
    try:
        return await asyncio.wait_for(asyncio.wrap_future(future), timeout_s)
    except TimeoutError:
        future.cancel()
        raise _timeout(what, timeout_s) from None
