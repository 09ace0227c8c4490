"""The HTTP edge of a shared server (issue 10): Host allowlist and Origin check, one problem+json
shape for every malformed request (uvicorn's own 400 included), strict and bounded request
fields, probes that answer while answer requests pile up, what one PDF may cost, and the lock
message of a second `paperlens serve`. Real uvicorn servers on 127.0.0.1, raw sockets where a
client library would refuse to send the request."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest

from paperlens.api.app import create_app
from paperlens.api.security import run_with_deadline
from paperlens.ingest.pipeline import IngestRequest, Ingestor, open_library

from support import assert_problem, free_port, make_settings, serving

ORIGIN = "https://ui.lab.example"


@pytest.fixture(scope="module")
def server(tmp_path_factory, embedder, xling):
    settings = make_settings(tmp_path_factory.mktemp("edges") / "data", cors_origins=[ORIGIN],
                             allowed_hosts=["papers.lab.example"])
    library = open_library(settings, embedder=embedder, xling=xling)
    with serving(create_app(settings, library)) as base, httpx.Client(base_url=base, timeout=60) as client:
        yield client, int(base.rsplit(":", 1)[1])
    library.close()


def raw(port: int, request: bytes) -> tuple[bytes, dict[str, str], bytes]:
    """(status line, headers, body) of a raw HTTP/1.1 exchange."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(request)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status, *lines = head.split(b"\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.decode("latin-1").partition(":") for line in lines)}
    return status, headers, body


# --- browsers -----------------------------------------------------------------------------------


def test_only_allowed_host_names_are_answered(server):
    client, port = server
    for host in ("attacker.example", "attacker.example:80", "127.0.0.2", "[::2]"):
        body = assert_problem(client.get("/api/papers", headers={"Host": host}), 400)
        assert body["title"] == "Invalid host" and body["errors"][0]["field"] == "header.host"
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "LOCALHOST", f"[::1]:{port}", "papers.lab.example"):
        assert client.get("/api/papers", headers={"Host": host}).status_code == 200, host
    assert client.get("/healthz", headers={"Host": "10.0.0.7:8000"}).status_code == 200  # probes use any address


def test_state_changing_requests_from_other_origins_are_refused(server):
    client, port = server
    form = {"files": ("notes.txt", b"not a pdf", "text/plain")}
    # a page elsewhere can send this without a preflight (multipart is a "simple" request)
    body = assert_problem(client.post("/api/ingest/upload", files=form, headers={"Origin": "https://evil.example"}), 403)
    assert body["errors"][0]["field"] == "header.origin"
    assert_problem(client.post("/api/search", json={"query": "x"}, headers={"Origin": "null"}), 403)
    # the server's own pages, the configured origin, and clients that send no Origin go on as before
    for headers in ({"Origin": f"http://127.0.0.1:{port}"}, {"Origin": ORIGIN}, {}):
        assert "not a PDF" in assert_problem(client.post("/api/ingest/upload", files=form, headers=headers), 400)["detail"]
    assert client.get("/api/papers", headers={"Origin": "https://evil.example"}).status_code == 200  # reads: CORS decides


# --- one error shape ------------------------------------------------------------------------------


@pytest.mark.parametrize("content, says", [
    (b'{"query": "caf\xe9"}', "not UTF-8"),
    (b"[" * 100_000, "nested too deeply"),
    (b'{"query": "x", "k": ' + b"9" * 5000 + b"}", "number too long"),
    (b'{"query": "x", "k": 1', "not valid JSON"),
])
def test_bodies_that_are_not_json_get_the_problem_shape(server, content, says):
    client, _ = server
    r = client.post("/api/search", content=content, headers={"content-type": "application/json"})
    body = assert_problem(r, 422)
    assert body["errors"][0]["field"] == "body" and says in body["errors"][0]["message"], body


