"""A topic as the concepts a paper must be about: "attention mechanisms in image super-resolution"
is about attention AND about image super-resolution; "diffusion in medical imaging" about
diffusion AND medical imaging. A paper that is only about one of them is not on the topic.

A question is reduced to its topic: the words that say what to do ("compare", "which papers",
"I am writing a digest of") are dropped, and what is left is cut into aspects at the words that
join two concepts ("in", "for", "with", "of", "to", "using", ...). Words joined by "and" / "or"
(or a comma) are alternatives of one aspect: "super-resolution and denoising with diffusion" is
(super-resolution OR denoising) AND diffusion. A Chinese question is cut the same way at its own
joining words (在, 中, 的, 用于, 基于, 和, ...); its field terms get their English forms (the
glossary of answer/evidence.py, plus the general field terms below), and a Chinese aspect with no
English form is kept as Chinese text for the cross-lingual model to judge.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from paperlens.text import HAN

from .checker import stem
from .evidence import ACRONYMS, GENERIC, ZH_TERMS

# Words that ask for something rather than name a topic (beyond evidence.GENERIC).
ASKING = set(
    "i we you my our me us want wants would like need needs please help writing write preparing prepare "
    "planning plan interested looking look know tell explain describe do does did doing done can could should "
    "may might will shall whose where when why whom this that these those they them their there here it its "
    "such also both either each any some many much more most other others one ones include includes including "
    "cover covers covering discuss discusses discussing address addresses addressing differ differs difference "
    "differences way ways kind kinds type types library collection indexed available exist exists existing "
    "currently current use uses used apply applies applied application applications propose proposes proposed "
    "present presents introduce introduces line lines area areas field fields problem problems task tasks "
    "idea ideas main key important notable relevant related progress advance advances development developments "
    "trend trends state art sota year years past last month months week weeks day days today so far "
    "has have had been being was were be am per each into s t like especially particular particularly "
    "e g eg i.e etc mechanism mechanisms strategy strategies system systems design designs solution solutions "
    "comparing compared contrasting summarise summarize summarizing summary highlight highlights "
    "table tables row rows column columns appear appears appeared new newest recently published "
    "ones things anything something only just mainly mostly".split()
)
# Words that join two concepts of a topic (they cut it into aspects).
JOINERS = set("in for with of on to via by from into through under across within over at towards toward as "
              "that which who than versus vs against".split())
ALTERNATIVE = {"and", "or", "&", "/", "plus"}
# Words after which a concept only narrows by example or input ("such as denoising or inpainting",
# "videos from text or images"): optional aspects, which rank papers but do not exclude them.
OPTIONAL = {"from", "such", "e.g", "eg", "example", "including", "like", "especially", "particularly"}
# Chinese: joining words (cut into aspects), alternatives, and words that ask rather than name.
ZH_JOINERS = ("在", "中的", "中", "用于", "应用于", "基于", "利用", "使用", "采用", "通过", "对于", "针对", "方面", "领域", "里", "上的", "的")
ZH_OPTIONAL = ("例如", "比如", "诸如", "包括", "从")
ZH_ALTERNATIVE = ("和", "与", "及", "以及", "或", "或者", "、", "，", ",")
ZH_ASKING = ("这段时间", "段时间", "时间", "比较", "对比", "综述", "总结", "介绍", "列出", "请", "我想", "我在", "我正在", "我们", "我", "想", "写",
             "准备", "一份", "一篇", "一下", "哪些", "有哪些", "什么", "怎样", "如何", "是否", "它们", "他们", "这些", "那些",
             "论文", "文章", "工作", "方法", "研究", "进展", "最新", "近期", "最近", "相关", "主要", "不同", "区别", "差异",
             "异同", "各自", "分别", "库中", "索引", "收录", "本周", "本月", "每周", "周报", "月报", "文献", "应用",
             "问题", "技术", "方向", "关于", "有关", "涉及", "讨论", "提出", "模型们", "吗", "呢", "了", "是", "都", "有",
             "这", "那", "个", "些", "把", "将", "被", "也", "还", "并", "及其", "之间", "如何做")
# General field terms missing from evidence.ZH_TERMS (Chinese -> English), longest first when applied.
ZH_MORE: dict[str, str] = {
    "医学影像": "medical imaging", "医学图像": "medical image", "医疗影像": "medical imaging", "医学": "medical",
    "医疗": "medical", "病理": "pathology", "磁共振": "mri", "图像复原": "image restoration", "图像恢复": "image restoration",
    "复原": "restoration", "修复": "restoration", "图像修复": "image restoration", "去模糊": "deblurring",
    "去雨": "deraining", "去雾": "dehazing", "补全": "inpainting", "图像补全": "image inpainting",
    "注意力机制": "attention", "自注意力": "self attention", "视频超分": "video super resolution",
    "高斯泼溅": "gaussian splatting", "高斯溅射": "gaussian splatting", "神经辐射场": "neural radiance field",
    "三维重建": "3d reconstruction", "三维生成": "3d generation", "3D生成": "3d generation", "人脸": "face",
    "目标检测": "object detection", "检测": "detection", "跟踪": "tracking", "自动驾驶": "autonomous driving",
    "遥感": "remote sensing", "语音": "speech", "音频": "audio", "多模态": "multimodal", "大模型": "large model",
    "视觉语言模型": "vision language model", "多模态大模型": "multimodal large language model",
    "强化学习": "reinforcement learning", "量化": "quantization", "剪枝": "pruning", "知识蒸馏": "knowledge distillation",
    "风格化": "stylization", "虚拟试穿": "virtual try on", "姿态": "pose", "动作": "motion", "人体": "human",
    "文本生成图像": "text to image", "文字生成图像": "text to image", "图生视频": "image to video",
    "图像到视频": "image to video", "文本到视频": "text to video", "视频理解": "video understanding",
    "一步": "one step", "单步": "one step", "少步": "few step", "潜空间": "latent", "潜在扩散": "latent diffusion",
    "流匹配": "flow matching", "一致性模型": "consistency model", "变换器": "transformer", "对抗": "adversarial",
    "生成模型": "generative model", "图像超分": "image super resolution", "图像超分辨率": "image super resolution",
}
ZH_GLOSSARY: dict[str, str] = dict(sorted({**ZH_TERMS, **ZH_MORE}.items(), key=lambda kv: -len(kv[0])))

_CJK = re.compile(f"[{HAN}]")
_TOKEN = re.compile(r"[A-Za-z0-9]+(?:[-'][A-Za-z0-9]+)*|[.,;:?!()\[\]&/]")
_DROP = {stem(w) for w in GENERIC | ASKING} | GENERIC | ASKING


def key(word: str) -> str:
    """A word's match key: lower case, stemmed, a final 'e' dropped ('image', 'images' and
    'imaging' all become 'imag', 'generate' and 'generation' 'gener'; the shared stemmer alone
    leaves 'image' and 'generate' apart)."""
    w = stem(word.lower())
    if len(w) > 4 and w.endswith("e"):
        w = w[:-1]
    if len(w) >= 6 and w.endswith("at"):  # 'generat(e|ed|ing)' and 'gener(ation)' meet
        w = w[:-2]
    return w


def keys(text: str) -> list[str]:
    """Match keys of a text, hyphenated words split: 'Super-Resolution' -> ['super', 'resolut']."""
    return [key(w) for w in re.findall(r"[a-z0-9]+", text.lower())]


# Match keys of the words that never name a concept (asking, generic, joining words).
DROP = frozenset(key(w) for w in GENERIC | ASKING | JOINERS | ALTERNATIVE | OPTIONAL)


@dataclass
class Phrase:
    """One way of naming a concept: its English words (match keys) and, for a Chinese phrase with
    no English form, its text."""

    text: str
    words: tuple[str, ...] = ()
    zh: str = ""

    @property
    def english(self) -> bool:
        return bool(self.words)


@dataclass
class Aspect:
    """One concept the paper must be about, named by any of its phrases (alternatives); an
    optional one only ranks the papers that have it higher."""

    phrases: list[Phrase] = field(default_factory=list)
    optional: bool = False

    @property
    def text(self) -> str:
        return " / ".join(p.text for p in self.phrases)

    @property
    def query(self) -> str:
        """What to embed for this aspect: its phrases, English first."""
        return "; ".join(p.text for p in sorted(self.phrases, key=lambda p: not p.english))


@dataclass
class TopicSpec:
    question: str
    aspects: list[Aspect] = field(default_factory=list)
    zh: bool = False

    @property
    def text(self) -> str:
        """The topic in a few words (what the search lanes are asked)."""
        return " ".join(a.phrases[0].text for a in self.aspects) or self.question

    @property
    def english(self) -> str:
        """The topic's English words ('' when nothing has an English form)."""
        return " ".join(p.text for a in self.aspects for p in a.phrases if p.english)

    @property
    def core(self) -> str:
        """The English words of the required concepts: the topic without its examples."""
        return " ".join(p.text for a in self.aspects if not a.optional for p in a.phrases if p.english)

    def terms(self) -> list[str]:
        return [p.text for a in self.aspects for p in a.phrases]


