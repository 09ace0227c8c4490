"""Helpers shared by the tests (importable as `support`; pytest puts tests/ on sys.path)."""

from __future__ import annotations

import contextlib
import gzip
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"


def corpus_path(*parts: str) -> Path:
    """A path inside ../shared/corpus, or skip the test with a message saying what is missing."""
    path = CORPUS.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not found: tests on the real corpus need ../shared/corpus beside the project")
    return path


def make_settings(data_dir: Path, **overrides):
    from paperlens.settings import Settings

    # No rate limit unless a test sets one: tests poll jobs faster than any person would.
    base = dict(data_dir=data_dir, arxiv_delay_s=0.0, parse_workers=2, rate_limit_per_minute=0, _env_file=None)
    base.update(overrides)
    return Settings(**base)


def write_jsonl(path: Path, records: list[dict]) -> Path:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    return path


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(app):
    """A real uvicorn server for `app` on a free 127.0.0.1 port, in a thread: yields its base URL."""
    import threading
    import time

    import uvicorn

    from paperlens.api.server import uvicorn_config

    port = free_port()
    srv = uvicorn.Server(uvicorn_config(app, "127.0.0.1", port))  # the configuration `paperlens serve` runs
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):  # up to 30 s: the lifespan opens the library before the socket listens
        if srv.started:
            break
        time.sleep(0.05)
    try:
        yield base
    finally:
        srv.should_exit = True
        thread.join(30)


def start_server(stack: contextlib.ExitStack, data_dir: Path, embedder, xling, **overrides):
    """An httpx client on a real server running create_app(settings with `overrides`) over a fresh
    library in `data_dir`; everything is closed when `stack` closes."""
    import httpx

    from paperlens.api.app import create_app
    from paperlens.ingest.pipeline import open_library

    library = open_library(make_settings(data_dir, **overrides), embedder=embedder, xling=xling)
    stack.callback(library.close)
    base = stack.enter_context(serving(create_app(library.settings, library)))
    return stack.enter_context(httpx.Client(base_url=base, timeout=120))


def assert_problem(r, status: int) -> dict:
    """The response is the API's one error shape (problem+json) with this status; its body."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body
