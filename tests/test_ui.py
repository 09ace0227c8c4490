"""The web UI end to end: Debian's Chromium (headless, driven by Playwright through its executable
path, no browser download) against a real uvicorn server over a small real library (four corpus
PDFs and one digest page). Screenshots go to tests/_artifacts/ui/ for a person to look at."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest

from paperlens.api.app import create_app
from paperlens.ingest.pipeline import IngestRequest, Ingestor, open_library

from support import corpus_path, make_settings, serving

expect = pytest.importorskip("playwright.sync_api", reason="the UI tests need playwright (pip install playwright)").expect

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parent / "_artifacts" / "ui"
LIBRARY_PDFS = ["sr_rcan.pdf", "sr_san_second_order_attention.pdf", "sr_espcn.pdf", "ella.pdf"]
UPLOAD_PDF = "gan_goodfellow_2014.pdf"
MARKUP = '<img src=x onerror=alert(1)> and <script>window.__pwned = 1</script>'
WAIT_MS = 120_000  # an answer on two busy cores


@pytest.fixture(scope="module")
def chromium():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: the UI tests drive Debian's chromium package (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory, embedder, xling):
    """(base url, httpx client, tmp dir) of a server over the small real library."""
    root = corpus_path()
    tmp = tmp_path_factory.mktemp("ui")
    # no rate limit: the tests fire requests faster than a person (the key test keeps the default)
    settings = make_settings(tmp / "data", rate_limit_per_minute=0)
    library = open_library(settings, embedder=embedder, xling=xling)
    seed = sorted((root / "seeds").glob("*.txt"))[0]
    report = Ingestor(library, settings).run(IngestRequest(paths=[root / "pdfs" / n for n in LIBRARY_PDFS] + [seed]))
    assert report.counts()["ingested"] >= 5, report.to_dict()
    with serving(create_app(settings, library)) as base, httpx.Client(base_url=base, timeout=WAIT_MS / 1000) as client:
        yield base, client, tmp
    library.close()


class Watched:
    """A page plus what it must never do: throw, log an error, or open a dialog."""

    def __init__(self, page):
        self.page = page
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        # an HTTP error answer logs "Failed to load resource": the tests cause some on purpose
        page.on("console", lambda m: m.type == "error" and not m.text.startswith("Failed to load resource")
                and self.errors.append(m.text))
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))

    def shot(self, name: str, full: bool = True) -> None:
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full)


@pytest.fixture
def ui(chromium, server):
    base, _, _ = server
    context = chromium.new_context(base_url=base, viewport={"width": 1280, "height": 900}, accept_downloads=True)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    watched = Watched(page)
    yield watched
    context.close()
    assert not watched.dialogs, f"a dialog opened: {watched.dialogs}"
    assert not watched.errors, f"the page logged errors: {watched.errors}"


def _submit(page, field: str, text: str) -> None:
    page.fill(field, text)
    page.press(field, "Enter")


def _status_done(page, status: str) -> str:
    """Waits for the view's status line to leave 'busy' and returns it."""
    page.wait_for_function(f"document.querySelector('{status}').dataset.kind !== 'busy' "
                           f"&& document.querySelector('{status}').textContent !== ''")
    return page.text_content(status)


# --- search ---------------------------------------------------------------------------------------


def test_search_english_with_date_filter_highlights_terms(ui, server):
    page = ui.page
    page.goto("/")
    page.click("#search-filters summary")
    page.fill("#search-form [name=from]", "2018-01-01")
    _submit(page, "#search-q", "channel attention super-resolution")
    status = _status_done(page, "#search-status")
    assert "passages" in status, status
    hits = page.locator("#search-hits > li")
    assert hits.count() > 0
    metas = hits.locator(".meta").all_text_contents()
    dates = [re.search(r"\d{4}-\d{2}-\d{2}", m).group(0) for m in metas]
    assert all(d >= "2018-01-01" for d in dates), dates  # ESPCN (2016) is filtered out
    titles = hits.locator(".hit-title").all_text_contents()
    assert any("Channel Attention" in t for t in titles), titles
    assert not any("Sub-Pixel" in t for t in titles), titles
    marks = {m.lower() for m in page.locator("#search-hits mark").all_text_contents()}
    assert marks and marks <= {"channel", "attention", "super-resolution"}, marks
    # the URL carries the search, so it survives a reload
    assert "from=2018-01-01" in page.url
    first = hits.first
    assert first.locator(".where").text_content().strip()  # section and page
    arxiv = first.locator("a", has_text="arXiv")
    if arxiv.count():
        assert arxiv.get_attribute("href").startswith("https://arxiv.org/abs/")
    ui.shot("search_en")


