"""API keys, rate limits, CORS, the bind check and generation deadlines, on real uvicorn servers."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time

import httpx
import pytest
from fastapi import FastAPI

from paperlens.api import problems
from paperlens.api.security import TokenBucket, check_bind, is_loopback, run_with_deadline, run_with_deadline_async
from paperlens.errors import GenerationTimeout, PaperlensError

from support import assert_problem, make_settings, serving, start_server

ORIGIN = "https://ui.example.org"


@pytest.fixture(scope="module")
def start(tmp_path_factory, embedder, xling):
    """start(**settings) -> an httpx client on a real server running create_app with those settings."""
    stack = contextlib.ExitStack()

    def _start(**overrides) -> httpx.Client:
        return start_server(stack, tmp_path_factory.mktemp("sec") / "data", embedder, xling, **overrides)

    with stack:
        yield _start


@pytest.fixture(scope="module")
def keyed(start):
    return start(api_keys=["alpha-key-0123456789", "beta-key-0123456789"], rate_limit_per_minute=0, cors_origins=[ORIGIN], max_upload_mb=1)


# --- bind check ------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"])
def test_loopback_hosts_serve_without_keys(host, tmp_path):
    assert is_loopback(host)
    check_bind(host, make_settings(tmp_path))


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "paperlens.example.org"])
def test_exposed_hosts_need_keys(host, tmp_path):
    assert not is_loopback(host)
    with pytest.raises(PaperlensError, match="PAPERLENS_API_KEYS") as info:
        check_bind(host, make_settings(tmp_path))
    assert host in info.value.detail
    with pytest.raises(PaperlensError):
        check_bind(host, make_settings(tmp_path, api_keys=[""]))  # an empty key is no key
    with pytest.raises(PaperlensError, match="at least 16"):
        check_bind(host, make_settings(tmp_path, api_keys=["k"]))  # a short key is refused at start
    check_bind(host, make_settings(tmp_path, api_keys=["k" * 16]))


# --- keys ------------------------------------------------------------------------------------


def test_keys_guard_every_endpoint_but_healthz_and_the_ui_files(keyed):
    assert keyed.get("/healthz").status_code == 200
    for path in ("/", "/ui/app.js", "/ui/style.css"):
        r = keyed.get(path)
        assert r.status_code == 200, path

    for method, path in [("GET", "/readyz"), ("GET", "/api/papers"), ("POST", "/api/search"),
                         ("GET", "/openapi.json"), ("GET", "/docs"), ("GET", "/no/such/route")]:
        body = assert_problem(keyed.request(method, path, json={"query": "x"}), 401)
        assert "API key" in body["detail"]
    r = keyed.get("/api/papers")
    assert r.headers["www-authenticate"].startswith("Bearer")

    assert "not one of" in assert_problem(keyed.get("/api/papers", headers={"X-API-Key": "gamma-key-0123456789"}), 401)["detail"]
    assert_problem(keyed.get("/api/papers", headers={"Authorization": "Bearer alpha-key-0123456789-but-longer"}), 401)
    assert_problem(keyed.get("/api/papers", headers={"Authorization": "Basic alpha-key-0123456789"}), 401)

    assert keyed.get("/api/papers", headers={"Authorization": "Bearer alpha-key-0123456789"}).json()["total"] == 0
    assert keyed.get("/api/papers", headers={"X-API-Key": "beta-key-0123456789"}).status_code == 200
    assert keyed.get("/readyz", headers={"X-API-Key": "beta-key-0123456789"}).json()["status"] == "ready"
    assert keyed.get("/openapi.json", headers={"X-API-Key": "beta-key-0123456789"}).status_code == 200


def test_errors_behind_the_key_are_problems(keyed):
    h = {"X-API-Key": "alpha-key-0123456789"}
    assert_problem(keyed.get("/no/such/route", headers=h), 404)
    r = keyed.get("/api/search", headers=h)
    assert assert_problem(r, 405)["title"] == "Method Not Allowed" and "POST" in r.headers["allow"]
    assert_problem(keyed.post("/api/search", headers=h, json={"query": ""}), 422)


def test_body_limit_composes_with_keys(keyed):
    def chunked():  # no Content-Length: the limit has to count the bytes as they come
        yield b"--b\r\nContent-Disposition: form-data; name=\"files\"; filename=\"big.pdf\"\r\n\r\n%PDF-"
        for _ in range(2):
            yield b"0" * (1 << 20)
        yield b"\r\n--b--\r\n"

    ctype = {"content-type": "multipart/form-data; boundary=b"}
    assert_problem(keyed.post("/api/ingest/upload", content=chunked(), headers=ctype), 401)  # refused before reading
    assert_problem(keyed.post("/api/ingest/upload", content=chunked(), headers={**ctype, "X-API-Key": "alpha-key-0123456789"}), 413)
    big = b"%PDF-" + b"0" * (2 << 20)
    assert_problem(keyed.post("/api/ingest/upload", files={"files": ("a.pdf", big)}, headers={"X-API-Key": "alpha-key-0123456789"}), 413)


# --- CORS ------------------------------------------------------------------------------------


def test_cors_allows_the_configured_origin_only(keyed):
    pre = {"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
           "Access-Control-Request-Headers": "authorization, content-type"}
    r = keyed.options("/api/search", headers=pre)  # browsers send no key on a preflight
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == ORIGIN
    assert "authorization" in r.headers["access-control-allow-headers"].lower()

    r = keyed.options("/api/search", headers={**pre, "Origin": "https://evil.example"})
    assert r.status_code == 400 and "access-control-allow-origin" not in r.headers

    r = keyed.get("/api/papers", headers={"Origin": ORIGIN, "X-API-Key": "alpha-key-0123456789"})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == ORIGIN
    r = keyed.get("/api/papers", headers={"Origin": ORIGIN})  # the page can read why it was refused
    assert r.status_code == 401 and r.headers["access-control-allow-origin"] == ORIGIN
    r = keyed.get("/api/papers", headers={"Origin": "https://evil.example", "X-API-Key": "alpha-key-0123456789"})
    assert "access-control-allow-origin" not in r.headers


# --- rate limits -----------------------------------------------------------------------------


def test_rate_limit_per_client_address_without_keys(start):
    client = start(rate_limit_per_minute=5)
    assert [client.get("/api/papers").status_code for _ in range(5)] == [200] * 5
    r = client.get("/api/papers")
    body = assert_problem(r, 429)
    retry = int(r.headers["retry-after"])
    assert 1 <= retry <= 12 and body["retry_after_s"] == retry  # one token per 12 s at 5/min
    assert_problem(client.post("/api/search", json={"query": "x"}), 429)  # one bucket for every route
    assert all(client.get("/healthz").status_code == 200 for _ in range(20))
    r = client.get("/api/papers", headers={"Origin": ORIGIN})
    assert r.status_code == 429 and not any(h.startswith("access-control") for h in r.headers)  # no CORS set


def test_rate_limit_per_key_and_key_guessing_is_throttled(start):
    client = start(api_keys=["k1-0123456789abcdef", "k2-0123456789abcdef"], rate_limit_per_minute=3)
    k1, k2 = {"X-API-Key": "k1-0123456789abcdef"}, {"Authorization": "Bearer k2-0123456789abcdef"}
    assert [client.get("/api/papers", headers=k1).status_code for _ in range(4)] == [200, 200, 200, 429]
    assert client.get("/api/papers", headers=k2).status_code == 200  # its own bucket
    # wrong keys count against the address: after 3 refusals the guesser is slowed to 1 per 20 s
    guesses = [client.get("/api/papers", headers={"X-API-Key": f"guess{i}"}).status_code for i in range(5)]
    assert guesses == [401, 401, 401, 429, 429]
    assert client.get("/api/papers", headers=k2).status_code == 200


def test_token_bucket_refills_at_its_rate():
    now = [1000.0]
    bucket = TokenBucket(60, clock=lambda: now[0])  # one token a second, 60 at most
    assert all(bucket.take("a") == 0.0 for _ in range(60))
    assert bucket.take("a") == pytest.approx(1.0)
    now[0] += 0.5
    assert bucket.take("a") == pytest.approx(0.5)
    now[0] += 0.5
    assert bucket.take("a") == 0.0 and bucket.take("a") > 0
    now[0] += 3600  # refills to its capacity, no further
    assert sum(bucket.take("a") == 0.0 for _ in range(100)) == 60
    assert bucket.take("b") == 0.0


# --- deadlines -------------------------------------------------------------------------------


def _slow(seconds: float, value: object = "done", log: list | None = None):
    def fn():
        time.sleep(seconds)
        if log is not None:
            log.append(value)
        return value

    return fn


def test_run_with_deadline_returns_raises_and_times_out():
    assert run_with_deadline(_slow(0.05, 42), 5) == 42
    with pytest.raises(ZeroDivisionError):
        run_with_deadline(lambda: 1 / 0, 5)
    t0 = time.monotonic()
    with pytest.raises(GenerationTimeout, match="summary took longer than 0.3 s") as info:
        run_with_deadline(_slow(1.0), 0.3, what="summary")
    assert 0.25 < time.monotonic() - t0 < 0.8
    assert info.value.status == 504 and info.value.extra["timeout_s"] == 0.3
    time.sleep(0.8)  # let the abandoned call end before the next test uses the pool


def test_work_queued_past_its_deadline_never_starts():
    ran: list = []
    busy = [threading.Thread(target=run_with_deadline, args=(_slow(0.6, i, ran), 5)) for i in range(2)]
    for t in busy:
        t.start()
    time.sleep(0.05)
    with pytest.raises(GenerationTimeout):
        run_with_deadline(_slow(0.0, "late", ran), 0.2)  # waits behind the two, runs out
    for t in busy:
        t.join()
    time.sleep(0.1)
    assert sorted(ran, key=str) == [0, 1]


def test_run_with_deadline_async_keeps_the_loop_free():
    async def main():
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        task = asyncio.create_task(ticker())
        assert await run_with_deadline_async(_slow(0.2, "ok"), 5) == "ok"
        with pytest.raises(GenerationTimeout):
            await run_with_deadline_async(_slow(0.8), 0.2)
        task.cancel()
        return ticks

    assert asyncio.run(main()) >= 20  # the loop ran while both calls slept in threads
    time.sleep(0.7)


def test_timeout_is_a_504_problem_and_a_crash_a_500assert_problem():
    app = FastAPI()
    problems.install(app)

    @app.get("/slow")
    def slow(seconds: float):
        return {"value": run_with_deadline(_slow(seconds), 0.3, what="answer")}

    @app.get("/slow-async")
    async def slow_async(seconds: float):
        return {"value": await run_with_deadline_async(_slow(seconds), 0.3, what="answer")}

    @app.get("/boom")
    def boom():
        raise RuntimeError("a bug")

    with serving(app) as base, httpx.Client(base_url=base, timeout=60) as client:
        body = assert_problem(client.get("/boom"), 500)
        assert "a bug" not in body["detail"]  # the log has the traceback; the client gets no internals
        for path in ("/slow", "/slow-async"):
            assert client.get(path, params={"seconds": 0.01}).json() == {"value": "done"}
            body = assert_problem(client.get(path, params={"seconds": 1.0}), 504)
            assert body["title"] == "Generation timed out" and "answer took longer" in body["detail"]
        time.sleep(1.0)
