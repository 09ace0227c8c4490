"""Digest pages (markdown-ish .txt) -> one ``digest`` Document per paper entry.

Three page shapes are handled by one heading-driven parser, nothing file-specific:

* daily arXiv digests: front matter, ``## <title>`` per paper with ``**Authors:..**``, the English
  abstract, ``[PDF](arxiv url)``, ``**Summary**`` (Chinese), ``**Key Takeaways**`` and a numbered
  Chinese analysis (markdown list, ``### N. ..`` headings or an HTML ``<ol>``);
* a weekly news page: ``## <category>｜<name>`` entries whose sub-sections are ``## 【...】``
  headings at the same level;
* a topic page: ``# Topic: ..`` groups of ``## <title>`` entries with a date line and prose.

Entries are the headings of the level that holds most non-marker headings; a marker is a
sub-section heading (``【简要描述】``, ``3. Affiliation``, ``(1) ...``).

Encoding: pages are decoded as UTF-8 and repaired (``mojibake``); characters lost to mojibake
are cut out with the clause around them, and every cut is reported in warnings with its entry,
field and line.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from paperlens.errors import BadInput
from paperlens.models import Block, Document, PaperMeta, paper_id_for_arxiv, parse_arxiv_id
from paperlens.text import is_cjk_heavy

from .files import Budget, Scope, open_bounded
from .mojibake import LOST, decode_page


@dataclass
class DigestResult:
    documents: list[Document] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    repaired: bool = False  # True when the page's text was changed by the encoding repair


# ----------------------------------------------------------------------------------------------
# page structure

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_MARKER = re.compile(r"^(【.*】|[\(（]\d+[\)）].*|\d+[.)、:：](\s.*)?)$")
_MD_IMAGE = re.compile(r"!\[[^\]]*\]\((?:[^()]|\([^)]*\))*\)")
_MD_LINK = re.compile(r"\[([^\]]*)\]\(([^()\s]*(?:\([^)]*\)[^()\s]*)*)\)")
_URL = re.compile(r"https?://[^\s<>\"'()\[\]（）,，。；]+")
_TAG = re.compile(r"</?[a-zA-Z][^>]*>")
_DATE = re.compile(r"(\d{4})[-./年](\d{1,2})[-./月](\d{1,2})")
_BOLD_LABEL = re.compile(r"^\*\*\s*([^*:：]{1,40}?)\s*[:：]?\s*\*\*\s*$")
_AUTHORS = re.compile(r"^\*\*\s*Authors?\s*[:：]\s*(.*?)\s*\*\*\s*$", re.I)
_PDF_LINE = re.compile(r"^\[PDF\]\(", re.I)
_ITEM = re.compile(
    r"^(?:#+\s*)?(?:\d+\.\s*)?(Title|Authors?|Affiliations?|Keywords|Urls?|Links?|Summary|Methods?|Conclusions?|"
    r"标题|作者|隶属机构|单位|关键词|链接|摘要|总结|方法|结论)\s*[:：]\s*(.*)$",
    re.I,
)
_NUMBERED_LABEL = re.compile(r"^(?:#+\s*)?\d+\.\s*([^:：\s][^:：]{0,11}?)\s*[:：]\s*(.*)$")
_LINK_ONLY = re.compile(r"^(?:\s|\*|-|!?\[[^\]]*\]\([^)]*\)\)?)+$")
_CLAUSE = re.compile(r"[^，。；！？：,;!?\n]+[，。；！？：,;!?\n]*|[，。；！？：,;!?\n]+")
_INFO_LABELS = {"title", "author", "authors", "affiliation", "affiliations", "keywords", "url", "urls", "link",
                "links", "标题", "作者", "隶属机构", "单位", "关键词", "链接"}


@dataclass
class _Line:
    no: int  # 1-based line number in the file
    text: str


@dataclass
class _Entry:
    heading: str
    line: int
    group: str
    body: list[_Line]


def read_digest(path: Path, *, max_bytes: int | None = None, budget: Budget | None = None,
                scope: Scope | None = None) -> DigestResult:
    """`max_bytes`: larger pages raise TooLarge; the file is opened without blocking (ingest/files.py)."""
    path = Path(path)
    try:
        with open_bounded(path, max_bytes, budget=budget, scope=scope) as fh:
            data = fh.read()
    except OSError as exc:
        raise BadInput(f"digest page not readable: {path}: {exc}", path=str(path)) from exc
    lines, repaired, warnings = decode_page(data, path.name)
    result = DigestResult(warnings=warnings, repaired=repaired)
    front, start = _front_matter(lines)
    for key, value in list(front.items()):
        if LOST in value:
            front[key] = value.replace(LOST, "")
            result.warnings.append(f"{path.name}: front matter '{key}': unrecoverable mojibake fragments dropped")
    page_title = front.get("title", "")
    page_date = _iso_date(front.get("date", ""))
    entries = _entries([_Line(i + 1, t) for i, t in enumerate(lines)][start:])
    if not page_title:
        page_title = next((e.group for e in entries if e.group), path.stem)
    boiler = _boilerplate_urls(entries)
    for entry in entries:
        doc = _entry_document(entry, path, page_title, page_date, boiler, result.warnings)
        if doc is not None:
            result.documents.append(doc)
    if not result.documents:
        result.warnings.append(f"{path.name}: no paper entries found")
    return result


def _front_matter(lines: list[str]) -> tuple[dict[str, str], int]:
    """Flat 'key: value' pairs of a leading '---' block (lists and nesting are not needed)."""
    i = 0
    while i < len(lines) and not lines[i].strip():
        i += 1
    if i >= len(lines) or lines[i].strip() != "---":
        return {}, 0
    front: dict[str, str] = {}
    for j in range(i + 1, len(lines)):
        if lines[j].strip() == "---":
            return front, j + 1
        m = re.match(r"^([A-Za-z_][\w-]*):\s*(.*)$", lines[j])
        if m and m.group(2).strip():
            front[m.group(1).lower()] = m.group(2).strip().strip("'\"")
    return {}, 0  # unterminated: not front matter after all


def _entries(lines: list[_Line]) -> list[_Entry]:
    heads = []
    in_code = False
    for idx, ln in enumerate(lines):
        if ln.text.lstrip().startswith("```"):
            in_code = not in_code
        m = None if in_code else _HEADING.match(ln.text)
        if m:
            text = _plain_inline(m.group(2)).strip()
            heads.append((idx, len(m.group(1)), text, bool(_MARKER.match(text)) or not text))
    counts: dict[int, int] = {}
    for _, level, _, marker in heads:
        if not marker:
            counts[level] = counts.get(level, 0) + 1
    if not counts:
        return []
    entry_level = max(sorted(counts), key=lambda lv: counts[lv])
    entries: list[_Entry] = []
    group = ""
    for n, (idx, level, text, marker) in enumerate(heads):
        if marker or level > entry_level:
            continue
        if level < entry_level:
            group = text
            continue
        end = len(lines)
        for idx2, level2, _, marker2 in heads[n + 1:]:
            if level2 <= entry_level and not marker2:
                end = idx2
                break
        entries.append(_Entry(text, lines[idx].no, group, lines[idx + 1:end]))
    return entries


def _boilerplate_urls(entries: list[_Entry]) -> set[str]:
    """URLs repeated in at least half the entries (the page's own ads), when there are 3+."""
    if len(entries) < 3:
        return set()
    seen: dict[str, int] = {}
    for e in entries:
        for url in {u for ln in e.body for u in _urls(ln.text)}:
            seen[url] = seen.get(url, 0) + 1
    return {u for u, n in seen.items() if n * 2 >= len(entries)}


def _urls(text: str) -> list[str]:
    return [u.rstrip(".:;*_") for u in _URL.findall(_MD_IMAGE.sub(" ", text))]


def _plain_inline(text: str) -> str:
    """Markdown/HTML inline markup -> the words a reader sees."""
    text = _MD_IMAGE.sub("", text)
    text = _MD_LINK.sub(lambda m: m.group(1), text)
    text = _TAG.sub("", text)
    text = text.replace("&emsp;", "").replace("&nbsp;", " ").replace("**", "").replace("__", "")
    return text.strip()


def _iso_date(text: str) -> str | None:
    m = _DATE.search(text or "")
    if not m:
        return None
    y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
    return f"{y:04d}-{mo:02d}-{d:02d}" if 1 <= mo <= 12 and 1 <= d <= 31 else None


# ----------------------------------------------------------------------------------------------
# one entry


@dataclass
class _Section:
    name: str
    lines: list[_Line]


def _entry_document(entry: _Entry, path: Path, page_title: str, page_date: str | None, boiler: set[str],
                    page_warnings: list[str]) -> Document | None:
    warnings: list[str] = []
    heading = entry.heading
    category = ""
    for sep in ("｜", "|"):
        left, _, right = heading.partition(sep)
        if right.strip() and is_cjk_heavy(left):
            category, heading = left.strip(), right.strip()
            break
    title = " ".join(heading.replace(LOST, "").split())
    if LOST in heading:
        warnings.append(f"{path.name}:{entry.line}: title has unrecoverable mojibake fragments, dropped")
    if not title:
        page_warnings.append(f"{path.name}:{entry.line}: entry without a title skipped")
        return None

    authors: list[str] = []
    abstract_lines: list[_Line] = []
    date = None
    links: dict[str, str] = {}
    arxiv: tuple[str, int | None] | None = None
    sections: list[_Section] = []
    current: _Section | None = None  # None: before the first labelled section (abstract zone)
    in_details = False
    extra_comment = ""

    for ln in entry.body:
        raw = ln.text.strip()
        for url in _urls(raw):
            if url in boiler:
                continue
            found = parse_arxiv_id(url) if "arxiv.org" in url else None
            if found and arxiv is None:
                arxiv = found
            elif not found and re.search(r"//(www\.)?(github|gitlab)\.com/", url):
                links.setdefault("code", url)
            elif not found and not re.search(r"\.(png|jpe?g|gif|svg|webp|mp4)(\?|$)", url, re.I):
                links.setdefault("project", url)
        if "<details" in raw:
            in_details = True
        if in_details:
            in_details = "</details>" not in raw
            continue
        m = _AUTHORS.match(raw)
        if m and not authors:
            authors = [a.strip() for a in re.split(r"[,，]", m.group(1)) if a.strip()]
            continue
        head = _HEADING.match(raw)
        label = _BOLD_LABEL.match(raw)
        if head and re.match(r"^【.*】$", _plain_inline(head.group(2))):
            current = _Section(_plain_inline(head.group(2)).strip("【】"), [])
            sections.append(current)
            continue
        if label and not _urls(raw):
            current = _Section(label.group(1).strip(), [])
            sections.append(current)
            continue
        if _PDF_LINE.match(raw):
            comment = _plain_inline(_MD_LINK.sub("", raw, count=1))
            if comment:
                extra_comment = extra_comment or comment
        if _PDF_LINE.match(raw) or not raw or _LINK_ONLY.match(raw):
            if current is None and abstract_lines and abstract_lines[-1].text:
                abstract_lines.append(_Line(ln.no, ""))
            continue
        if date is None and re.match(r"^\d{4}[./-]\d{1,2}[./-]\d{1,2}\s*[｜|]?\s*$", raw):
            date = _iso_date(raw)
            continue
        text = _plain_inline(raw) if not head else _plain_inline(head.group(2))
        if not text or re.fullmatch(r"\[?[^\w]*\]?", text):
            continue
        if current is None:
            abstract_lines.append(_Line(ln.no, text))
        else:
            current.lines.append(_Line(ln.no, text))

    # Prose before any labelled section: English -> abstract; Chinese (topic pages) -> summary.
    english = [ln for ln in abstract_lines if ln.text and not is_cjk_heavy(ln.text)]
    chinese = [ln for ln in abstract_lines if ln.text and is_cjk_heavy(ln.text)]
    abstract = _field_text(english, " ")
    if LOST in abstract:
        abstract = _clean_field(_Section("Abstract", [_Line(english[0].no, abstract)]), entry, path, warnings)
    if chinese:
        sections.insert(0, _Section("摘要", chinese))
    blocks = [Block(title, 0, "Title")]
    if abstract:
        blocks.append(Block(abstract, 0, "Abstract"))
    zh_summary = ""
    analysis: list[str] = []
    for sec in _split_analysis(sections):
        text = _clean_field(sec, entry, path, warnings)
        if not text:
            continue
        if not zh_summary and is_cjk_heavy(text):
            zh_summary = text
        else:
            analysis.append(f"{sec.name}\n{text}")
        blocks.append(Block(text, 0, sec.name))

    if arxiv:
        paper_id = paper_id_for_arxiv(arxiv[0])
        links = {"arxiv": f"https://arxiv.org/abs/{arxiv[0]}", "pdf": f"https://arxiv.org/pdf/{arxiv[0]}", **links}
    else:
        paper_id = title_paper_id(title)
    extra = {"zh_summary": zh_summary, "zh_analysis": "\n\n".join(analysis), "digest_page": path.name,
             "digest_title": page_title}
    if category:
        extra["digest_category"] = category
    if extra_comment:
        extra["comment"] = extra_comment
    if entry.group:
        extra["digest_group"] = entry.group
    meta = PaperMeta(
        paper_id=paper_id,
        title=title,
        authors=authors,
        arxiv_id=arxiv[0] if arxiv else None,
        arxiv_version=arxiv[1] if arxiv else None,
        date=date or _iso_date(entry.group) or page_date,
        abstract=abstract,
        links=links,
        extra=extra,
    )
    canonical = json.dumps({"meta": meta.to_dict(), "blocks": [[b.text, b.section] for b in blocks]},
                           sort_keys=True, ensure_ascii=False)
    page_warnings.extend(warnings)
    return Document(
        meta=meta,
        kind="digest",
        blocks=blocks,
        source=f"{path}#L{entry.line}",
        content_hash=hashlib.sha256(canonical.encode("utf-8")).hexdigest(),
        warnings=warnings,
        lang="en" if abstract else "zh",
    )


def title_paper_id(title: str) -> str:
    """Stable id for a paper known only by its title (no arXiv id on the page)."""
    norm = " ".join(re.sub(r"[^\w]+", " ", title.lower()).split())
    return "title:" + hashlib.sha256(norm.encode("utf-8")).hexdigest()[:16]


def _split_analysis(sections: list[_Section]) -> list[_Section]:
    """Split a free-form numbered analysis ('1. Title: .. 6. Summary: ..') into its items; the
    short bibliographic items (title, authors, affiliation, keywords, urls) become one 'Info'."""
    out: list[_Section] = []
    for sec in sections:
        current = _Section(sec.name, [])
        parts: list[_Section] = [current]
        for ln in sec.lines:
            m = _ITEM.match(ln.text) or _NUMBERED_LABEL.match(ln.text)
            if m and len(sec.lines) > 1:
                label = m.group(1)
                name = "Info" if label.lower() in _INFO_LABELS else label
                if name != current.name or name != "Info":
                    current = _Section(name, [])
                    parts.append(current)
                if name == "Info" or m.group(2).strip():
                    current.lines.append(ln if name == "Info" else _Line(ln.no, m.group(2).strip()))
                continue
            current.lines.append(ln)
        out.extend(p for p in parts if p.lines)
    return out


def _field_text(lines: list[_Line], joiner: str) -> str:
    paras, cur = [], []
    for ln in lines:
        if ln.text:
            cur.append(ln.text)
        elif cur:
            paras.append(joiner.join(cur))
            cur = []
    if cur:
        paras.append(joiner.join(cur))
    return "\n".join(" ".join(p.split()) if joiner == " " else p for p in paras)


def _clean_field(sec: _Section, entry: _Entry, path: Path, warnings: list[str]) -> str:
    """Join a section's lines; cut out the clauses that lost characters to mojibake.

    A clause with a hole is not what the author wrote (and ftfy may have glued a wrong character
    next to the hole), so it must not be quoted: it is replaced by '…', the usual mark of an
    omission. When less than half of the field survives, the whole field is dropped.
    """
    text = "\n".join(ln.text for ln in sec.lines if ln.text.strip())
    if LOST not in text:
        return text
    clauses = _CLAUSE.findall(text)
    kept = "".join("…" + (c[-1] if c[-1] in "\n" else "") if LOST in c else c for c in clauses)
    kept = re.sub(r"…(\s*…)+", "…", kept)
    total = sum(1 for c in text if not c.isspace() and c != LOST)
    left = sum(1 for c in kept if not c.isspace() and c != "…")
    bad_lines = [ln.no for ln in sec.lines if LOST in ln.text]
    where = f"{path.name}:{','.join(map(str, bad_lines[:8]))}{'...' if len(bad_lines) > 8 else ''}"
    holed = sum(1 for c in clauses if LOST in c)
    if left * 2 < total:
        warnings.append(f"{where}: entry '{entry.heading[:60]}' field '{sec.name}': unrecoverable mojibake in "
                        f"{holed} of {len(clauses)} clauses, {left}/{total} characters clean; field dropped")
        return ""
    warnings.append(f"{where}: entry '{entry.heading[:60]}' field '{sec.name}': {holed} clauses with "
                    f"unrecoverable mojibake replaced by '…' ({left}/{total} characters kept)")
    return kept.strip()