def reduce_question(question: str) -> TopicSpec:
    """The aspects of a comparison or roundup question (see the module docstring)."""
    q = " ".join(question.split())
    zh = bool(_CJK.search(q))
    sentences = []
    for sentence in _SENTENCE.split(q):
        groups = _zh_groups(sentence) if zh else []
        groups += _en_groups(_CJK.sub(" ", sentence) if zh else sentence)
        sentences.append(groups)
    # The sentence that names the most concepts states the topic ('I am writing a digest for
    # clinicians. Which papers use diffusion models for medical imaging?'); the others set the
    # scene or restate it, and their concepts only rank papers.
    main = max(range(len(sentences)), key=lambda i: (sum(1 for _, o in sentences[i] if not o), -i), default=0)
    aspects = [Aspect(phrases, optional=optional or i != main)
               for i, groups in enumerate(sentences) for phrases, optional in groups]
    return TopicSpec(question=question, aspects=_absorb(aspects), zh=zh)


# Sentence ends (not the dot of 'e.g.' or of a number).
_SENTENCE = re.compile(r"(?<!\be\.g)(?<!\bi\.e)(?<=[.?!;])\s+|[。？！；]")


def _en_groups(text: str) -> list[tuple[list[Phrase], bool]]:
    """English text -> aspects: (alternative phrases, optional)."""
    quoted = re.findall(r'"([^"]+)"', text)
    text = re.sub(r'"[^"]+"', " , ", text)
    groups: list[tuple[list[Phrase], bool]] = [([_phrase(q.split())], False) for q in quoted if keys(q)]
    current: list[Phrase] = []
    words: list[str] = []
    optional = False
    prev = ""

    def close_phrase() -> None:
        if words:
            current.append(_phrase(words[:]))
            words.clear()

    def close_group() -> None:
        close_phrase()
        if current:
            groups.append((current[:], optional))
            current.clear()

    for tok in _TOKEN.findall(text):
        low = re.sub(r"'s$", "", tok.lower())
        if low in OPTIONAL:
            close_group()
            optional = True
        elif low in ALTERNATIVE or tok == ",":
            close_phrase()
        elif low in JOINERS or tok in ".;:?!()[]":
            close_group()
            if prev not in OPTIONAL:
                optional = False
        elif low in _DROP or key(low) in _DROP or low.isdigit():
            close_phrase()  # a dropped word ends the phrase; the concept may go on ('models to ...')
            if current and low not in GENERIC:
                close_group()
        else:
            words.append(tok)
        prev = low
    close_group()
    return groups


