"""A local stand-in for arXiv: the Atom API and PDF downloads over real HTTP on 127.0.0.1.

    with FakeArxiv() as server:
        source = ArxivSource(server.api_url, server.pdf_url_template, tmp_path, delay_s=0.05)

Entries come from the recorded feeds in tests/data/arxiv/ (every ``feed_*.xml``) and are served
verbatim, so the real `arxiv` client parses exactly what arXiv sends. Like arXiv, ``id_list``
answers with the listed papers (unknown ids are left out; a malformed id gets HTTP 400 with an
error entry), ``search_query`` supports ``prefix:term`` (ti, abs, au, cat, co, all; quoted
phrases) joined by AND / OR, and ``start`` / ``max_results`` paginate. ``/pdf/<id>`` serves a
small valid PDF made with pymupdf. Every request is recorded with its ``time.monotonic()``
arrival time; ``fail_next`` makes the next requests fail, ``pdf_body`` replaces the PDFs (for a
non-PDF answer), ``stall_s`` delays every answer (for timeouts).
"""

from __future__ import annotations

import re
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlencode, urlsplit
from xml.sax.saxutils import escape

DATA_DIR = Path(__file__).resolve().parent / "data" / "arxiv"

_NS = {"atom": "http://www.w3.org/2005/Atom", "arxiv": "http://arxiv.org/schemas/atom"}
_ENTRY = re.compile(r"[ \t]*<entry>.*?</entry>\n?", re.S)
_VALID_ID = re.compile(r"^(?:\d{2}(?:0[1-9]|1[0-2])\.\d{4,5}|[a-z-]+(?:\.[A-Z]{2})?/\d{7})(?:v(\d+))?$")
_TERM = re.compile(r'(?:(\w+):)?("[^"]*"|[^\s()"]+)')

_FEED_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <link href="http://arxiv.org/api/query?{query}" rel="self" type="application/atom+xml"/>
  <title type="html">ArXiv Query: {title}</title>
  <id>http://arxiv.org/api/fake</id>
  <updated>2025-07-24T00:00:00-04:00</updated>
  <opensearch:totalResults xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">{total}</opensearch:totalResults>
  <opensearch:startIndex xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">{start}</opensearch:startIndex>
  <opensearch:itemsPerPage xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">{per_page}</opensearch:itemsPerPage>
