"""What a validating constructor costs on the answer engine's hot path: Passage, made once for every
chunk of every paper an answer reads, as a plain dataclass (what it is), a pydantic dataclass and a
pydantic BaseModel; and how many Passages the comparisons of bench/eval_answers.py make.

    .venv/bin/python bench/answer_types.py [--data-dir DIR]

The comparison counts need the corpus library bench/eval_answers.py builds (skipped without it).
Results: bench/results/answer-types.json; figures in docs/benchmarks.md ("Answer types").
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import timeit
from pathlib import Path

import pydantic
from common import RESULTS, machine, write_json
from pydantic.dataclasses import dataclass as pydantic_dataclass

HERE = Path(__file__).resolve().parent
FIELDS = dict(chunk_id="arxiv:2401.00001#pdf#r1#12", paper_id="arxiv:2401.00001", text="x" * 1200, page=4, page_end=5,
              section="3 Method", doc_kind="pdf", lang="en", index=12, is_summary=False)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", type=Path, default=RESULTS / "answers-lib")
    ap.add_argument("--n", type=int, default=20000)
    args = ap.parse_args()
    from paperlens.answer.citation import Passage

    fields = {f.name: f.type for f in dataclasses.fields(Passage)}
    namespace = {"__annotations__": {k: eval(t) if isinstance(t, str) else t for k, t in fields.items()}}
    defaults = {f.name: f.default for f in dataclasses.fields(Passage) if f.default is not dataclasses.MISSING}
    PydanticDataclass = pydantic_dataclass(type("PydanticPassage", (), {**namespace, **defaults}))
    Model = type("ModelPassage", (pydantic.BaseModel,), {**namespace, **defaults})
    per_us = {}
    for name, cls in (("dataclass", Passage), ("pydantic dataclass", PydanticDataclass), ("pydantic BaseModel", Model)):
        best = min(timeit.repeat(lambda cls=cls: cls(**FIELDS), number=args.n, repeat=5))
        per_us[name] = round(best / args.n * 1e6, 2)
    counts = []
    if args.data_dir.exists():
        from paperlens.answer.service import Answerer
        from paperlens.ingest.pipeline import open_library
        from paperlens.settings import Settings

        settings = Settings(_env_file=None, data_dir=args.data_dir, rate_limit_per_minute=0)
        questions = json.loads((HERE / "eval_questions.json").read_text(encoding="utf-8"))
        with open_library(settings) as lib:
            ans = Answerer(lib, settings)
            for q in questions["compare"]:
                out = ans.compare(q["query"])
                n = sum(len(lib.paper_chunks(r["paper_id"])) for r in out["rows"])
                counts.append({"query": q["query"], "rows": len(out["rows"]), "passages": n, "seconds": out["elapsed_s"]})
    result = {"machine": machine(), "construct_us": per_us, "compare": counts}
    if counts:
        most = max(counts, key=lambda c: c["passages"])
        result["largest_compare"] = {**most, **{f"extra_ms_as_{k.replace(' ', '_')}": round(most["passages"] * (v - per_us["dataclass"]) / 1000, 1)
                                                for k, v in per_us.items() if k != "dataclass"}}
    write_json(RESULTS / "answer-types.json", result)
    print(json.dumps({k: v for k, v in result.items() if k != "machine"}, indent=1))
    print("written", RESULTS / "answer-types.json", file=sys.stderr)


if __name__ == "__main__":
    main()
