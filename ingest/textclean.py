"""Text clean-up for extracted PDF text: pure functions, no PDF library.

The PDF parser hands over raw lines; these functions make them searchable text:
``normalize`` fixes characters, ``dehyphenate_lines`` turns the lines of one paragraph into one
string, ``paragraph`` does both. Which characters are CJK, and a text's language, are ``paperlens.text``'s.
"""

from __future__ import annotations

import re
import unicodedata

from paperlens.text import is_cjk, squash_spaces

# Characters that take no room or only mark a possible break: deleted outright.
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u2060\ufeff\u200e\u200f"), None)
# Old TeX output draws accents as separate spacing glyphs: "Fr´echet", "D´epartement". Each
# (spacing accent | space + combining accent) + letter becomes letter + combining accent, which
# NFKC then composes ("Fréchet").
_TEX_ACCENTS = {
    "\u0301": "\u00b4\u02ca",  # acute
    "\u0300": "\u02cb",  # grave (not the backtick: that is code)
    "\u0308": "\u00a8",  # diaeresis
    "\u0302": "\u02c6",  # circumflex
    "\u0303": "\u02dc",  # tilde
    "\u030c": "\u02c7",  # caron
}
_TEX_ACCENT = [
    (re.compile(f"(?:[{spacing}]| {comb})([A-Za-z\u0131])"), comb) for comb, spacing in _TEX_ACCENTS.items()
]
# Every horizontal whitespace except the plain space (NBSP, thin, em... spaces, tabs).
_ODD_SPACE = re.compile(r"[^\S\n]+")

# Hyphens a typesetter puts at a line end: ASCII, Unicode hyphen, soft hyphen.
_LINE_END_HYPHENS = "-\u2010\u00ad"
# First parts that make a compound word ("self-attention"), not a syllable split; a short list on
# purpose: a wrong join ("selfattention") hurts search less than keeping every hyphen would.
_COMPOUND_PREFIXES = frozenset(
    "self non cross multi semi co well state end real zero few one two three high low fine "
    "coarse long short large small text image video pixel patch token class sub super".split()
)


def normalize(text: str) -> str:
    """NFKC (ligatures 'ﬁ' -> 'fi', full-width forms), TeX's detached accents re-attached
    ("Fr´echet" -> "Fréchet"), soft hyphens and zero-width marks dropped, odd whitespace turned
    into single spaces, each line's ends stripped. Newlines are kept."""
    for pattern, comb in _TEX_ACCENT:  # TeX accents a dotless i ("na¨ıve"): compose on a plain i
        text = pattern.sub(lambda m, c=comb: m.group(1).replace("\u0131", "i") + c, text)
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE)
    lines = (_ODD_SPACE.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(lines)


def _keeps_hyphen(before: str, after: str) -> bool:
    """Whether 'before-' at a line end and 'after' at the next line's start form a compound.

    Kept when the next fragment starts with a capital or digit ("GPT-" "4", "Text-" "Guided"),
    contains a hyphen itself ("text-" "to-image"), the first part already has a hyphen or digit or
    is one letter ("state-of-" "the-art", "3D-" "aware", "k-" "means"), or the first part is a
    common compound prefix ("self-" "attention"). Otherwise it is a syllable split: joined.
    """
    if not after or not after[0].islower():
        return True
    word_before = re.split(r"[\s/(\[]", before)[-1]
    word_after = after.split(" ", 1)[0]
    if "-" in word_after or "-" in word_before or any(c.isdigit() for c in word_before):
        return True
    if len(word_before) <= 1 or not word_before[-1].isalpha():
        return True
    return word_before.lower() in _COMPOUND_PREFIXES


def dehyphenate_lines(lines: list[str]) -> str:
    """Join the lines of one paragraph into one string.

    A word split by a hyphen at a line end is rejoined ("diffu-" + "sion" -> "diffusion") unless
    it looks like a real compound (see ``_keeps_hyphen``: then "self-" + "attention" ->
    "self-attention"). Lines are otherwise joined with one space, except where either side of
    the join is CJK text, which is written without spaces. Blank lines are skipped.
    """
    out = ""
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        if not out:
            out = line
            continue
        if out[-1] in _LINE_END_HYPHENS and len(out) >= 2 and out[-2].isalpha():
            stem = out[:-1]
            if _keeps_hyphen(stem, line):
                out = stem + "-" + line
            else:
                out = stem + line
        elif is_cjk(out[-1]) or is_cjk(line[0]):
            out += line
        else:
            out += " " + line
    return out


def paragraph(lines: list[str]) -> str:
    """The lines of one paragraph as one clean line: joined (``dehyphenate_lines``), normalized,
    white space squashed."""
    return squash_spaces(normalize(dehyphenate_lines(lines)))


__all__ = ["normalize", "dehyphenate_lines", "paragraph"]
