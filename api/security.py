"""What guards the HTTP API: API keys, per-client rate limits, CORS, the bind check and the
deadline on generation.

Order of the layers, outermost first (see `install`):

    CORS          answers browser preflights before anything asks them for a key
    Guard         rate limit (per key, or per client address), then the key check (401)
    BodyLimit     request size (413), in app.py
    the routes

Keys: `Authorization: Bearer KEY` or `X-API-Key: KEY`. `/healthz` and the web UI's own files (`/`,
`/ui/...`) need none: the page loads for anyone, and its scripts send the key with every API call.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import math
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from fastapi import FastAPI

from paperlens.errors import GenerationTimeout, PaperlensError
from paperlens.settings import Settings

from . import problems

T = TypeVar("T")

PUBLIC_PATHS = frozenset({"/healthz", "/", "/favicon.ico"})
PUBLIC_PREFIXES = ("/ui/",)
UNLIMITED_PATHS = frozenset({"/healthz"})  # probes must never be throttled into looking dead


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
    """Refuse to serve an exposed address without API keys (call before binding)."""
    if not is_loopback(host) and not [k for k in settings.api_keys if k]:
        raise PaperlensError(
            f"refusing to serve on {host!r} without API keys: anyone who can reach that address could "
            "read and ingest. Set PAPERLENS_API_KEYS (a JSON list, e.g. '[\"a-long-random-key\"]') or bind "
            "to 127.0.0.1.",
            host=host,
        )


# --- keys and rate limit ----------------------------------------------------------------------


def presented_key(headers: dict[bytes, bytes]) -> str | None:
    """The key a request carries: `Authorization: Bearer KEY`, else `X-API-Key: KEY`."""
    auth = headers.get(b"authorization", b"").decode("latin-1").strip()
    scheme, _, token = auth.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    key = headers.get(b"x-api-key", b"").decode("latin-1").strip()
    return key or None


def _known(key: str | None, keys: Iterable[bytes]) -> bool:
    if key is None:
        return False
    given = key.encode("utf-8", "replace")
    # compare against every key, with no early exit, so timing does not tell which one nearly matched
    return any([hmac.compare_digest(given, k) for k in keys])  # noqa: C419 (a list: no short-circuit)


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
    """ASGI middleware: per-client rate limit (429 + Retry-After), then API keys (401)."""

    def __init__(self, app, api_keys: list[str], rate_limit_per_minute: int) -> None:
        self.app = app
        self.keys = [k.encode("utf-8") for k in api_keys if k]
        self.bucket = TokenBucket(rate_limit_per_minute) if rate_limit_per_minute > 0 else None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        key = presented_key(dict(scope.get("headers") or []))
        known = _known(key, self.keys)
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
        return await self.app(scope, receive, send)


def _public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


# --- wiring -----------------------------------------------------------------------------------


def install(app: FastAPI, settings: Settings) -> None:
    """Add the guard and CORS around the app; call after every other middleware is added."""
    app.add_middleware(Guard, api_keys=settings.api_keys, rate_limit_per_minute=settings.rate_limit_per_minute)
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
