"""What a reader compares: metrics (with unit and direction), datasets, settings, and the aspects
that name them ("PSNR on Urban100 (x2)", "FID-30K on COCO", "runtime", "CLIP score").

One vocabulary for the field's common metrics and benchmarks. A metric or dataset outside it is
still an aspect: its name is matched as written (``Aspect.metric`` then has no unit or direction,
and a table header's arrow supplies the direction). Matching is by whole names: "FVD" is not
"FVD32" or "DTFVD", "COCO" is not "LN-COCO" or "COCO-Stuff", "SSIM" is not "MS-SSIM".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Metric:
    """A metric of the field: its name, the names tables print for it, unit and direction."""

    name: str
    aliases: tuple[str, ...]
    unit: str = ""
    higher_is_better: bool | None = None
    kind: str = "quality"  # quality | cost
    case_sensitive: bool = True
    not_with: str = ""  # a header that also says this is another quantity ('training steps' is no NFE)

    @property
    def pattern(self) -> re.Pattern[str]:
        return _names_pattern(self.aliases, self.case_sensitive)


def _names_pattern(names: tuple[str, ...], case_sensitive: bool = False) -> re.Pattern[str]:
    alts = "|".join(re.escape(n).replace(r"\ ", r"[\s_-]?") for n in sorted(names, key=len, reverse=True))
    # whole names only: not 'SSIM' in 'MS-SSIM', 'COCO' in 'LN-COCO' or 'COCO-Stuff', 'FVD' in 'FVD32'
    return re.compile(rf"(?<![A-Za-z0-9])(?<![A-Za-z0-9]-)(?:{alts})(?![A-Za-z0-9])(?!-[A-Za-z])", 0 if case_sensitive else re.I)


M = Metric
METRICS: tuple[Metric, ...] = (
    M("PSNR", ("PSNR",), "dB", True),
    M("SSIM", ("SSIM",), "", True),
    M("MS-SSIM", ("MS-SSIM",), "", True),
    M("LPIPS", ("LPIPS",), "", False),
    M("DISTS", ("DISTS",), "", False),
    M("FID", ("FID", "FID score", "Fréchet Inception Distance", "FID-30K", "FID-10K", "FID-5K", "zero-shot FID"), "", False),
    M("sFID", ("sFID",), "", False),
    M("KID", ("KID",), "", False),
    M("FVD", ("FVD",), "", False),
    M("IS", ("IS", "Inception Score", "Inception score"), "", True),
    M("CLIP score", ("CLIP score", "CLIPScore", "CLIP-S", "CLIPSIM", "CLIP-SIM", "CLIP sim", "CLIP similarity"), "", True, case_sensitive=False),
    M("CLIP-I", ("CLIP-I",), "", True),
    M("CLIP-T", ("CLIP-T",), "", True),
    M("DINO", ("DINO",), "", True),
    M("CMMD", ("CMMD",), "", False),
    M("NIQE", ("NIQE",), "", False),
    M("BRISQUE", ("BRISQUE",), "", False),
    M("MUSIQ", ("MUSIQ",), "", True),
    M("MANIQA", ("MANIQA",), "", True),
    M("CLIPIQA", ("CLIPIQA", "CLIP-IQA"), "", True),
    M("mIoU", ("mIoU",), "%", True),
    M("accuracy", ("accuracy", "Acc", "Top-1"), "%", True, case_sensitive=False),
    M("bpd", ("bpd", "bits/dim", "bits per dim"), "", False, case_sensitive=False),
    M("NLL", ("NLL",), "", False),
    M("ImageReward", ("ImageReward", "Image Reward"), "", True, case_sensitive=False),
    M("HPS", ("HPS", "HPSv2", "HPS v2"), "", True),
    M("PickScore", ("PickScore", "Pick Score"), "", True, case_sensitive=False),
    M("aesthetic score", ("aesthetic score", "aesthetic", "LAION aesthetic"), "", True, case_sensitive=False),
    M("user preference", ("user preference", "user study", "human preference", "preference rate", "win rate"), "%", True, case_sensitive=False),
    M("ObjMC", ("ObjMC",), "", False),
    M("DTFVD", ("DTFVD",), "", False),
    M("parameters", ("parameters", "params", "# params", "#params", "#param", "param", "para", "model size"), "", False, "cost", False),
    M("runtime", ("runtime", "run time", "time", "inference time", "latency", "sec/img", "s/img"), "s", False, "cost", False, r"train|GPU.?h"),
    M("NFE", ("NFE", "NFEs", "sampling steps", "steps", "#steps"), "", False, "cost", False, r"train|iter|epoch|GPU"),
    M("FLOPs", ("FLOPs", "GFLOPs", "TFLOPs", "MACs", "GMACs", "Mult-Adds", "MultAdds"), "", False, "cost", False),
    M("GPU hours", ("GPU hours", "GPU hrs", "training cost"), "", False, "cost", False),
)
del M
_BY_NAME = {m.name.lower(): m for m in METRICS}

# Benchmarks of the field, by the name a reader writes -> the names tables print.
DATASETS: dict[str, tuple[str, ...]] = {
    "Set5": ("Set5",),
    "Set14": ("Set14",),
    "B100": ("B100", "BSD100", "BSDS100"),
    "Urban100": ("Urban100",),
    "Manga109": ("Manga109",),
    "BSD300": ("BSD300", "BSDS300"),
    "BSD500": ("BSD500", "BSDS500"),
    "DIV2K": ("DIV2K",),
    "RealSR": ("RealSR",),
    "DRealSR": ("DRealSR",),
    "Vid4": ("Vid4",),
    "REDS4": ("REDS4", "REDS"),
    "Vimeo-90K-T": ("Vimeo-90K-T", "Vimeo-90K", "Vimeo90K", "Vimeo"),
    "ImageNet": ("ImageNet",),
    "CIFAR-10": ("CIFAR-10", "CIFAR10"),
    "FFHQ": ("FFHQ",),
    "CelebA-HQ": ("CelebA-HQ", "CelebAHQ"),
    "LSUN": ("LSUN",),
    "COCO": ("COCO", "MS-COCO", "MSCOCO", "MS COCO", "COCO-30K", "COCO2014", "COCO 2014", "COCO2017"),
    "LN-COCO": ("LN-COCO", "Localized Narratives"),
    "COCO-Stuff": ("COCO-Stuff",),
    "UCF-101": ("UCF-101", "UCF101"),
    "MSR-VTT": ("MSR-VTT", "MSRVTT"),
    "Kinetics": ("Kinetics", "Kinetics-600", "K600"),
    "WebVid": ("WebVid", "WebVid-10M"),
    "VIPSeg": ("VIPSeg",),
    "DAVIS": ("DAVIS",),
    "T2I-CompBench": ("T2I-CompBench",),
    "DrawBench": ("DrawBench",),
    "PartiPrompts": ("PartiPrompts", "P2"),
    "GenEval": ("GenEval",),
    "DPG-Bench": ("DPG-Bench", "DPG"),
    "DreamBench": ("DreamBench", "Dreambench"),
    "ConceptBed": ("ConceptBed",),
    "ADE20K": ("ADE20K", "ADE-20K"),
    "Cityscapes": ("Cityscapes",),
    "Pick-a-Pic": ("Pick-a-Pic",),
}
_DATASET_PATTERNS = {name: _names_pattern(aliases) for name, aliases in DATASETS.items()}

# Settings with several spellings; any other setting is matched as written.
_SETTING_GROUPS: dict[str, tuple[str, ...]] = {
    "zero-shot": ("zero-shot", "zero shot", "zeroshot"),
    "fine-tuned": ("fine-tuned", "fine-tuning", "finetuned", "finetuning", "fine-tune", "finetune"),
    "Y": ("Y", "Y channel", "luminance"),
    "RGB": ("RGB",),
}
_SCALE = re.compile(
    r"(?<![\d.])(?:[×xX]\s?(\d{1,2})(?![\d.×x])|(\d{1,2})\s?[×xX](?![\d.]|\s?\d)|"
    r"scal(?:e|ing)(?:\s+factors?)?(?:\s+of)?\s*[×xX]?\s?(\d{1,2})(?!\d|\.\d))"
)
_RESOLUTION = re.compile(r"\d+\s?[×xX]\s?\d+")
_SAMPLES = re.compile(r"(?<![A-Za-z])(\d{1,3}K)(?![A-Za-z])")


@dataclass
class Aspect:
    """An aspect parsed into what it compares. ``metric`` is None for a metric outside the
    vocabulary; ``metric_name`` is then the name as asked, matched as written."""

    text: str
    metric_name: str
    metric: Metric | None = None
    dataset: str = ""
    dataset_aliases: tuple[str, ...] = ()
    scale: int | None = None
    settings: tuple[str, ...] = ()  # canonical settings ('zero-shot', 'fine-tuned', 'Y', or as written)
    samples: str = ""  # '30K' for FID-30K
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def is_metric(self) -> bool:
        return bool(self.metric_name)

    @property
    def is_item(self) -> bool:
        """True when the aspect names one item of a benchmark (a clip, an image), not the whole."""
        return bool(re.search(r"\b(?:clip|image|video|scene|sequence)\s*[_#-]?\s*\d+", self.text, re.I))

    def metric_pattern(self) -> re.Pattern[str]:
        if self.metric is not None:
            return self.metric.pattern
        return _names_pattern((self.metric_name,))

    def dataset_pattern(self) -> re.Pattern[str] | None:
        if not self.dataset:
            return None
        return _DATASET_PATTERNS.get(self.dataset) or _names_pattern(self.dataset_aliases or (self.dataset,))


def metric_named(text: str) -> Metric | None:
    """The vocabulary's metric that ``text`` names as a whole ('psnr', 'CLIPSIM', '# params')."""
    t = " ".join(text.split()).strip(" .:")
    if t.lower() in _BY_NAME:
        return _BY_NAME[t.lower()]
    for m in METRICS:
        mt = m.pattern.fullmatch(t)
        if mt:
            return m
    return None