def test_search_chinese_finds_english_papers(ui):
    page = ui.page
    page.goto("/#/search?q=" + "通道注意力 图像超分辨率")
    _status_done(page, "#search-status")
    titles = page.locator("#search-hits .hit-title").all_text_contents()
    assert any("Super-Resolution" in t for t in titles), titles
    assert page.input_value("#search-q") == "通道注意力 图像超分辨率"
    ui.shot("search_zh")


# --- paper card -----------------------------------------------------------------------------------


def test_paper_card_reveals_citation_passage(ui, server):
    _, client, _ = server
    page = ui.page
    page.goto("/#/papers")
    page.click("#papers-list a:has-text('Residual Channel Attention')")
    page.wait_for_selector("#paper-out .card")
    paper_id = page.url.split("#/paper/")[1]
    card = client.post("/api/summarize", json={"paper_id": unquote(paper_id)}).json()
    first = next(s for sec in card["sections"] for s in sec["sentences"] if s["citations"])
    cite = first["citations"][0]

    assert page.text_content("#h-paper") == card["title"]
    button = page.locator("#paper-out .sentence", has_text=first["text"]).locator("button.cite").first
    assert button.get_attribute("aria-expanded") == "false"
    button.hover()  # hover shows page and quote
    tip = page.locator("#paper-out .tip:visible")
    assert cite["quote"] in tip.text_content()
    button.click()
    assert button.get_attribute("aria-expanded") == "true"
    panel = page.locator(f"#{button.get_attribute('aria-controls')}")
    mark = panel.locator("mark.quote")
    mark.wait_for()
    assert " ".join(mark.text_content().split()) == " ".join(cite["quote"].split())
    chunk = client.get(f"/api/chunks/{cite['chunk_id']}").json()
    assert chunk["text"] in panel.locator(".passage").text_content()  # the whole passage, as text
    assert f"Page {cite['page']}" in panel.text_content()
    meta = page.text_content("#paper-out .answer-meta")
    assert f"Backend: {card['backend']}" in meta and f"{card['check']['checked']} claims checked" in meta
    ui.shot("paper_card")
    button.click()
    assert panel.is_hidden()


# --- compare --------------------------------------------------------------------------------------


def test_compare_topic_table_and_csv_export(ui, server):
    _, client, _ = server
    page = ui.page
    page.goto("/#/compare")
    _submit(page, "#compare-q", "super-resolution")
    page.wait_for_selector("table.compare")
    body = client.post("/api/compare", json={"query": "super-resolution"}).json()
    assert body["rows"], body
    rows = page.locator("table.compare tbody tr")
    assert rows.count() == len(body["rows"])
    headers = page.locator("table.compare thead th").all_text_contents()
    assert headers == ["Paper", *body["aspects"]]
    n_reported = sum(1 for r in body["rows"] for c in r["cells"].values() if c["citations"] or c["value"] != "not reported")
    assert page.locator("table.compare td:not(.nr)").count() == n_reported
    # a cell's citation opens its passage
    page.locator("table.compare td button.cite").first.click()
    page.locator("#compare-passage mark.quote").wait_for()
    ui.shot("compare")

    with page.expect_download() as dl:
        page.click("button:has-text('Export CSV')")
    text = Path(dl.value.path()).read_text(encoding="utf-8-sig")
    table = list(csv.reader(io.StringIO(text)))
    assert table[0][:4] == ["paper_id", "arxiv_id", "title", "date"]
    assert table[0][4:] == [x for a in body["aspects"] for x in (a, f"{a} citations")]
    assert [r[0] for r in table[1:]] == [r["paper_id"] for r in body["rows"]]
    for line, row in zip(table[1:], body["rows"]):
        for i, aspect in enumerate(body["aspects"]):
            cell = row["cells"][aspect]
            value, cites = line[4 + 2 * i], line[5 + 2 * i]
            assert value.lstrip("'") == cell["value"]
            for c in cell["citations"]:
                assert f'p. {c["page"]}: "{c["quote"]}"' in cites or f'source: "{c["quote"]}"' in cites

    with page.expect_download() as dl:
        page.click("#compare-out button:has-text('Download Markdown')")
    assert Path(dl.value.path()).read_text(encoding="utf-8") == body["markdown"]


