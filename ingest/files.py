"""Reading source files safely: which files may be read, and reads bounded in size and time.

The CLI reads files for the machine's own user; the API reads them for clients it does not trust.
Both go through here, so that neither can be stalled by a FIFO or a device, or made to read without
bound, and the API cannot be led outside the folders its operator allowed:

    Scope          which paths may be read: any (the CLI) or only inside roots (the API); regular
                   files only; dot files and dot folders skipped unless asked
    Budget         a deadline and a cancel flag, checked between reads (a job's time limit)
    open_bounded   a regular file, opened without blocking and checked *after* opening (fstat, and
                   for a confined scope the real path of the open descriptor), read at most max_bytes

A refusal under a confined scope says the same thing whether the path is missing, outside the
roots, hidden or not a regular file, so answers never tell a client which server paths exist.
"""

from __future__ import annotations

import io
import os
import stat
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from paperlens.errors import Forbidden, Stopped, TooLarge, UnsupportedSource

REFUSED = ("not a file or folder the server may ingest: it is missing, outside PAPERLENS_INGEST_ROOTS, "
           "hidden, or not a regular file")
_KINDS = {stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
          stat.S_IFSOCK: "a socket", stat.S_IFLNK: "a symbolic link"}


def _under(real: str, folder: str) -> bool:
    return real == folder or real.startswith(folder.rstrip(os.sep) + os.sep)


def _kind(mode: int) -> str:
    return _KINDS.get(stat.S_IFMT(mode), "not a regular file")


class Scope:
    """Which paths may be read. `roots=None`: any path (the CLI: its user owns the machine)."""

    def __init__(self, roots: Sequence[Path] | None = None, *, hidden: bool = False,
                 exclude: Sequence[Path] = ()) -> None:
        self.roots = None if roots is None else tuple(os.path.realpath(r) for r in roots)
        self.hidden = hidden
        self.exclude = tuple(os.path.realpath(e) for e in exclude)  # e.g. the data dir, inside a root

    @property
    def confined(self) -> bool:
        return self.roots is not None

    def refusal(self, path: Path | str, why: str) -> UnsupportedSource:
        """The error for a path this scope will not read: uniform when confined."""
        if self.confined:
            return Forbidden(REFUSED)
        return UnsupportedSource(f"{path}: {why}", path=str(path))

    def root_of(self, real: str) -> str | None:
        """The root that holds this real (symlink-free) path, if any (none for an excluded path)."""
        if any(_under(real, e) for e in self.exclude):
            return None
        for root in self.roots or ():
            if _under(real, root):
                return root
        return None

    def _hidden(self, real: str, base: str) -> bool:
        rel = os.path.relpath(real, base)
        return not self.hidden and any(part.startswith(".") and part not in (".", "..") for part in rel.split(os.sep))

    def resolve(self, path: Path | str) -> Path:
        """The path of a regular file or folder this scope may read, or an error.

        Confined: a relative path is taken inside each root in turn; the real path (symlinks and
        '..' resolved) must lie inside a root and name no dot file or folder below it."""
        try:
            if not self.confined:
                st = os.stat(path)
                if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
                    raise self.refusal(path, f"{_kind(st.st_mode)}, not a regular file or folder")
                return Path(path)
            candidates = [str(path)] if os.path.isabs(path) else [os.path.join(r, path) for r in self.roots]
            for candidate in candidates:
                real = os.path.realpath(candidate)
                root = self.root_of(real)
                if root is None or self._hidden(real, root):
                    continue
                try:
                    st = os.stat(real)
                except OSError:
                    continue
                if stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode):
                    return Path(real)
            raise self.refusal(path, "refused")
        except (OSError, ValueError) as exc:  # missing, name too long, a NUL byte, a loop, no permission
            if isinstance(exc, FileNotFoundError):
                raise self.refusal(path, "no such file or folder") from None
            raise self.refusal(path, f"cannot be read ({getattr(exc, 'strerror', None) or exc})") from None

    def walk(self, folder: Path, budget: Budget | None = None) -> list[Path]:
        """Every regular file under `folder` this scope may read, sorted. Symlinked folders are
        not entered; a symlinked file is kept only if its target is in scope; dot files and dot
        folders are skipped unless `hidden`."""
        found: list[Path] = []
        for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
            if budget is not None:
                budget.check()
            if not self.hidden:
                dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            for name in filenames:
                if not self.hidden and name.startswith("."):
                    continue
                full = os.path.join(dirpath, name)
                try:
                    if self.confined:
                        real = os.path.realpath(full)
                        root = self.root_of(real)
                        if root is None or self._hidden(real, root):
                            continue
                        full = real
                    if stat.S_ISREG(os.stat(full).st_mode):
                        found.append(Path(full))
                except (OSError, ValueError):
                    continue
        return sorted(found)


