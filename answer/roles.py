"""What a sentence of a paper does (background, problem, method, result, limitation, ...) and
whether it reads well on its own: the extractive backend's judgement of which sentences to quote.

Cue phrases are the conventions of scientific writing ("we propose", "however, existing methods",
"outperforms", "a limitation"), combined with the section the sentence sits in. They are general
to papers, not tuned to any one corpus.
"""

from __future__ import annotations

import re

from paperlens.text import count_han

ROLES = ("background", "problem", "method", "task", "result", "limitation")

_CUES: dict[str, list[str]] = {
    "background": [
        r"\b(has|have) (recently )?(become|emerged|attracted|gained|shown|achieved|witnessed|made)\b",
        r"\brecent (years|advances|progress|developments|works?)\b", r"\bin recent years\b",
        r"\b(is|are) (a|an) (fundamental|important|crucial|key|long-standing|popular)\b",
        r"\b(remarkable|impressive|significant) (progress|success|advances|results)\b", r"\bwidely (used|adopted|studied)\b",
        r"近年来", r"取得了.*(进展|成功)", r"广泛",
    ],
    "problem": [
        r"\bhowever\b", r"\bsuffer(s|ed)? from\b", r"\b(struggle|fail)s? to\b", r"\b(existing|previous|prior|current|conventional) (methods|approaches|works?|models|techniques)\b",
        r"\b(limited|limitation|drawback|bottleneck|challenging|challenge)\b", r"\b(remains?|still) (an? )?(open|difficult|challenging|unclear|unsolved)\b",
        r"\b(costly|expensive|time-consuming|inefficient|slow)\b", r"\blacks?\b", r"\bunable to\b",
        r"然而", r"但是", r"存在.*(问题|不足|局限)", r"难以", r"挑战",
    ],
    "method": [
        r"\bwe (propose|present|introduce|develop|design|devise|formulate|build|leverage|adopt|extend)\b",
        r"\b(our|the proposed) (method|approach|model|framework|network|module|architecture|system|pipeline)\b",
        r"\bin this (paper|work)\b", r"\bthis (paper|work) (proposes|presents|introduces)\b",
        r"\b(consists|composed) of\b", r"\bdubbed\b", r"\bcalled\b",
        r"提出", r"本文", r"我们(设计|引入|构建|开发)", r"方法", r"框架",
    ],
    "task": [
        r"\b(the )?task of\b", r"\b(we|this paper) (address|tackle|study|consider|focus on)\b", r"\baims? to\b",
        r"\bgiven an?\b", r"任务", r"旨在",
    ],
    "result": [
        r"\boutperform(s|ed|ing)?\b", r"\bstate-of-the-art\b", r"\bachiev(e|es|ed|ing)\b", r"\bimprov(e|es|ed|ement|ements)\b",
        r"\b(experiments?|results?|evaluations?) (show|demonstrate|indicate|confirm|reveal)\b", r"\bsurpass(es|ed)?\b",
        r"\b(PSNR|SSIM|LPIPS|FID|FVD|KID|IS|CLIP|NIQE|MUSIQ|BLEU|accuracy|mAP|CMMD)\b", r"\d+(\.\d+)?\s*(dB|%|x|×)",
        r"实验", r"优于", r"达到", r"提升", r"表明",
    ],
    "limitation": [
        r"\blimitations?\b", r"\bfuture (work|research|directions?)\b", r"\bfails? (to|in|when|on)\b", r"\bfailure (cases?|modes?)\b",
        r"\bwe leave\b", r"\bbeyond the scope\b", r"\b(is|are) restricted to\b", r"\bdrawbacks? of (our|the proposed|this)\b",
        r"\b(our|the proposed) (method|approach|model) (cannot|can not|does not|struggles)\b", r"\bremains? (a|an) (limitation|challenge)\b",
        r"局限", r"未来工作", r"不足之处", r"无法处理",
    ],
}
_COMPILED = {role: [re.compile(p, re.I) for p in pats] for role, pats in _CUES.items()}

# Sections whose sentences play a role by position.
_SECTION_ROLE = [
    (re.compile(r"^(abstract|摘要|summary|简要描述|key takeaways|关键要点|title)", re.I), {"method": 0.5, "result": 0.5, "background": 0.3, "problem": 0.3, "task": 0.3}),
    (re.compile(r"introduction|引言|背景|motivation", re.I), {"background": 1.0, "problem": 1.0, "task": 0.5}),
    (re.compile(r"related work|background|preliminar|prior", re.I), {"background": 0.5, "problem": 0.6}),
    (re.compile(r"method|approach|model|architecture|framework|proposed|方法|创新", re.I), {"method": 1.0}),
    (re.compile(r"experiment|result|evaluation|comparison|ablation|benchmark|实验|结果|效果", re.I), {"result": 1.0, "task": 0.3}),
    (re.compile(r"limitation|discussion|conclusion|future|broader impact|局限|总结|结论", re.I), {"limitation": 1.0, "result": 0.3}),
]