def test_compare_picked_papers(ui, server):
    _, client, _ = server
    papers = client.get("/api/papers", params={"q": "Super-Resolution"}).json()["papers"][:2]
    page = ui.page
    page.goto("/#/compare")
    page.click("#compare-pick summary")
    for p in papers:
        page.check(f"#compare-papers input[value='{p['paper_id']}']")
    assert "2 picked" in page.text_content("#compare-picked")
    page.click("#compare-form button[type=submit]")
    page.wait_for_selector("table.compare")
    titles = page.locator("table.compare tbody th a").all_text_contents()
    assert sorted(titles) == sorted(p["title"] for p in papers)


# --- roundup and ask ------------------------------------------------------------------------------


def test_roundup_by_theme_and_copy_markdown(ui, server):
    _, client, _ = server
    page = ui.page
    page.goto("/#/roundup")
    page.fill("#roundup-form [name=from]", "2015-01-01")
    _submit(page, "#roundup-q", "image super-resolution")
    page.wait_for_selector("#roundup-out .answer-meta")
    body = client.post("/api/roundup", json={"topic": "image super-resolution", "date_from": "2015-01-01"}).json()
    assert page.locator("#roundup-out .theme > h2").all_text_contents() == [t["title"] for t in body["themes"]]
    assert page.locator("#roundup-out .theme-papers > li").count() == sum(len(t["papers"]) for t in body["themes"])
    assert f"Backend: {body['backend']}" in page.text_content("#roundup-out .answer-meta")
    page.click("#roundup-out button:has-text('Copy Markdown')")
    expect(page.locator("#roundup-status")).to_contain_text("copied")
    assert page.evaluate("navigator.clipboard.readText()") == body["markdown"]
    ui.shot("roundup")


def test_ask_shows_answer_with_backend_and_check(ui, server):
    _, client, _ = server
    page = ui.page
    question = "What does the channel attention mechanism do?"
    page.goto("/#/ask")
    _submit(page, "#ask-q", question)
    page.wait_for_selector("#ask-out .answer-meta")
    body = client.post("/api/ask", json={"question": question}).json()
    if body["answered"]:
        texts = page.locator("#ask-out .sentence .s-text").all_text_contents()
        assert texts == [s["text"] for s in body["sentences"]]
        assert page.locator("#ask-out .sentence button.cite").count() == sum(len(s["citations"]) for s in body["sentences"])
    else:
        assert page.text_content("#ask-out .statement") == body["statement"]
    meta = page.text_content("#ask-out .answer-meta")
    assert f"Backend: {body['backend']}" in meta and f"{body['check']['dropped']} dropped" in meta
    ui.shot("ask")


# --- ingest and injection -------------------------------------------------------------------------


def _planted_pdf(folder: Path) -> Path:
    """A PDF whose title and text carry markup: the page must show it as characters."""
    import pymupdf

    doc = pymupdf.open()
    page = doc.new_page()
    lines = ["Planted Markup In Diffusion Papers", "", "Abstract", f"We test markup {MARKUP} inside a PDF.",
             "", "1 Introduction", f"Diffusion models render {MARKUP} as plain characters in the viewer.",
             "The onerror attribute must stay inert text for every reader of this planted paper."]
    page.insert_text((72, 72), "\n".join(lines), fontsize=11)
    doc.set_metadata({"title": f"Planted Markup {MARKUP}", "author": "Mallory Example"})
    path = folder / "planted.pdf"
    doc.save(path)
    doc.close()
    return path


def test_upload_refuses_non_pdf_with_the_servers_reason(ui, server):
    _, _, tmp = server
    page = ui.page
    page.goto("/#/ingest")
    notes = tmp / "notes.txt"
    notes.write_text("not a pdf")
    page.set_input_files("#upload-files", str(notes))
    page.click("#upload-form button[type=submit]")
    status = _status_done(page, "#ingest-status")
    assert "is not a PDF" in status and "notes.txt" in status, status


