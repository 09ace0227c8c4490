"""What one hostile client costs a shared `paperlens serve` (issue 10): the figures of
docs/reliability.md, "Safe to share".

    .venv/bin/python bench/shared_server.py                  # -> bench/results/shared_server.json
    .venv/bin/python bench/shared_server.py --label main     # the same against another checkout:
        PYTHONPATH=/path/to/a/paperlens/package .venv/bin/python bench/shared_server.py --label main

It ingests the shipped sample (300 arXiv records) into a temporary data dir, starts `paperlens
serve` on a free 127.0.0.1 port with the settings given in the environment, and measures:

1. /healthz latency while 60 POST /api/roundup arrive at once (polled every 0.2 s until every
   roundup has its answer), with the roundups' status codes and the time until the last answered;
2. disk under data_dir/uploads after 20 uploads of one distinct 1 MiB PDF plus one text file
   (refused whole before issue 10; now the PDF is ingested and the text file reported), after 20
   uploads of a text file alone (refused by both), and once every job has finished;
3. the server's peak RSS growth (VmRSS, sampled every 20 ms) under the largest bodies: a 90 MB
   JSON search body with 18 M categories (accepted before, 413 now), a 1 MiB JSON body, and a
   multipart upload of max_upload_mb - 1 MiB.

Every figure depends on the machine and on what else runs there: the JSON says which.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from common import RESULTS, ROOT, machine, percentiles, write_json
from load_test import free_port, start_server, wait_ready

SAMPLE = ROOT / "paperlens" / "sample"


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class PeakRss:
    def __init__(self, pid: int) -> None:
        self.pid, self.base, self.peak, self._stop = pid, rss_kib(pid), 0, threading.Event()

    def __enter__(self):
        self.peak = self.base
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_kib(self.pid))
            time.sleep(0.02)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth_mib(self) -> float:
        return round((self.peak - self.base) / 1024, 1)


def du(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) if folder.exists() else 0


def small_pdf() -> bytes:
    import pymupdf

    doc = pymupdf.open()
    doc.new_page().insert_text((72, 72), "A small paper about diffusion super-resolution.", fontsize=11)
    data = doc.tobytes()
    doc.close()
    return data


def healthz_under_roundups(url: str, n: int = 60) -> dict:
    with httpx.Client(base_url=url, timeout=120) as probe:  # the baseline: the same probe, nothing else running
        idle = []
        for _ in range(20):
            s = time.monotonic()
            probe.get("/healthz")
            idle.append(time.monotonic() - s)
            time.sleep(0.05)
    replies: list[tuple[int, float]] = []
    t0 = time.monotonic()

    def roundup() -> None:
        try:
            r = httpx.post(f"{url}/api/roundup", json={"topic": "diffusion super-resolution"}, timeout=300)
            replies.append((r.status_code, time.monotonic() - t0))
        except httpx.HTTPError:
            replies.append((0, time.monotonic() - t0))

    threads = [threading.Thread(target=roundup) for _ in range(n)]
    for t in threads:
        t.start()
    lat, trace = [], []
    with httpx.Client(base_url=url, timeout=120) as probe:  # one keep-alive connection, as a prober has
        while any(t.is_alive() for t in threads):
            s = time.monotonic()
            try:
                probe.get("/healthz")
            except httpx.HTTPError:
                pass
            lat.append(time.monotonic() - s)
            trace.append((round(s - t0, 2), round(lat[-1] * 1000, 1)))
            time.sleep(0.2)
    for t in threads:
        t.join()
    codes: dict[str, int] = {}
    for code, _ in replies:
        codes[str(code)] = codes.get(str(code), 0) + 1
    return {"healthz_idle": percentiles(idle), "roundups": n, "statuses": codes, "last_answer_s": round(max(t for _, t in replies), 2),
            "healthz": {**percentiles(lat), "max_ms": round(max(lat) * 1000, 1)},
            "healthz_trace_s_ms": trace[:5] + sorted(trace, key=lambda x: -x[1])[:5]}


def wait_jobs(url: str, job_ids: list[str], timeout_s: float = 600) -> None:
    deadline = time.monotonic() + timeout_s
    for job_id in job_ids:
        while time.monotonic() < deadline:
            if httpx.get(f"{url}/api/jobs/{job_id}", timeout=30).json()["status"] in ("done", "failed"):
                break
            time.sleep(0.5)


def uploads_disk(url: str, data_dir: Path) -> dict:
    pdf = small_pdf()
    statuses: dict[str, int] = {}
    jobs = []
    for i in range(20):  # distinct bytes: a trailer after %%EOF changes the hash, not the text
        body = pdf + b"\n%" + os.urandom(2**20 - len(pdf) - 2)
        files = [("files", (f"p{i}.pdf", body, "application/pdf")), ("files", (f"n{i}.txt", b"notes", "text/plain"))]
        r = httpx.post(f"{url}/api/ingest/upload", files=files, timeout=120)
        statuses[str(r.status_code)] = statuses.get(str(r.status_code), 0) + 1
        if r.status_code == 202:
            jobs.append(r.json()["job_id"])
    mixed_now = du(data_dir / "uploads")
    wait_jobs(url, jobs)
    mixed_after = du(data_dir / "uploads")
    text_only = {}
    for i in range(20):
        r = httpx.post(f"{url}/api/ingest/upload", files={"files": (f"n{i}.txt", os.urandom(2**20), "text/plain")}, timeout=120)
        text_only[str(r.status_code)] = text_only.get(str(r.status_code), 0) + 1
    return {"pdf_plus_text": {"statuses": statuses, "uploads_bytes_at_once": mixed_now, "uploads_bytes_after_jobs": mixed_after},
            "text_only": {"statuses": text_only, "uploads_bytes": du(data_dir / "uploads") - mixed_after}}


def memory_under_bodies(url: str, pid: int, max_upload_mb: int) -> dict:
    out = {}
    huge = b'{"query": "x", "filters": {"categories": [' + b'"c", ' * (18_000_000 - 1) + b'"c"]}}'
    one_mib = b'{"query": "x", "filters": {"paper_ids": [' + b", ".join([b'"' + b"p" * 190 + b'"'] * 5300) + b"]}}"  # 1,028,240 B
    pdf = small_pdf()
    upload = pdf + b"\n%" + b"0" * ((max_upload_mb - 1) * 2**20)
    cases = [("search_90MB_18M_categories", "/api/search", {"content": huge, "headers": {"content-type": "application/json"}}),
             ("search_1MiB_json", "/api/search", {"content": one_mib, "headers": {"content-type": "application/json"}}),
             (f"upload_{max_upload_mb - 1}MiB", "/api/ingest/upload", {"files": {"files": ("big.pdf", upload, "application/pdf")}})]
    for name, path, kwargs in cases:
        time.sleep(1.0)
        with PeakRss(pid) as rss:
            t0 = time.monotonic()
            r = httpx.post(f"{url}{path}", timeout=300, **kwargs)
            elapsed = time.monotonic() - t0
            time.sleep(0.5)
        out[name] = {"bytes": len(kwargs.get("content") or upload), "status": r.status_code, "seconds": round(elapsed, 2),
                     "rss_growth_mib": rss.growth_mib, "rss_base_mib": round(rss.base / 1024, 1)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--label", default="branch", help="names the result file: bench/results/shared_server-LABEL.json")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="shared-server-"))
    data = work / "data"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PAPERLENS_DATA_DIR": str(data)}
    try:
        subprocess.run([sys.executable, "-m", "paperlens.cli", "ingest", str(SAMPLE)], env=env, cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc = start_server(data, port, work / "serve.log")  # load_test's: the same settings and command
        try:
            wait_ready(url, proc)
            result = {"label": args.label, "machine": machine(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                      "loadavg_start": os.getloadavg()}
            result["healthz_under_60_roundups"] = healthz_under_roundups(url)
            result["uploads_disk"] = uploads_disk(url, data)
            result["memory_under_bodies"] = memory_under_bodies(url, proc.pid, int(os.environ.get("PAPERLENS_MAX_UPLOAD_MB", "100")))
            result["loadavg_end"] = os.getloadavg()
        finally:
            proc.terminate()
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
        out = write_json(RESULTS / f"shared_server-{args.label}.json", result)
        print(out.read_text())
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
