"""A real OpenAI-compatible endpoint on 127.0.0.1 for the tests: FastAPI under uvicorn, in a thread.

    with OpenAIServer(llm) as server:             # llm: a loaded LlamaCppLLM, or any LLM
        client = OpenAILLM(server.base_url, "qwen", api_key="k")

``POST /v1/chat/completions`` answers with the model: a LlamaCppLLM through llama.cpp's own
OpenAI-shaped handler, any other LLM (the scripted fake, tests/fake_llm.py) through its ``chat``,
wrapped in a chat completion. ``delay_s`` holds every answer back that long (for client timeouts); without a model
the endpoint answers 503, as a server does while its model is loading. Every request body and
its Authorization header are recorded in ``requests``.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any, Self

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


class OpenAIServer:
    def __init__(self, llm: Any | None, delay_s: float = 0.0) -> None:
        self.llm = llm
        self.delay_s = delay_s
        self.requests: list[tuple[dict[str, Any], str]] = []
        self._stop = threading.Event()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/chat/completions")
        def chat_completions(body: dict[str, Any], request: Request) -> JSONResponse:
            # A sync endpoint runs in uvicorn's thread pool, so a delay here blocks no other request.
            self.requests.append((body, request.headers.get("authorization", "")))
            if self.delay_s:
                self._stop.wait(self.delay_s)  # cut short when the server stops
            if self.llm is None:
                return JSONResponse({"error": {"message": "model is loading", "code": 503}}, status_code=503)
            if not hasattr(self.llm, "chat_completion"):
                try:
                    return JSONResponse(_completion(self.llm, body))
                except Exception as e:  # the model failed: an error body, as a real server sends
                    return JSONResponse({"error": {"message": str(e), "code": 500}}, status_code=500)
            result = self.llm.chat_completion(body)
            if "error" in result:
                return JSONResponse(result, status_code=int(result["error"].get("code") or 500))
            return JSONResponse(result)

        return app

    def __enter__(self) -> Self:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self._app(), log_level="warning", lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the test OpenAI server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)


def _completion(llm: Any, body: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI chat completion of `llm.chat`'s reply to the request `body`."""
    content = llm.chat(body["messages"], max_tokens=body.get("max_tokens") or 256,
                       temperature=body.get("temperature") or 0.0)
    return {"id": f"chatcmpl-{len(content)}", "object": "chat.completion", "model": body.get("model", ""),
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}]}


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
