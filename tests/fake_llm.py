"""A scripted LLM for the tests where the model is not the point (the simonw/llm MockModel idea).

    llm = ScriptedLLM(["GANs train two models [1]."])     # replies, in order
    llm = ScriptedLLM(reply=lambda call: ...)              # or a function of the call
    Answerer(library, settings, llm).ask("...")
    llm.calls[0].user                                      # what the writer sent

It speaks the LLM protocol (paperlens.answer.llm.LLM) and keeps its contract (tests/test_llm.py
runs the same suite on it and on the real backends): a reply is a string, a reply function gives
the same call the same reply, ``timeout_s`` is kept (GenerationTimeout, after waiting no longer
than the timeout), failures are paperlens errors. Every call is recorded in ``calls``. It can be told to be slow (``delay_s``) or to
fail (``fail``: an exception to raise, or a function of the call returning one or None). A reply
list that runs out repeats ``default``. Judge prompts ("Does the PASSAGE state the CLAIM?") are
answered by ``judge`` (default: "yes") unless a reply function handles them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from paperlens.errors import GenerationError, GenerationTimeout

Messages = list[dict[str, str]]


@dataclass
class Call:
    messages: Messages
    max_tokens: int
    temperature: float
    timeout_s: float | None

    @property
    def system(self) -> str:
        return "\n".join(m["content"] for m in self.messages if m["role"] == "system")

    @property
    def user(self) -> str:
        return "\n".join(m["content"] for m in self.messages if m["role"] == "user")

    @property
    def is_judge(self) -> bool:
        return "Does the PASSAGE state the CLAIM?" in self.user


@dataclass
class ScriptedLLM:
    replies: Iterable[str] = ()
    reply: Callable[[Call], str] | None = None  # overrides replies / judge when given
    default: str = "NO_ANSWER"
    judge: str | Callable[[Call], str] = "yes"
    name: str = "scripted"
    context_tokens: int = 4096
    delay_s: float = 0.0
    fail: BaseException | Callable[[Call], BaseException | None] | None = None
    calls: list[Call] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._queue = list(self.replies)
        self._lock = threading.Lock()

    def enqueue(self, *replies: str) -> None:
        with self._lock:
            self._queue.extend(replies)

    @property
    def writer_calls(self) -> list[Call]:
        return [c for c in self.calls if not c.is_judge]

    @property
    def judge_calls(self) -> list[Call]:
        return [c for c in self.calls if c.is_judge]

    def chat(self, messages: Messages, *, max_tokens: int, temperature: float = 0.0,
             timeout_s: float | None = None) -> str:
        call = Call([dict(m) for m in messages], max_tokens, temperature, timeout_s)
        with self._lock:
            self.calls.append(call)
        if self.delay_s:
            if timeout_s is not None and self.delay_s > timeout_s:
                time.sleep(max(0.0, timeout_s))
                raise GenerationTimeout(f"{self.name}: no complete answer within {timeout_s:.0f} s")
            time.sleep(self.delay_s)
        error = self.fail(call) if callable(self.fail) else self.fail
        if error is not None:
            raise error if not isinstance(error, type) else error(f"{self.name}: scripted failure")
        if self.reply is not None:
            return self.reply(call)
        if call.is_judge:
            return self.judge(call) if callable(self.judge) else self.judge
        with self._lock:
            return self._queue.pop(0) if self._queue else self.default


def failing(message: str = "the endpoint is down") -> GenerationError:
    """The error a backend raises when a call fails."""
    return GenerationError(f"scripted: {message}")