def metrics_in(text: str) -> list[Metric]:
    """The vocabulary's metrics that a header or caption names, in order of appearance."""
    found: list[tuple[int, Metric]] = []
    for m in METRICS:
        hit = m.pattern.search(text)
        if hit:
            found.append((hit.start(), m))
    found.sort(key=lambda pm: pm[0])
    return [m for _, m in found]


def named_as_benchmark(text: str) -> list[str]:
    """Benchmarks a caption names as the data of the table ('on Vid4', 'using the Set5 test set',
    'evaluated on COCO', 'from Xiph database'), not in passing ('the SRCNN ImageNet model')."""
    out = []
    for name in datasets_in(text):
        for m in _DATASET_PATTERNS[name].finditer(text):
            before = text[max(0, m.start() - 40) : m.start()]
            after = text[m.end() : m.end() + 25]
            lead = re.search(r"(?:^|\b(?:Table|TABLE|Tab\.)\s*\w+\s*[:.]?)\s*\(?$", before)  # 'Table 6: CIFAR-10 ...'
            if lead or re.search(r"\b(?:on|using|from|over|in|evaluated|tested|test|val|benchmarks?)\b(?:\W+\w+){0,3}\W*$", before, re.I) or \
                    re.match(r"\W*(?:\(\d{4}\)\s*)?(?:\[\d+\]\s*)?(?:test|val|validation|benchmark|dataset|database|split)", after, re.I):
                out.append(name)
                break
    return out


