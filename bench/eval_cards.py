"""Paper cards, questions and roundups measured against hand-read facts (issue 13), per backend.

    .venv/bin/python bench/eval_cards.py                                   # extractive, everything
    .venv/bin/python bench/eval_cards.py --backend llamacpp --llm-model qwen2.5-0.5b --papers 2 --languages zh
    .venv/bin/python bench/eval_cards.py --backend openai --openai-base-url http://127.0.0.1:8080/v1 --openai-model m
    .venv/bin/python bench/eval_cards.py --server http://127.0.0.1:8000    # the same through the HTTP API
    .venv/bin/python bench/eval_cards.py --only questions --dump /tmp/cards-out --markdown

What it runs: the product's public facade (``Answerer`` in answer/service.py: summarize, ask,
roundup) on a library of ../shared/corpus (built once under --data-dir, default
bench/results/cards-lib), or the HTTP API of a running server (POST /api/summarize, /api/ask,
/api/roundup; GET /api/chunks/{id} to check quotes). The eval sets are bench/card_facts.json (19
papers, 234 facts) and bench/card_questions.json (43 questions, 5 roundups); the scoring rules are
in bench/card_scoring.py.

What it reports, per language (en / zh):
- cards: fact recall (facts stated by some card sentence) overall and per section, and placement
  (stated in the section the fact belongs to); share of sentences in the requested language;
  citation verification (quote verbatim in the stored chunk, chunk of the cited paper, and every
  number of the sentence found in its quotes); the checker's dropped-claim rate; display defects
  (reference brackets, glued footnote marks, HTML entities, digest labels and boilerplate, figure
  callouts, outline lines); limitation sentences shown for papers that state none; wrong-section
  traps; latency cold (first request) and cached (the same request again).
- questions: abstention on unanswerable ones, answered rate and fact recall on answerable ones,
  routing to the paper the answer must come from (cited, and among the retrieved passages), for
  all and for the cross-lingual and relation subsets.
- roundups: sentence language share, themes in date order, generic or mixed-language theme names.

Latency depends on the machine's load: the results record the load average before and after, and
--note says what else ran (e.g. "loaded: other engineers' test suites"). Results:
bench/results/cards-<backend>[-<tag>].json; --markdown prints the tables for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import card_scoring as cs  # noqa: E402
from common import RESULTS, corpus_dir, machine, write_json  # noqa: E402

TARGETS = {
    "llm": {"fact_recall": 0.8, "zh_share": 0.95, "verified": 1.0},
    "extractive": {"fact_recall": 0.6},
    "questions": {"abstention": 0.9, "answered": 0.8},
}


def _plain(out: Any) -> dict[str, Any]:
    """A response as plain JSON data, whether the facade returns dicts or pydantic models."""
    if hasattr(out, "model_dump"):
        return out.model_dump(mode="json")
    return json.loads(json.dumps(out, default=lambda o: o.model_dump(mode="json") if hasattr(o, "model_dump") else str(o)))


# --- the two ways to reach the product ------------------------------------------------------------

class InProcess:
    """The service facade in this process, on a library of the corpus (built when empty)."""

    def __init__(self, args: argparse.Namespace) -> None:
        from paperlens.answer.llm import open_llm
        from paperlens.answer.service import Answerer
        from paperlens.ingest.pipeline import IngestRequest, Ingestor, open_library
        from paperlens.settings import Settings

        kw: dict[str, Any] = {"data_dir": args.data_dir, "answer_backend": args.backend, "rate_limit_per_minute": 0}
        if args.backend == "llamacpp":
            kw.update(llm_model=args.llm_model, llm_threads=args.llm_threads)
        if args.backend == "openai":
            kw.update(openai_base_url=args.openai_base_url, openai_model=args.openai_model,
                      openai_api_key=args.openai_api_key)
        if args.timeout:
            kw["generation_timeout_s"] = args.timeout
        self.settings = Settings(_env_file=None, **kw)
        self.lib = open_library(self.settings)
        if self.lib.catalog.count_papers() == 0:
            root = corpus_dir("")
            print(f"building the corpus library in {args.data_dir} (once, several minutes) ...", file=sys.stderr, flush=True)
            Ingestor(self.lib, self.settings).run(IngestRequest(paths=[root / "pdfs", root / "pdfs_odd", root / "seeds"]))
            self.lib.store.optimize()
        t = time.perf_counter()
        self.answerer = Answerer(self.lib, self.settings, llm=open_llm(self.settings))
        self.model_load_s = round(time.perf_counter() - t, 2)
        self.backend = self.answerer.backend
        self._titles: dict[str, str] | None = None

    def resolve(self, ref: str, title_hint: str | None = None) -> str:
        from evaluation import paper_titles, resolve

        kind, _, value = ref.partition(":")
        sources = {value: pid for pid in self.lib.catalog.papers_from_source(value)} if kind == "file" else {}
        if self._titles is None:
            self._titles = paper_titles(self.lib)
        return resolve(ref, sources, self._titles)

    def summarize(self, pid: str, language: str) -> dict[str, Any]:
        return _plain(self.answerer.summarize(pid, language=language))

    def ask(self, question: str, language: str | None) -> dict[str, Any]:
        return _plain(self.answerer.ask(question, language=language))

    def roundup(self, topic: str, date_from: str | None, date_to: str | None, language: str) -> dict[str, Any]:
        return _plain(self.answerer.roundup(topic, date_from, date_to, language=language))

    def chunk(self, chunk_id: str) -> tuple[str, str] | None:
        from paperlens.errors import NotFound

        try:
            c = self.lib.chunk(chunk_id)
        except NotFound:  # a citation of a chunk the store does not have: unverifiable
            return None
        return c["paper_id"], c["text"]

    def close(self) -> None:
        self.lib.close()


class OverHttp:
    """A running server's HTTP API (its backend is whatever the server was started with)."""

    def __init__(self, args: argparse.Namespace) -> None:
        import httpx

        headers = {"Authorization": f"Bearer {args.api_key}"} if args.api_key else {}
        self.http = httpx.Client(base_url=args.server.rstrip("/"), headers=headers, timeout=args.timeout or 600)
        self.backend = "?"
        self.model_load_s = None
        self._chunks: dict[str, tuple[str, str] | None] = {}

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        r = self.http.post(path, json=body)
        r.raise_for_status()
        out = r.json()
        self.backend = out.get("backend", self.backend)
        return out

    def resolve(self, ref: str, title_hint: str | None = None) -> str:
        kind, _, value = ref.partition(":")
        if kind == "arxiv":
            return ref
        words = title_hint if kind == "file" else value
        if not words:
            raise ValueError(f"{ref}: a file reference needs a title hint over HTTP")
        r = self.http.get("/api/papers", params={"q": words, "limit": 20})
        r.raise_for_status()
        want = cs.norm(words)
        found = [p["paper_id"] for p in r.json()["papers"] if want in cs.norm(p.get("title", ""))]
        if len(found) != 1:
            raise ValueError(f"{ref}: {len(found)} papers have {words!r} in their title")
        return found[0]

    def summarize(self, pid: str, language: str) -> dict[str, Any]:
        return self._post("/api/summarize", {"paper_id": pid, "language": language})

    def ask(self, question: str, language: str | None) -> dict[str, Any]:
        return self._post("/api/ask", {"question": question, **({"language": language} if language else {})})

    def roundup(self, topic: str, date_from: str | None, date_to: str | None, language: str) -> dict[str, Any]:
        return self._post("/api/roundup", {"topic": topic, "date_from": date_from, "date_to": date_to, "language": language})

    def chunk(self, chunk_id: str) -> tuple[str, str] | None:
        if chunk_id not in self._chunks:
            r = self.http.get(f"/api/chunks/{chunk_id}")
            self._chunks[chunk_id] = (r.json()["paper_id"], r.json()["text"]) if r.status_code == 200 else None
        return self._chunks[chunk_id]

    def close(self) -> None:
        self.http.close()