def test_ingest_upload_report_and_markup_stays_text(ui, server):
    _, _, tmp = server
    page = ui.page
    planted = _planted_pdf(tmp)
    page.goto("/#/ingest")
    page.set_input_files("#upload-files", [str(planted), str(corpus_path("pdfs", UPLOAD_PDF))])
    page.click("#upload-form button[type=submit]")
    page.wait_for_selector("#ingest-progress:not([hidden])")
    page.wait_for_selector("#ingest-report .report-group", timeout=240_000)
    status = page.text_content("#ingest-status")
    assert status.startswith("Finished: 2 ingested"), status
    items = page.locator("#ingest-report .report-group.ingested li")
    assert items.count() == 2
    ui.shot("ingest_report")

    before = page.evaluate("document.querySelectorAll('img, script').length")
    page.goto("/#/search?q=onerror+attribute+planted+markup")
    page.wait_for_selector("#search-hits > li")
    hit = page.locator("#search-hits > li", has_text="onerror=alert(1)").first
    assert "<img src=x onerror=alert(1)>" in hit.locator(".passage").text_content()
    assert "<script>" in hit.locator(".passage").text_content()
    page.click("#search-hits a:has-text('Planted Markup')")
    page.wait_for_selector("#paper-out .card, #paper-status[data-kind='error']")
    assert "<img src=x onerror=alert(1)>" in page.text_content("#h-paper")
    assert page.evaluate("document.querySelectorAll('img, script').length") == before  # nothing injected
    assert page.evaluate("window.__pwned") is None
    assert page.locator("#paper-meta .links a").count() == 0  # no arXiv id, no links: none made up
    ui.shot("planted_markup")
    # the finalizer of `ui` also asserts that no alert() dialog opened and no script error happened


def test_narrow_window_has_no_sideways_scroll(ui):
    page = ui.page
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/#/search?q=attention+super-resolution")
    page.wait_for_selector("#search-hits > li")
    width = "document.documentElement.scrollWidth"
    assert page.evaluate(width) <= 390
    ui.shot("narrow_search", full=False)
    page.goto("/#/compare?q=super-resolution")
    page.wait_for_selector("table.compare")
    assert page.evaluate(width) <= 390  # the table scrolls inside its own box
    ui.shot("narrow_compare", full=False)


# --- API keys -------------------------------------------------------------------------------------


def test_api_key_prompted_once_and_sent(chromium, tmp_path, embedder, xling):
    settings = make_settings(tmp_path / "data", api_keys=["ui-test-key-1234567"])
    library = open_library(settings, embedder=embedder, xling=xling)
    with serving(create_app(settings, library)) as base:
        _key_prompt(chromium, base)
    library.close()


def _key_prompt(chromium, base: str) -> None:
    context = chromium.new_context(base_url=base)
    try:
        page = context.new_page()
        sent = []
        page.on("request", lambda r: r.url.startswith(f"{base}/api/") and sent.append(r.headers.get("authorization")))
        page.goto("/#/papers")
        page.wait_for_selector("#key-dialog[open]")
        assert "API key" in page.text_content("#key-reason")
        page.fill("#key-input", "ui-test-key-1234567")
        page.click("#key-form button[value=ok]")
        status = _status_done(page, "#papers-status")
        assert "0 papers in the library" in status, status
        page.goto("/#/search?q=diffusion")
        assert "No passages" in _status_done(page, "#search-status")
        assert page.evaluate("sessionStorage.getItem('paperlens.apiKey')") == "ui-test-key-1234567"
        assert sent[-2:] == ["Bearer ui-test-key-1234567"] * 2  # the papers retry and the search
        assert page.locator("#key-dialog[open]").count() == 0
    finally:
        context.close()


# --- CSV export -----------------------------------------------------------------------------------


def test_csv_cells_that_could_be_formulas_are_defused(chromium, tmp_path, embedder, xling):
    """ui/app.js csvField on the page itself: a cell a spreadsheet would run gets a leading quote."""
    settings = make_settings(tmp_path / "data")
    library = open_library(settings, embedder=embedder, xling=xling)
    with serving(create_app(settings, library)) as base:
        context = chromium.new_context(base_url=base)
        try:
            page = context.new_page()
            page.goto("/")
            cells = ["=1+1", "+1+1", "-2+3+cmd|' /C calc'!A0", "@SUM(A1)", "\t=1", "\r=1", " =1+1", "\u3000+1",
                     "  @x", "-0.5"]
            out = page.evaluate("(cells) => cells.map(csvField)", cells)
            assert out == ['"' + "'" + c + '"' for c in cells], out
            safe = ["28.1 dB", "PSNR", "a=b", "x - y", ""]
            assert page.evaluate("(cells) => cells.map(csvField)", safe) == [f'"{c}"' for c in safe]
            assert page.evaluate("csvField('say \"hi\"')") == '"say ""hi"""'
        finally:
            context.close()
    library.close()