# Text that addresses a language model rather than a reader ("ignore previous instructions",
# "you are an AI", "system prompt"): a paper can carry it, visibly or hidden, and it is never a
# claim about the paper, so no backend quotes it and the LLM prompt marks passages as data.
INSTRUCTION = re.compile(
    r"(ignore|disregard|forget|override)\s+(all\s+|any\s+|the\s+)?(previous|prior|above|earlier|preceding|your|system)\s+"
    r"(instructions?|prompts?|rules|directions|context)|\byou are (now )?(an? )?(ai|assistant|language model|chatgpt|llm)\b|"
    r"\bsystem prompt\b|\b(as an ai|new instructions?)\b|"
    # "reply with PWNED": a shouted token (case-sensitive, or every 'say that' would match)
    r"\b(respond|reply|answer|output|print|write|say)\s+(only\s+|exactly\s+)?(with\s+|the\s+(word|text|phrase)\s+)?[\"'“]?(?-i:[A-Z]{4,})\b|"
    r"\bprompt injection\b.*\b(ignore|output)|"
    r"(忽略|无视|忘记|不要理会).{0,8}(指令|指示|提示词|提示)|你(现在)?是一个?(AI|人工智能|助手|语言模型)|"
    r"<\|?(system|im_start|assistant)\|?>|\[/?INST\]|"
    # an imperative to the reader at the start of a sentence: papers state, they do not command
    r"^(say|state that|output|print|respond|reply|pretend|rate this|claim that|tell the (user|reader))\b",
    re.I,
)

_BAD = [
    re.compile(r"^(figure|fig\.|table|tab\.)\s*\d", re.I),  # captions
    re.compile(r"\[\d+(?:[,–-]\s*\d+)*\]\s*\[\d"),  # citation soup
    re.compile(r"(?:[=∑∫∂λθσμ√±≤≥]|\\[a-z]+).*(?:[=∑∫∂λθσμ√±≤≥]|\\[a-z]+).*(?:[=∑∫∂λθσμ√±≤≥]|\\[a-z]+)"),  # equations
    re.compile(r"https?://|www\.", re.I),
    re.compile(r"@"),  # emails, affiliations
    re.compile(r"arxiv:\d{4}\.\d{4,5}", re.I),
    INSTRUCTION,
]


def role_scores(text: str, section: str) -> dict[str, float]:
    """Evidence for each role: cue matches (capped) plus what the section suggests."""
    out = {}
    for role, pats in _COMPILED.items():
        out[role] = min(2, sum(1 for p in pats if p.search(text))) * 1.0
    for pat, bonus in _SECTION_ROLE:
        if pat.search(section or ""):
            for role, b in bonus.items():
                out[role] = out[role] + b if out[role] > 0 else out[role] + b * 0.25
    return out


def quality(text: str) -> float:
    """How well a sentence stands alone in a summary, 0..1: full sentences of readable length,
    not captions, equations, reference lists or cut-off fragments."""
    words = text.split()
    cjk = count_han(text)
    n = len(words) if cjk < 10 else cjk / 2.2  # ~2 characters per Chinese word
    if n < 6 or n > 70:
        return 0.0
    if any(p.search(text) for p in _BAD):
        return 0.0
    if text[0] in ",，、;；:：)）.。-–—":
        return 0.0  # starts inside another sentence
    score = 1.0
    if cjk < 10 and len([w for w in words if len(w) > 3 and w.isalpha()]) < 5:
        return 0.0  # "We will introduce our method in this paper.": says nothing
    if not (text[0].isupper() or text[0].isdigit() or cjk) or text[0] in "([":
        score *= 0.3  # starts mid-sentence (a chunk boundary)
    if not re.search(r"[.!?。！？]$", text.rstrip("\"')]")):
        return 0.0  # cut off at a chunk boundary or a heading
    letters = sum(c.isalpha() for c in text)
    if letters < 0.6 * len(text):
        score *= 0.4  # mostly numbers/symbols: a table row
    if re.search(r"\[\d|\(\w+ et al\.,? \d{4}|\d{4}[a-z]?\)", text):
        score *= 0.8  # references are fine but lean on other papers
    if n > 45:
        score *= 0.7
    if re.match(r"^(this|these|it|they|such|that)\b", text, re.I):
        score *= 0.6  # leans on the sentence before it
    if re.match(r"^(for example|for instance|in the (first|second|third|last)|as (shown|can be seen|illustrated)|here|similarly|likewise|besides)\b", text, re.I):
        score *= 0.5  # an example or an aside, not a point of its own
    if re.search(r"\b(fig\.|figure|table|tab\.|sec\.|section)\s*\d|\b(first|second|third|last) (column|row)\b", text, re.I):
        score *= 0.6  # points at a figure or table the reader cannot see
    return score


# When a sentence fits two roles equally, the more specific one takes it.
PRIORITY = ("method", "result", "limitation", "problem", "task", "background")


def main_role(scores: dict[str, float]) -> str:
    return max(PRIORITY, key=lambda r: (scores.get(r, 0.0), -PRIORITY.index(r)))