def datasets_in(text: str) -> list[str]:
    """Canonical names of the benchmarks a text names, in order of appearance."""
    found: list[tuple[int, str]] = []
    for name, rx in _DATASET_PATTERNS.items():
        hit = rx.search(text)
        if hit:
            found.append((hit.start(), name))
    found.sort()
    # 'Vimeo-90K-T' also contains 'Vimeo': keep the longest name at a position
    out: list[str] = []
    for _, name in found:
        if name not in out:
            out.append(name)
    return out


def scales_in(text: str) -> list[int]:
    """Upscaling factors a text states: '×4', 'x2', '4×', 'scale 3', 'scaling factor of 2';
    not a resolution such as '256 × 256'."""
    text = _RESOLUTION.sub(" ", text)
    out = []
    for m in _SCALE.finditer(text):
        v = int(next(g for g in m.groups() if g))
        if 1 < v <= 16 and v not in out:
            out.append(v)
    return out


def direction_of(header: str) -> bool | None:
    """A header's arrow: '↑' higher is better, '↓' lower is better."""
    if "↑" in header or "(higher" in header.lower():
        return True
    if "↓" in header or "(lower" in header.lower():
        return False
    return None


def setting_pattern(setting: str) -> re.Pattern[str]:
    names = _SETTING_GROUPS.get(setting, (setting,))
    return _names_pattern(names, case_sensitive=len(setting) <= 3 and setting.isupper())