# --- runs ---------------------------------------------------------------------------------------------

def timed(call):
    t = time.perf_counter()
    out = call()
    return out, round(time.perf_counter() - t, 3)


def run_cards(svc: Any, papers: list[dict[str, Any]], languages: list[str], dump: Path | None,
              cached: bool = True) -> list[dict[str, Any]]:
    rows = []
    for i, paper in enumerate(papers, 1):
        pid = svc.resolve(paper["ref"], paper.get("title"))
        for lang in languages:
            try:
                card, cold = timed(lambda: svc.summarize(pid, lang))
                again = timed(lambda: svc.summarize(pid, lang))[1] if cached else None
                error = None
            except Exception as e:  # a timeout or a failed generation is a result too
                card, cold, again, error = {"sections": [], "check": {}}, None, None, f"{type(e).__name__}: {e}"
            items = cs.card_items(card)
            checks = cs.check_sentences(items, svc.chunk, expect_paper=pid)
            facts = cs.score_facts(paper["facts"], items)
            row = {
                "paper": paper["name"], "ref": paper["ref"], "paper_id": pid, "language": lang, "source": paper["source"],
                "error": error, "cold_s": cold, "cached_s": again, "elapsed_s_reported": card.get("elapsed_s"),
                "facts": facts, "sentences": [vars(s) for s in checks.sentences],
                "check": {k: v for k, v in (card.get("check") or {}).items() if k != "reasons"},
                "empty_sections": [s["key"] for s in card.get("sections", []) if not s.get("sentences")],
                "limitation_sentences_when_none_stated": 0 if paper.get("limitations_stated", True) else
                sum(1 for sec, _ in items if sec == "limitation"),
                "traps": cs.trap_hits(paper.get("traps", []), items), "notes": card.get("notes", []),
            }
            rows.append(row)
            stated = sum(f["stated"] for f in facts)
            print(f"[card {i}/{len(papers)} {lang}] {paper['name'][:40]}: {stated}/{len(facts)} facts, "
                  f"{len(checks.sentences)} sentences, {cold if cold is not None else error} s", file=sys.stderr, flush=True)
            if dump and card.get("markdown"):
                (dump / f"card-{_slug(paper['name'])}-{lang}.md").write_text(card["markdown"], encoding="utf-8")
    return rows


