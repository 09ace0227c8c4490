"""The `paperlens` command. Settings are read here, once, and passed down.

    paperlens ingest PATH... [--arxiv ID ...] [--arxiv-query Q --max N] [--json] [--server URL]
    paperlens search "query" [--k 10] [--json] [--date-from D] [--date-to D] [--category C] [--author A]
    paperlens papers [--json]
    paperlens summarize PAPER_ID [--language zh] [--json]
    paperlens compare "topic" | --paper ID ... [--aspect A ...] [--json]
    paperlens roundup "topic" [--date-from D] [--date-to D] [--language zh] [--json]
    paperlens ask "question" [--json]
    paperlens serve [--host H] [--port P]
    paperlens info
    paperlens check
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import Any

from paperlens.errors import PaperlensError
from paperlens.settings import Settings, load_settings


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="paperlens", description="Search research papers, grounded in their full text.")
    p.add_argument("--data-dir", help="overrides PAPERLENS_DATA_DIR")
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="command", required=True)

    ing = sub.add_parser("ingest", help="add PDFs, folders, arXiv metadata JSONL, digest pages or arXiv papers")
    ing.add_argument("paths", nargs="*", help="PDF files, folders, .jsonl[.gz] metadata dumps, digest .md/.txt pages")
    ing.add_argument("--arxiv", action="append", default=[], metavar="ID", help="arXiv id (repeatable, or comma-separated)")
    ing.add_argument("--arxiv-query", metavar="QUERY", help="arXiv search query; downloads the matching papers")
    ing.add_argument("--max", type=int, default=20, help="most results for --arxiv-query (default 20)")
    ing.add_argument("--json", action="store_true", help="print the full report as JSON")
    ing.add_argument("--server", metavar="URL", help="send the job to a running `paperlens serve` instead")

    se = sub.add_parser("search", help="hybrid semantic + keyword search (English or Chinese)")
    se.add_argument("query")
    se.add_argument("--k", type=int, default=10)
    se.add_argument("--json", action="store_true")
    se.add_argument("--date-from")
    se.add_argument("--date-to")
    se.add_argument("--category", action="append", default=[])
    se.add_argument("--author", action="append", default=[])
    se.add_argument("--paper", action="append", default=[], help="restrict to paper ids")
    se.add_argument("--mode", default="hybrid", choices=["hybrid", "dense", "bm25", "xling"])
    se.add_argument("--server", metavar="URL", help="search through a running `paperlens serve` instead")

    pa = sub.add_parser("papers", help="list indexed papers")
    pa.add_argument("--json", action="store_true")
    pa.add_argument("--limit", type=int, default=100)

    def answer_opts(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--json", action="store_true", help="print the full JSON response instead of Markdown")
        sp.add_argument("--backend", choices=["extractive", "llamacpp", "openai"], help="overrides PAPERLENS_ANSWER_BACKEND")
        sp.add_argument("--server", metavar="URL", help="ask a running `paperlens serve` instead")

    su = sub.add_parser("summarize", help="a cited paper card (background, method, results, limitations)")
    su.add_argument("paper_id", help="e.g. arxiv:2409.17058 (see `paperlens papers`)")
    su.add_argument("--language", default="en", choices=["en", "zh"])
    answer_opts(su)

    co = sub.add_parser("compare", help="a cited comparison table of every paper on a topic")
    co.add_argument("query", nargs="?", help="topic, e.g. 'diffusion super-resolution'")
    co.add_argument("--paper", action="append", default=[], help="compare exactly these paper ids instead")
    co.add_argument("--aspect", action="append", default=[], help="a column (repeatable); default: task, key idea, ...")
    co.add_argument("--date-from")
    co.add_argument("--date-to")
    co.add_argument("--category", action="append", default=[])
    co.add_argument("--language", default="en", choices=["en", "zh"])
    answer_opts(co)

    ro = sub.add_parser("roundup", help="a cited digest of the papers on a topic in a date window, by theme")
    ro.add_argument("topic")
    ro.add_argument("--date-from")
    ro.add_argument("--date-to")
    ro.add_argument("--language", default="en", choices=["en", "zh"])
    answer_opts(ro)

    ak = sub.add_parser("ask", help="a cited answer from the indexed papers, or a statement that they do not answer it")
    ak.add_argument("question")
    ak.add_argument("--date-from")
    ak.add_argument("--date-to")
    ak.add_argument("--category", action="append", default=[])
    ak.add_argument("--language", choices=["en", "zh"])
    answer_opts(ak)

    sv = sub.add_parser("serve", help="serve the HTTP API and the web UI")
    sv.add_argument("--host")
    sv.add_argument("--port", type=int)

    sub.add_parser("info", help="show the configuration and index statistics")
    sub.add_parser("check", help="verify that the store and the catalog agree (no partial or phantom papers)")
    return p


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    overrides: dict[str, Any] = {}
    if args.data_dir:
        overrides["data_dir"] = args.data_dir
    try:
        settings = load_settings(**overrides)
        return _COMMANDS[args.command](args, settings)
    except PaperlensError as exc:
        print(f"paperlens: {exc.detail}", file=sys.stderr)
        return 2 if exc.status < 500 else 1
    except KeyboardInterrupt:
        return 130


def _ingest(args: argparse.Namespace, settings: Settings) -> int:
    from paperlens.ingest.pipeline import request_from

    ids = [i.strip() for raw in args.arxiv for i in raw.split(",") if i.strip()]
    request = request_from(args.paths, ids, args.arxiv_query, args.max)
    if args.server:
        report = _remote_ingest(args.server, request)
    else:
        report = _local_ingest(settings, request)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        _print_report(report)
    return 1 if report["counts"]["failed"] else 0


def _local_ingest(settings: Settings, request) -> dict[str, Any]:
    from tqdm import tqdm

    from paperlens.ingest.pipeline import Ingestor, open_library

    bar = tqdm(total=0, unit="item", desc="ingest", file=sys.stderr, disable=None)

    def progress(ev: dict[str, Any]) -> None:
        bar.total = max(ev["total"], bar.total or 0)
        bar.n = ev["done"]
        if ev["phase"] == "embedding":
            bar.set_postfix_str(f"embedding {ev['chunks']} chunks")
        else:
            bar.set_postfix(ok=ev["ingested"] + ev["replaced"], same=ev["unchanged"], failed=ev["failed"])
        bar.refresh()

    with open_library(settings) as library:
        report = Ingestor(library, settings, progress=progress).run(request)
    bar.close()
    return report.to_dict()


def _remote_ingest(server: str, request) -> dict[str, Any]:
    import time

    import httpx

    body = {
        "paths": [str(p.resolve()) for p in request.paths], "arxiv_ids": request.arxiv_ids,
        "arxiv_query": request.arxiv_query, "max": request.arxiv_max,
    }
    with httpx.Client(base_url=server, timeout=60) as client:
        r = client.post("/api/ingest", json=body)
        _raise_for_problem(r)
        job_id = r.json()["job_id"]
        while True:
            job = client.get(f"/api/jobs/{job_id}").json()
            if job["status"] in ("done", "failed"):
                if job["status"] == "failed":
                    raise PaperlensError(f"ingest job {job_id} failed: {job.get('error')}")
                return job["report"]
            time.sleep(0.5)


def _raise_for_problem(r) -> None:
    if r.status_code >= 400:
        try:
            detail = r.json().get("detail")
        except ValueError:
            detail = r.text
        err = PaperlensError(f"server answered {r.status_code}: {detail}")
        err.status = r.status_code  # exit 2 for the user's mistakes (4xx), 1 for the server's
        raise err


def _print_report(report: dict[str, Any]) -> None:
    c = report["counts"]
    print(
        f"ingested {c['ingested']}, replaced {c['replaced']}, unchanged {c['unchanged']}, "
        f"skipped {c['skipped']}, failed {c['failed']}"
    )
    if report.get("warnings"):
        print(f"  {len(report['warnings'])} warnings about sources (e.g. text lost to a damaged encoding); "
              "--json lists them all; first: " + report["warnings"][0][:200])
    for status in ("skipped", "failed"):
        for it in report[status]:
            what = it.get("title") or it.get("paper_id") or ""
            print(f"  {status}: {it['source']} {what} - {it['reason']}")


def _search(args: argparse.Namespace, settings: Settings) -> int:
    from paperlens.models import SearchFilters

    filters = SearchFilters(
        date_from=args.date_from, date_to=args.date_to, categories=args.category,
        authors=args.author, paper_ids=args.paper,
    )
    if args.server:
        import httpx

        r = httpx.post(
            f"{args.server.rstrip('/')}/api/search", timeout=60,
            json={"query": args.query, "k": args.k, "mode": args.mode, "filters": filters.__dict__},
        )
        _raise_for_problem(r)
        hits = r.json()["hits"]
    else:
        from paperlens.ingest.pipeline import open_library

        with open_library(settings) as library:
            hits = [h.to_dict() for h in library.search(args.query, args.k, filters, mode=args.mode)]
    if args.json:
        print(json.dumps({"hits": hits}, ensure_ascii=False, indent=2))
        return 0
    if not hits:
        print("no results")
    for i, h in enumerate(hits, 1):
        ident = h.get("arxiv_id") or h["paper_id"]
        page = f"p.{h['page']}" if h["page"] else h.get("doc_kind", "")
        print(f"{i:2}. {h['title'] or ident}  [{ident}, {h.get('date') or 'n.d.'}]  {h['section']} {page}  ({h['score']:.3f})")
        text = " ".join(h["text"].split())
        print(f"    {text[:240]}{'...' if len(text) > 240 else ''}")
    return 0


def _answer(args: argparse.Namespace, settings: Settings) -> int:
    """summarize / compare / roundup / ask: locally, or through a running server."""
    cmd = args.command
    filters = {"date_from": getattr(args, "date_from", None), "date_to": getattr(args, "date_to", None),
               "categories": getattr(args, "category", [])}
    if cmd == "summarize":
        body: dict[str, Any] = {"paper_id": args.paper_id, "language": args.language}
    elif cmd == "compare":
        if not args.query and not args.paper:
            raise PaperlensError("compare needs a topic or --paper ids")
        body = {"query": args.query, "paper_ids": args.paper, "aspects": args.aspect or None,
                "filters": filters, "language": args.language}
    elif cmd == "roundup":
        body = {"topic": args.topic, "date_from": args.date_from, "date_to": args.date_to, "language": args.language}
    else:
        body = {"question": args.question, "filters": filters, "language": args.language}
    if args.server:
        import httpx

        r = httpx.post(f"{args.server.rstrip('/')}/api/{cmd}", json=body, timeout=settings.generation_timeout_s + 30)
        _raise_for_problem(r)
        out = r.json()
    else:
        from paperlens.answer.llm import open_llm
        from paperlens.answer.service import Answerer
        from paperlens.ingest.pipeline import open_library
        from paperlens.models import SearchFilters

        if args.backend:
            settings = settings.model_copy(update={"answer_backend": args.backend})
        with open_library(settings) as library:
            ans = Answerer(library, settings, open_llm(settings))
            f = SearchFilters(**filters)
            if cmd == "summarize":
                out = ans.summarize(args.paper_id, args.language)
            elif cmd == "compare":
                out = ans.compare(args.query, args.paper or None, args.aspect or None, f, args.language)
            elif cmd == "roundup":
                out = ans.roundup(args.topic, args.date_from, args.date_to, args.language)
            else:
                out = ans.ask(args.question, f, args.language)
    print(json.dumps(out, ensure_ascii=False, indent=2) if args.json else out["markdown"])
    return 0


def _papers(args: argparse.Namespace, settings: Settings) -> int:
    from paperlens.ingest.pipeline import open_library

    with open_library(settings) as library:
        papers = library.catalog.papers(limit=args.limit)
    if args.json:
        print(json.dumps({"papers": papers}, ensure_ascii=False, indent=2))
    else:
        for p in papers:
            print(f"{p['paper_id']:28} {p.get('date') or '':10} {p['n_chunks']:5} chunks  {p.get('title', '')[:80]}")
    return 0


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from paperlens.api.server import serve

    # opens the data dir first: a locked one ends here with the lock's message only
    serve(settings, args.host or settings.host, args.port or settings.port)
    return 0


def _info(args: argparse.Namespace, settings: Settings) -> int:
    from paperlens.ingest.pipeline import open_library

    with open_library(settings) as library:
        info = {
            "data_dir": str(settings.data_dir),
            "store": settings.qdrant_url or "embedded (qdrant-edge)",
            "collection": library.spec.name,
            "embed_model": settings.embed_model,
            "embed_device": library.embedder.device,
            "embed_backend": library.embedder.backend,  # 'auto' resolved for this data dir
            "query_backend": library.embedder.query_backend,
            "xling_model": settings.xling_model or None,
            "xling_backend": library.xling.backend if library.xling else None,
            "papers": library.catalog.count_papers(),
            "chunks": library.store.count(),
        }
    print(json.dumps(info, indent=2))
    return 0


def _check(args: argparse.Namespace, settings: Settings) -> int:
    from paperlens.index.integrity import check_consistency
    from paperlens.ingest.pipeline import open_library

    with open_library(settings) as library:
        if library.recovered:
            print(f"removed {library.recovered} unfinished document revisions left by an interrupted ingest")
        report = check_consistency(library)
    print(f"{len(report.points)} chunks checked: " + ("consistent" if report.ok else "PROBLEMS"))
    for problem in report.problems:
        print(f"  {problem}")
    return 0 if report.ok else 1


_COMMANDS = {
    "check": _check, "ingest": _ingest, "search": _search, "papers": _papers, "serve": _serve, "info": _info,
    "summarize": _answer, "compare": _answer, "roundup": _answer, "ask": _answer,
}

if __name__ == "__main__":
    sys.exit(main())
