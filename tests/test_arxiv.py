"""ArxivSource against a local fake arXiv: the real `arxiv` client, real HTTP on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest
from arxiv_server import FakeArxiv

from paperlens.errors import BadInput, NotFound, SourceError
from paperlens.ingest.arxiv_source import ArxivPaper, ArxivSource

EPS = 0.03  # scheduling jitter between the client's clock and the server's arrival stamp


@pytest.fixture
def server():
    with FakeArxiv() as fake:
        yield fake


def make_source(server: FakeArxiv, tmp_path: Path, **kwargs) -> ArxivSource:
    kwargs.setdefault("delay_s", 0.02)
    kwargs.setdefault("retries", 2)
    kwargs.setdefault("timeout_s", 5)
    return ArxivSource(server.api_url, server.pdf_url_template, tmp_path / "pdfs", **kwargs)


def gaps(times: list[float]) -> list[float]:
    times = sorted(times)
    return [b - a for a, b in zip(times, times[1:])]


# --- metadata --------------------------------------------------------------------------------


def test_fetch_ids_matches_every_recorded_entry(server, tmp_path):
    entries = list(server.entries.values())
    assert len(entries) >= 5
    ids = [e.base_id for e in reversed(entries)]
    papers = make_source(server, tmp_path, page_size=4).fetch_ids(ids)

    assert [p.meta.arxiv_id for p in papers] == ids  # the caller's order, not the feed's
    for paper, entry in zip(papers, reversed(entries)):
        meta = paper.meta
        assert meta.paper_id == f"arxiv:{entry.base_id}"
        assert meta.arxiv_version == entry.version
        assert meta.title == entry.title and "\n" not in meta.title
        assert meta.authors == entry.authors
        assert meta.date == entry.published[:10]
        assert meta.categories[0] == entry.categories[0]  # primary first
        assert sorted(meta.categories) == sorted(entry.categories)
        assert meta.abstract == entry.summary
        assert meta.links["arxiv"] == f"https://arxiv.org/abs/{entry.base_id}"
        assert paper.pdf_url == server.pdf_url_template.format(id=f"{entry.base_id}v{entry.version}")
        assert meta.links["pdf"] == paper.pdf_url


def test_fetch_ids_accepts_any_id_form_and_reads_links(server, tmp_path):
    source = make_source(server, tmp_path)
    papers = source.fetch_ids(
        ["arXiv:2409.17058", "https://arxiv.org/abs/2505.13740v2", "hep-th/9711200", "2409.17058v2", "2503.12049"]
    )
    assert [p.meta.paper_id for p in papers] == [
        "arxiv:2409.17058", "arxiv:2505.13740", "arxiv:hep-th/9711200", "arxiv:2503.12049"
    ]
    assert len(server.api_requests()) == 1  # one id_list request, duplicate dropped
    s3diff, lift, maldacena, taco = (p.meta for p in papers)

    assert s3diff.title == "Degradation-Guided One-Step Image Super-Resolution with Diffusion Priors"
    assert s3diff.authors[0] == "Aiping Zhang" and len(s3diff.authors) == 5
    assert (s3diff.arxiv_version, s3diff.date, s3diff.extra["updated"]) == (2, "2024-09-25", "2024-10-12")
    assert s3diff.links["code"] == "https://github.com/ArcticHare105/S3Diff"  # from the comment
    assert s3diff.extra["affiliations"]["Zongsheng Yue"] == ["S-Lab, Nanyang Technological University"]

    # The feed lists cs.AI, cs.CV, cs.LG; the primary category is cs.LG.
    assert server.entries["2505.13740"].raw.index('term="cs.AI"') < server.entries["2505.13740"].raw.index(
        '<category term="cs.LG"'
    )
    assert lift.categories == ["cs.LG", "cs.AI", "cs.CV"]
    # Only the abstract has it, as 'http://github.com/rainorangelemon/complift.' ending a sentence.
    assert lift.links["code"] == "https://github.com/rainorangelemon/complift"
    assert "comment" not in lift.extra

    assert maldacena.arxiv_id == "hep-th/9711200" and maldacena.arxiv_version == 3
    assert maldacena.date == "1997-11-27"  # first publication, not the 1998 revision
    assert maldacena.extra["journal_ref"] == "Adv.Theor.Math.Phys.2:231-252,1998"
    assert "code" not in maldacena.links

    assert taco.links["project"] == "https://jason-aplp.github.io/TACO"
    assert "code" not in taco.links


def test_fetch_a_specific_version(server, tmp_path):
    (paper,) = make_source(server, tmp_path).fetch_ids(["2409.17058v1"])
    assert paper.meta.arxiv_version == 1
    assert paper.pdf_url.endswith("/pdf/2409.17058v1")
    assert paper.meta.date == "2024-09-25" == paper.meta.extra["updated"]
    assert server.api_requests()[0].params["id_list"] == "2409.17058v1"


def test_unknown_ids_are_listed(server, tmp_path):
    with pytest.raises(NotFound) as err:
        make_source(server, tmp_path).fetch_ids(["2409.17058", "2501.99999", "2502.00001v3"])
    assert "2501.99999" in err.value.detail and "2502.00001v3" in err.value.detail
    assert err.value.extra["missing"] == ["2501.99999", "2502.00001v3"]
    assert "1 of 3" in err.value.detail


def test_a_version_arxiv_does_not_have_is_unknown(server, tmp_path):
    with pytest.raises(NotFound, match="2409.17058v9"):
        make_source(server, tmp_path).fetch_ids(["2409.17058v9"])


def test_text_that_is_no_arxiv_id_is_bad_input_and_sends_nothing(server, tmp_path):
    with pytest.raises(BadInput, match="'diffusion models'"):
        make_source(server, tmp_path).fetch_ids(["2409.17058", "diffusion models"])
    assert server.requests == []


def test_id_arxiv_rejects_reports_arxivs_reason_without_retrying(server, tmp_path):
    # Looks like an id to us (month 13 does not exist); arXiv answers 400 with an error entry.
    with pytest.raises(SourceError, match="incorrect id format for 2413.00001") as err:
        make_source(server, tmp_path, retries=3).fetch_ids(["2413.00001"])
    assert "ids 2413.00001" in err.value.detail
    assert [r.status for r in server.requests] == [400]


# --- search ----------------------------------------------------------------------------------


def test_search_pages_through_results(server, tmp_path):
    query = "all:diffusion"
    expected = [e.base_id for e in server.matching(query)]
    assert len(expected) >= 5, "the fixtures must fill more than two pages of two"
    source = make_source(server, tmp_path, page_size=2)

    papers = source.search(query, max_results=3)
    assert [p.meta.arxiv_id for p in papers] == expected[:3]
    assert [r.params["start"] for r in server.api_requests()] == ["0", "2"]

    server.requests.clear()
    papers = source.search(query, max_results=50)
    assert [p.meta.arxiv_id for p in papers] == expected
    assert [r.params["start"] for r in server.api_requests()] == [str(s) for s in range(0, len(expected), 2)]
    assert all(r.params["search_query"] == query for r in server.api_requests())


def test_search_filters_and_empty_results(server, tmp_path):
    source = make_source(server, tmp_path)
    assert [p.meta.arxiv_id for p in source.search("cat:cs.GR AND all:diffusion", 10)] == ["2507.09441"]
    assert source.search('ti:"no such title words"', 10) == []
    with pytest.raises(BadInput):
        source.search("   ", 10)


# --- PDFs ------------------------------------------------------------------------------------


def test_download_pdf_once_and_atomically(server, tmp_path):
    source = make_source(server, tmp_path)
    papers = source.fetch_ids(["2409.17058", "hep-th/9711200"])
    paths = [source.download_pdf(p) for p in papers]

    assert [p.name for p in paths] == ["2409.17058v2.pdf", "hep-th_9711200v3.pdf"]
    for path in paths:
        assert path.parent == tmp_path / "pdfs"
        assert path.read_bytes().startswith(b"%PDF")
    assert sorted(p.name for p in (tmp_path / "pdfs").iterdir()) == sorted(p.name for p in paths)  # no .part

    before = len(server.requests)
    assert source.download_pdf(papers[0]) == paths[0]
    assert len(server.requests) == before  # already there: no request


def test_non_pdf_answer_is_rejected_and_not_saved(server, tmp_path):
    source = make_source(server, tmp_path)
    (paper,) = source.fetch_ids(["2505.21144"])
    server.pdf_body = b"<html><body>PDF unavailable: being generated</body></html>"
    with pytest.raises(SourceError, match=r"2505\.21144v1.*not a PDF"):
        source.download_pdf(paper)
    assert not (tmp_path / "pdfs").exists() or list((tmp_path / "pdfs").iterdir()) == []

    server.pdf_body = None
    assert source.download_pdf(paper).read_bytes().startswith(b"%PDF")


# --- politeness: rate limit, retries, failures -----------------------------------------------


def test_one_request_per_delay_across_api_pdfs_and_threads(server, tmp_path):
    delay = 0.3
    source = make_source(server, tmp_path, delay_s=delay, page_size=2)
    papers = source.fetch_ids(["2409.17058", "2505.21144", "2507.09441", "2503.12049"])  # 2 pages

    errors: list[BaseException] = []

    def download(paper: ArxivPaper) -> None:
        try:
            source.download_pdf(paper)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=download, args=(p,)) for p in papers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []

    times = server.times()
    assert len(times) == 6
    assert min(gaps(times)) >= delay - EPS, gaps(times)


def test_transient_failures_are_retried(server, tmp_path):
    source = make_source(server, tmp_path, retries=3)
    server.fail_next(2, status=503)
    (paper,) = source.fetch_ids(["2409.17058"])
    assert [r.status for r in server.requests] == [503, 503, 200]

    server.fail_next(1, status=429)
    assert source.download_pdf(paper).is_file()
    assert [r.status for r in server.requests[3:]] == [429, 200]


def test_persistent_failure_names_the_input_and_backs_off(server, tmp_path):
    delay = 0.05
    source = make_source(server, tmp_path, delay_s=delay, retries=3)
    server.fail_next(1000)
    with pytest.raises(SourceError) as err:
        source.fetch_ids(["2409.17058", "2505.21144"])
    assert "2409.17058, 2505.21144" in err.value.detail and "503" in err.value.detail
    assert len(server.requests) == 4  # 1 + 3 retries
    spaced = gaps(server.times())
    assert spaced[0] >= delay - EPS
    assert spaced[1] > spaced[0] * 1.5 and spaced[2] > spaced[1] * 1.5, spaced

    with pytest.raises(SourceError, match="query 'all:diffusion'"):
        source.search("all:diffusion", 5)


def test_persistent_pdf_failure_names_the_paper(server, tmp_path):
    source = make_source(server, tmp_path, retries=1)
    (paper,) = source.fetch_ids(["2503.12049"])
    server.fail_next(1000, status=502)
    with pytest.raises(SourceError, match=r"2503\.12049v1.*HTTP 502"):
        source.download_pdf(paper)
    assert not source.pdf_path(paper).exists()


def test_unreachable_server_is_a_source_error(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again below: nothing listens there
    source = ArxivSource(
        f"http://127.0.0.1:{port}/api/query", f"http://127.0.0.1:{port}/pdf/{{id}}", tmp_path, delay_s=0.01, retries=1
    )
    with pytest.raises(SourceError, match=r"ids 2409\.17058.*ConnectionError"):
        source.fetch_ids(["2409.17058"])


def test_slow_answers_time_out(server, tmp_path):
    server.stall_s = 1.0
    source = make_source(server, tmp_path, retries=1, timeout_s=0.2)
    started = time.monotonic()
    with pytest.raises(SourceError, match="Timeout"):
        source.fetch_ids(["2409.17058"])
    assert len(server.requests) == 2
    assert time.monotonic() - started < 2.0
