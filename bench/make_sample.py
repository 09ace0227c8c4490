"""Builds the demo sample shipped in paperlens/sample/: a few hundred arXiv metadata records about
diffusion models and super-resolution (arXiv metadata is CC0 1.0, so it may be redistributed).

    python bench/make_sample.py ../shared/corpus/arxiv/arxiv_cs_cv_cl_2025-2026.jsonl.gz

Selection is deterministic: records whose title mentions diffusion or super-resolution, in id order,
every n-th one so that the sample spans the whole date range.
"""

from __future__ import annotations

import gzip
import json
import re
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "paperlens" / "sample" / "arxiv_diffusion_sample.jsonl.gz"
PATTERN = re.compile(r"diffusion|super-resolution|super resolution", re.I)
TARGET = 300


def main(src: str) -> None:
    seen: dict[str, dict] = {}
    with gzip.open(src, "rt", encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            if PATTERN.search(rec.get("title", "")):
                seen[rec["id"]] = rec  # the last crawl of an id wins
    ids = sorted(seen)
    step = max(1, len(ids) // TARGET)
    chosen = [seen[i] for i in ids[::step]][:TARGET]
    with gzip.GzipFile(OUT, "wb", mtime=0) as raw:  # mtime=0: byte-identical on every run
        raw.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in chosen).encode())
    print(f"{len(chosen)} of {len(ids)} matching records -> {OUT}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/corpus/arxiv/arxiv_cs_cv_cl_2025-2026.jsonl.gz")
