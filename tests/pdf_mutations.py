"""A corpus of hostile and broken PDFs, generated in memory from real papers and by hand.

``mutants(sources)`` returns a deterministic list of ``Mutant``s: the real PDFs themselves (the
controls), then truncations, bit flips, broken or removed cross-reference tables and encrypted
copies of each, plus hand-built files: decompression bombs, thousands of pages, huge and degenerate
page sizes, zero pages, garbage behind a %PDF header, and recursive or deeply nested objects.
The real papers are only read; ``write_mutants`` writes the mutants to a directory the caller owns.

``expect`` says what a correct parser must do with a mutant: "parse" (a Document), "reject" with
``reason`` (a ParseError whose reason is that), or "either" (parse what survives, or reject it;
never crash the caller, never hang).
"""

from __future__ import annotations

import random
import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pymupdf

TRUNCATE_AT = (0.0005, 0.005, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.75, 0.9, 0.98, 0.999)
FLIPS = (1, 1, 4, 4, 16, 16, 64, 128, 512, 2048)  # bits flipped per mutant (each with its own seed)
MAX_PAGES_FIXTURE = 3000  # pages of the "thousands of pages" file


@dataclass(frozen=True)
class Mutant:
    name: str  # unique file name
    kind: str  # original | truncated | bitflip | xref | encrypted | bomb | many_pages | huge_page | zero_pages | garbage | recursive
    data: bytes
    expect: str = "either"  # parse | reject | either
    reason: str | None = None  # the ParseError reason when expect == "reject"


# --------------------------------------------------------------------------------------------
# mutations of real files


def truncations(stem: str, data: bytes) -> list[Mutant]:
    return [
        Mutant(f"{stem}.trunc{int(f * 10000):04d}.pdf", "truncated", data[: max(1, int(len(data) * f))])
        for f in TRUNCATE_AT
    ]


def bitflips(stem: str, data: bytes, seed: int) -> list[Mutant]:
    out = []
    for i, n in enumerate(FLIPS):
        rng = random.Random(f"{seed}:{stem}:{i}")
        buf = bytearray(data)
        for _ in range(n):
            pos = rng.randrange(len(buf))
            buf[pos] ^= 1 << rng.randrange(8)
        out.append(Mutant(f"{stem}.flip{i:02d}x{n}.pdf", "bitflip", bytes(buf)))
    return out


def xref_damage(stem: str, data: bytes) -> list[Mutant]:
    """Cross-reference tables (classic or streams) pointed elsewhere, cut off or defaced."""
    tail = data.rfind(b"startxref")
    out = []
    if tail >= 0:
        out.append(Mutant(f"{stem}.xref-cut.pdf", "xref", data[:tail]))  # no startxref, no %%EOF
        out.append(Mutant(f"{stem}.xref-offset0.pdf", "xref", data[:tail] + b"startxref\n0\n%%EOF\n"))
        out.append(Mutant(f"{stem}.xref-offset-beyond.pdf", "xref", data[:tail] + b"startxref\n999999999\n%%EOF\n"))
    defaced = data.replace(b"xref", b"xxxx").replace(b"/XRef", b"/Xxxx")
    out.append(Mutant(f"{stem}.xref-defaced.pdf", "xref", defaced))
    out.append(Mutant(f"{stem}.no-root.pdf", "xref", data.replace(b"/Root", b"/Xoot")))
    return out


def encrypted(stem: str, data: bytes) -> list[Mutant]:
    """AES-256 and RC4 copies with a user password nobody knows; and one with an owner password
    only, which any reader may open (so must we)."""
    out = []
    for label, method, user in (
        ("aes256", pymupdf.PDF_ENCRYPT_AES_256, "unknown-user-pw"),
        ("rc4", pymupdf.PDF_ENCRYPT_RC4_128, "unknown-user-pw"),
        ("owner-only", pymupdf.PDF_ENCRYPT_AES_128, ""),
    ):
        doc = pymupdf.open(stream=data, filetype="pdf")
        blob = doc.tobytes(encryption=method, user_pw=user, owner_pw="owner-pw")
        doc.close()
        if user:
            out.append(Mutant(f"{stem}.enc-{label}.pdf", "encrypted", blob, "reject", "encrypted"))
        else:
            out.append(Mutant(f"{stem}.enc-{label}.pdf", "encrypted", blob, "parse"))
    return out


# --------------------------------------------------------------------------------------------
# hand-built files


def assemble(objects: list[bytes], *, root: int = 1, header: bytes = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n") -> bytes:
    """A classic PDF from object bodies (object i+1 is objects[i]) with a correct xref table."""
    out = bytearray(header)
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, root, xref)
    return bytes(out)


def stream(content: bytes, extra: bytes = b"", *, compressed: bytes | None = None) -> bytes:
    if compressed is not None:
        return b"<< /Length %d /Filter /FlateDecode %s >>\nstream\n" % (len(compressed), extra) + compressed + b"\nendstream"
    return b"<< /Length %d %s >>\nstream\n" % (len(content), extra) + content + b"\nendstream"


FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
TEXT = b"BT /F1 11 Tf 72 700 Td (Diffusion models denoise images step by step.) Tj ET"


def one_page(mediabox: bytes, content: bytes = TEXT, *, resources: bytes = b"<< /Font << /F1 4 0 R >> >>") -> bytes:
    return assemble([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox %s /Resources %s /Contents 5 0 R >>" % (mediabox, resources),
        FONT,
        stream(content),
    ])


def _adler32_combine(a1: int, a2: int, len2: int) -> int:
    """zlib's adler32_combine: the checksum of A+B from those of A and B (B of length len2)."""
    base = 65521
    rem = len2 % base
    sum1 = a1 & 0xFFFF
    sum2 = (rem * sum1) % base
    sum1 += (a2 & 0xFFFF) + base - 1
    sum2 += ((a1 >> 16) & 0xFFFF) + ((a2 >> 16) & 0xFFFF) + base - rem
    sum1 -= base if sum1 >= base else 0
    sum1 -= base if sum1 >= base else 0
    sum2 -= 2 * base if sum2 >= 2 * base else 0
    sum2 -= base if sum2 >= base else 0
    return sum1 | (sum2 << 16)


def deflate_bomb(prefix: bytes, fill: bytes, total: int, suffix: bytes) -> bytes:
    """A zlib stream that inflates to prefix + fill repeated up to `total` bytes + suffix, built
    without ever holding the inflated bytes: one 1 MiB block of `fill` is compressed once after a
    full flush (so every copy compresses to the same bytes) and repeated."""
    block = (fill * (2**20 // len(fill) + 1))[: 2**20]
    n = max(1, total // len(block))
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = c.compress(prefix) + c.flush(zlib.Z_FULL_FLUSH)
    one = c.compress(block) + c.flush(zlib.Z_FULL_FLUSH)
    two = c.compress(block) + c.flush(zlib.Z_FULL_FLUSH)
    assert one == two, "zlib did not repeat itself after a full flush"
    tail = c.compress(suffix) + c.flush(zlib.Z_FINISH)
    check = zlib.adler32(prefix)
    block_sum = zlib.adler32(block)
    for _ in range(n):
        check = _adler32_combine(check, block_sum, len(block))
    check = _adler32_combine(check, zlib.adler32(suffix), len(suffix))
    return b"\x78\xda" + head + one * n + tail + struct.pack(">I", check)


def bombs() -> list[Mutant]:
    gib = 2**30
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> %s >> /Contents 5 0 R >>"
    out = []
    # 4 GiB of NUL (whitespace to the content lexer): a time bomb
    z = deflate_bomb(b"BT /F1 11 Tf 72 700 Td (bomb) Tj ET\n", b"\0", 4 * gib, b"\n")
    out.append(("bomb-content-whitespace-4g", [page % b"", z]))
    # one string literal of 2 GiB: the lexer's buffer must grow until the memory limit stops it
    z = deflate_bomb(b"BT /F1 11 Tf 72 700 Td (", b"A", 2 * gib, b") Tj ET\n")
    out.append(("bomb-content-string-2g", [page % b"", z]))
    # 1 GiB of "q " (graphics state pushes) before some text
    z = deflate_bomb(b"", b"q ", gib, b"BT /F1 11 Tf 72 700 Td (deep) Tj ET\n")
    out.append(("bomb-content-gsave-1g", [page % b"", z]))
    # a 40000 x 40000 RGB image (4.5 GiB inflated) drawn over the page
    z = deflate_bomb(b"", b"\x80", 40000 * 40000 * 3, b"")
    out.append(("bomb-image-4g", [
        page % b"/XObject << /Im1 6 0 R >>",
        b"q 612 0 0 792 0 0 cm /Im1 Do Q BT /F1 11 Tf 72 700 Td (image) Tj ET",
        b"<< /Type /XObject /Subtype /Image /Width 40000 /Height 40000 /ColorSpace /DeviceRGB /BitsPerComponent 8 /Length %d /Filter /FlateDecode >>\nstream\n",
        z,
    ]))
    mutants = []
    for name, parts in out:
        if len(parts) == 2:
            objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>", parts[0], FONT,
                    stream(b"", compressed=parts[1])]
        else:
            objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>", parts[0], FONT,
                    stream(parts[1]), parts[2] % len(parts[3]) + parts[3] + b"\nendstream"]
        mutants.append(Mutant(f"{name}.pdf", "bomb", assemble(objs)))
    return mutants


def many_pages(n: int = MAX_PAGES_FIXTURE) -> list[Mutant]:
    kids = b" ".join(b"%d 0 R" % (5 + i) for i in range(n))
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, n),
        FONT,
        stream(TEXT),
    ]
    objs += [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents 4 0 R >>"] * n
    lying = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 2000000000 >>",  # claims two billion pages, has one
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        FONT,
        stream(TEXT),
    ]
    return [
        Mutant(f"many-pages-{n}.pdf", "many_pages", assemble(objs), "parse"),
        Mutant("page-count-lies-2e9.pdf", "many_pages", assemble(lying)),
    ]


def huge_pages() -> list[Mutant]:
    boxes = {
        "14400": b"[0 0 14400 14400]",  # the largest page the spec allows
        "14401x200000": b"[0 0 14401 200000]",
        "1e9": b"[0 0 1000000000 1000000000]",
        "3e38": b"[0 0 3e38 3e38]",
        "negative": b"[-1000000000 -1000000000 1000000000 1000000000]",
        "zero": b"[0 0 0 0]",
        "inverted": b"[612 792 0 0]",
        "nan": b"[0 0 nan inf]",
        "short": b"[0 0 612]",
        "not-array": b"(not a box)",
    }
    out = [Mutant(f"huge-page-{k}.pdf", "huge_page", one_page(v)) for k, v in boxes.items()]
    # text placed far out on a huge page, and 200000 tiny text runs on one page
    far = b"BT /F1 11 Tf 14000 14000 Td (Far corner text.) Tj ET " + TEXT
    out.append(Mutant("huge-page-far-text.pdf", "huge_page", one_page(boxes["14400"], far)))
    runs = b"BT /F1 2 Tf " + b"1 0 Td (x) Tj " * 200000 + b"ET"
    out.append(Mutant("huge-page-200k-runs.pdf", "huge_page", one_page(b"[0 0 14400 14400]", runs)))
    return out


def zero_pages() -> list[Mutant]:
    return [
        Mutant("zero-pages.pdf", "zero_pages",
               assemble([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"]),
               "reject", "empty"),
        Mutant("zero-pages-no-tree.pdf", "zero_pages", assemble([b"<< /Type /Catalog >>"])),
        Mutant("zero-pages-null-tree.pdf", "zero_pages", assemble([b"<< /Type /Catalog /Pages null >>"])),
    ]


def garbage(seed: int) -> list[Mutant]:
    rng = random.Random(seed)
    out = []
    for size in (0, 16, 1024, 65536, 2**20):
        out.append(Mutant(f"garbage-{size}.pdf", "garbage", b"%PDF-1.7\n" + rng.randbytes(size)))
    out.append(Mutant("garbage-eof-only.pdf", "garbage", b"%PDF-1.4\n%%EOF\n"))
    out.append(Mutant("garbage-fake-trailer.pdf", "garbage",
                      b"%PDF-1.4\n" + rng.randbytes(4096) + b"\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"))
    out.append(Mutant("garbage-text.pdf", "garbage", b"%PDF-1.5\n" + b"obj endobj stream endstream xref trailer\n" * 2000))
    out.append(Mutant("garbage-header-late.pdf", "garbage", rng.randbytes(900) + b"%PDF-1.7\n" + rng.randbytes(4096)))
    return out


def recursive() -> list[Mutant]:
    out = []
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources %s /Contents 5 0 R >>"
    fonts = b"/Font << /F1 4 0 R >>"

    def doc(name: str, pages: bytes, page_obj: bytes, content: bytes = TEXT, *more: bytes) -> None:
        objs = [b"<< /Type /Catalog /Pages 2 0 R >>", pages, page_obj, FONT, stream(content), *more]
        out.append(Mutant(f"{name}.pdf", "recursive", assemble(objs)))

    plain = page % (b"<< %s >>" % fonts)
    doc("cycle-kids-self", b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>", plain)
    doc("cycle-page-is-tree", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Pages /Parent 2 0 R /Kids [2 0 R] /Count 1 >>")
    doc("cycle-parent-self", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 3 0 R /MediaBox [0 0 612 792] /Contents 5 0 R >>")
    doc("cycle-ref-chain", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>", page % b"6 0 R", TEXT, b"7 0 R", b"6 0 R")
    # a form XObject that draws itself, and two that draw each other
    doc("cycle-form-self", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        page % (b"<< %s /XObject << /X 6 0 R >> >>" % fonts), TEXT + b" /X Do",
        stream(b"/X Do", b"/Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources << /XObject << /X 6 0 R >> >>"))
    doc("cycle-form-pair", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        page % (b"<< %s /XObject << /A 6 0 R >> >>" % fonts), TEXT + b" /A Do",
        stream(b"/B Do", b"/Type /XObject /Subtype /Form /BBox [0 0 9 9] /Resources << /XObject << /B 7 0 R >> >>"),
        stream(b"/A Do", b"/Type /XObject /Subtype /Form /BBox [0 0 9 9] /Resources << /XObject << /A 6 0 R >> >>"))
    # 10000 nested forms in a chain (no cycle, just depth)
    depth = 10000
    forms = [
        stream(b"/N Do", b"/Type /XObject /Subtype /Form /BBox [0 0 9 9] /Resources << /XObject << /N %d 0 R >> >>" % (7 + i))
        for i in range(depth)
    ]
    doc("deep-forms-10000", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        page % (b"<< %s /XObject << /N 6 0 R >> >>" % fonts), TEXT + b" /N Do", *forms, stream(TEXT))
    # deeply nested arrays and dictionaries inside objects the parser must read
    nest = 200000
    doc("deep-arrays", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        page % (b"<< %s /Deep %s >>" % (fonts, b"[" * nest + b"]" * nest)))
    doc("deep-dicts", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        page % (b"<< %s /Deep %s >>" % (fonts, b"<< /A " * nest + b"1" + b" >>" * nest)))
    doc("deep-arrays-unclosed", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        page % (b"<< %s /Deep %s >>" % (fonts, b"[" * nest)))
    # a content stream nesting q/Q and BT 100000 deep
    doc("deep-gsave", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>", plain, b"q " * 100000 + TEXT + b" Q" * 100000)
    # pages tree 5000 levels deep (one kid each)
    levels = 5000
    tree = [b"<< /Type /Pages /Kids [%d 0 R] /Count 1 >>" % (7 + i) for i in range(levels - 1)]
    tree.append(b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
    doc("deep-page-tree", b"<< /Type /Pages /Kids [6 0 R] /Count 1 >>", plain, TEXT, *tree)
    return out


# --------------------------------------------------------------------------------------------


def mutants(sources: Iterable[Path], seed: int = 0) -> list[Mutant]:
    """Every mutant: per real source its original, truncations, bit flips, xref damage and
    encrypted copies; then the hand-built files."""
    out: list[Mutant] = []
    for src in sources:
        data = src.read_bytes()
        stem = src.stem
        out.append(Mutant(f"{stem}.original.pdf", "original", data, "parse"))
        out += truncations(stem, data)
        out += bitflips(stem, data, seed)
        out += xref_damage(stem, data)
        out += encrypted(stem, data)
    out += bombs() + many_pages() + huge_pages() + zero_pages() + garbage(seed) + recursive()
    names = [m.name for m in out]
    assert len(names) == len(set(names)), "mutant names must be unique"
    return out


def write_mutants(items: Iterable[Mutant], directory: Path) -> dict[Path, Mutant]:
    directory.mkdir(parents=True, exist_ok=True)
    out = {}
    for m in items:
        path = directory / m.name
        path.write_bytes(m.data)
        out[path] = m
    return out
