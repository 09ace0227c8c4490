"""The citation checker and the pieces the extractive backend is built from, on small real text
and the real embedding models: sentence spans, numbers, facts, topics, and the checker's verdicts."""

from __future__ import annotations

import pytest

from paperlens.answer.checker import Checker, best_quote, numbers
from paperlens.answer.citation import Citation, Passage, Sentence
from paperlens.answer.evidence import parse_topic
from paperlens.answer.facts import base_models_in, code_links_in, datasets_in, metrics_in, steps_in
from paperlens.text import split_sentences as split

PASSAGE = Passage(
    chunk_id="c1", paper_id="arxiv:0000.00001", page=6, section="4 Experiments",
    text=(
        "We evaluate on Set5 and Urban100. Our model reaches a PSNR of 32.63 dB on Set5, 0.21 dB above "
        "RCAN, with 8 sampling steps instead of 50. Training takes 3 days on 8 A100 GPUs. "
        "The code is at https://github.com/example/fastsr."
    ),
)
ZH = Passage(chunk_id="c2", paper_id="arxiv:0000.00002", page=0, section="Summary",
             text="本文提出一种基于扩散模型的图像超分辨率方法，只需8步采样即可生成高质量图像。")


@pytest.fixture(scope="module")
def checker(embedder, xling):
    return Checker(encode=embedder.encode, encode_xling=xling.encode_passages)


def _s(text: str, passage: Passage, quote: str | None = None) -> Sentence:
    return Sentence(text, [Citation(passage.paper_id, passage.chunk_id, passage.page, quote or text)])


def test_sentence_spans_are_exact_and_respect_abbreviations():
    text = "Zhang et al. use e.g. SDXL (Fig. 3). It gets 32.5 dB. 我们提出了方法。结果很好！"
    spans = split(text)
    assert [s.text for s in spans] == ["Zhang et al. use e.g. SDXL (Fig. 3).", "It gets 32.5 dB.", "我们提出了方法。", "结果很好！"]
    assert all(text[s.start:s.end] == s.text for s in spans)


def test_numbers_are_normalised():
    assert numbers("PSNR 32.50 dB on 1,000 images, 95% and 4 steps") == {"32.5", "1000", "95", "4"}


def test_best_quote_is_verbatim_and_on_point():
    q = best_quote("The model uses 8 sampling steps.", PASSAGE.text)
    assert q in PASSAGE.text and "8 sampling steps" in q
    assert best_quote("completely unrelated words", PASSAGE.text) is None


def test_checker_keeps_supported_and_drops_unsupported(checker):
    passages = {"c1": PASSAGE, "c2": ZH}
    good = [
        _s("Our model reaches a PSNR of 32.63 dB on Set5, 0.21 dB above RCAN, with 8 sampling steps instead of 50.", PASSAGE),
        _s("The model reaches 32.63 dB PSNR on Set5 using 8 sampling steps.", PASSAGE, "wrong quote: repaired"),
        _s("该方法基于扩散模型进行图像超分辨率，只需8步采样。", ZH),
    ]
    bad = [
        _s("The model reaches 35.1 dB PSNR on Set5.", PASSAGE),  # number not in the passage
        _s("Transformers dominate machine translation benchmarks across languages.", PASSAGE),  # off topic
        _s("The paper studies protein folding with graph networks.", ZH),  # cross-lingual, unrelated
        Sentence("Uncited claim about diffusion.", []),
        _s("Our model reaches 32.63 dB.", Passage("cX", "p", "other text")),  # unknown chunk id
    ]
    kept, stats = checker.check(good + bad, passages)
    assert [s.text for s in kept] == [s.text for s in good]
    assert stats.checked == 8 and stats.dropped == 5 and len(stats.reasons) == 5
    for s in kept:
        for c in s.citations:
            assert c.quote in passages[c.chunk_id].text


def test_checker_fact_cells(checker):
    ok, reason = checker.check_fact("PSNR 32.63 dB (higher is better)", [Citation("p", "c1", 6, "Our model reaches a PSNR of 32.63 dB on Set5")], {"c1": PASSAGE})
    assert reason is None and ok
    _, reason = checker.check_fact("PSNR 33.0 dB", [Citation("p", "c1", 6, "Our model reaches a PSNR of 32.63 dB on Set5")], {"c1": PASSAGE})
    assert reason and "33" in reason


def test_facts_from_sentences():
    s = "Our model reaches a PSNR of 32.63 dB on Set5, 0.21 dB above RCAN, with 8 sampling steps instead of 50."
    m = metrics_in(s)
    assert m and m[0].name == "PSNR" and m[0].number == "32.63" and "higher is better" in m[0].value
    assert metrics_in("We obtain 7.27 FID on COCO.")[0].value.startswith("FID 7.27")
    assert metrics_in("We report FID and LPIPS.") == []  # a metric named without a number is not a value
    assert steps_in(s)[0].number == "8"
    assert steps_in("We train for 500k iterations.") == []
    assert base_models_in("We fine-tune Stable Diffusion v1.5 with LoRA.")[0].value == "Stable Diffusion v1.5, LoRA"
    assert base_models_in("Stable Diffusion is popular.") == []  # named, not built on
    assert datasets_in("We train on LAION-5B and evaluate on COCO.", training=True)[0].value == "LAION-5B, COCO"
    assert code_links_in(PASSAGE.text) == ["https://github.com/example/fastsr"]


@pytest.mark.parametrize("query, groups", [
    ("compare all diffusion super-resolution methods", [["super resolution", "sr", "superresolution"], ["diffusion"]]),
    ("Diffusion SR approaches", [["diffusion"], ["sr", "super resolution", "superresolution"]]),
    ("比较扩散超分辨率方法", [["super resolution", "sr", "superresolution"], ["diffusion"]]),
    ("text-to-image personalization", [["text to image", "t2i"], ["personaliz"]]),
])
def test_topics(query, groups):
    assert parse_topic(query).groups == groups


def test_the_judge_is_asked_last_and_only_about_what_passed_the_other_tests(embedder):
    """With an LLM configured, the model's yes/no is the checker's last test (scripted model here:
    tests/fake_llm.py). A verbatim quote needs no judge; a sentence with a wrong number never
    reaches it; a faithful paraphrase does, and is dropped when the model says no."""
    from fake_llm import ScriptedLLM

    from paperlens.answer.llm import judge_support

    llm = ScriptedLLM(judge="no")
    checker = Checker(encode=embedder.encode, judge=lambda s, p: judge_support(llm, s, p))
    verbatim = _s("We evaluate on Set5 and Urban100.", PASSAGE)
    paraphrase = _s("The model reaches 32.63 dB PSNR on Set5 using 8 sampling steps.", PASSAGE)
    wrong = _s("The model reaches 35.1 dB PSNR on Set5.", PASSAGE)
    kept, stats = checker.check([verbatim, paraphrase, wrong], {"c1": PASSAGE})
    assert [s.text for s in kept] == [verbatim.text]
    (call,) = llm.judge_calls
    assert "CLAIM: The model reaches 32.63 dB PSNR" in call.user and PASSAGE.text in call.user
    assert stats.dropped == 2 and "LLM judged" in stats.reasons[0] and "35.1" in stats.reasons[1]
    llm.judge = "yes"
    kept, _ = checker.check([paraphrase], {"c1": PASSAGE})
    assert kept == [paraphrase]
