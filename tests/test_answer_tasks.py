"""One contract, every answer task (the shape of test_store_congruence.py): each task registered in
paperlens.answer.service.TASKS runs on a small real library (a generated paper and arXiv records,
real models) with the extractive backend and with the scripted LLM (tests/fake_llm.py), and must
return its response type with verifiable citations, honest check counts, Markdown, the same JSON
through the facade and the API, and a clear error for a bad language. A task without an example
here, or without its route, fails the suite.

Then the LLM paths where the model is not the point, on the scripted model: what the tasks send
it, what they keep of its sentences, and what a failing or slow model does to an answer.
"""

from __future__ import annotations

import json
import re
import time

import httpx
import pytest
from fake_llm import ScriptedLLM
from pydantic import TypeAdapter
from support import assert_problem, make_settings, serving, write_jsonl
from test_injection import TITLE, paper_pdf

from paperlens.answer.citation import iter_citations
from paperlens.answer.service import TASKS, Answerer
from paperlens.api.app import create_app
from paperlens.errors import BadInput, GenerationError, GenerationTimeout
from paperlens.ingest.pipeline import IngestRequest, Ingestor, open_library

RECORDS = [
    {"id": "2401.00001", "title": "Latent Diffusion for Blind Image Super-Resolution", "authors": ["Alice Zhang"],
     "categories": ["cs.CV"], "crawl_date": "2024-01-03",
     "summary": "We propose a latent diffusion model for blind image super-resolution that restores high-frequency "
                "texture from degraded inputs. It reaches a PSNR of 28.1 dB on DIV2K with 20 sampling steps."},
    {"id": "2401.00002", "title": "One-Step Diffusion Super-Resolution by Distillation", "authors": ["Bo Chen"],
     "categories": ["cs.CV"], "crawl_date": "2024-01-05",
     "summary": "We distill a diffusion super-resolution model into a single sampling step. The student matches "
                "its teacher on Set5 and Urban100 while running 50 times faster."},
    {"id": "2401.00003", "title": "Instruction Tuning Large Language Models for Code", "authors": ["Carol Wang"],
     "categories": ["cs.CL"], "crawl_date": "2024-01-07",
     "summary": "We instruction-tune a large language model on code and improve pass@1 on HumanEval by 9 points."},
]
QUESTION = "How many sampling steps does ResPrior need and what PSNR does it reach on Set5?"


@pytest.fixture(scope="module")
def lib_settings(tmp_path_factory, embedder, xling):
    tmp = tmp_path_factory.mktemp("tasks")
    (tmp / "in").mkdir()
    paper_pdf(tmp / "in" / "resprior.pdf")
    write_jsonl(tmp / "in" / "records.jsonl", RECORDS)
    settings = make_settings(tmp / "data")
    lib = open_library(settings, embedder=embedder, xling=xling)
    Ingestor(lib, settings).run(IngestRequest(paths=[tmp / "in"]))
    yield lib, settings
    lib.close()


def _resprior(lib) -> str:
    (pid,) = lib.catalog.papers_from_source("resprior.pdf")
    return pid


# A request per task: a new task needs one here (test_every_task_is_in_the_suite).
EXAMPLES = {
    "summarize": lambda lib: {"paper_id": _resprior(lib), "language": "en"},
    "compare": lambda lib: {"query": "diffusion super-resolution"},
    "roundup": lambda lib: {"topic": "diffusion super-resolution"},
    "ask": lambda lib: {"question": QUESTION},
}


def quoting_model(**kw) -> ScriptedLLM:
    """A model that answers every writer prompt with the first sentence of its first two passages,
    each cited, its first letter lower-cased: supported, but not a verbatim quote, so the checker
    runs every test on it, the judge (which says yes) last."""

    def reply(call) -> str:
        if call.is_judge:
            return "yes"
        blocks = re.findall(r"===== PASSAGE \[(\d+)\][^\n]*=====\n(.*?)\n===== END OF PASSAGE", call.user, re.S)
        lines = []
        for n, text in blocks[:2]:
            first = re.split(r"(?<=[.!?])\s", text.strip(), maxsplit=1)[0]
            lines.append(f"{first[:1].lower()}{first[1:]} [{n}]")
        return "\n".join(lines) or "NO_ANSWER"

    return ScriptedLLM(reply=reply, **kw)