def test_the_apps_own_400s_and_the_servers_own_400s_have_errors(server):
    client, port = server
    body = assert_problem(client.get("/api/chunks/not-a-uuid"), 400)
    assert body["errors"] == [{"field": "chunk_id", "message": body["detail"]}]

    body = assert_problem(client.get("/api/papers/%ff%fe"), 400)  # percent-encoded, not UTF-8
    assert body["errors"][0]["field"] == "path"
    status, headers, data = raw(port, b"GET /api/papers/\xff\xfe HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert status.startswith(b"HTTP/1.1 400") and headers["content-type"] == "application/problem+json", (status, data)
    problem = json.loads(data)
    assert problem["status"] == 400 and problem["errors"][0]["field"] == "request"

    long_id = "a" * 5000
    assert assert_problem(client.get(f"/api/papers/{long_id}"), 422)["errors"][0]["field"] == "paper_id"


@pytest.mark.parametrize("body, field", [
    ({"query": "x", "k": "10"}, "k"),
    ({"query": "x", "k": True}, "k"),
    ({"query": "x", "k": 10.5}, "k"),
    ({"query": "x", "k": None}, "k"),
    ({"query": "x", "filters": {"categories": ["cs.CV"] * 101}}, "filters.categories"),
    ({"query": "x", "filters": {"authors": ["a" * 201]}}, "filters.authors.0"),
    ({"query": "x", "filters": {"paper_ids": ["p"] * 501}}, "filters.paper_ids"),
    ({"arxiv_ids": ["2401.00001"] * 201}, "arxiv_ids"),
    ({"paths": ["p"] * 101}, "paths"),
    ({"arxiv_ids": ["2401.00001"], "max": "5"}, "max"),
])
def test_request_fields_are_strict_and_bounded(server, body, field):
    client, _ = server
    path = "/api/ingest" if set(body) & {"arxiv_ids", "paths"} else "/api/search"
    problem = assert_problem(client.post(path, json=body), 422)
    assert field in {e["field"] for e in problem["errors"]}, problem


def test_a_huge_list_is_refused_before_it_costs_anything(server):
    """JSON is parsed whole before a field is checked: its size is bounded first (max_json_body_kb)."""
    client, _ = server
    body = json.dumps({"query": "x", "filters": {"categories": ["c"] * 2_000_000}}).encode()  # ~10 MB
    problem = assert_problem(client.post("/api/search", content=body, headers={"content-type": "application/json"}), 413)
    assert "max_json_body_kb" in problem["detail"]

    def chunked():  # the same without a Content-Length
        yield b'{"query": "x", "filters": {"categories": ['
        for _ in range(200):
            yield b'"c", ' * 2000
        yield b'"c"]}}'

    assert_problem(client.post("/api/search", content=chunked(), headers={"content-type": "application/json"}), 413)


# --- probes under load ----------------------------------------------------------------------------


def test_probes_answer_while_answer_requests_pile_up(server):
    """Both generation threads held busy; 60 roundups arrive. Beyond answer_queue_max (8) they get
    503 with Retry-After at once, and /healthz, /readyz and /api/papers answer while the 8 wait."""
    client, _ = server
    release = threading.Event()
    blockers = [threading.Thread(target=run_with_deadline, args=(lambda: release.wait(90), 120)) for _ in range(2)]
    for t in blockers:
        t.start()
    replies: list = []

    def roundup():
        with httpx.Client(base_url=client.base_url, timeout=120) as c:
            replies.append(c.post("/api/roundup", json={"topic": "video generation"}))

    askers = [threading.Thread(target=roundup) for _ in range(60)]
    try:
        for t in askers:
            t.start()
        deadline = time.monotonic() + 60
        while len(replies) < 60 - 8 and time.monotonic() < deadline:
            time.sleep(0.05)
        probes = {}
        for path in ("/healthz", "/readyz", "/api/papers"):
            r = client.get(path, timeout=10)  # on main: every worker thread waited for the generation pool
            probes[path] = r.status_code
        waiting = 60 - len(replies)
    finally:
        release.set()
        for t in askers + blockers:
            t.join(120)
    assert probes == {"/healthz": 200, "/readyz": 200, "/api/papers": 200}, probes
    assert waiting == 8  # admitted, waiting for a generation thread while the probes were answered
    busy = [r for r in replies if r.status_code == 503]
    assert len(busy) == 52 and all(int(r.headers["retry-after"]) >= 1 for r in busy), [r.status_code for r in replies]
    assert "answer_queue_max" in assert_problem(busy[0], 503)["detail"]
    assert sorted(r.status_code for r in replies if r.status_code != 503) == [200] * 8


# --- cost of one document -------------------------------------------------------------------------


def _pdf(path, pages: list[str]) -> None:
    import pymupdf

    doc = pymupdf.open()
    for text in pages:
        page = doc.new_page()
        page.insert_textbox(pymupdf.Rect(72, 72, 540, 770), text, fontsize=10)
    doc.save(path)
    doc.close()


def test_repeated_pages_and_chunks_are_not_embedded_and_documents_are_capped(library, tmp_path):
    para = ("Diffusion models learn to reverse a gradual noising process. We train a denoiser on image "
            "patches and sample with fifty steps. The method improves perceptual quality on DIV2K. ") * 4
    _pdf(tmp_path / "copies.pdf", [para] * 500)
    _pdf(tmp_path / "long.pdf", [f"Section {i}. " + para.replace("fifty", f"{i + 10}") for i in range(40)])
    settings = library.settings.model_copy(update={"max_chunks_per_document": 10})
    report = Ingestor(library, settings).run(IngestRequest(paths=[tmp_path / "copies.pdf", tmp_path / "long.pdf"]))
    items = {os.path.basename(it.source): it for it in report.items}
    copies, long = items["copies.pdf"], items["long.pdf"]
    assert copies.status == long.status == "ingested", report.to_dict()
    assert copies.chunks <= 3 and any("499 pages repeating" in w for w in copies.warnings), copies
    assert long.chunks == 10 and any("truncated" in w and "max_chunks_per_document" in w for w in long.warnings), long
    assert library.store.count() == copies.chunks + long.chunks


# --- a second server on the same data dir ---------------------------------------------------------


def test_a_second_serve_on_a_locked_data_dir_says_only_that(library, settings, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERLENS_")}
    env.update(HF_HUB_OFFLINE="1", PAPERLENS_DATA_DIR=str(settings.data_dir), PAPERLENS_PORT=str(free_port()))
    proc = subprocess.run([sys.executable, "-m", "paperlens.cli", "serve"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=180)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "is in use by" in out and "serving on" not in out and "Traceback" not in out, out
    assert len(out.strip().splitlines()) == 1, out