def run_questions(svc: Any, qs: list[dict[str, Any]], title_hints: dict[str, str], dump: Path | None) -> list[dict[str, Any]]:
    rows = []
    for i, q in enumerate(qs, 1):
        expect = svc.resolve(q["paper"], title_hints.get(q["paper"])) if q.get("paper") else None
        try:
            out, secs = timed(lambda: svc.ask(q["question"], q.get("language")))
            error = None
        except Exception as e:
            out, secs, error = {"answered": False, "sentences": [], "passages": []}, None, f"{type(e).__name__}: {e}"
        items = [("answer", s) for s in out.get("sentences", [])]
        checks = cs.check_sentences(items, svc.chunk)
        cited = [c["paper_id"] for s in out.get("sentences", []) for c in s.get("citations", [])]
        first = [c["paper_id"] for c in (out["sentences"][0]["citations"] if out.get("sentences") else [])]
        must = q.get("must", [])
        row = {
            "id": q["id"], "question": q["question"], "answerable": q["answerable"], "tags": q.get("tags", []),
            "answered": bool(out.get("answered")), "error": error, "seconds": secs,
            "facts_stated": [f["id"] for f in must if any(cs.states(f, s["text"]) for _, s in items)],
            "facts_total": len(must),
            "routed_cited": expect in cited if expect else None,
            "routed_first": expect in first if expect else None,
            "routed_passages": expect in {p["paper_id"] for p in out.get("passages", [])} if expect else None,
            "cited_papers": sorted(set(cited)), "sentences": [vars(s) for s in checks.sentences],
            "check": {k: v for k, v in (out.get("check") or {}).items() if k != "reasons"},
        }
        rows.append(row)
        print(f"[ask {i}/{len(qs)}] {q['id']} answered={row['answered']} facts={len(row['facts_stated'])}/{len(must)} "
              f"routed={row['routed_cited']} {secs} s", file=sys.stderr, flush=True)
        if dump and out.get("markdown"):
            (dump / f"ask-{q['id']}.md").write_text(out["markdown"], encoding="utf-8")
    return rows


_GENERIC_THEMES = re.compile(r"^(other|others|other papers|misc|miscellaneous|diffusion|papers|其他|其它|其他论文)$", re.I)


