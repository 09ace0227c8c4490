"""Facts a comparison table needs, pulled out of sentences: metrics with their numbers, base models,
sampling steps, training data, code links. Every fact keeps the sentence it was read from, which
becomes the cell's quote, so a number in a cell is always a number in the cited passage.

The vocabularies are the field's common names (metrics, base models, datasets); a fact outside them
is still reachable through a free-form aspect column (table.py), which matches sentences by meaning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# name -> (pattern, unit, better)
METRICS: dict[str, tuple[str, str, str]] = {
    "PSNR": (r"PSNR", "dB", "higher"),
    "SSIM": (r"(?<!MS-)SSIM", "", "higher"),
    "MS-SSIM": (r"MS-SSIM", "", "higher"),
    "LPIPS": (r"LPIPS", "", "lower"),
    "FID": (r"(?<![A-Za-z-])FID(?![A-Za-z])", "", "lower"),
    "KID": (r"\bKID\b", "", "lower"),
    "FVD": (r"\bFVD\b", "", "lower"),
    "IS": (r"\bIS\b|Inception Score", "", "higher"),
    "CLIP score": (r"CLIP[- ]?(?:score|S\b|similarity)", "", "higher"),
    "CMMD": (r"\bCMMD\b", "", "lower"),
    "NIQE": (r"\bNIQE\b", "", "lower"),
    "MUSIQ": (r"\bMUSIQ\b", "", "higher"),
    "MANIQA": (r"\bMANIQA\b", "", "higher"),
    "CLIPIQA": (r"CLIP-?IQA", "", "higher"),
    "DISTS": (r"\bDISTS\b", "", "lower"),
    "NFE": (r"\bNFEs?\b", "", "lower"),
    "accuracy": (r"\baccuracy\b", "%", "higher"),
    "user preference": (r"user (study|preference)|human (evaluation|preference)", "%", "higher"),
}
_METRIC_RE = {k: re.compile(p, re.I if k in ("accuracy", "user preference", "CLIP score") else 0) for k, (p, _, _) in METRICS.items()}
_NUM = r"(\d+(?:\.\d+)?)\s*(%|dB)?"

BASE_MODELS = [
    "Stable Diffusion XL", "SDXL", "SD-XL", "SD3", "Stable Diffusion 3", "Stable Diffusion 2.1", "Stable Diffusion 2",
    "Stable Diffusion 1.5", "Stable Diffusion v1.5", "Stable Diffusion v1-5", "Stable Diffusion 1.4", "Stable Diffusion v1.4",
    "Stable Diffusion", "Latent Diffusion", "LDM", "DiT", "PixArt", "FLUX", "Imagen", "DALL-E 2", "DALL-E", "DALL·E",
    "Midjourney", "ControlNet", "T2I-Adapter", "IP-Adapter", "DreamBooth", "LoRA", "CLIP", "T5", "BLIP", "LLaMA", "GPT-4",
    "ViT", "U-Net", "UNet", "VQGAN", "VQ-VAE", "StyleGAN", "GLIDE", "DDPM", "DDIM", "EDM", "Consistency Model",
    "Parti", "Muse", "VideoCrafter", "ModelScope", "Stable Video Diffusion", "AnimateDiff", "Sora", "ESRGAN", "Real-ESRGAN",
    "SwinIR", "ResNet", "VGG", "Transformer",
]
_BASE_RE = re.compile(r"(?<![\w-])(" + "|".join(re.escape(m) for m in sorted(BASE_MODELS, key=len, reverse=True)) + r")(?![\w-])")
_BASE_CUE = re.compile(
    r"\b(built (up)?on|based on|on top of|initiali[sz]ed (from|with)|fine-?tun\w*|pre-?trained|backbone|we (use|adopt|employ|leverage)|"
    r"as (the|our) (base|backbone|prior)|frozen|plug(ged)?[- ]in)\b", re.I,
)

DATASETS = [
    "LAION-5B", "LAION-400M", "LAION-Aesthetics", "LAION", "COCO", "MS-COCO", "MSCOCO", "ImageNet", "DIV2K", "Flickr2K", "DF2K",
    "FFHQ", "CelebA-HQ", "CelebA", "LSUN", "OpenImages", "Open Images", "WebVid-10M", "WebVid", "CC3M", "CC12M",
    "Conceptual Captions", "JourneyDB", "SA-1B", "Set5", "Set14", "BSD100", "B100", "Urban100", "Manga109", "RealSR",
    "DRealSR", "UCF-101", "UCF101", "MSR-VTT", "Kinetics", "DAVIS", "REDS", "Vimeo-90K", "Vid4", "DrawBench",
    "PartiPrompts", "T2I-CompBench", "GenEval", "DreamBench", "CIFAR-10", "CIFAR10", "AFHQ", "Cityscapes", "ADE20K",
]
_DATA_RE = re.compile(r"(?<![\w-])(" + "|".join(re.escape(d) for d in sorted(DATASETS, key=len, reverse=True)) + r")(?![\w-])")
_TRAIN_CUE = re.compile(r"\b(train(ed|ing)?|fine-?tun\w*|collect\w*|curat\w*)\b", re.I)
_EVAL_CUE = re.compile(r"\b(evaluat\w*|test(ed|ing)?|benchmark\w*|compar\w*|report\w*)\b", re.I)

_STEPS = [
    re.compile(r"(\d+)\s*(?:-\s*)?(?:sampling|denoising|inference|diffusion|DDIM|DDPM|reverse|solver|generation)?\s*steps?\b", re.I),
    re.compile(r"\bNFEs?\s*(?:=|of|:)?\s*(\d+)", re.I),
    re.compile(r"(\d+)\s*NFEs?\b", re.I),
    re.compile(r"\b(one|single|two|four)[- ]step\b", re.I),
]
_DIFFUSION_CUE = re.compile(r"diffus|sampl|denois|NFE|score[- ]based|flow matching|consistency model|distill", re.I)
_STEP_CUE = re.compile(r"\b(sampl\w*|denois\w*|inference|NFE|DDIM|DDPM|solver|diffusion|steps?)\b", re.I)
_CODE = re.compile(r"https?://(?:www\.)?(?:github\.com|gitlab\.com|huggingface\.co)/[\w.\-]+/[\w.\-]+", re.I)
_PROJECT = re.compile(r"https?://[\w.\-]+\.github\.io/[\w.\-/]*", re.I)


@dataclass
class Fact:
    kind: str  # metric / base_model / steps / dataset / code
    value: str  # as shown in the table cell
    quote: str  # the sentence it was read from (verbatim)
    name: str = ""  # metric or model name
    number: str = ""


def metrics_in(sentence: str) -> list[Fact]:
    """Metric values stated in a sentence: 'PSNR of 32.5 dB', 'FID 7.3', '32.5 dB PSNR'. A metric
    named with no number next to it is not a value and is not returned."""
    out = []
    for name, rx in _METRIC_RE.items():
        for m in rx.finditer(sentence):
            after = re.match(r"[\s:=,]*(?:of|is|=|:|score of|scores of|improves? (?:by|to)|to|reaches|by)?\s*(?:only\s+)?" + _NUM, sentence[m.end():m.end() + 40])
            before = re.search(_NUM + r"\s*(?:in|on|of)?\s*$", sentence[max(0, m.start() - 20):m.start()])
            hit = after or before
            if not hit:
                continue
            num, unit = hit.group(1), hit.group(2) or ""
            if not _plausible(name, float(num), unit):
                continue  # the number beside the name belongs to something else
            if not unit and name == "PSNR" and float(num) > 10:
                unit = "dB"  # PSNR is reported in dB even where a table header says so once
            shown = f"{name} {num}" + (f" {unit}" if unit == "dB" else unit)
            out.append(Fact("metric", f"{shown} ({METRICS[name][2]} is better)", sentence, name, num))
            break
    return out


# Values a metric can take; a number outside is another column's, read by mistake.
_RANGES = {"PSNR": (5, 100), "SSIM": (0, 1), "MS-SSIM": (0, 1), "LPIPS": (0, 1), "DISTS": (0, 1), "CLIPIQA": (0, 1),
           "MANIQA": (0, 1), "FID": (0, 500), "KID": (0, 100), "FVD": (0, 5000), "IS": (1, 1000), "NIQE": (0, 30),
           "MUSIQ": (0, 100), "CLIP score": (0, 100), "CMMD": (0, 10), "accuracy": (0, 100), "user preference": (0, 100)}


def _plausible(name: str, value: float, unit: str) -> bool:
    if name == "NFE":
        return value.is_integer() and 1 <= value <= 5000
    lo, hi = _RANGES.get(name, (0, float("inf")))
    if unit == "%":
        return 0 <= value <= 100 and name in ("accuracy", "user preference", "SSIM", "CLIP score")
    return lo <= value <= hi


def base_models_in(sentence: str) -> list[Fact]:
    """Named models a sentence says the method builds on (a cue like 'based on', 'fine-tune')."""
    if not _BASE_CUE.search(sentence):
        return []
    names = []
    for m in _BASE_RE.finditer(sentence):
        if m.group(1) not in names:
            names.append(m.group(1))
    return [Fact("base_model", ", ".join(names), sentence, ", ".join(names))] if names else []


def steps_in(sentence: str) -> list[Fact]:
    """Sampling steps / NFE a sentence states ('50 DDIM steps', 'NFE = 4', 'one-step')."""
    if not _STEP_CUE.search(sentence) or not _DIFFUSION_CUE.search(sentence):
        return []  # "two-step" training or "single step" of a CNN is not a sampling schedule
    for rx in _STEPS:
        m = rx.search(sentence)
        if m:
            phrase = m.group(0).strip()
            if re.fullmatch(r"\d+\s*steps?", phrase, re.I) and not re.search(r"sampl|denois|inference|NFE|DDIM|solver|diffusion", sentence, re.I):
                continue
            if m.group(1).isdigit() and int(m.group(1)) > 5000:
                continue  # training iterations, not sampling steps
            if re.search(r"\b(training|iterations?|epochs?)\b", sentence[max(0, m.start() - 30):m.end() + 20], re.I) and not re.search(r"sampl|inference|NFE", sentence, re.I):
                continue
            return [Fact("steps", phrase, sentence, number=m.group(1))]
    return []


def datasets_in(sentence: str, *, training: bool) -> list[Fact]:
    cue = _TRAIN_CUE if training else _EVAL_CUE
    if not cue.search(sentence):
        return []
    names = []
    for m in _DATA_RE.finditer(sentence):
        if m.group(1) not in names:
            names.append(m.group(1))
    return [Fact("dataset", ", ".join(names), sentence, ", ".join(names))] if names else []


def code_links_in(text: str) -> list[str]:
    links = [m.group(0).rstrip(".,;)") for m in _CODE.finditer(text)]
    links += [m.group(0).rstrip(".,;)") for m in _PROJECT.finditer(text)]
    return list(dict.fromkeys(links))
