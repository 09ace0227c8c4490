"""Papers from arXiv: metadata through the Atom API (the `arxiv` package) and PDF downloads.

This is the only module that imports `arxiv` (and `requests`, which `arxiv` is built on). arXiv asks
for at most one request every three seconds, so every request an `ArxivSource` makes, API pages
and PDFs alike, from any thread, passes one gate; transient failures (connection errors, timeouts,
429, 5xx) are retried with backoff, then reported as `SourceError` naming the ids or the query.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import arxiv
import requests

from paperlens.errors import BadInput, NotFound, SourceError
from paperlens.models import PaperMeta, paper_id_for_arxiv, parse_arxiv_id
from paperlens.text import squash_spaces  # arXiv hard-wraps titles, abstracts and comments at ~80 columns

if TYPE_CHECKING:
    from paperlens.settings import Settings

# Ids per API request: arXiv rejects very long URLs, and 100 ids is one default page.
_ID_BATCH = 100
_MAX_RETRY_AFTER_S = 60.0
_TRANSIENT = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)

# The look-behind keeps 'gist.github.com/...' from reading as a repository.
_GITHUB_REPO = re.compile(r"(?<![\w.-])(?:https?://)?(?:www\.)?github\.com/([\w-]+)/([\w.-]+)", re.I)
_GITHUB_PAGE = re.compile(r"(?<![\w.-])(?:https?://)?([\w-]+\.github\.io(?:/[\w.~%+-]+)*)", re.I)
_ERROR_SUMMARY = re.compile(r"<summary[^>]*>\s*(.*?)\s*</summary>", re.S)


@dataclass
class ArxivPaper:
    meta: PaperMeta
    pdf_url: str  # built from the configured template, for the version the metadata describes

    @property
    def versioned_id(self) -> str:
        return _versioned(self.meta.arxiv_id or "", self.meta.arxiv_version)


class ArxivSource:
    """One polite arXiv client: shared rate limit, retries, atomic PDF downloads."""

    def __init__(
        self,
        api_url: str,
        pdf_url_template: str,
        download_dir: Path,
        delay_s: float = 3.0,
        retries: int = 3,
        timeout_s: float = 60,
        page_size: int = 100,
    ) -> None:
        self._pdf_url_template = pdf_url_template
        self._download_dir = Path(download_dir)
        self._http = _PoliteSession(_Gate(delay_s), retries=retries, timeout_s=timeout_s, backoff_s=delay_s)
        # The gate and _PoliteSession do the spacing and the retries with backoff, so the client's own
        # sleep is off; its retries stay on for what only it can see: a later page coming back empty,
        # which arXiv does now and then.
        self._client = arxiv.Client(page_size=page_size, delay_seconds=0, num_retries=retries)
        sep = "&" if "?" in api_url else "?"
        self._client.query_url_format = api_url.replace("{", "{{").replace("}", "}}") + sep + "{}"
        # arxiv.Client has no public way to pass a session; this attribute is the one it requests with.
        # Without it nothing would be rate limited, so a renamed attribute must fail loudly.
        if not isinstance(getattr(self._client, "_session", None), requests.Session):
            raise RuntimeError(f"arxiv {arxiv.__version__}: Client._session is gone; update ArxivSource")
        self._client._session = self._http

    @classmethod
    def from_settings(cls, settings: Settings, download_dir: Path | None = None) -> ArxivSource:
        return cls(
            api_url=settings.arxiv_api_url,
            pdf_url_template=settings.arxiv_pdf_url,
            download_dir=download_dir or settings.data_dir / "downloads" / "arxiv",
            delay_s=settings.arxiv_delay_s,
            retries=settings.arxiv_retries,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ArxivSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- metadata ------------------------------------------------------------------------------

    def fetch_ids(self, ids: list[str]) -> list[ArxivPaper]:
        """Papers in the order asked, one per base id; a version in the input picks that version."""
        requested: dict[str, str] = {}  # base id -> id as sent to arXiv
        invalid: list[str] = []
        for raw in ids:
            parsed = parse_arxiv_id(raw)
            if parsed is None:
                invalid.append(raw)
                continue
            base, version = parsed
            requested.setdefault(base, _versioned(base, version))
        if invalid:
            raise BadInput(f"not arXiv ids: {', '.join(map(repr, invalid))}", field="ids", invalid=invalid)

        found: dict[str, ArxivPaper] = {}
        sent = list(requested.values())
        for start in range(0, len(sent), _ID_BATCH):
            batch = sent[start : start + _ID_BATCH]
            search = arxiv.Search(id_list=batch, max_results=len(batch))
            for paper in self._papers(search, what=f"ids {', '.join(batch)}"):
                if paper.meta.arxiv_id in requested:
                    found.setdefault(paper.meta.arxiv_id, paper)
        missing = [sent_id for base, sent_id in requested.items() if base not in found]
        if missing:
            raise NotFound(
                f"arXiv has no paper with id {', '.join(missing)} "
                f"({len(found)} of {len(requested)} requested ids were found)",
                missing=missing,
            )
        return [found[base] for base in requested]

    def search(self, query: str, max_results: int) -> list[ArxivPaper]:
        """arXiv search syntax ('all:diffusion AND cat:cs.CV'), in arXiv's relevance order."""
        if not query.strip():
            raise BadInput("empty arXiv search query", field="query")
        if max_results < 1:
            raise BadInput(f"max_results must be at least 1, got {max_results}", field="max_results")
        papers: dict[str, ArxivPaper] = {}
        for paper in self._papers(arxiv.Search(query=query, max_results=max_results), what=f"query {query!r}"):
            papers.setdefault(paper.meta.paper_id, paper)
        return list(papers.values())

    def _papers(self, search: arxiv.Search, what: str) -> Iterator[ArxivPaper]:
        try:
            results = list(self._client.results(search))
        except (_RequestFailed, arxiv.ArxivError) as exc:
            raise SourceError(f"arXiv request for {what} failed: {exc}", input=what) from exc
        for result in results:
            paper = self._paper(result)
            if paper is not None:
                yield paper

    def _paper(self, result: arxiv.Result) -> ArxivPaper | None:
        # Error entries (http://arxiv.org/api/errors#...) are not papers.
        if "/abs/" not in result.entry_id:
            return None
        parsed = parse_arxiv_id(result.get_short_id())
        if parsed is None:
            return None
        base, version = parsed
        pdf_url = self._pdf_url_template.format(id=_versioned(base, version))
        comment = squash_spaces(result.comment or "")
        abstract = squash_spaces(result.summary)
        links = {"arxiv": f"https://arxiv.org/abs/{base}", "pdf": pdf_url}
        texts = [comment, *(link.href for link in result.links), abstract]
        code = _first_match(_GITHUB_REPO, texts, lambda m: f"https://github.com/{m[1]}/{_repo_name(m[2])}")
        if code:
            links["code"] = code
        project = _first_match(_GITHUB_PAGE, texts, lambda m: "https://" + m[1].rstrip("."))
        if project:
            links["project"] = project

        extra: dict[str, Any] = {"updated": result.updated.date().isoformat()}
        for key, value in (("comment", comment), ("journal_ref", result.journal_ref), ("doi", result.doi)):
            if value:
                extra[key] = squash_spaces(value)
        affiliations = {squash_spaces(a.name): a.affiliation for a in result.authors if a.affiliation}
        if affiliations:
            extra["affiliations"] = affiliations

        categories = list(dict.fromkeys(c for c in [result.primary_category, *result.categories] if c))
        meta = PaperMeta(
            paper_id=paper_id_for_arxiv(base),
            title=squash_spaces(result.title),
            authors=[squash_spaces(a.name) for a in result.authors],
            arxiv_id=base,
            arxiv_version=version,
            date=result.published.date().isoformat(),
            categories=categories,
            abstract=abstract,
            links=links,
            extra=extra,
        )
        return ArxivPaper(meta=meta, pdf_url=pdf_url)

    # --- PDFs ----------------------------------------------------------------------------------

    def pdf_path(self, paper: ArxivPaper) -> Path:
        # Old-style ids ('hep-th/9711200') carry a slash.
        return self._download_dir / (paper.versioned_id.replace("/", "_") + ".pdf")

    def download_pdf(self, paper: ArxivPaper) -> Path:
        """The PDF at pdf_path(paper); an existing file is trusted and nothing is requested."""
        target = self.pdf_path(paper)
        if target.is_file() and target.stat().st_size > 0:
            return target
        what = f"PDF of arXiv {paper.versioned_id} ({paper.pdf_url})"
        try:
            response = self._http.get(paper.pdf_url)
        except _RequestFailed as exc:
            raise SourceError(f"download of {what} failed: {exc}", input=paper.versioned_id) from exc
        data = response.content
        if not data.startswith(b"%PDF"):
            kind = response.headers.get("Content-Type", "no content type")
            raise SourceError(
                f"download of {what} returned {kind}, not a PDF (starts with {data[:20]!r})",
                input=paper.versioned_id,
            )
        self._download_dir.mkdir(parents=True, exist_ok=True)
        # Written beside the target and renamed: a killed process never leaves a partial file there.
        fd, tmp = tempfile.mkstemp(dir=self._download_dir, prefix=f".{target.name}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target


class _RequestFailed(Exception):
    """Raised inside the arxiv client's call stack; it does not catch it, so it reaches _papers."""


class _Gate:
    """Spaces the starts of all requests at least `delay_s` apart, across threads."""

    def __init__(self, delay_s: float) -> None:
        self._delay_s = delay_s
        self._lock = threading.Lock()
        self._next = 0.0

    def wait(self) -> None:
        # Sleeping under the lock is the point: the other threads queue behind this one.
        with self._lock:
            now = time.monotonic()
            if now < self._next:
                time.sleep(self._next - now)
                now = time.monotonic()
            self._next = now + self._delay_s

    def hold_off(self, seconds: float) -> None:
        """After a failure every thread waits, not only the one that saw it."""
        with self._lock:
            self._next = max(self._next, time.monotonic() + seconds)


class _PoliteSession(requests.Session):
    """The arxiv client's session: every request gated, timed out, and retried when transient."""

    def __init__(self, gate: _Gate, retries: int, timeout_s: float, backoff_s: float) -> None:
        super().__init__()
        self.headers["User-Agent"] = f"paperlens (arxiv.py/{arxiv.__version__})"
        self._gate = gate
        self._retries = retries
        self._timeout_s = timeout_s
        self._backoff_s = backoff_s

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self._timeout_s)
        problem = ""
        retry_after: str | None = None
        for attempt in range(self._retries + 1):
            if attempt:
                self._gate.hold_off(self._pause(attempt, retry_after))
                retry_after = None
            self._gate.wait()
            try:
                response = super().request(method, url, *args, **kwargs)
            except _TRANSIENT as exc:
                problem = f"{type(exc).__name__}: {exc}"
                continue
            except requests.RequestException as exc:
                raise _RequestFailed(f"{type(exc).__name__}: {exc}") from exc
            status = response.status_code
            if status == 429 or status >= 500:
                problem = f"HTTP {status} from {url!s}"
                retry_after = response.headers.get("Retry-After")
                response.close()
                continue
            if status >= 400:
                raise _RequestFailed(f"HTTP {status} from {url!s}: {_error_detail(response)}")
            return response
        raise _RequestFailed(f"{problem} (gave up after {self._retries + 1} attempts)")

    def _pause(self, attempt: int, retry_after: str | None) -> float:
        pause = self._backoff_s * 2 ** (attempt - 1)
        if retry_after and retry_after.strip().isdigit():
            pause = max(pause, min(float(retry_after), _MAX_RETRY_AFTER_S))
        return pause


def _error_detail(response: requests.Response) -> str:
    """arXiv explains a rejected query in the summary of an error entry; else the body's start."""
    text = response.text
    m = _ERROR_SUMMARY.search(text)
    return squash_spaces(m.group(1) if m else text[:200]) or "(empty body)"


def _versioned(base: str, version: int | None) -> str:
    return f"{base}v{version}" if version else base


def _repo_name(name: str) -> str:
    # A sentence may end right after the URL ('.../complift.').
    name = name.rstrip(".")
    return name[: -len(".git")] if name.endswith(".git") else name


def _first_match(pattern: re.Pattern[str], texts: list[str], render: Any) -> str | None:
    for text in texts:
        m = pattern.search(text)
        if m:
            return render(m)
    return None