def _phrase(words: list[str]) -> Phrase:
    text = " ".join(w.lower() for w in words)
    return Phrase(text=text, words=tuple(keys(text)))


def _zh_groups(text: str) -> list[tuple[list[Phrase], bool]]:
    """Chinese text -> aspects: glossary terms become English phrases; other Chinese runs stay.
    Glossary terms are marked first, so that a word that asks ('个', '有') is never cut out of a
    term ('个性化')."""
    terms: list[str] = []
    s = text
    for zh, en in ZH_GLOSSARY.items():
        while zh in s:
            s = s.replace(zh, f"\x00{len(terms)}\x00", 1)
            terms.append(en)
    for w in sorted(ZH_OPTIONAL, key=len, reverse=True):
        s = s.replace(w, "|?")
    for w in sorted(ZH_ASKING, key=len, reverse=True):
        s = s.replace(w, "|")
    for w in sorted(ZH_JOINERS, key=len, reverse=True):
        s = s.replace(w, "|")
    groups: list[tuple[list[Phrase], bool]] = []
    for part in s.split("|"):
        optional = part.startswith("?")
        alts: list[Phrase] = []
        for piece in re.split("|".join(map(re.escape, ZH_ALTERNATIVE)), part.lstrip("?")):
            found = [terms[int(i)] for i in re.findall(r"\x00(\d+)\x00", piece)]
            left = "".join(_CJK.findall(re.sub(r"\x00\d+\x00", "", piece)))
            if len(found) > 1 and len(alts) == 0 and len(re.split("|".join(map(re.escape, ZH_ALTERNATIVE)), part)) == 1:
                # Field terms side by side are concepts side by side: '个性化文生图' is
                # personalization AND text-to-image, '扩散模型超分' diffusion AND super-resolution.
                groups += [([Phrase(text=en, words=tuple(keys(en)))], optional) for en in found]
                continue
            if found:
                en = " ".join(found)
                alts.append(Phrase(text=en, words=tuple(keys(en))))
            elif len(left) >= 2:
                alts.append(Phrase(text=left, zh=left))
        if alts:
            groups.append((alts, optional))
    return groups


