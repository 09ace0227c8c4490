"""The PDF parse runs in child processes, under limits: MuPDF is not safe on untrusted files.

MuPDF can crash, hang or eat memory on hostile or broken files and is not thread-safe, so
``parse_pdf`` / ``parse_many`` run the parse in child processes (forkserver, never fork: the
parent holds torch threads) under an address-space limit and a wall-clock timeout, and turn every
failure into a ``ParseError`` that names the file and the reason. The memory limit is RLIMIT_AS:
it counts address space, and a child with pymupdf loaded already maps about 0.5 GB (mostly
reserved, unused), so limits under ~1 GB fail every file while runaway growth is still caught.
Children start from a forkserver (or spawn), so they re-import the parent's ``__main__`` module:
scripts that call ``parse_many`` need the usual ``if __name__ == "__main__":`` guard.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from paperlens.errors import ParseError, TooLarge
from paperlens.models import Document

from .document import parse_pdf_inprocess


def _start_method() -> str:
    return "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


def _context() -> multiprocessing.context.BaseContext:
    ctx = multiprocessing.get_context(_start_method())
    if _start_method() == "forkserver":
        # Children fork from a server that already imported pymupdf (this module imports the parser,
        # which imports it): ~ms per file, not ~0.3 s.
        ctx.set_forkserver_preload([__name__])
    return ctx


def _child(conn: multiprocessing.connection.Connection, path: str, max_pages: int, memory_mb: int) -> None:
    try:
        import resource

        limit = memory_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError):  # no RLIMIT_AS on this platform: timeout still holds
        pass
    try:
        result: tuple[str, Any] = ("ok", parse_pdf_inprocess(Path(path), max_pages))
    except ParseError as e:
        result = ("error", e.detail, e.extra.get("reason", "unreadable"))
    except MemoryError:
        result = ("error", f"{path}: memory limit exceeded ({memory_mb} MB)", "memory")
    except Exception as e:  # MuPDF raises its own types; a malloc failure is one of them
        msg = str(e)
        if "malloc" in msg or "out of memory" in msg.lower():
            result = ("error", f"{path}: memory limit exceeded ({memory_mb} MB)", "memory")
        else:
            result = ("error", f"{path}: unreadable PDF ({type(e).__name__}: {msg})", "unreadable")
    try:
        conn.send(result)
    except MemoryError:
        conn.send(("error", f"{path}: memory limit exceeded ({memory_mb} MB)", "memory"))
    conn.close()


@dataclass
class _Job:
    path: Path
    process: Any
    conn: multiprocessing.connection.Connection
    deadline: float
    timeout_s: float
    memory_mb: int


def _check_size(path: Path, max_bytes: int) -> None:
    try:
        size = path.stat().st_size
    except OSError as e:
        raise ParseError(f"{path}: cannot read file ({e.strerror})", path=str(path), reason="missing") from e
    if size > max_bytes:
        raise TooLarge(
            f"{path}: {size / 2**20:.1f} MiB is over the {max_bytes / 2**20:.0f} MiB limit",
            path=str(path),
            bytes=size,
        )


def _start(ctx: Any, path: Path, timeout_s: float, memory_mb: int, max_pages: int) -> _Job:
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(send, str(path), max_pages, memory_mb), daemon=True)
    proc.start()
    send.close()  # the child holds the other end; EOF on recv then means the child is gone
    return _Job(path, proc, recv, time.monotonic() + timeout_s, timeout_s, memory_mb)


def _finish(job: _Job, timed_out: bool) -> Document | ParseError:
    """Collect a finished (or overdue) child's result and reap it."""
    result = None
    if not timed_out:
        try:
            result = job.conn.recv()
        except (EOFError, OSError):
            result = None
    job.conn.close()
    if timed_out:
        job.process.kill()
    job.process.join(5)
    if job.process.is_alive():  # sent its result but hangs on the way out: reap it, leave no orphan
        job.process.kill()
        job.process.join(5)
    path = job.path
    if timed_out:
        return ParseError(f"{path}: parsing timed out after {job.timeout_s:g} s", path=str(path), reason="timeout")
    if result is None:
        code = job.process.exitcode
        if code is not None and code < 0:
            reason = f"crashed with signal {-code}"
            if -code == 9:  # the kernel's OOM killer, or someone else, sent SIGKILL
                reason += " (killed: out of memory?)"
            return ParseError(f"{path}: parser {reason}", path=str(path), reason="crash", signal=-code)
        return ParseError(f"{path}: parser exited with code {code} without a result", path=str(path), reason="crash")
    if result[0] == "ok":
        return result[1]
    return ParseError(result[1], path=str(path), reason=result[2])


def parse_many(
    paths: Iterable[Path | str],
    *,
    workers: int,
    timeout_s: float = 120,
    memory_mb: int = 2048,
    max_pages: int = 2000,
    max_bytes: int = 100 * 2**20,
) -> Iterator[tuple[Path, Document | ParseError | TooLarge]]:
    """Parse PDFs in up to `workers` child processes at once; yield (path, Document or error)
    as each finishes (order may differ from `paths`). A failing file never stops the batch:
    its error (a ParseError, or TooLarge for a file over `max_bytes`) is yielded in its place."""
    ctx = _context()
    todo = [Path(p) for p in paths]
    todo.reverse()
    running: list[_Job] = []
    try:
        while todo or running:
            while todo and len(running) < max(1, workers):
                path = todo.pop()
                try:
                    _check_size(path, max_bytes)
                except (ParseError, TooLarge) as e:
                    yield path, e
                    continue
                running.append(_start(ctx, path, timeout_s, memory_mb, max_pages))
            if not running:
                continue
            now = time.monotonic()
            wait_s = max(0.0, min(j.deadline for j in running) - now)
            ready = multiprocessing.connection.wait(
                [j.conn for j in running] + [j.process.sentinel for j in running], timeout=wait_s
            )
            now = time.monotonic()
            for job in list(running):
                done = job.conn in ready or job.process.sentinel in ready
                overdue = not done and now >= job.deadline
                if done or overdue:
                    running.remove(job)
                    yield job.path, _finish(job, timed_out=overdue)
    finally:
        for job in running:  # the consumer stopped early: leave no orphans
            job.process.kill()
            job.process.join(5)
            job.conn.close()


def parse_pdf(
    path: Path | str,
    *,
    timeout_s: float = 120,
    memory_mb: int = 2048,
    max_pages: int = 2000,
    max_bytes: int = 100 * 2**20,
) -> Document:
    """Parse one PDF in a child process; raise ParseError (or TooLarge) naming the file."""
    path = Path(path)
    for _, result in parse_many(
        [path], workers=1, timeout_s=timeout_s, memory_mb=memory_mb, max_pages=max_pages, max_bytes=max_bytes
    ):
        if isinstance(result, Exception):
            raise result
        return result
    raise AssertionError("unreachable")  # parse_many yields exactly once per path
