"""Graceful shutdown: `paperlens serve` in its own process gets SIGTERM while a request is still
streaming in; the request completes, new connections are refused, the queued job still runs and
the process exits cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from paperlens.index.catalog import Catalog

from support import free_port

pytestmark = pytest.mark.slow


def _serve(data_dir: Path, port: int, cwd: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERLENS_")}
    env.update(
        HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", PAPERLENS_DATA_DIR=str(data_dir),
        PAPERLENS_HOST="127.0.0.1", PAPERLENS_PORT=str(port), PAPERLENS_PARSE_WORKERS="1",
    )
    # cwd: a folder with no .env, so only these settings apply
    return subprocess.Popen(
        [sys.executable, "-m", "paperlens.cli", "serve"], env=env, cwd=cwd,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def test_sigterm_lets_the_request_in_flight_finish(tmp_path):
    from fixtures_pdf import two_column_paper

    pdf = two_column_paper(tmp_path).read_bytes()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = _serve(tmp_path / "data", port, tmp_path)
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, proc.stdout.read()
            try:
                if httpx.get(f"{base}/readyz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not become ready in 180 s"
            time.sleep(0.2)

        head = b'--b\r\nContent-Disposition: form-data; name="files"; filename="p.pdf"\r\n\r\n'
        pieces = [pdf[i : i + 4096] for i in range(0, len(pdf), 4096)]
        refused: list[BaseException] = []

        def terminate_and_probe():
            proc.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            try:
                httpx.get(f"{base}/healthz", timeout=2)
            except httpx.TransportError as exc:  # the listener is closed once shutdown begins
                refused.append(exc)

        def slow_body():
            yield head
            threading.Thread(target=terminate_and_probe).start()  # the request is now in flight
            for piece in pieces:
                time.sleep(1.5 / len(pieces))
                yield piece
            yield b"\r\n--b--\r\n"

        t0 = time.monotonic()
        r = httpx.post(f"{base}/api/ingest/upload", content=slow_body(),
                       headers={"content-type": "multipart/form-data; boundary=b"}, timeout=60)
        assert time.monotonic() - t0 >= 1.4  # the body really streamed across the SIGTERM
        assert r.status_code == 202, r.text
        job_id = r.json()["job_id"]
        assert refused, "a new connection was accepted after SIGTERM"

        out, _ = proc.communicate(timeout=90)
        # uvicorn re-raises the signal once it has shut down cleanly, so the exit reads as SIGTERM
        assert proc.returncode in (0, -signal.SIGTERM), out
        assert "Traceback" not in out, out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    # The job accepted before the signal was run before the process left (the worker drains its queue).
    [path] = (tmp_path / "data").glob("catalog-*.sqlite3")
    catalog = Catalog(path)
    try:
        job = catalog.job(job_id)
    finally:
        catalog.close()
    assert job["status"] == "done" and job["report"]["counts"]["ingested"] == 1, job
