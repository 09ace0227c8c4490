"""The 'openai' answer backend: any OpenAI-compatible chat completions endpoint (vLLM, Ollama,
llama.cpp's server, hosted APIs), over httpx."""

from __future__ import annotations

from paperlens.errors import GenerationError, GenerationTimeout

from .llm import SEED, ErrorMap, Messages, map_exceptions


class OpenAILLM:
    """Any OpenAI-compatible chat completions endpoint (vLLM, Ollama, llama.cpp server, hosted)."""

    def __init__(
        self, base_url: str, model: str, api_key: str = "", timeout_s: float = 120.0, context_tokens: int = 4096
    ) -> None:
        import httpx

        self._httpx = httpx
        self.name = f"openai:{model}"
        self.context_tokens = context_tokens
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.timeout_s = timeout_s
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(headers=headers)

    def _transport_errors(self, limit: float) -> ErrorMap:
        httpx = self._httpx
        return {
            httpx.TimeoutException: lambda e: GenerationTimeout(f"{self.name}: {self.url} gave no answer within {limit:.0f} s"),
            httpx.HTTPError: lambda e: GenerationError(f"{self.name}: could not reach {self.url}: {e}"),
        }

    def chat(
        self, messages: Messages, *, max_tokens: int, temperature: float = 0.0, timeout_s: float | None = None
    ) -> str:
        httpx = self._httpx
        limit = self.timeout_s if timeout_s is None else timeout_s
        body = {"model": self.model, "messages": messages, "max_tokens": max_tokens,
                "temperature": temperature, "seed": SEED}
        with map_exceptions(self._transport_errors(limit)):
            r = self._client.post(self.url, json=body, timeout=httpx.Timeout(limit, connect=min(limit, 10.0)))
        if r.status_code >= 400:
            raise GenerationError(f"{self.name}: {self.url} answered HTTP {r.status_code}: {r.text[:300]}")
        # A body that is not JSON, or JSON without a message: the endpoint is not a chat completions API.
        not_a_completion = lambda e: GenerationError(f"{self.name}: {self.url} sent no chat completion: {r.text[:300]}")  # noqa: E731
        with map_exceptions({ValueError: not_a_completion, LookupError: not_a_completion, TypeError: not_a_completion}):
            content = r.json()["choices"][0]["message"]["content"]
        if not isinstance(content, str):
            raise GenerationError(f"{self.name}: {self.url} sent an empty message")
        return content

    def close(self) -> None:
        self._client.close()