@pytest.fixture(params=["extractive", "scripted"])
def backend(request, lib_settings):
    lib, settings = lib_settings
    llm = quoting_model() if request.param == "scripted" else None
    return request.param, Answerer(lib, settings, llm), llm


def test_every_task_is_in_the_suite_and_has_its_route(lib_settings):
    lib, settings = lib_settings
    assert set(EXAMPLES) == set(TASKS)
    schema = create_app(settings, lib).openapi()
    for name, task in TASKS.items():
        assert task.name == name
        ok = schema["paths"][f"/api/{name}"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert ok == {"$ref": f"#/components/schemas/{task.response.__name__}"}, name


@pytest.mark.parametrize("name", sorted(TASKS))
def test_task_contract(lib_settings, backend, name):
    lib, _ = lib_settings
    kind, ans, llm = backend
    request = EXAMPLES[name](lib)
    out = ans.answer(name, **request)
    assert isinstance(out, TASKS[name].response)
    assert out.backend == kind and out.language in ("en", "zh") and out.elapsed_s >= 0
    data = out.to_dict()
    assert json.loads(json.dumps(data)) == data
    # The response type reads its own JSON back: schema and serialization agree.
    assert TypeAdapter(TASKS[name].response).validate_python(data).to_dict() == data
    # The facade method of the same name returns the same answer as a dict.
    again = getattr(ans, name)(**request)
    assert {**again, "elapsed_s": 0} == {**data, "elapsed_s": 0}
    cites = list(iter_citations(data))
    for c in cites:
        chunk = lib.chunk(c["chunk_id"])
        assert c["quote"] and c["quote"] in chunk["text"], c
        assert (c["paper_id"], c["page"]) == (chunk["paper_id"], chunk["page_start"]), c
    assert cites, "every example has an answer with citations"
    check = data["check"]
    assert check["dropped"] == len(check["reasons"]) and check["checked"] >= check["dropped"]
    md = out.markdown
    assert md.startswith("# ") and "## Sources" in md and "[1]" in md
    assert f"{check['checked']} sentences checked" in md and kind in md
    if llm is not None:
        assert llm.writer_calls, "the model was asked to write"
        assert all("===== PASSAGE [1]" in c.user for c in llm.writer_calls)
        assert llm.judge_calls, "the model was asked to judge (llm_judge is on)"


@pytest.mark.parametrize("name", sorted(TASKS))
def test_task_refuses_an_unknown_language(lib_settings, name):
    lib, settings = lib_settings
    with pytest.raises(BadInput) as e:
        Answerer(lib, settings).answer(name, **{**EXAMPLES[name](lib), "language": "fr"})
    assert e.value.extra.get("field") == "language" and "fr" in str(e.value)


def test_unknown_task_names_the_known_ones(lib_settings):
    lib, settings = lib_settings
    with pytest.raises(BadInput, match="summarize, compare, roundup, ask"):
        Answerer(lib, settings).answer("translate", text="x")


# --- the LLM paths, on the scripted model ------------------------------------------------------------


def test_card_sections_come_from_the_model_and_fall_back_when_it_fails_the_check(lib_settings):
    lib, settings = lib_settings
    pid = _resprior(lib)
    llm = quoting_model()
    card = Answerer(lib, settings, llm).summarize(pid)
    sections = [c for c in llm.writer_calls if "part of a summary card" in c.user]
    assert len(sections) == sum(1 for s in card["sections"] if s["sentences"])
    assert all(TITLE in c.user for c in sections)
    assert not any("failed the check" in n for n in card["notes"])
    # A model whose every number is wrong: each section falls back to the paper's own sentences.
    liar = ScriptedLLM(reply=lambda call: "yes" if call.is_judge else "ResPrior reaches a PSNR of 99.9 dB [1].")
    card = Answerer(lib, settings, liar).summarize(pid)
    fell_back = [n for n in card["notes"] if "failed the check" in n]
    assert fell_back and card["sentences"] and card["check"]["dropped"] >= len(fell_back)
    assert not any("99.9" in s["text"] for s in card["sentences"])
    assert any("99.9" in r for r in card["check"]["reasons"])


def test_the_judge_has_the_last_word(lib_settings):
    lib, settings = lib_settings
    no = quoting_model()
    no.reply = lambda call, inner=no.reply: "no" if call.is_judge else inner(call)
    out = Answerer(lib, settings, no).ask(QUESTION)
    assert no.judge_calls
    # The model's sentences are judged unsupported and dropped; the answer falls back to the papers'
    # own sentences, verbatim quotes, which the judge is not asked about.
    dropped = [r for r in out["check"]["reasons"] if "LLM judged" in r]
    assert dropped and len(dropped) == out["check"]["dropped"] == len(no.judge_calls)
    assert out["answered"]
    for s in out["sentences"]:
        assert all(s["text"] == c["quote"] for c in s["citations"])


def test_ask_falls_back_to_the_papers_own_sentences_when_the_model_has_no_answer(lib_settings):
    lib, settings = lib_settings
    llm = ScriptedLLM(default="NO_ANSWER")  # writer: NO_ANSWER; judge: yes
    out = Answerer(lib, settings, llm).ask(QUESTION)
    (call,) = llm.writer_calls
    assert QUESTION in call.user and "NO_ANSWER" in call.user
    assert out["answered"] and out["backend"] == "scripted"
    assert "8 sampling steps" in " ".join(s["text"] for s in out["sentences"])


def test_a_failing_model_fails_the_answer_with_our_error(lib_settings):
    lib, settings = lib_settings
    broken = ScriptedLLM(fail=GenerationError("scripted: the endpoint is down"))
    with pytest.raises(GenerationError, match="down"):
        Answerer(lib, settings, broken).ask(QUESTION)
    app = create_app(settings, lib)
    with serving(app) as base, httpx.Client(base_url=base, timeout=60) as client:
        app.state.answerer = Answerer(lib, settings, broken)
        body = assert_problem(client.post("/api/ask", json={"question": QUESTION}), 502)
        assert "down" in body["detail"]


def test_a_slow_model_times_out_within_the_setting(lib_settings):
    lib, settings = lib_settings
    conf = settings.model_copy(update={"generation_timeout_s": 0.5})
    slow = ScriptedLLM(delay_s=30)
    t = time.monotonic()
    with pytest.raises(GenerationTimeout):
        Answerer(lib, conf, slow).ask(QUESTION)
    assert time.monotonic() - t < 5
    assert slow.calls[0].timeout_s == 0.5  # the writer passes the deadline on


@pytest.mark.corpus
def test_answer_service_with_the_llm_backend(library, settings):
    """POST /api/ask's path with an LLM backend: the model writes from the retrieved passages,
    the checker (with the model's own yes/no judgement) keeps what is supported, and every citation
    that comes back is verifiable against the store."""
    import gzip

    from support import corpus_path

    dump = next(iter(sorted(corpus_path("arxiv").glob("*.jsonl.gz"))))
    records = []
    with gzip.open(dump, "rt", encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            if "super-resolution" in rec.get("title", "").lower():
                records.append(rec)
            if len(records) == 3:
                break
    src = write_jsonl(settings.data_dir.parent / "sr.jsonl", records)
    Ingestor(library, settings).run(IngestRequest(paths=[src]))
    conf = settings.model_copy(update={"answer_backend": "llamacpp", "llm_judge": True, "llm_max_tokens": 200})
    llm = quoting_model()
    ans = Answerer(library, conf, llm)
    out = ans.ask(f"What does the paper \"{records[0]['title']}\" propose?")
    assert out["backend"] == llm.name
    assert out["check"]["checked"] >= len(out["sentences"])
    assert out["answered"] == bool(out["sentences"])
    for s in out["sentences"]:
        assert s["citations"]
        for c in s["citations"]:
            assert c["quote"] in library.chunk(c["chunk_id"])["text"]
    (call,) = llm.writer_calls
    assert records[0]["title"] in call.user and call.max_tokens == 200
    assert out["answered"] and len(llm.judge_calls) >= len(out["sentences"])
