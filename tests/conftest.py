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


@pytest.fixture(scope="session")
def embedder():
    from paperlens.index.embedder import Embedder

    return Embedder("all-MiniLM-L6-v2", "cpu", 64)


@pytest.fixture(scope="session")
def xling():
    from paperlens.index.xling import XlingEmbedder

    return XlingEmbedder()


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
