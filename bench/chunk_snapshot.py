"""What the ingest code makes of the real corpus, written down so two versions of the code can be diffed.

    .venv/bin/python bench/chunk_snapshot.py snapshot bench/results/chunks-before.json
    ... change the code ...
    .venv/bin/python bench/chunk_snapshot.py snapshot bench/results/chunks-after.json
    .venv/bin/python bench/chunk_snapshot.py diff bench/results/chunks-before.json bench/results/chunks-after.json

A snapshot holds, for every corpus PDF (parsed by the product's sandboxed parser), every digest
entry of the seed pages and the first arXiv metadata records: the parsed Document (meta, blocks,
warnings, language), its chunks with the default settings (offsets, section, pages, language,
summary flag), the sentence spans the answer engine's splitter finds in each chunk, and the BM25
tokens of each chunk. ``diff`` prints what differs, so a refactor can show it changed nothing and a
deliberate change can show exactly which chunk boundaries it moves (and whether CHUNKER_VERSION
must be bumped). Not a timing benchmark: any machine, loaded or not.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import itertools
import json
import sys
from pathlib import Path

from common import corpus_dir

METADATA_RECORDS = 3000  # of the 74,728 in the dump: enough Chinese-free and odd records to matter


def _splitter():
    try:
        from paperlens.text import split_sentences
    except ImportError:  # code from before the one text module
        from paperlens.answer.sentences import split as split_sentences
    return split_sentences


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


def _entry(doc, count) -> dict:
    from paperlens.index.sparse import tokenize
    from paperlens.ingest.chunker import chunk_document
    from paperlens.settings import Settings

    s = Settings()
    split = _splitter()
    chunks = chunk_document(doc, rev="r", max_tokens=s.chunk_tokens, overlap_tokens=s.chunk_overlap_tokens,
                            count_tokens=count)
    return {
        "document": _digest({"meta": doc.meta.to_dict(), "blocks": [[b.text, b.page, b.section] for b in doc.blocks],
                             "warnings": doc.warnings, "lang": doc.lang, "kind": doc.kind}),
        "lang": doc.lang,
        "chunks": [[c.char_start, c.char_end, c.section, c.page_start, c.page_end, c.lang, c.is_summary]
                   for c in chunks],
        "sentences": [[[sp.start, sp.end] for sp in split(c.text)] for c in chunks],
        "texts": [c.text for c in chunks],
        "bm25": _digest([tokenize(c.text) for c in chunks]),
    }


def snapshot(out: Path) -> None:
    from paperlens.ingest.chunker import default_token_counter
    from paperlens.ingest.digest import read_digest
    from paperlens.ingest.metadata import read_metadata
    from paperlens.ingest.pdf import parse_many

    count = default_token_counter()
    docs: dict[str, dict] = {}
    pdfs = sorted(corpus_dir("pdfs").glob("*.pdf")) + sorted(corpus_dir("pdfs_odd").glob("*.pdf"))
    for path, doc in parse_many(pdfs, workers=2):
        key = f"pdf/{path.name}"
        docs[key] = {"error": str(doc)} if isinstance(doc, Exception) else _entry(doc, count)
        print(key, len(docs[key].get("chunks", [])), "chunks", file=sys.stderr, flush=True)
    for page in sorted(corpus_dir("seeds").glob("*.txt")):
        for i, doc in enumerate(read_digest(page).documents):
            docs[f"digest/{page.name}#{i}"] = _entry(doc, count)
    dump = next(corpus_dir("arxiv").glob("*.jsonl.gz"))
    with gzip.open(dump, "rb") as f:
        head = Path("/tmp") / f"paperlens-snapshot-{METADATA_RECORDS}.jsonl"
        head.write_bytes(b"".join(itertools.islice(f, METADATA_RECORDS)))
    for i, doc in enumerate(read_metadata(head)):
        if hasattr(doc, "meta"):
            docs[f"metadata/{i}"] = _entry(doc, count)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(docs, ensure_ascii=False))
    n_chunks = sum(len(d.get("chunks", [])) for d in docs.values())
    print(f"{len(docs)} documents, {n_chunks} chunks -> {out}")


def diff(a_path: Path, b_path: Path, show: int) -> int:
    a, b = json.loads(a_path.read_text()), json.loads(b_path.read_text())
    changed = {"documents": 0, "chunkings": 0, "sentence splits": 0, "bm25": 0}
    chunks_moved = sentences_moved = 0
    shown = 0
    for key in sorted(set(a) | set(b)):
        x, y = a.get(key), b.get(key)
        if x is None or y is None:
            print(f"{key}: only in {'after' if x is None else 'before'}")
            continue
        if "error" in x or "error" in y:
            if x != y:
                print(f"{key}: error {x.get('error')!r} -> {y.get('error')!r}")
            continue
        changed["documents"] += x["document"] != y["document"]
        changed["bm25"] += x["bm25"] != y["bm25"]
        if x["chunks"] != y["chunks"]:
            changed["chunkings"] += 1
            chunks_moved += len({tuple(c) for c in x["chunks"]} ^ {tuple(c) for c in y["chunks"]})
            if shown < show:
                shown += 1
                print(f"{key}: chunks {len(x['chunks'])} -> {len(y['chunks'])}")
        elif x["sentences"] != y["sentences"]:
            changed["sentence splits"] += 1
            for text, s1, s2 in zip(x["texts"], x["sentences"], y["sentences"]):
                if s1 == s2:
                    continue
                only1 = [text[p:q] for p, q in s1 if [p, q] not in s2]
                only2 = [text[p:q] for p, q in s2 if [p, q] not in s1]
                sentences_moved += len(only1) + len(only2)
                if shown < show:
                    shown += 1
                    print(f"{key}:\n  before: {only1!r}\n  after:  {only2!r}")
    print(f"{len(a)} / {len(b)} documents; changed: " + ", ".join(f"{k} {v}" for k, v in changed.items())
          + f"; chunks not in both: {chunks_moved}; sentences not in both: {sentences_moved}")
    return int(any(changed.values()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("snapshot", help="parse, chunk and split the corpus; write the result")
    s.add_argument("out", type=Path)
    d = sub.add_parser("diff", help="compare two snapshots (exit 1 when they differ)")
    d.add_argument("before", type=Path)
    d.add_argument("after", type=Path)
    d.add_argument("--show", type=int, default=20, help="differences printed in full")
    args = ap.parse_args()
    if args.cmd == "snapshot":
        snapshot(args.out)
    else:
        sys.exit(diff(args.before, args.after, args.show))


if __name__ == "__main__":
    main()