def run_roundups(svc: Any, rus: list[dict[str, Any]], dump: Path | None) -> list[dict[str, Any]]:
    rows = []
    for r in rus:
        try:
            out, secs = timed(lambda: svc.roundup(r["topic"], r.get("date_from"), r.get("date_to"), r["language"]))
            error = None
        except Exception as e:
            out, secs, error = {"themes": []}, None, f"{type(e).__name__}: {e}"
        items = [("line", s) for th in out.get("themes", []) for p in th["papers"] for s in p["sentences"]]
        checks = cs.check_sentences(items, svc.chunk)
        themes = out.get("themes", [])
        ordered = 0
        for th in themes:
            dates = [p.get("date") or "" for p in th["papers"]]
            ordered += int(dates == sorted(dates) or dates == sorted(dates, reverse=True))
        rows.append({
            "id": r["id"], "topic": r["topic"], "language": r["language"], "error": error, "seconds": secs,
            "themes": [th["title"] for th in themes], "papers": sum(len(th["papers"]) for th in themes),
            "themes_date_ordered": ordered,
            "generic_themes": [th["title"] for th in themes if _GENERIC_THEMES.match(th["title"].strip())],
            "mixed_language_themes": [th["title"] for th in themes if cs.language_of(th["title"]) == "mixed"
                                      or ("/" in th["title"] and re.search(r"[A-Za-z]", th["title"]) and cs._CJK.search(th["title"]))],
            "sentences": [vars(s) for s in checks.sentences],
            "check": {k: v for k, v in (out.get("check") or {}).items() if k != "reasons"},
        })
        print(f"[roundup] {r['id']} {r['topic']} ({r['language']}): {len(themes)} themes, {secs} s", file=sys.stderr, flush=True)
        if dump and out.get("markdown"):
            (dump / f"roundup-{r['id']}-{r['language']}.md").write_text(out["markdown"], encoding="utf-8")
    return rows


