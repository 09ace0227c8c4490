"""Markdown renderings of answers, with numbered citations: "sentence [1]" and a sources list that
gives page and quote, so a reader can check each claim without the API."""

from __future__ import annotations

from .citation import CheckStats, Citation, Sentence


class Sources:
    """Numbers citations in order of first use; the same (chunk, quote) keeps its number."""

    def __init__(self) -> None:
        self._keys: dict[tuple[str, str], int] = {}
        self.items: list[Citation] = []

    def marks(self, s: Sentence) -> str:
        nums = []
        for c in s.citations:
            key = (c.chunk_id, c.quote)
            if key not in self._keys:
                self.items.append(c)
                self._keys[key] = len(self.items)
            nums.append(self._keys[key])
        return "".join(f"[{n}]" for n in dict.fromkeys(nums))

    def line(self, s: Sentence) -> str:
        return f"{_one_line(s.text)} {self.marks(s)}".rstrip()

    def render(self, titles: dict[str, str] | None = None, heading: str = "Sources") -> str:
        if not self.items:
            return ""
        out = [f"\n## {heading}\n"]
        for i, c in enumerate(self.items, 1):
            quote = _one_line(c.quote)
            if len(quote) > 220:
                quote = quote[:217] + "..."
            who = (titles or {}).get(c.paper_id) or c.paper_id
            page = f"p. {c.page}" if c.page else "metadata"
            out.append(f"{i}. {who}, {page}: \"{quote}\" (chunk `{c.chunk_id}`)")
        return "\n".join(out) + "\n"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def escape_cell(text: str) -> str:
    return _one_line(text).replace("|", "\\|")


def link_line(links: dict[str, str]) -> str:
    names = {"arxiv": "arXiv", "pdf": "PDF", "code": "Code", "project": "Project"}
    parts = [f"[{names.get(k, k)}]({v})" for k, v in links.items() if isinstance(v, str) and v.startswith("http")]
    return " · ".join(parts)


def check_line(check: CheckStats, backend: str, zh: bool = False) -> str:
    if zh:
        return f"_由 {backend} 生成；核查 {check.checked} 句，删除 {check.dropped} 句无据的句子。_"
    return f"_Written by the {backend} backend; {check.checked} sentences checked against their passages, {check.dropped} dropped as unsupported._"
