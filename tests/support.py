"""Helpers shared by the tests (importable as `support`; pytest puts tests/ on sys.path)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"


def corpus_path(*parts: str) -> Path:
    """A path inside ../shared/corpus, or skip the test with a message saying what is missing."""
    path = CORPUS.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not found: tests on the real corpus need ../shared/corpus beside the project")
    return path


def make_settings(data_dir: Path, **overrides):
    from paperlens.settings import Settings

    base = dict(data_dir=data_dir, arxiv_delay_s=0.0, parse_workers=2, _env_file=None)
    base.update(overrides)
    return Settings(**base)


def write_jsonl(path: Path, records: list[dict]) -> Path:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    return path
