"""The card evaluation of issue 13 (bench/card_facts.json, bench/card_questions.json,
bench/card_scoring.py): the eval sets are well formed and as large as the issue asks, the matching
rules accept a fact stated in English or in Chinese by one sentence and nothing less, numbers are
compared by value with their units, and every fact is stated somewhere in its paper's own text
(so no rule is one that no card could meet). Scores of the product are not asserted here: they are
measured by bench/eval_cards.py and reported in docs/benchmarks.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import card_scoring as cs  # noqa: E402

RCAN_CA = {"all": [["channel attention", "通道注意力"], ["rescal", "interdependenc", "缩放", "相互依赖"]]}


def test_eval_sets_are_as_large_as_the_issue_asks() -> None:
    papers = cs.load_facts()
    assert len(papers) >= 15
    assert {p["source"].split()[0] for p in papers} == {"pdf", "digest"}
    assert {"en", "zh"} <= {lang for p in papers for lang in p["language"].replace("+", " ").split()}
    for p in papers:
        assert p["facts"], p["name"]
        assert p["limitations_stated"] == any(f["section"] == "limitation" for f in p["facts"]), p["name"]
    qs = cs.load_questions()["questions"]
    assert len({q["id"] for q in qs}) == len(qs)
    assert sum(not q["answerable"] for q in qs) >= 10
    assert sum("cross-lingual" in q["tags"] for q in qs) >= 10
    assert sum("relation" in q["tags"] for q in qs) >= 3


def test_a_fact_is_stated_by_one_sentence_in_either_language() -> None:
    assert cs.states(RCAN_CA, "we propose channel attention (CA) mechanism to adaptively rescale each channel-wise feature")
    assert cs.states(RCAN_CA, "RCAN 的通道注意力根据通道间的相互依赖自适应地缩放通道特征。")
    assert not cs.states(RCAN_CA, "Channel attention is popular in high-level vision.")  # the name alone
    assert not cs.states({"all": [["rcan"]]}, "circan")  # word start
    assert cs.states({"all": [["0.15"], ["db"]]}, "(+0.15dB on Images)")  # a unit glued to its number
    assert not cs.states({"all": [["0.49"]]}, "a gain of 10.49 dB")  # not inside another number
    assert cs.states({"all": [["20000"]]}, "more than 20,000 images")  # digit-group commas
    assert not cs.states({"all": [["clip"]], "none": ["not"]}, "it does not use CLIP")


def test_numbers_are_compared_by_value_with_units() -> None:
    assert cs.unsupported_numbers("SUPIR 收集了2000万张图像，SDXL 含26亿参数",
                                  ["collected 20 million images; SDXL has 2.6 billion parameters"]) == []
    assert cs.unsupported_numbers("它们只训练了 1 万张图像", ["trained on only 1 million images"]) == ["10000"]
    assert cs.unsupported_numbers("RCAN 在 Set5 上达到 37.90 dB", ["from 37.52 dB to 37.90 dB on Set5"]) == []
    assert cs.unsupported_numbers("FID 比基线高 2.1 个点", ["CMMD fixes the bandwidth at 10"]) == ["2.1"]


def test_language_and_display_defects() -> None:
    assert cs.language_of("RCAN 提出了残差中的残差（RIR）结构来训练很深的网络。") == "zh"
    assert cs.language_of("We propose RCAN.") == "en"
    assert cs.defects_of("CNN based methods [1–11, 15–17] have achieved") == ["reference_bracket"]
    assert cs.defects_of("4It should be noted our results outperform") == ["footnote_glued"]
    assert cs.defects_of("（1）：本文提出 StyleBooth") == ["digest_label"]
    assert cs.defects_of("最近读到 PowerTCP, NSDI&#39;22") == ["html_entity"]
    assert cs.defects_of("We use 3D convolutions and 4K videos.") == []


@pytest.mark.corpus
def test_every_fact_is_stated_in_its_papers_own_text(corpus_library) -> None:
    from evaluation import paper_titles, resolve, source_index

    library, _, report = corpus_library
    sources, titles = source_index(report), paper_titles(library)
    unmet = []
    for paper in cs.load_facts():
        pid = resolve(paper["ref"], sources, titles)
        sentences = [s for c in library.paper_chunks(pid) for s in cs.sentences_of(c["text"])]
        unmet += [f"{paper['name']} / {r['id']}" for r in cs.fact_sources(paper["facts"], sentences) if not r["source_sentences"]]
    assert not unmet, f"facts no sentence of their paper states: {unmet}"
