"""The HTTP API on a real uvicorn server on 127.0.0.1, driven with httpx."""

from __future__ import annotations

import time

import httpx
import pytest

from paperlens.api.app import create_app
from paperlens.ingest.pipeline import open_library

from support import assert_problem, make_settings, serving, write_jsonl
from test_pipeline import RECORDS


@pytest.fixture(scope="module")
def server(tmp_path_factory, embedder, xling):
    tmp = tmp_path_factory.mktemp("api")
    (tmp / "shared").mkdir()
    settings = make_settings(tmp / "data", max_upload_mb=1, ingest_roots=[tmp / "shared"])
    library = open_library(settings, embedder=embedder, xling=xling)
    with serving(create_app(settings, library)) as base, httpx.Client(base_url=base, timeout=120) as client:
        yield client, tmp
    library.close()


def _wait_job(client: httpx.Client, job_id: str) -> dict:
    for _ in range(1200):
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.1)
    raise AssertionError("job did not finish")


def test_ingest_job_then_search_papers_chunks(server):
    client, tmp = server
    src = write_jsonl(tmp / "shared" / "meta.jsonl", RECORDS)
    r = client.post("/api/ingest", json={"paths": [str(src)]})
    assert r.status_code == 202
    job = _wait_job(client, r.json()["job_id"])
    assert job["status"] == "done", job
    assert job["report"]["counts"]["ingested"] == 3
    assert job["progress"]["done"] >= 3

    r = client.post("/api/search", json={"query": "diffusion super-resolution", "k": 3})
    assert r.status_code == 200
    hits = r.json()["hits"]
    assert hits and hits[0]["arxiv_id"] == "2401.00001"
    for key in ("paper_id", "arxiv_id", "title", "authors", "date", "section", "page", "chunk_id", "text", "score"):
        assert key in hits[0]

    filtered = client.post(
        "/api/search", json={"query": "diffusion", "k": 10, "filters": {"categories": ["cs.CL"]}}
    ).json()["hits"]
    assert all(h["paper_id"] == "arxiv:2402.00002" for h in filtered)

    papers = client.get("/api/papers").json()
    assert papers["total"] == 3 and {p["arxiv_id"] for p in papers["papers"]} == {"2401.00001", "2402.00002", "2403.00003"}
    paper = client.get("/api/papers/arxiv:2401.00001").json()
    assert paper["title"] == RECORDS[0]["title"] and paper["authors"] == RECORDS[0]["authors"]

    chunk = client.get(f"/api/chunks/{hits[0]['chunk_id']}").json()
    assert chunk["text"] == hits[0]["text"] and chunk["paper_id"] == hits[0]["paper_id"]
    assert client.get("/openapi.json").json()["paths"]["/api/search"]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"query": ""}, "query"),
        ({"query": "   "}, "query"),
        ({"query": "x", "k": 0}, "k"),
        ({"query": "x", "k": "ten"}, "k"),
        ({"query": "x", "filters": {"date_from": "last week"}}, "filters.date_from"),
        ({"query": "x", "filters": {"colour": "red"}}, "filters.colour"),
        ({"k": 3}, "query"),
    ],
)
def test_bad_search_requests_get_problem_naming_the_field(server, body, field):
    client, _ = server
    problem = assert_problem(client.post("/api/search", json=body), 422)
    assert field in problem["detail"]
    assert any(e["field"] == field for e in problem["errors"])


def test_not_json_and_unknown_ids(server):
    client, _ = server
    assert_problem(client.post("/api/search", content=b"{not json", headers={"content-type": "application/json"}), 422)
    assert_problem(client.get("/api/papers/arxiv:9999.99999"), 404)
    assert_problem(client.get("/api/chunks/not-a-uuid"), 400)
    assert_problem(client.get("/api/chunks/00000000-0000-0000-0000-000000000000"), 404)
    assert_problem(client.get("/api/jobs/nope"), 404)
    assert "may ingest" in assert_problem(client.post("/api/ingest", json={"paths": ["/no/such/file.pdf"]}), 403)["detail"]
    assert_problem(client.post("/api/ingest", json={}), 400)


def test_upload_limits_hold_without_content_length(server):
    client, _ = server

    def body():  # a generator: httpx sends it chunked, with no Content-Length
        yield b"--b\r\nContent-Disposition: form-data; name=\"files\"; filename=\"big.pdf\"\r\n\r\n%PDF-"
        for _ in range(3):
            yield b"0" * (1 << 20)
        yield b"\r\n--b--\r\n"

    r = client.post("/api/ingest/upload", content=body(), headers={"content-type": "multipart/form-data; boundary=b"})
    assert_problem(r, 413)
    r = client.post("/api/ingest/upload", files={"files": ("x.pdf", b"hello", "application/pdf")})
    assert "not a PDF" in assert_problem(r, 400)["detail"]


def test_upload_pdf_is_ingested_with_pages_and_sections(server):
    from fixtures_pdf import two_column_paper

    client, tmp = server
    (tmp / "gen").mkdir(exist_ok=True)
    pdf = two_column_paper(tmp / "gen")
    r = client.post("/api/ingest/upload", files={"files": ("paper.pdf", pdf.read_bytes(), "application/pdf")})
    assert r.status_code == 202, r.text
    job = _wait_job(client, r.json()["job_id"])
    assert job["status"] == "done" and job["report"]["counts"]["ingested"] == 1, job
    item = job["report"]["ingested"][0]
    paper = client.get(f"/api/papers/{item['paper_id']}").json()
    assert paper["arxiv_id"] == "2401.12345"  # read from the rotated stamp
    hits = client.post(
        "/api/search", json={"query": "diffusion", "k": 10, "filters": {"paper_ids": [item["paper_id"]]}}
    ).json()["hits"]
    assert hits and all(h["paper_id"] == item["paper_id"] for h in hits)
    assert all(h["page"] >= 1 and h["section"] for h in hits)
