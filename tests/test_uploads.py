"""Uploads on a shared server (issue 10): refused requests leave nothing on disk, uploads are
deleted once their job ends (or kept as originals when asked), a disk quota, leftovers of a
killed server removed at start, one bad file reported while the rest is ingested, and a body
that trickles in is cut off. Real uvicorn servers, real PDFs, real sockets."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time

import pytest

from support import assert_problem, start_server


@pytest.fixture(scope="module")
def pdf(tmp_path_factory) -> bytes:
    from fixtures_pdf import two_column_paper

    return two_column_paper(tmp_path_factory.mktemp("pdf")).read_bytes()


@pytest.fixture(scope="module")
def start(tmp_path_factory, embedder, xling):
    """start(prepare=None, **settings) -> (client, data dir); `prepare(data_dir)` runs before the server starts."""
    stack = contextlib.ExitStack()

    def _start(prepare=None, **overrides):
        data = tmp_path_factory.mktemp("uploads") / "data"
        if prepare:
            prepare(data)
        return start_server(stack, data, embedder, xling, **overrides), data

    with stack:
        yield _start


def files_under(folder) -> list[str]:
    return sorted(os.path.relpath(os.path.join(d, f), folder) for d, _, fs in os.walk(folder) for f in fs)


def wait(client, job_id: str) -> dict:
    for _ in range(2400):
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.1)
    raise AssertionError(job)


def test_one_bad_file_is_reported_the_rest_ingested_and_nothing_kept(start, pdf):
    client, data = start()
    files = [("files", ("paper.pdf", pdf, "application/pdf")), ("files", ("notes.txt", b"just notes", "text/plain"))]
    r = client.post("/api/ingest/upload", files=files)
    assert r.status_code == 202, r.text
    job = wait(client, r.json()["job_id"])
    assert job["status"] == "done", job
    report = job["report"]
    assert report["counts"]["ingested"] == 1 and report["counts"]["failed"] == 1, report
    assert report["ingested"][0]["source"] == "upload:paper.pdf"
    assert report["failed"][0]["source"] == "upload:notes.txt" and "not a PDF" in report["failed"][0]["reason"]
    assert str(data) not in str(job)
    assert files_under(data / "uploads") == []  # the parsed text is indexed; the upload is gone

    # 20 refused requests (no PDF in them) leave nothing behind
    for i in range(20):
        body = assert_problem(client.post("/api/ingest/upload", files={"files": (f"n{i}.txt", b"x" * 50_000)}), 400)
        assert body["errors"][0]["field"] == "files" and f"n{i}.txt" in body["detail"]
    assert files_under(data / "uploads") == []

    many = [("files", (f"p{i}.pdf", b"%PDF-1.4", "application/pdf")) for i in range(101)]
    assert "at most 100" in assert_problem(client.post("/api/ingest/upload", files=many), 400)["detail"]
    assert files_under(data / "uploads") == []


def test_the_upload_quota_refuses_with_507_and_leaves_nothing(start, pdf):
    client, data = start(max_upload_disk_mb=1)
    big = b"%PDF-1.4\n" + os.urandom(1_200_000)
    r = client.post("/api/ingest/upload", files={"files": ("big.pdf", big, "application/pdf")})
    body = assert_problem(r, 507)
    assert "max_upload_disk_mb" in body["detail"]
    assert files_under(data / "uploads") == []
    r = client.post("/api/ingest/upload", files={"files": ("paper.pdf", pdf, "application/pdf")})  # fits
    assert r.status_code == 202 and wait(client, r.json()["job_id"])["status"] == "done"


def test_originals_are_kept_only_when_asked(start, pdf):
    client, data = start(keep_uploads=True)
    for _ in range(2):  # the same bytes twice: one copy kept
        r = client.post("/api/ingest/upload", files={"files": ("paper.pdf", pdf, "application/pdf")})
        assert wait(client, r.json()["job_id"])["status"] == "done"
    kept = files_under(data / "uploads")
    assert len(kept) == 1 and kept[0].startswith("kept/") and (data / "uploads" / kept[0]).read_bytes() == pdf


def test_leftovers_of_a_killed_server_are_removed_at_start(start, pdf):
    def leftovers(data):
        up = data / "uploads"
        (up / ".incoming-deadbeef").mkdir(parents=True)
        (up / ".incoming-deadbeef" / "1.pdf").write_bytes(pdf[:500])
        (up / "0123abcd.pdf.part").write_bytes(pdf)  # the old layout's temporary file
        (up / ("e" * 32)).mkdir()
        (up / ("e" * 32) / "1.pdf").write_bytes(pdf)  # a job the catalog does not know

    client, data = start(prepare=leftovers)
    assert client.get("/healthz").status_code == 200
    assert files_under(data / "uploads") == []


def _trickle(port: int, result: list, i: int) -> None:
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(30)
    head = (f"POST /api/ingest/upload HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n").encode()
    s.sendall(head + b'--b\r\nContent-Disposition: form-data; name="files"; filename="slow.pdf"\r\n\r\n%PDF-')
    t0 = time.monotonic()
    reply = b""
    try:
        while time.monotonic() - t0 < 20 and b"\r\n\r\n" not in reply:
            try:
                s.sendall(b"0")  # one byte every 0.2 s: 100 kB would take 5 1/2 hours
            except OSError:
                pass
            s.settimeout(0.2)
            with contextlib.suppress(socket.timeout):
                chunk = s.recv(4096)
                if not chunk:
                    break
                reply += chunk
        result[i] = (time.monotonic() - t0, reply)
    finally:
        s.close()


def test_a_body_trickling_in_is_cut_off(start):
    client, data = start(body_timeout_s=1.0)
    port = int(str(client.base_url).rstrip("/").rsplit(":", 1)[1])
    result: list = [None] * 5
    threads = [threading.Thread(target=_trickle, args=(port, result, i)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(40)
    for elapsed, reply in result:
        assert reply.startswith(b"HTTP/1.1 408"), reply[:200]
        assert b"application/problem+json" in reply and b"body_timeout_s" in reply
        assert elapsed < 10, elapsed  # held for about body_timeout_s, not for as long as the client likes
    assert files_under(data / "uploads") == []
    assert client.get("/healthz").status_code == 200