def canonical_setting(text: str) -> str:
    t = " ".join(text.split())
    for canon, names in _SETTING_GROUPS.items():
        if any(t.lower() == n.lower() for n in names):
            return canon if len(canon) > 3 or t.isupper() else canon
    return t


def opposite_settings(setting: str) -> tuple[str, ...]:
    """Settings that exclude this one in a table ('zero-shot' vs 'fine-tuned', 'Y' vs 'RGB')."""
    pairs = {"zero-shot": ("fine-tuned",), "fine-tuned": ("zero-shot",), "Y": ("RGB",), "RGB": ("Y",)}
    return pairs.get(setting, ())


def parse_aspect(text: str) -> Aspect:
    """'PSNR on Urban100 (x2)' -> metric PSNR, dataset Urban100, scale 2. Also 'LPIPS on DRealSR',
    'FID-30K on COCO', 'FVD on UCF-101 (zero-shot)', 'CLIP score', 'NFE', 'parameters (x4)',
    'runtime on Set5 (x2)', 'DINO on Multibench (two subjects)'."""
    raw = " ".join(text.split())
    settings: list[str] = []
    scale: int | None = None
    body = raw
    for group in re.findall(r"\(([^()]*)\)", raw):
        body = body.replace(f"({group})", " ")
        for part in re.split(r"[,;/]", group):
            part = part.strip()
            if not part:
                continue
            sc = scales_in(part)
            if sc and _SCALE.fullmatch(part.strip()):
                scale = sc[0]
            else:
                settings.append(canonical_setting(part))
    # a scale written outside parentheses ('PSNR x4 on Set5', 'Urban100 ×2')
    for m in _SCALE.finditer(body):
        if not _RESOLUTION.search(body[max(0, m.start() - 6) : m.end() + 6]):
            scale = scale or int(next(g for g in m.groups() if g))
            body = body[: m.start()] + " " + body[m.end() :]
            break
    body = " ".join(body.split())
    metric_part, dataset_part = body, ""
    split = re.split(r"\s+(?:on|@|over|for)\s+", body, maxsplit=1, flags=re.I)
    if len(split) == 2:
        metric_part, dataset_part = split
    else:
        found = datasets_in(body)
        if found:
            m = _DATASET_PATTERNS[found[0]].search(body)
            if m:
                dataset_part = m.group(0)
                metric_part = (body[: m.start()] + " " + body[m.end() :]).strip()
    samples = ""
    sm = _SAMPLES.search(metric_part)
    if sm and re.search(r"FID|KID|IS\b", metric_part):
        samples = sm.group(1)
    metric = metric_named(metric_part) or next(iter(metrics_in(metric_part)), None)
    metric_name = metric.name if metric else metric_part.strip()
    dataset, aliases = "", ()
    if dataset_part:
        known = datasets_in(dataset_part)
        if known:
            dataset, aliases = known[0], DATASETS[known[0]]
        else:
            dataset = dataset_part.strip()
            aliases = (dataset,)
        if samples and dataset == "COCO":
            pass  # 'FID-30K on COCO': the 30K is the sample count, the benchmark is COCO
    return Aspect(text=raw, metric_name=metric_name, metric=metric, dataset=dataset, dataset_aliases=tuple(aliases),
                  scale=scale, settings=tuple(settings), samples=samples)
