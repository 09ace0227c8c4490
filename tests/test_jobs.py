"""Ingest jobs on a shared server (issue 10): key roles and job ownership, cancel, the job time
limit, the queue bound, and queued jobs that survive a killed server. Real uvicorn servers; the
slow jobs are real arXiv ingests from the local fake arXiv (tests/arxiv_server.py), slowed by
arXiv's own politeness delay."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from paperlens.api.app import create_app
from paperlens.errors import PaperlensError

from arxiv_server import FakeArxiv
from support import assert_problem, free_port, make_settings, start_server

SIX = ["2409.17058", "2505.21144", "2507.09441", "2503.12049", "2505.13740", "hep-th/9711200"]
READ, INGEST, BOTH, ADMIN = ("read-only-key-0123456789", "ingest-only-key-0123456789",
                             "read-ingest-key-0123456789", "admin-key-0123456789abcd")
KEYS = [{"key": READ, "roles": ["read"]}, {"key": INGEST, "roles": ["ingest"]},
        {"key": BOTH, "roles": ["read", "ingest"]}, {"key": ADMIN, "roles": ["admin"]}]


def h(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def arxiv():
    with FakeArxiv() as fake:
        yield fake


@pytest.fixture(scope="module")
def start(tmp_path_factory, embedder, xling, arxiv):
    """start(**settings) -> httpx client on a real server; arXiv requests 0.6 s apart (a slow job)."""
    stack = contextlib.ExitStack()

    def _start(**overrides) -> httpx.Client:
        slow = dict(arxiv_api_url=arxiv.api_url, arxiv_pdf_url=arxiv.pdf_url_template, arxiv_delay_s=0.6)
        return start_server(stack, tmp_path_factory.mktemp("jobs") / "data", embedder, xling, **{**slow, **overrides})

    with stack:
        yield _start


def wait(client: httpx.Client, job_id: str, headers=None, timeout_s: float = 120) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        job = client.get(f"/api/jobs/{job_id}", headers=headers).json()
        if job["status"] in ("done", "failed") or time.monotonic() > deadline:
            return job
        time.sleep(0.1)


def test_keys_have_roles_and_jobs_their_owner(start):
    client = start(api_keys=KEYS)
    assert client.post("/api/search", json={"query": "diffusion"}, headers=h(READ)).status_code == 200
    body = assert_problem(client.post("/api/ingest", json={"arxiv_ids": SIX[:1]}, headers=h(READ)), 403)
    assert "'ingest' role" in body["detail"]
    assert_problem(client.get("/api/jobs/x", headers=h(READ)), 403)
    assert_problem(client.post("/api/search", json={"query": "x"}, headers=h(INGEST)), 403)  # no 'read'

    r = client.post("/api/ingest", json={"arxiv_ids": SIX[:1]}, headers=h(INGEST))
    assert r.status_code == 202, r.text
    job_id = r.json()["job_id"]
    assert wait(client, job_id, h(INGEST))["status"] == "done"
    # another key sees no such job: the same 404 as for an id that never existed
    theirs = assert_problem(client.get(f"/api/jobs/{job_id}", headers=h(BOTH)), 404)
    never = assert_problem(client.get(f"/api/jobs/{'0' * 32}", headers=h(BOTH)), 404)
    assert theirs["title"] == never["title"] and theirs["detail"].replace(job_id, "ID") == never["detail"].replace("0" * 32, "ID")
    assert_problem(client.post(f"/api/jobs/{job_id}/cancel", headers=h(BOTH)), 404)
    assert client.get(f"/api/jobs/{job_id}", headers=h(ADMIN)).json()["status"] == "done"  # admin sees every job
    assert client.post("/api/search", json={"query": "x"}, headers=h(ADMIN)).status_code == 200


def test_keys_shorter_than_16_characters_are_refused_at_start(tmp_path):
    for keys in (["short-key"], [{"key": "short", "roles": ["read"]}], ["x" * 16, "x" * 16]):
        with pytest.raises(PaperlensError, match="PAPERLENS_API_KEYS entry"):
            create_app(make_settings(tmp_path / "data", api_keys=keys))
    create_app(make_settings(tmp_path / "data", api_keys=["x" * 16]))


def test_cancel_a_queued_and_a_running_job(start):
    client = start(ingest_queue_max=2)
    running = client.post("/api/ingest", json={"arxiv_ids": SIX}).json()["job_id"]  # ~8 s of polite requests
    queued = client.post("/api/ingest", json={"arxiv_ids": SIX[:1]}).json()["job_id"]
    third = client.post("/api/ingest", json={"arxiv_ids": SIX[:2]}).json()["job_id"]
    for _ in range(100):
        if client.get(f"/api/jobs/{running}").json()["status"] == "running":
            break
        time.sleep(0.05)
    # the queue holds two waiting jobs: a fourth is refused until one leaves it
    r = client.post("/api/ingest", json={"arxiv_ids": SIX[:1]})
    body = assert_problem(r, 503)
    assert int(r.headers["retry-after"]) >= 1 and "ingest_queue_max" in body["detail"]

    r = client.post(f"/api/jobs/{queued}/cancel")
    assert r.status_code == 202 and r.json()["status"] == "failed" and "cancelled" in r.json()["error"]
    t0 = time.monotonic()
    r = client.post(f"/api/jobs/{running}/cancel")
    assert r.status_code == 202
    job = wait(client, running, timeout_s=30)
    assert job["status"] == "failed" and job["error"] == "the job was cancelled", job
    assert time.monotonic() - t0 < 20  # stopped at the next paper, not after all six
    assert job["report"]["counts"]["ingested"] < 12  # 6 metadata + 6 PDFs had it run to the end
    assert wait(client, third)["status"] == "done"  # the worker goes on with the next job
    assert client.get(f"/api/jobs/{queued}").json()["status"] == "failed"  # never ran


def test_a_job_stops_at_its_time_limit(start):
    client = start(job_timeout_s=1.5)
    job_id = client.post("/api/ingest", json={"arxiv_ids": SIX}).json()["job_id"]
    job = wait(client, job_id, timeout_s=60)
    assert job["status"] == "failed" and "time limit of 1.5 s" in job["error"], job
    after = client.post("/api/ingest", json={"arxiv_ids": SIX[:1]}).json()["job_id"]
    assert wait(client, after)["status"] in ("done", "failed")  # the worker went on to the next job
    assert client.get("/healthz").json() == {"status": "ok"}


# --- a killed server ------------------------------------------------------------------------------


def _serve(data_dir: Path, port: int, cwd: Path, arxiv: FakeArxiv) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERLENS_")}
    env.update(
        HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", PAPERLENS_DATA_DIR=str(data_dir),
        PAPERLENS_HOST="127.0.0.1", PAPERLENS_PORT=str(port), PAPERLENS_PARSE_WORKERS="1",
        PAPERLENS_ARXIV_API_URL=arxiv.api_url, PAPERLENS_ARXIV_PDF_URL=arxiv.pdf_url_template,
        PAPERLENS_ARXIV_DELAY_S="1.0", PAPERLENS_MODELS_DIR=os.environ["PAPERLENS_MODELS_DIR"],
    )
    return subprocess.Popen([sys.executable, "-m", "paperlens.cli", "serve"], env=env, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _ready(proc: subprocess.Popen, base: str) -> None:
    deadline = time.monotonic() + 240
    while True:
        assert proc.poll() is None, proc.stdout.read()
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{base}/readyz", timeout=5).status_code == 200:
                return
        assert time.monotonic() < deadline, "server not ready in 240 s"
        time.sleep(0.3)


@pytest.mark.slow
def test_queued_jobs_survive_a_killed_server(tmp_path, arxiv):
    from fixtures_pdf import two_column_paper

    pdf = two_column_paper(tmp_path).read_bytes()
    data = tmp_path / "data"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = _serve(data, port, tmp_path, arxiv)
    try:
        _ready(proc, base)
        running = httpx.post(f"{base}/api/ingest", json={"arxiv_ids": SIX}).json()["job_id"]
        r = httpx.post(f"{base}/api/ingest/upload", files={"files": ("paper.pdf", pdf, "application/pdf")})
        assert r.status_code == 202, r.text
        queued = r.json()["job_id"]
        deadline = time.monotonic() + 60
        while httpx.get(f"{base}/api/jobs/{running}").json()["status"] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert httpx.get(f"{base}/api/jobs/{queued}").json()["status"] == "queued"
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    uploads = data / "uploads"
    assert (uploads / queued).is_dir()  # the queued job's upload waits for it
    # what a killed server leaves behind: a half-received upload, a folder of a job that is gone
    (uploads / ".incoming-0123").mkdir()
    (uploads / ".incoming-0123" / "1.pdf").write_bytes(pdf[:1000])
    (uploads / ("f" * 32)).mkdir()
    (uploads / ("f" * 32) / "1.pdf").write_bytes(pdf)

    proc = _serve(data, port, tmp_path, arxiv)
    try:
        _ready(proc, base)
        assert sorted(p.name for p in uploads.iterdir()) in ([queued], [])  # leftovers removed at start
        job = httpx.get(f"{base}/api/jobs/{queued}").json()
        deadline = time.monotonic() + 180
        while job["status"] not in ("done", "failed"):
            assert time.monotonic() < deadline, job
            time.sleep(0.3)
            job = httpx.get(f"{base}/api/jobs/{queued}").json()
        assert job["status"] == "done" and job["report"]["counts"]["ingested"] == 1, job  # ran after the restart
        assert job["report"]["ingested"][0]["source"] == "upload:paper.pdf"
        interrupted = httpx.get(f"{base}/api/jobs/{running}").json()
        assert interrupted["status"] == "failed" and "restart" in interrupted["error"]
        assert list(uploads.iterdir()) == []  # the upload is deleted once ingested
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
