"""The 'llamacpp' answer backend: a GGUF model loaded once, in this process, by xllamacpp (the only
module that imports it). Model files: gguf.py."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

from paperlens.errors import GenerationError, GenerationTimeout, ModelError

from .gguf import INSTALL_HINT
from .llm import SEED, ErrorMap, Messages, map_exceptions


def _errors(make: type[GenerationError] | type[ModelError], what: str, **extra: Any) -> ErrorMap:
    # The binding has no exception classes of its own: whatever it raises (RuntimeError when a
    # model does not load, ValueError / TypeError for a request it refuses) is its failure.
    return {Exception: lambda e: make(f"{what}: {e}", **extra)}


class LlamaCppLLM:
    """A GGUF model loaded once, in this process. llama.cpp runs one sequence at a time here
    (one slot), so calls are serialized by a lock; a call waiting for the lock counts that wait
    against its timeout."""

    def __init__(self, path: Path, threads: int = 0, context_tokens: int = 4096) -> None:
        try:
            import xllamacpp
        except ImportError as e:
            raise ModelError(f"the 'llamacpp' answer backend needs xllamacpp: run {INSTALL_HINT}") from e
        self.name = f"llamacpp:{Path(path).name}"
        self.context_tokens = context_tokens
        self._lock = threading.Lock()
        p = xllamacpp.CommonParams()
        p.model.path = str(path)
        p.n_ctx = context_tokens
        p.n_parallel = 1
        n = threads or os.cpu_count() or 1
        p.cpuparams.n_threads = n
        p.cpuparams_batch.n_threads = n
        # No busy-waiting between work items: on a machine shared with the embedder and the API
        # (or other processes), spinning threads starve the ones doing the work.
        p.cpuparams.poll = 0
        p.cpuparams_batch.poll = 0
        p.sampling.temp = 0.0
        p.sampling.seed = SEED
        p.warmup = False
        p.verbosity = -1  # llama.cpp logs every request to stderr otherwise
        with map_exceptions(_errors(ModelError, f"could not load GGUF model {path}", model=str(path))):
            self._server = xllamacpp.Server(p)
        self._failed = _errors(GenerationError, f"{self.name}: generation failed")

    def chat(
        self, messages: Messages, *, max_tokens: int, temperature: float = 0.0, timeout_s: float | None = None
    ) -> str:
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        body = {
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": temperature,
            "seed": SEED,
            # A reused KV cache was computed in other batch sizes than a fresh prompt, which can
            # change the last bits of the logits and so a greedy answer: determinism over speed.
            "cache_prompt": False,
            "stream": True,
        }
        parts: list[str] = []
        errors: list[str] = []
        timed_out = False

        def on_chunk(chunk: dict[str, Any]) -> bool:
            # Returning True stops the generation: how a timeout cancels work in llama.cpp.
            nonlocal timed_out
            if "error" in chunk:
                errors.append(_error_text(chunk))
                return True
            for choice in chunk.get("choices") or []:
                content = (choice.get("delta") or {}).get("content")
                if content:
                    parts.append(content)
            if deadline is not None and time.monotonic() > deadline:
                timed_out = True
                return True
            return False

        if not self._lock.acquire(timeout=-1 if timeout_s is None else max(0.0, timeout_s)):
            raise GenerationTimeout(f"{self.name}: still busy with another request after {timeout_s:.0f} s")
        try:
            with map_exceptions(self._failed):
                self._server.handle_chat_completions(body, on_chunk)
        finally:
            self._lock.release()
        if errors:
            raise GenerationError(f"{self.name}: {errors[0]}")
        if timed_out or (deadline is not None and time.monotonic() > deadline):
            raise GenerationTimeout(f"{self.name}: no complete answer within {timeout_s:.0f} s")
        return "".join(parts)

    def chat_completion(self, body: dict[str, Any]) -> dict[str, Any]:
        """One OpenAI-shaped chat completion, request and response as llama.cpp's server has them
        (for serving this model over HTTP)."""
        with self._lock, map_exceptions(self._failed):
            return self._server.handle_chat_completions({**body, "stream": False})


def _error_text(chunk: dict[str, Any]) -> str:
    """The message of an error llama.cpp streams back as data (a chunk with an "error" member)."""
    err = chunk.get("error", chunk)
    if isinstance(err, dict):
        return str(err.get("message") or err)
    return str(err)
