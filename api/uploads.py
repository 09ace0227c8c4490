"""Where uploaded PDFs wait for their ingest job, and the disk they may use.

    data_dir/uploads/.incoming-<random>/   a request being received (removed if it is refused)
    data_dir/uploads/<job_id>/N.pdf         accepted: waits for its job, deleted when the job ends
    data_dir/uploads/kept/<sha256>.pdf      originals kept after their job (keep_uploads)

Every byte written goes through `UploadStore`, which keeps the total under max_upload_disk_mb
(507 past it) exactly, also with several uploads at once. At start `clean` removes what a killed
server left behind: incoming folders, and job folders of jobs that no longer wait.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import threading
import unicodedata
import uuid
from pathlib import Path

from paperlens.errors import InsufficientStorage

log = logging.getLogger(__name__)
INCOMING = ".incoming-"
KEPT = "kept"


def display_name(filename: str | None, index: int) -> str:
    """A client's file name, safe to show and log: its last component, printable, at most 120 chars."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip()
    return name[:120] or f"file {index + 1}"


class UploadStore:
    def __init__(self, root: Path, quota_bytes: int, keep: bool) -> None:
        self.root = root
        self.quota = quota_bytes
        self.keep = keep
        self._lock = threading.Lock()
        self.root.mkdir(parents=True, exist_ok=True)
        self._used = 0

    # --- start-up --------------------------------------------------------------------------------
    def clean(self, waiting_jobs: set[str]) -> int:
        """Remove everything but kept originals and the folders of jobs still waiting; count the rest."""
        removed = 0
        for entry in self.root.iterdir():
            if entry.name == KEPT or entry.name in waiting_jobs:
                continue
            removed += 1
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
        if removed:
            log.warning("removed %d upload leftovers of an earlier run from %s", removed, self.root)
        with self._lock:
            self._used = _size(self.root)
        return removed

    @property
    def used(self) -> int:
        with self._lock:
            return self._used

    # --- receiving ---------------------------------------------------------------------------------
    def incoming(self) -> Incoming:
        path = self.root / f"{INCOMING}{uuid.uuid4().hex}"
        path.mkdir()
        return Incoming(self, path)

    def _reserve(self, n: int) -> None:
        with self._lock:
            if self._used + n > self.quota:
                raise InsufficientStorage(
                    f"the uploads quota of {self.quota / 2**20:g} MiB (max_upload_disk_mb) is used up by uploads "
                    "waiting for their jobs; retry once they have run", quota_bytes=self.quota,
                )
            self._used += n

    def _release(self, n: int) -> None:
        with self._lock:
            self._used = max(0, self._used - n)

    # --- after the job ---------------------------------------------------------------------------
    def job_dir(self, job_id: str) -> Path:
        return self.root / job_id

    def finish(self, job_id: str) -> None:
        """The job ended (done, failed, cancelled): delete its uploads, or keep the originals."""
        folder = self.job_dir(job_id)
        if not folder.is_dir():
            return
        kept = self.root / KEPT
        for f in sorted(folder.iterdir()):
            size = f.stat().st_size
            if self.keep:
                kept.mkdir(exist_ok=True)
                target = kept / f"{_sha256(f)[:32]}{f.suffix}"
                if target.exists():  # the same bytes kept before: one copy
                    f.unlink()
                    self._release(size)
                else:
                    os.replace(f, target)
            else:
                f.unlink()
                self._release(size)
        shutil.rmtree(folder, ignore_errors=True)


class Incoming:
    """One request's files while they arrive: `write` counts against the quota; `commit` moves them
    under the job's id; `discard` (also on any error) removes them and gives their bytes back."""

    def __init__(self, store: UploadStore, path: Path) -> None:
        self.store, self.path = store, path
        self.bytes = 0
        self.files: list[Path] = []

    def new_file(self) -> Path:
        path = self.path / f"{len(self.files) + 1}.pdf"
        self.files.append(path)
        return path

    def reserve(self, n: int) -> None:
        self.store._reserve(n)
        self.bytes += n

    def commit(self, job_id: str) -> dict[str, str]:
        """Rename the folder to the job's; old path -> new path of each file."""
        target = self.store.job_dir(job_id)
        os.replace(self.path, target)
        moved = {str(f): str(target / f.name) for f in self.files}
        self.path, self.files = target, [target / f.name for f in self.files]
        return moved

    def discard(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
        self.store._release(self.bytes)
        self.bytes = 0


def _size(root: Path) -> int:
    total = 0
    for dirpath, _, files in os.walk(root):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    return total


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()