def _absorb(aspects: list[Aspect]) -> list[Aspect]:
    """One aspect per concept. An aspect of one English phrase whose words include another's
    ('restore degraded images' beside 'image restoration', 'generate videos' beside 'video
    generation') adds nothing the more general one does not ask, so only the general one is kept;
    an optional one beside a required one restates it and goes; a repeated Chinese phrase is kept once."""
    out: list[Aspect] = []
    for a in aspects:
        sa = _single(a)
        merged = False
        for i, b in enumerate(out):
            sb = _single(b)
            if sa is not None and sb is not None and (sb <= sa or sa < sb):
                if a.optional != b.optional:  # an optional restatement of a required concept goes
                    out[i] = b if a.optional else a
                else:
                    out[i] = b if sb <= sa else a
                merged = True
                break
            if not sa and not sb and [p.zh for p in a.phrases] == [p.zh for p in b.phrases]:
                merged = True
                break
        if not merged:
            out.append(a)
    return out


def _single(a: Aspect) -> frozenset[str] | None:
    """The word set of an aspect that is one English phrase; None otherwise."""
    if len(a.phrases) == 1 and a.phrases[0].english:
        return frozenset(a.phrases[0].words)
    return None


@functools.lru_cache(maxsize=4096)
def acronym_forms(words: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    """Other forms of a phrase from the field's acronyms: ('sr',) <-> ('super', 'resolution')."""
    out: list[tuple[str, ...]] = []
    for ak, fk in _ACRO_KEYS:
        if words == ak:
            out += fk
            continue
        for f in fk:
            i = next((i for i in range(len(words) - len(f) + 1) if words[i:i + len(f)] == f), None)
            if i is not None:
                out.append(words[:i] + ak + words[i + len(f):])
                break
    return tuple(o for o in dict.fromkeys(out) if o != words)


_ACRO_KEYS = [(tuple(keys(acro)), [tuple(keys(f)) for f in forms]) for acro, forms in ACRONYMS.items()]