"""


@dataclass
class Entry:
    """One recorded paper: its raw Atom text plus the fields the search matcher looks at."""

    base_id: str
    version: int
    raw: str
    title: str
    summary: str
    authors: list[str]
    comment: str
    categories: list[str]
    published: str
    updated: str

    def as_version(self, version: int) -> str:
        """The entry as arXiv serves an older version: its id, links and date change."""
        raw = self.raw.replace(f"{self.base_id}v{self.version}", f"{self.base_id}v{version}")
        if version == 1:
            raw = raw.replace(f"<updated>{self.updated}</updated>", f"<updated>{self.published}</updated>")
        return raw


@dataclass
class Request:
    t: float  # time.monotonic() when the request arrived
    path: str
    params: dict[str, str]
    status: int = 0


@dataclass
class FakeArxiv:
    data_dir: Path = DATA_DIR
    requests: list[Request] = field(default_factory=list)
    pdf_body: bytes | None = None  # replaces every PDF answer when set
    stall_s: float = 0.0

    def __post_init__(self) -> None:
        self.entries: dict[str, Entry] = {}
        for path in sorted(self.data_dir.glob("feed_*.xml")):
            for entry in load_entries(path.read_text(encoding="utf-8")):
                self.entries.setdefault(entry.base_id, entry)
        self._lock = threading.Lock()
        self._fail_left = 0
        self._fail_status = 503
        self._pdfs: dict[str, bytes] = {}
        self._server: ThreadingHTTPServer | None = None

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> FakeArxiv:
        # Made up front: building one while a timed request arrives would skew its timestamp.
        for entry in self.entries.values():
            self._pdf(f"{entry.base_id}v{entry.version}")
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, args=(0.05,), name="fake-arxiv", daemon=True).start()
        self._server = server
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeArxiv:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "FakeArxiv not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/query"

    @property
    def pdf_url_template(self) -> str:
        return f"{self.base_url}/pdf/{{id}}"

    # --- controls ------------------------------------------------------------------------------

    def fail_next(self, n: int, status: int = 503) -> None:
        with self._lock:
            self._fail_left = n
            self._fail_status = status

    def times(self, path_prefix: str = "/") -> list[float]:
        with self._lock:
            return [r.t for r in self.requests if r.path.startswith(path_prefix)]

    def api_requests(self) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.path == "/api/query"]

    def matching(self, query: str) -> list[Entry]:
        """The entries a search_query selects, in the served order."""
        groups = [
            [m for m in _TERM.finditer(group) if m.group(0) != "AND"]
            for group in re.split(r"\s+OR\s+", query.strip())
        ]
        return [e for e in self.entries.values() if any(all(_matches(e, m) for m in g) for g in groups)]

    # --- answers -------------------------------------------------------------------------------

    def handle(self, path: str, params: dict[str, str]) -> tuple[int, str, bytes]:
        with self._lock:
            if self._fail_left > 0:
                self._fail_left -= 1
                return self._fail_status, "text/plain", b"Service temporarily unavailable\n"
        if path == "/api/query":
            return self._query(params)
        if path.startswith("/pdf/"):
            return self._pdf(path[len("/pdf/") :])
        return 404, "text/plain", b"not found\n"

    def _query(self, params: dict[str, str]) -> tuple[int, str, bytes]:
        start = int(params.get("start") or 0)
        per_page = int(params.get("max_results") or 10)
        ids = [i for i in (params.get("id_list") or "").split(",") if i]
        query = params.get("search_query") or ""
        for i in ids:
            if not _VALID_ID.match(i):
                body = (self.data_dir / "error_incorrect_id.xml").read_text(encoding="utf-8")
                return 400, "application/atom+xml", body.replace("2413.00001", escape(i)).encode()
        raws: list[str] = []
        if ids:
            for i in ids:
                base, version = _split_id(i)
                entry = self.entries.get(base)
                if entry is None or (version is not None and version > entry.version):
                    continue
                if query and entry not in self.matching(query):
                    continue
                raws.append(entry.as_version(version) if version else entry.raw)
        elif query:
            raws = [e.raw for e in self.matching(query)]
        page = raws[start : start + per_page]
        title = escape(f"search_query={query}&id_list={','.join(ids)}&start={start}&max_results={per_page}")
        head = _FEED_HEAD.format(
            query=escape(urlencode(params)), title=title, total=len(raws), start=start, per_page=per_page
        )
        body = head + "".join(page) + "</feed>\n"
        return 200, "application/atom+xml; charset=utf-8", body.encode("utf-8")

    def _pdf(self, versioned_id: str) -> tuple[int, str, bytes]:
        if self.pdf_body is not None:
            return 200, "text/html", self.pdf_body
        entry = self.entries.get(_split_id(versioned_id)[0])
        if entry is None:
            return 404, "text/plain", f"no PDF for {versioned_id}\n".encode()
        with self._lock:
            if versioned_id not in self._pdfs:
                self._pdfs[versioned_id] = _make_pdf(f"arXiv:{versioned_id}", entry.title)
            return 200, "application/pdf", self._pdfs[versioned_id]


def load_entries(feed_xml: str) -> list[Entry]:
    """Entries of a recorded feed: raw text (served as is) and parsed fields (for matching)."""
    root = ET.fromstring(feed_xml.encode("utf-8"))
    parsed = root.findall("atom:entry", _NS)
    raws = _ENTRY.findall(feed_xml)
    assert len(raws) == len(parsed), "every <entry> must be on its own lines"
    entries = []
    for raw, e in zip(raws, parsed):
        short = e.findtext("atom:id", "", _NS).split("/abs/")[-1]
        base, version = short.rsplit("v", 1)
        primary = e.find("arxiv:primary_category", _NS)
        cats = [primary.get("term", "")] if primary is not None else []
        cats += [c.get("term", "") for c in e.findall("atom:category", _NS)]
        entries.append(
            Entry(
                base_id=base,
                version=int(version),
                raw=raw,
                title=" ".join(e.findtext("atom:title", "", _NS).split()),
                summary=" ".join(e.findtext("atom:summary", "", _NS).split()),
                authors=[a.findtext("atom:name", "", _NS) for a in e.findall("atom:author", _NS)],
                comment=" ".join(e.findtext("arxiv:comment", "", _NS).split()),
                categories=list(dict.fromkeys(c for c in cats if c)),
                published=e.findtext("atom:published", "", _NS),
                updated=e.findtext("atom:updated", "", _NS),
            )
        )
    return entries


def _split_id(arxiv_id: str) -> tuple[str, int | None]:
    m = _VALID_ID.match(arxiv_id)
    if m is None or m.group(1) is None:
        return arxiv_id, None
    return arxiv_id[: -len(m.group(1)) - 1], int(m.group(1))


def _matches(entry: Entry, m: re.Match[str]) -> bool:
    prefix = (m.group(1) or "all").lower()
    value = m.group(2).strip('"').lower()
    if prefix == "cat":
        return value in (c.lower() for c in entry.categories)
    fields = {
        "ti": [entry.title],
        "abs": [entry.summary],
        "au": entry.authors,
        "co": [entry.comment],
        "all": [entry.title, entry.summary, entry.comment, *entry.authors],
    }.get(prefix, [])
    return any(value.replace("_", " ") in f.lower() for f in fields)


def _make_pdf(label: str, title: str) -> bytes:
    import pymupdf  # tests may build fixtures with it; only this helper needs it

    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 72), label, fontsize=12)
    page.insert_textbox(pymupdf.Rect(72, 90, 540, 300), title, fontsize=14)
    data = doc.tobytes(garbage=3, deflate=True)
    doc.close()
    return data


def _handler_for(fake: FakeArxiv) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, like a real server behind requests' pool

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            arrived = time.monotonic()
            parts = urlsplit(self.path)
            params = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
            request = Request(t=arrived, path=unquote(parts.path), params=params)
            with fake._lock:
                fake.requests.append(request)
            status, ctype, body = fake.handle(request.path, params)
            request.status = status
            if fake.stall_s:
                time.sleep(fake.stall_s)
            try:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout tests)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler
