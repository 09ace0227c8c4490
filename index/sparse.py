"""BM25 sparse vectors, computed by us so that every store indexes the very same numbers.

Only the term-frequency half of BM25 lives here; the IDF half is applied by Qdrant at search time
(sparse vector modifier ``idf``), so adding documents never requires re-encoding old ones.

Tokens: NFKC + lowercase; Latin/digit words split on anything non-alphanumeric (hyphenated names
like "SD-XL" also yield the joined form "sdxl" so that either spelling matches), a small English
stopword list, a light plural stemmer; runs of CJK ideographs yield character unigrams and
bigrams, which lets Chinese queries match without a word segmenter.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter

from paperlens.index.store import SparseVec
from paperlens.text import HAN as _CJK

# A CJK run, or a hyphen-joined chain of alphanumeric words (without CJK, so "模型sdxl" splits).
_TOKEN_RE = re.compile(rf"([{_CJK}]+)|((?:[^\W_{_CJK}]+)(?:-[^\W_{_CJK}]+)*)")

STOPWORDS = frozenset(
    """a an and are as at be been being but by can could did do does for from had has have he her
    his how i if in into is it its itself may might more most no nor not of on or our she should so
    such than that the their them then there these they this those through to too under up upon us
    very was we were what when where which while who whom why will with would you your also via
    thus however etc""".split()
)


def tokenize(text: str) -> list[str]:
    """Index terms of `text`, in order, duplicates kept (term frequency counts them)."""
    tokens: list[str] = []
    for cjk, word_chain in _TOKEN_RE.findall(unicodedata.normalize("NFKC", text).lower()):
        if cjk:
            tokens.extend(cjk)
            tokens.extend(cjk[i : i + 2] for i in range(len(cjk) - 1))
            continue
        parts = word_chain.split("-")
        tokens.extend(_stem(p) for p in parts if _keep(p))
        if len(parts) > 1:
            joined = "".join(parts)
            if len(joined) <= 24:  # "sd-xl" -> "sdxl", but not whole hyphenated phrases
                tokens.append(joined)
    return tokens


def _keep(word: str) -> bool:
    # Lone letters are mostly debris of abbreviations ("e.g."); lone digits can be meaningful.
    return word not in STOPWORDS and (len(word) > 1 or word.isdigit())


def _stem(word: str) -> str:
    """Harman's S-stemmer: folds plurals ("models" -> "model") and nothing else, so that
    technical terms are never mangled."""
    if not word.isalpha() or len(word) <= 3:
        return word
    if word.endswith("ies") and not word.endswith(("eies", "aies")):
        return word[:-3] + "y"
    if word.endswith("es") and not word.endswith(("aes", "ees", "oes")):
        return word[:-1]
    if word.endswith("s") and not word.endswith(("us", "ss", "is")):
        return word[:-1]
    return word


def token_index(token: str) -> int:
    """Stable 31-bit index of a token (Python's hash() is salted per process)."""
    return int.from_bytes(hashlib.blake2b(token.encode("utf-8"), digest_size=4).digest(), "big") & 0x7FFFFFFF


class Bm25Encoder:
    def __init__(self, k1: float = 1.2, b: float = 0.75, avg_len: float = 256.0) -> None:
        if k1 < 0 or not 0.0 <= b <= 1.0 or avg_len <= 0:
            raise ValueError(f"invalid BM25 parameters k1={k1} b={b} avg_len={avg_len}")
        self.k1 = k1
        self.b = b
        self.avg_len = avg_len

    def encode_document(self, text: str) -> SparseVec:
        tokens = tokenize(text)
        # Counting by index rather than token folds hash collisions into one term consistently.
        tf = Counter(token_index(t) for t in tokens)
        norm = self.k1 * (1.0 - self.b + self.b * len(tokens) / self.avg_len)
        indices = sorted(tf)
        return SparseVec(indices, [tf[i] * (self.k1 + 1.0) / (tf[i] + norm) for i in indices])

    def encode_query(self, text: str) -> SparseVec:
        indices = sorted({token_index(t) for t in tokenize(text)})
        return SparseVec(indices, [1.0] * len(indices))