def check_facts(svc: "InProcess", papers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each fact against its paper's own indexed text (card_scoring.fact_sources): checks the eval
    set, not the product."""
    rows = []
    for paper in papers:
        pid = svc.resolve(paper["ref"], paper.get("title"))
        sents = [x for c in svc.lib.paper_chunks(pid) for x in cs.sentences_of(c["text"])]
        rows += [{"paper": paper["name"], **r} for r in cs.fact_sources(paper["facts"], sents)]
    return rows


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-")[:40].lower() or "paper"


# --- summaries -------------------------------------------------------------------------------------

def _rate(num: int, den: int) -> float | None:
    return round(num / den, 3) if den else None


def _lat(xs: list[float | None]) -> dict[str, float | None]:
    xs = sorted(x for x in xs if x is not None)
    if not xs:
        return {"p50_s": None, "max_s": None}
    return {"p50_s": round(statistics.median(xs), 3), "max_s": round(xs[-1], 3)}


def _sentence_stats(sents: list[dict[str, Any]], language: str | None) -> dict[str, Any]:
    cites = sum(s["citations"] for s in sents)
    defects: dict[str, int] = defaultdict(int)
    for s in sents:
        for d in s["defects"]:
            defects[d] += 1
    return {
        "sentences": len(sents),
        "language_share": _rate(sum(s["language"] == language for s in sents), len(sents)) if language else None,
        "citations": cites,
        "citations_verbatim": _rate(sum(s["verbatim"] for s in sents), cites),
        "citations_right_paper": _rate(sum(s["right_paper"] for s in sents), cites),
        "sentences_numbers_unsupported": sum(bool(s["unsupported"]) for s in sents),
        "sentences_verified": _rate(sum(bool(s["citations"] and s["verbatim"] == s["citations"] == s["right_paper"]
                                             and not s["unsupported"]) for s in sents), len(sents)),
        "sentences_with_defects": sum(bool(s["defects"]) for s in sents),
        "defects": dict(sorted(defects.items())),
    }


def summarize_cards(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out = {}
    for lang in sorted({r["language"] for r in rows}):
        rs = [r for r in rows if r["language"] == lang]
        facts = [f for r in rs for f in r["facts"]]
        per_section = {}
        for sec in cs.SECTIONS:
            fs = [f for f in facts if f["section"] == sec]
            per_section[sec] = {"facts": len(fs), "recall": _rate(sum(f["stated"] for f in fs), len(fs)),
                                "placed": _rate(sum(f["placed"] for f in fs), len(fs))}
        by_source = {}
        for src in ("pdf", "digest"):
            fs = [f for r in rs if r["source"].startswith(src) for f in r["facts"]]
            by_source[src] = _rate(sum(f["stated"] for f in fs), len(fs))
        sents = [s for r in rs for s in r["sentences"]]
        checked = sum(r["check"].get("checked", 0) for r in rs)
        out[lang] = {
            "cards": len(rs), "errors": sum(bool(r["error"]) for r in rs), "facts": len(facts),
            "fact_recall": _rate(sum(f["stated"] for f in facts), len(facts)),
            "fact_placed": _rate(sum(f["placed"] for f in facts), len(facts)),
            "per_section": per_section, "recall_by_source": by_source,
            **_sentence_stats(sents, lang),
            "dropped_rate": _rate(sum(r["check"].get("dropped", 0) for r in rs), checked),
            "empty_sections": sum(len(r["empty_sections"]) for r in rs),
            "limitation_sentences_when_none_stated": sum(r["limitation_sentences_when_none_stated"] for r in rs),
            "trap_hits": sum(len(r["traps"]) for r in rs),
            "cold": _lat([r["cold_s"] for r in rs]), "cached": _lat([r["cached_s"] for r in rs]),
        }
    return out


def summarize_questions(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def block(rs: list[dict[str, Any]]) -> dict[str, Any]:
        un = [r for r in rs if not r["answerable"]]
        an = [r for r in rs if r["answerable"]]
        return {
            "unanswerable": len(un), "abstention": _rate(sum(not r["answered"] for r in un), len(un)),
            "answerable": len(an), "answered": _rate(sum(r["answered"] for r in an), len(an)),
            "fact_recall": _rate(sum(len(r["facts_stated"]) for r in an), sum(r["facts_total"] for r in an)),
            # answered from the right paper with every required fact: what a reader would accept
            "correct": _rate(sum(r["answered"] and bool(r["routed_cited"]) and len(r["facts_stated"]) == r["facts_total"]
                                 for r in an), len(an)),
            "routed_cited": _rate(sum(bool(r["routed_cited"]) for r in an), len(an)),
            "routed_passages": _rate(sum(bool(r["routed_passages"]) for r in an), len(an)),
        }

    sents = [s for r in rows for s in r["sentences"]]
    return {
        "all": block(rows),
        "cross-lingual": block([r for r in rows if "cross-lingual" in r["tags"]]),
        "relation": block([r for r in rows if "relation" in r["tags"]]),
        "citations": _sentence_stats(sents, None),
        "latency": _lat([r["seconds"] for r in rows]),
        "errors": sum(bool(r["error"]) for r in rows),
    }


def summarize_roundups(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{
        "id": r["id"], "topic": r["topic"], "language": r["language"], "themes": len(r["themes"]), "papers": r["papers"],
        **{k: v for k, v in _sentence_stats(r["sentences"], r["language"]).items() if k in ("sentences", "language_share", "citations_verbatim", "sentences_with_defects", "defects")},
        "themes_date_ordered": r["themes_date_ordered"], "generic_themes": r["generic_themes"],
        "mixed_language_themes": r["mixed_language_themes"], "seconds": r["seconds"],
    } for r in rows]


def targets(backend: str, cards: dict[str, Any], qs: dict[str, Any] | None) -> list[str]:
    lines = []
    llm = backend != "extractive"
    for lang, c in cards.items():
        want = TARGETS["llm" if llm else "extractive"]["fact_recall"]
        lines.append(f"cards {lang}: fact recall {c['fact_recall']} (target >= {want}): {_ok(c['fact_recall'], want)}")
        if llm and lang == "zh":
            lines.append(f"cards zh: Chinese sentences {c['language_share']} (target >= 0.95): {_ok(c['language_share'], 0.95)}")
        if llm:
            lines.append(f"cards {lang}: sentences verified {c['sentences_verified']} (target 1.0): {_ok(c['sentences_verified'], 1.0)}")
    if qs:
        a = qs["all"]
        lines.append(f"questions: abstention {a['abstention']} (target >= 0.9): {_ok(a['abstention'], 0.9)}; "
                     f"answered {a['answered']} (target >= 0.8): {_ok(a['answered'], 0.8)}")
    return lines


def _ok(value: float | None, want: float) -> str:
    return "no data" if value is None else ("met" if value >= want else "NOT met")


def markdown(result: dict[str, Any]) -> str:
    lines = []
    cards = result.get("cards_summary") or {}
    if cards:
        langs = list(cards)
        lines += ["| card metric | " + " | ".join(langs) + " |", "|---|" + "---:|" * len(langs)]

        def row(label: str, get) -> None:
            lines.append(f"| {label} | " + " | ".join(str(get(cards[lg])) for lg in langs) + " |")

        row("cards (errors)", lambda c: f"{c['cards']} ({c['errors']})")
        row("fact recall (stated anywhere)", lambda c: f"**{c['fact_recall']}** of {c['facts']}")
        row("fact placed in its section", lambda c: c["fact_placed"])
        for sec in cs.SECTIONS:
            row(f"- {sec}: recall / placed (facts)", lambda c, sec=sec: f"{c['per_section'][sec]['recall']} / {c['per_section'][sec]['placed']} ({c['per_section'][sec]['facts']})")
        row("recall, PDF papers / digest entries", lambda c: f"{c['recall_by_source']['pdf']} / {c['recall_by_source']['digest']}")
        row("sentences in the requested language", lambda c: c["language_share"])
        row("citations verbatim / right paper", lambda c: f"{c['citations_verbatim']} / {c['citations_right_paper']} ({c['citations']})")
        row("sentences verified (quotes + numbers)", lambda c: c["sentences_verified"])
        row("checker dropped", lambda c: c["dropped_rate"])
        row("sentences with display defects", lambda c: f"{c['sentences_with_defects']} of {c['sentences']}")
        row("defects by kind", lambda c: ", ".join(f"{k} {v}" for k, v in c["defects"].items()) or "-")
        row("limitation sentences where the paper states none", lambda c: c["limitation_sentences_when_none_stated"])
        row("wrong-section traps hit", lambda c: c["trap_hits"])
        row("empty sections", lambda c: c["empty_sections"])
        row("latency cold p50 / max (s)", lambda c: f"{c['cold']['p50_s']} / {c['cold']['max_s']}")
        row("latency cached p50 / max (s)", lambda c: f"{c['cached']['p50_s']} / {c['cached']['max_s']}")
    qs = result.get("questions_summary")
    if qs:
        lines += ["", "| questions | all | cross-lingual | relation |", "|---|---:|---:|---:|"]
        for key, label in (("abstention", "abstention on unanswerable"), ("answered", "answered (answerable)"),
                           ("fact_recall", "fact recall (answerable)"), ("correct", "correct: right paper, all facts"),
                           ("routed_cited", "cites the right paper"),
                           ("routed_passages", "right paper among passages")):
            cnt = "unanswerable" if key == "abstention" else "answerable"
            lines.append(f"| {label} | " + " | ".join(f"{qs[b][key]} (n={qs[b][cnt]})" if qs[b][cnt] else "-"
                                                       for b in ("all", "cross-lingual", "relation")) + " |")
        c = qs["citations"]
        lines.append(f"| citations verbatim / sentences verified | {c['citations_verbatim']} / {c['sentences_verified']} | | |")
        lines.append(f"| latency p50 / max (s) | {qs['latency']['p50_s']} / {qs['latency']['max_s']} | | |")
    ru = result.get("roundups_summary")
    if ru:
        lines += ["", "| roundup | lang | themes | papers | sentences in lang | date-ordered themes | generic / mixed theme names | defects | s |",
                  "|---|---|---:|---:|---:|---:|---|---|---:|"]
        for r in ru:
            names = ", ".join(r["generic_themes"] + r["mixed_language_themes"]) or "-"
            lines.append(f"| {r['topic']} | {r['language']} | {r['themes']} | {r['papers']} | {r['language_share']} | "
                         f"{r['themes_date_ordered']}/{r['themes']} | {names} | {', '.join(f'{k} {v}' for k, v in r['defects'].items()) or '-'} | {r['seconds']} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=RESULTS / "cards-lib")
    ap.add_argument("--server", help="base URL of a running paperlens server (its backend is used)")
    ap.add_argument("--api-key", default=os.environ.get("PAPERLENS_API_KEY", ""))
    ap.add_argument("--backend", default="extractive", choices=["extractive", "llamacpp", "openai"])
    ap.add_argument("--llm-model", default="qwen2.5-1.5b")
    ap.add_argument("--llm-threads", type=int, default=0)
    ap.add_argument("--openai-base-url", default="")
    ap.add_argument("--openai-model", default="")
    ap.add_argument("--openai-api-key", default="")
    ap.add_argument("--timeout", type=float, default=0, help="generation timeout per request, s (0: the setting's)")
    ap.add_argument("--only", choices=["cards", "questions", "roundups"], action="append")
    ap.add_argument("--languages", default="en,zh")
    ap.add_argument("--papers", type=int, default=0, help="first N papers of card_facts.json (0: all)")
    ap.add_argument("--questions", type=int, default=0, help="first N questions (0: all)")
    ap.add_argument("--dump", type=Path, help="write each response's Markdown here")
    ap.add_argument("--no-cached", action="store_true", help="skip the repeated (cached) request of each card")
    ap.add_argument("--note", default="", help="what else ran on the machine (recorded with the figures)")
    ap.add_argument("--tag", default="")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--check-facts", action="store_true",
                    help="check the eval set instead: which facts the papers' own text states (in-process only)")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    only = set(args.only or ["cards", "questions", "roundups"])
    papers = cs.load_facts()[: args.papers or None]
    qdata = cs.load_questions()
    questions = qdata["questions"][: args.questions or None]
    hints = {p["ref"]: p["title"] for p in cs.load_facts() if p.get("title")}
    if args.dump:
        args.dump.mkdir(parents=True, exist_ok=True)
    before = machine()
    if args.check_facts:
        svc = InProcess(args)
        try:
            rows = check_facts(svc, papers)
        finally:
            svc.close()
        unmet = [r for r in rows if not r["source_sentences"]]
        loose = [r for r in rows if r["source_sentences"] > 8]
        print(f"{len(rows)} facts: {len(rows) - len(unmet)} stated by some sentence of the paper's indexed text, "
              f"{len(unmet)} by none, {len(loose)} by more than 8 sentences")
        for r in unmet:
            print(f"  none: {r['paper']} / {r['id']}")
        for r in loose:
            print(f"  loose ({r['source_sentences']}): {r['paper']} / {r['id']}: {r['example']}")
        write_json(RESULTS / "cards-fact-check.json", rows)
        return
    svc = OverHttp(args) if args.server else InProcess(args)
    try:
        warm = None
        if not args.server:  # load the query models outside the timed requests
            _, warm = timed(lambda: svc.ask("warm-up: diffusion super-resolution", None))
        result: dict[str, Any] = {"backend": svc.backend, "via": args.server or "in-process Answerer",
                                  "model_load_s": svc.model_load_s, "warmup_s": warm, "note": args.note,
                                  "machine_before": before}
        t0 = time.perf_counter()
        if "cards" in only:
            rows = run_cards(svc, papers, [x.strip() for x in args.languages.split(",") if x.strip()], args.dump,
                             cached=not args.no_cached)
            result["cards_summary"], result["cards"] = summarize_cards(rows), rows
        if "questions" in only:
            rows = run_questions(svc, questions, hints, args.dump)
            result["questions_summary"], result["questions"] = summarize_questions(rows), rows
        if "roundups" in only:
            rows = run_roundups(svc, qdata["roundups"], args.dump)
            result["roundups_summary"], result["roundups"] = summarize_roundups(rows), rows
        result["backend"] = svc.backend
        result["wall_s"] = round(time.perf_counter() - t0, 1)
    finally:
        svc.close()
    result["machine_after"] = machine()
    result["targets"] = targets(result["backend"], result.get("cards_summary") or {}, result.get("questions_summary"))
    name = re.sub(r"[^A-Za-z0-9.]+", "-", result["backend"]).strip("-")
    path = write_json(RESULTS / f"cards-{name}{'-' + args.tag if args.tag else ''}.json", result)
    print(json.dumps({k: result.get(k) for k in ("backend", "cards_summary", "questions_summary", "targets")},
                     indent=1, ensure_ascii=False))
    if args.markdown:
        print(markdown(result))
    print("written", path, file=sys.stderr)


if __name__ == "__main__":
    main()