class Budget:
    """A job's limits, checked between reads and files: a deadline and a cancel flag."""

    def __init__(self, timeout_s: float | None = None, cancelled: threading.Event | None = None) -> None:
        self.timeout_s = timeout_s
        self.deadline = time.monotonic() + timeout_s if timeout_s else None
        self.cancelled = cancelled or threading.Event()

    def check(self) -> None:
        if self.cancelled.is_set():
            raise Stopped("the job was cancelled", reason="cancelled")
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise Stopped(f"the job ran past its time limit of {self.timeout_s:g} s (job_timeout_s)", reason="timeout")


class _Bounded(io.RawIOBase):
    """A readable that refuses to yield more than `max_bytes` and checks the budget on each read."""

    def __init__(self, inner: BinaryIO, max_bytes: int | None, label: str, budget: Budget | None) -> None:
        self.inner, self.max_bytes, self.label, self.budget = inner, max_bytes, label, budget
        self.seen = 0
        self._read = getattr(inner, "read1", inner.read)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.budget is not None:
            self.budget.check()
        # read1: what the inner stream has now (a truncated .gz still yields the lines before the cut)
        data = self._read(len(buffer))
        n = len(data)
        self.seen += n
        if self.max_bytes is not None and self.seen > self.max_bytes:
            raise TooLarge(f"{self.label}: over the limit of {_mb(self.max_bytes)}", limit_bytes=self.max_bytes)
        buffer[:n] = data
        return n

    def close(self) -> None:
        try:
            self.inner.close()
        finally:
            super().close()


def _mb(n: int) -> str:
    return f"{n / 2**20:g} MiB"


def bounded(inner: BinaryIO, max_bytes: int | None, label: str, budget: Budget | None = None) -> io.BufferedReader:
    """`inner` read through a size cap and a budget (e.g. the inflated side of a .gz)."""
    return io.BufferedReader(_Bounded(inner, max_bytes, label, budget), buffer_size=1 << 16)


def open_bounded(path: Path | str, max_bytes: int | None = None, *, budget: Budget | None = None,
                 scope: Scope | None = None) -> io.BufferedReader:
    """Open a regular file for reading without ever blocking on open (a FIFO, a device), checked
    after opening so that a file swapped since it was listed is caught too; reads past max_bytes
    raise TooLarge, and each read checks `budget`."""
    scope = scope or Scope()
    label = Path(path).name
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except (OSError, ValueError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise scope.refusal(path, "no such file") from None
        raise scope.refusal(path, f"cannot be read ({getattr(exc, 'strerror', None) or exc})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise scope.refusal(path, f"{_kind(st.st_mode)}, not a regular file")
        if scope.confined:
            real = _fd_path(fd) or os.path.realpath(path)
            root = scope.root_of(real)
            if root is None or scope._hidden(real, root):
                raise scope.refusal(path, "outside the roots")
        if max_bytes is not None and st.st_size > max_bytes:
            raise TooLarge(f"{label}: {st.st_size / 2**20:.1f} MiB, over the limit of {_mb(max_bytes)}",
                           limit_bytes=max_bytes)
        os.set_blocking(fd, True)
        raw = io.FileIO(fd, "rb", closefd=True)
    except BaseException:
        os.close(fd)
        raise
    return bounded(raw, max_bytes, label, budget)


def read_head(path: Path | str, n: int, scope: Scope | None = None) -> bytes:
    """The first n bytes of a regular file (kind sniffing), never blocking."""
    with open_bounded(path, None, scope=scope) as fh:
        return fh.read(n)


def _fd_path(fd: int) -> str | None:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:  # no /proc (macOS): the caller falls back to the path's realpath
        return None

