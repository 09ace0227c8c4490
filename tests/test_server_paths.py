"""Server paths in `POST /api/ingest` (issue 10, critical): off by default; with
PAPERLENS_INGEST_ROOTS only regular files inside the roots, one 403 for every refusal (no
existence oracle), reports without server paths, and nothing that blocks (FIFOs) or has no size
limit. Real uvicorn servers, real files, FIFOs and symlinks."""

from __future__ import annotations

import contextlib
import gzip
import json
import logging
import os
import threading
import time

import httpx
import pytest

from paperlens.ingest.pipeline import IngestRequest, Ingestor

from support import assert_problem, start_server, write_jsonl
from test_pipeline import RECORDS

SECRET = "hunter2-staging-root-password"


def digest_page(title: str, text: str) -> str:
    return f"## {title}\n\n**Authors:Ann Lee**\n\n{text}\n\n[PDF](https://arxiv.org/abs/2501.0{abs(hash(title)) % 9000 + 1000})\n"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A root folder full of traps, and a private folder beside it holding a password."""
    tmp = tmp_path_factory.mktemp("paths")
    private = tmp / "private"
    private.mkdir()
    (private / "ops_notes.md").write_text(digest_page("Ops Notes", f"The staging root password is {SECRET}."))
    root = tmp / "root"
    (root / "papers").mkdir(parents=True)
    write_jsonl(root / "papers" / "meta.jsonl", RECORDS)
    (root / "report.docx").write_bytes(b"PK\x03\x04 not a paper")
    mixed = root / "mixed"
    mixed.mkdir()
    (mixed / "good.md").write_text(digest_page("Flow Matching for Super-Resolution", "We regress a velocity field."))
    (mixed / "link_out.md").symlink_to(private / "ops_notes.md")  # a symlink leaving the root
    (mixed / "linkdir").symlink_to(private, target_is_directory=True)
    (mixed / ".hidden").mkdir()
    (mixed / ".hidden" / "notes.md").write_text(digest_page("Hidden Notes", f"Hidden copy: {SECRET}."))
    os.mkfifo(mixed / "wedge.md")  # read() on it would block forever
    (mixed / "zero.md").symlink_to("/dev/zero")
    (root / "big.md").write_text(digest_page("Big", "word " * (300 * 1024)))  # 1.5 MiB
    padded = (json.dumps(dict(RECORDS[0], id=f"2501.{i:05d}", padding="x" * 100_000)).encode() + b"\n" for i in range(20))
    (root / "bomb.jsonl.gz").write_bytes(gzip.compress(b"".join(padded)))  # 2 MiB inflated, a few KiB on disk
    return tmp


@pytest.fixture(scope="module")
def servers(world, tmp_path_factory, embedder, xling):
    """(off, rooted): a server with default settings, and one whose ingest root is world/root."""
    stack = contextlib.ExitStack()
    clients = []
    with stack:
        for name, extra in (("off", {}), ("rooted", {"ingest_roots": [world / "root"], "max_digest_mb": 1,
                                                     "max_metadata_mb": 1})):
            clients.append(start_server(stack, tmp_path_factory.mktemp(name) / "data", embedder, xling, **extra))
        yield clients


def wait_job(client: httpx.Client, job_id: str, timeout_s: float = 120) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} still {job['status']} after {timeout_s} s: {job}")


def secret_found(client: httpx.Client) -> bool:
    hits = client.post("/api/search", json={"query": "staging root password", "k": 20}).json()["hits"]
    return any(SECRET in h["text"] for h in hits)


def test_server_paths_are_off_by_default_and_tell_nothing(servers, world):
    off, _ = servers
    bodies = []
    for path in (world / "private" / "ops_notes.md", world / "no" / "such.md", world / "root" / "papers"):
        bodies.append(assert_problem(off.post("/api/ingest", json={"paths": [str(path)]}), 403))
    assert bodies[0] == bodies[1] == bodies[2]  # existing, missing, harmless: one answer
    assert "PAPERLENS_INGEST_ROOTS" in bodies[0]["detail"] and bodies[0]["errors"][0]["field"] == "paths"
    assert not secret_found(off)


def test_every_refused_path_gets_the_same_403(servers, world, caplog):
    _, rooted = servers
    root = world / "root"
    refused = [
        str(world / "private" / "ops_notes.md"),  # outside, absolute
        "../private/ops_notes.md",  # outside, relative: taken inside the root, not the server's cwd
        str(root / "papers" / ".." / ".." / "private" / "ops_notes.md"),
        str(root / "mixed" / "link_out.md"),  # a symlink leaving the root
        str(root / "mixed" / "linkdir" / "ops_notes.md"),
        str(root / "mixed" / ".hidden" / "notes.md"),  # a dot folder
        str(root / "mixed" / "wedge.md"),  # a FIFO
        str(root / "mixed" / "zero.md"),  # a device
        str(root / "missing.md"),  # inside the root, but missing: the same answer
        "x" * 300,  # a name longer than the file system allows (was a 500)
        "/etc/passwd",
        "a\x00b",
    ]
    bodies = [assert_problem(rooted.post("/api/ingest", json={"paths": [p]}), 403) for p in refused]
    assert all(b == bodies[0] for b in bodies), bodies
    assert bodies[0]["errors"] == [{"field": "paths.0", "message": bodies[0]["errors"][0]["message"]}]
    # the index of the refused path is named; which one of several is refused is not hidden
    body = assert_problem(rooted.post("/api/ingest", json={"paths": ["papers", refused[0]]}), 403)
    assert body["errors"][0]["field"] == "paths.1"

    with caplog.at_level(logging.INFO):
        huge = "a" * 100_000
        body = assert_problem(rooted.post("/api/ingest", json={"paths": [huge]}), 422)
        assert body["errors"][0]["field"] == "paths.0"
    assert not any(huge[:1000] in r.getMessage() for r in caplog.records)  # never the whole path in a log
    assert not secret_found(rooted)


def test_a_root_is_walked_without_leaving_it_or_blocking(servers, world):
    _, rooted = servers
    r = rooted.post("/api/ingest", json={"paths": ["mixed", str(world / "root" / "papers" / "meta.jsonl")]})
    assert r.status_code == 202, r.text
    job = wait_job(rooted, r.json()["job_id"], timeout_s=60)  # the FIFO in the folder is never opened
    assert job["status"] == "done", job
    report = job["report"]
    assert report["counts"]["ingested"] == 4, report  # good.md and the 3 records; nothing else
    assert {it["source"].split("#")[0] for it in report["ingested"]} == {"mixed/good.md", "papers/meta.jsonl"}
    assert str(world) not in json.dumps(job)  # no absolute server path in what a client reads
    assert not secret_found(rooted)
    hits = rooted.post("/api/search", json={"query": "velocity field flow matching", "k": 5}).json()["hits"]
    assert hits and hits[0]["title"] == "Flow Matching for Super-Resolution"


def test_one_unsupported_path_does_not_stop_the_batch(servers, world):
    _, rooted = servers
    root = world / "root"
    r = rooted.post("/api/ingest", json={"paths": [str(root / "report.docx"), str(root / "papers" / "meta.jsonl")]})
    assert r.status_code == 202, r.text
    job = wait_job(rooted, r.json()["job_id"])
    assert job["status"] == "done", job
    counts = job["report"]["counts"]
    assert counts["failed"] == 1 and counts["ingested"] + counts["unchanged"] == 3, job["report"]
    [failed] = job["report"]["failed"]
    assert failed["source"] == "report.docx" and "unknown kind" in failed["reason"]


def test_every_kind_of_file_has_a_size_cap(servers, world):
    _, rooted = servers
    r = rooted.post("/api/ingest", json={"paths": ["big.md", "bomb.jsonl.gz"]})
    job = wait_job(rooted, r.json()["job_id"])
    assert job["status"] == "done", job
    failed = {it["source"].split(":")[0]: it["reason"] for it in job["report"]["failed"]}
    assert "over the limit of 1 MiB" in failed["big.md"], failed
    assert "over the limit of 1 MiB" in failed["bomb.jsonl.gz"] and "rest of the file was not read" in failed["bomb.jsonl.gz"]
    # the records read before the inflating file hit its cap are kept
    assert 0 < job["report"]["counts"]["ingested"] < 20


def test_the_cli_pipeline_skips_a_fifo_instead_of_hanging(library, settings, world):
    """The CLI reads any local path, but never one that blocks: a FIFO named directly is reported."""
    fifo = world / "root" / "mixed" / "wedge.md"
    result: dict = {}

    def run():
        result["report"] = Ingestor(library, settings).run(IngestRequest(paths=[fifo, world / "root" / "mixed" / "good.md"]))

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(60)
    assert not t.is_alive(), "ingest blocked on a FIFO"
    report = result["report"].to_dict()
    assert report["counts"]["ingested"] == 1
    [failed] = report["failed"]
    assert failed["source"] == str(fifo) and "FIFO" in failed["reason"]
