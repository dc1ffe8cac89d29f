"""Output directories that never lose earlier results: a lock, a fresh temporary directory,
and an atomic swap on success.

A run that writes into ``--out DIR`` (:class:`RunDir`):

1. checks that ``DIR`` can be a directory (not a file, not under a file, writable) and that it
   is empty or an earlier run's directory (it has ``config.json``): nothing else is replaced;
2. takes an exclusive lock ``.DIR.lock`` next to it (``flock``: released by the kernel even
   when the process is killed), so a second run into the same directory stops at once with a
   message naming the other run's process id;
3. writes everything into a fresh ``.DIR.tmp-<pid>-<random>`` next to ``DIR``;
4. on success, swaps it in: ``DIR`` → ``.DIR.old-<pid>``, the temporary directory → ``DIR``
   (two ``rename`` calls with SIGINT/SIGTERM blocked), then deletes the old one;
5. on failure or interrupt, leaves ``DIR`` untouched and keeps what the run wrote as
   ``DIR.partial`` (with ``PARTIAL.txt`` saying why), replacing an earlier ``DIR.partial``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import IO

from cosim.errors import UsageError

__all__ = ["OutputBusyError", "RunDir", "atomic_file", "check_output_dir", "check_output_file"]


class OutputBusyError(UsageError):
    """Another run holds the lock of the output directory."""


def check_output_dir(out: Path, option: str = "--out") -> Path:
    """``out`` resolved, after checking that it is or can become a writable directory.

    Raises:
        UsageError: ``out`` is a file, lies under a file, or its parent is not writable.
    """
    out = Path(out).expanduser().resolve()
    if out.exists() and not out.is_dir():
        raise UsageError(f"{option} {out}: exists and is not a directory")
    parent = out.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise UsageError(f"{option} {out}: {parent} is a file, not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {out}: cannot write in {parent} (permission denied)")
    return out


def check_output_file(path: Path, option: str, suffixes: tuple[str, ...]) -> Path:
    """``path`` after checking its extension and that it can be written (not a directory, not
    under a file, in a writable directory).

    Raises:
        UsageError: the message names the option, the path and what is allowed.
    """
    path = Path(path).expanduser()
    if path.is_dir():
        raise UsageError(
            f"{option} {path}: is a directory; give a file name ending in {' or '.join(suffixes)}"
        )
    if path.suffix.lower() not in suffixes:
        raise UsageError(
            f"{option} {path}: unknown file type {path.suffix or '(no extension)'!r}; "
            f"allowed: {', '.join(suffixes)}"
        )
    check_output_dir(path.parent.resolve(), f"{option} {path}: directory")
    return path


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[Path]:
    """A temporary path next to ``path``, renamed onto it only if the block succeeds.

    The temporary name keeps the extension (matplotlib picks the format from it); an earlier
    ``path`` survives a failed or interrupted write.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def _signals_blocked() -> Iterator[None]:
    """SIGINT and SIGTERM held back (delivered on exit): for the two renames of a swap."""
    mask = {signal.SIGINT, signal.SIGTERM}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, mask)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


class RunDir:
    """Lock ``out``, give a fresh temporary directory, and publish it only on success.

    Use as a context manager; write into :attr:`tmp`; call :meth:`commit` when the run
    succeeded.  Leaving the block without :meth:`commit` keeps the earlier ``out``; the files
    written so far become ``<out>.partial`` if :attr:`keep_partial` was set (by then the run
    produced something worth keeping), else they are deleted.

    Args:
        out: the final output directory.
        option: the option name used in messages (``--out``).
    """

    def __init__(self, out: Path, option: str = "--out", marker: str = "config.json") -> None:
        self.out = check_output_dir(out, option)
        self.marker = marker
        self.option = option
        self.lock_path = self.out.parent / f".{self.out.name}.lock"
        self.partial = self.out.parent / f"{self.out.name}.partial"
        self.tmp = self.out.parent / f".{self.out.name}.tmp-{os.getpid()}-{secrets.token_hex(3)}"
        self.keep_partial = False
        self.committed = False
        self._lock: IO[str] | None = None

    def __enter__(self) -> RunDir:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self._take_lock()
        try:
            self._check_replaceable()
        except BaseException:
            self._release_lock()
            raise
        try:
            self.tmp.mkdir()
        except BaseException:
            self._release_lock()
            raise
        return self

    def _check_replaceable(self) -> None:
        """Only an empty directory or an earlier run's (it has ``marker``) is ever replaced:
        ``--out ~/Documents`` must not swap a user's files away."""
        if not self.out.is_dir() or (self.out / self.marker).is_file():
            return
        if any(self.out.iterdir()):
            raise UsageError(
                f"{self.option} {self.out}: not empty and not an earlier run's directory (no "
                f"{self.marker}); a run replaces its whole --out, so choose a new or empty "
                "directory"
            )

    def _take_lock(self) -> None:
        fh = open(self.lock_path, "a+")  # noqa: SIM115 (held until __exit__)
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "unknown"
            fh.close()
            raise OutputBusyError(
                f"{self.option} {self.out} is in use by another cosim run (process {holder}, "
                f"lock file {self.lock_path}); wait for it to finish or choose another "
                f"{self.option}"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        self._lock = fh

    def _release_lock(self) -> None:
        if self._lock is not None:
            self._lock.close()  # closing the file releases the flock
            self._lock = None

    def commit(self) -> None:
        """Replace ``out`` by the temporary directory (an earlier ``out`` is deleted after)."""
        old = self.out.parent / f".{self.out.name}.old-{os.getpid()}"
        with _signals_blocked():
            if self.out.exists():
                os.rename(self.out, old)
            os.rename(self.tmp, self.out)
            self.committed = True
        shutil.rmtree(old, ignore_errors=True)
        shutil.rmtree(self.partial, ignore_errors=True)  # an older run's partial is stale now

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if not self.committed:
                self._discard(exc)
        finally:
            self._release_lock()

    def _discard(self, exc: BaseException | None) -> None:
        if not self.tmp.exists():
            return
        if not self.keep_partial:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return
        reason = "interrupted" if isinstance(exc, KeyboardInterrupt) else f"failed: {exc}"
        with contextlib.suppress(OSError):
            (self.tmp / "PARTIAL.txt").write_text(
                f"This run did not finish ({reason}).\n"
                f"Its files are incomplete; the results in {self.out} (if any) are untouched.\n"
            )
        with _signals_blocked():
            shutil.rmtree(self.partial, ignore_errors=True)
            os.rename(self.tmp, self.partial)
