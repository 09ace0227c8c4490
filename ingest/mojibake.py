"""Mojibake repair: text that was UTF-8 but was decoded as cp1252 somewhere on its way.

Pages are decoded as UTF-8 and then repaired with ftfy (encoding fixes only, so clean pages pass
through unchanged). Mojibake whose bytes were *lost* (UTF-8 read as cp1252 drops 0x81 0x8D 0x8F
0x90 0x9D, and soft hyphens 0xAD vanish) cannot be recovered exactly: the complete characters of
such a run are decoded and each broken one becomes ``LOST``, for the caller to cut out and report
(digest pages: ``digest._clean_field``). Guessing the lost byte would put invented characters
into quotable text, so we never do it.
"""

from __future__ import annotations

import re

import ftfy

from paperlens.text import CJK

LOST = "\ufffd"  # marks an unrecoverable fragment between repair and field assembly

# Encoding fixes only: the cosmetic fixes (quote uncurling, full-width -> half-width, NFC) would
# rewrite clean Chinese pages, e.g. turn every "，" into ",".
_FTFY = ftfy.TextFixerConfig(
    unescape_html=False,
    remove_terminal_escapes=False,
    fix_latin_ligatures=False,
    fix_character_width=False,
    uncurl_quotes=False,
    fix_line_breaks=False,
    remove_control_chars=False,
    normalization=None,
    explain=False,
)


def _cp1252_high_chars() -> str:
    chars = []
    for b in range(0x80, 0x100):
        try:
            chars.append(bytes([b]).decode("cp1252"))
        except UnicodeDecodeError:
            chars.append(chr(b))  # the C1 control a lenient decoder would have produced
    return "".join(chars)


_CP1252_HIGH = _cp1252_high_chars()
_TO_BYTE = {c: 0x80 + i for i, c in enumerate(_CP1252_HIGH)}
_MOJIBAKE_RUN = re.compile("[" + re.escape(_CP1252_HIGH) + "]{2,}")
_HIGH = "[" + re.escape(_CP1252_HIGH) + "]"
_CONT = "[" + re.escape(_CP1252_HIGH[:0x40]) + "]"
_NEAR = f"[{LOST}{CJK}]"  # a lost character or CJK text: what mojibake of Chinese sits next to
_LEFTOVER = re.compile(f"[\u00e0-\u00ef]{_CONT}{_HIGH}*|(?<={_NEAR}){_HIGH}+|{_HIGH}+(?={_NEAR})")


def decode_page(data: bytes, name: str) -> tuple[list[str], bool, list[str]]:
    """Bytes -> repaired lines (LOST marks unrecoverable fragments), repaired?, warnings."""
    warnings: list[str] = []
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        text = data.decode("utf-8", errors="replace")
        warnings.append(f"{name}: not valid UTF-8 (first bad byte at offset {exc.start}); "
                        f"{text.count(LOST)} undecodable bytes dropped")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    out: list[str] = []
    repaired = False
    for line in lines:
        fixed = _repair_line(line)
        repaired |= fixed != line
        out.append(fixed)
    return out, repaired, warnings


def _repair_line(line: str) -> str:
    if line.isascii():
        return line
    fixed = ftfy.fix_text(line, config=_FTFY)
    decoded = _MOJIBAKE_RUN.sub(lambda m: _decode_run(m.group(0), forced=False), fixed)
    if decoded == line:
        return line
    # A line proven to hold mojibake: leftovers whose every character was broken (no complete
    # sequence, so the first pass kept them) are mojibake too, when they start with a 3-byte lead
    # followed by a continuation byte or touch repaired text. A lone 'é' between letters is kept.
    for _ in range(2):  # twice: a fragment can touch LOST only once its neighbour was decoded
        decoded = _LEFTOVER.sub(lambda m: _decode_run(m.group(0), forced=True), decoded)
    return decoded


def _decode_run(run: str, forced: bool) -> str:
    """Decode a cp1252-looking run: complete UTF-8 sequences become characters, broken ones LOST.

    Unless forced, only runs that yield a character of U+0800 or above (CJK, punctuation, emoji)
    are treated as mojibake; shorter decodings (Latin, Greek...) are ftfy's call, not ours, so
    clean text like 'naïve' or '×—' is never touched.
    """
    data = bytes(_TO_BYTE[c] for c in run)
    out: list[str] = []
    i, good = 0, False
    while i < len(data):
        lead = data[i]
        size = 2 if 0xC2 <= lead <= 0xDF else 3 if 0xE0 <= lead <= 0xEF else 4 if 0xF0 <= lead <= 0xF4 else 0
        if size:
            seq = data[i:i + size]
            try:
                ch = seq.decode("utf-8") if len(seq) == size else None
            except UnicodeDecodeError:
                ch = None
            if ch is not None:
                out.append(ch)
                good |= ord(ch[0]) >= 0x800
                i += size
                continue
        # broken: the lead byte and the continuation bytes that follow it are one lost character
        j = i + 1
        while j < len(data) and 0x80 <= data[j] <= 0xBF and j - i < 4:
            j += 1
        if not out or out[-1] != LOST:
            out.append(LOST)
        i = j
    return "".join(out) if good or forced else run
