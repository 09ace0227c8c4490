"""Exclusive file locks: one process owns a data dir, and one process owns a store folder.

``flock`` locks belong to an open file description, so a second opener is refused even inside the
same process, and the kernel drops the lock when its process dies: nothing stale is left behind.
A refused lock raises StoreLocked because of the lock call's own exception type (BlockingIOError),
never because of what an engine's error message says.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from paperlens.errors import StoreLocked


class FileLock:
    """Holds an exclusive lock on `path` (created if missing) until release(); the file names the
    owning process, so the refusal can say who holds it."""

    def __init__(self, lock_file: Path, refusal: str, extra: dict[str, str]) -> None:
        """refusal: the StoreLocked message, with '{owner}' where the holder goes; extra: the
        error's machine-readable context."""
        lock_file.parent.mkdir(parents=True, exist_ok=True)
        self.path = lock_file
        self._fh = open(lock_file, "a+")
        try:
            fcntl.flock(self._fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._fh.seek(0)
            owner = self._fh.read().strip() or "another process"
            self._fh.close()
            raise StoreLocked(refusal.replace("{owner}", owner), **extra) from None
        self._fh.seek(0)
        self._fh.truncate()
        self._fh.write(f"pid {os.getpid()}")
        self._fh.flush()

    def release(self) -> None:
        if not self._fh.closed:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()


def data_dir_lock(data_dir: Path) -> FileLock:
    """The embedded store belongs to one process: a second `paperlens` on the same data dir is
    told what to do instead."""
    return FileLock(
        data_dir / "paperlens.lock",
        f"the data dir {data_dir} is in use by {{owner}}. While `paperlens serve` runs, ingest "
        "through its API (POST /api/ingest, or `paperlens ingest --server URL ...`), or stop it first.",
        {"data_dir": str(data_dir)},
    )


def store_lock(folder: Path, what: str, extra: dict[str, str]) -> FileLock:
    """A lock beside an on-disk store folder (it must also cover the folder's creation)."""
    return FileLock(folder.parent / f".{folder.name}.lock", f"{what} {folder} is in use by {{owner}}", extra)
