"""Child simulators in their own process group, terminated together with this process.

:func:`run_in_group` runs one command (``iverilog``, ``vvp`` …) as the leader of a new session,
so a terminal's Ctrl-C reaches only this process, which then decides: on
:class:`KeyboardInterrupt` (SIGINT, or SIGTERM through :class:`cosim.errors.Interrupted`) or any
other exception the whole group gets SIGTERM, then SIGKILL after :data:`GRACE_S`.

A small guard process joins the group and holds the read end of a pipe whose write end only
this process has: if this process dies without cleaning up (SIGKILL, a crash), the pipe
closes, and the guard kills the group, so no simulator keeps running under PID 1.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO

__all__ = ["GRACE_S", "kill_group", "run_in_group", "sigint_ignored", "terminate_children"]

#: Children running under :func:`run_in_group` (in any thread), for :func:`terminate_children`.
_RUNNING: set[subprocess.Popen[bytes]] = set()
_RUNNING_LOCK = threading.Lock()

#: Seconds between SIGTERM and SIGKILL of a child group.
GRACE_S = 3.0

# The guard: ignore SIGINT/SIGTERM, wait for the parent's pipe to close; "ok" means the child
# finished normally; anything else (EOF without "ok": the parent died) kills the group.
_GUARD = """
import os, signal, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
pgid = int(sys.argv[1])
if sys.stdin.buffer.read() != b"ok":
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            break
        time.sleep(GRACE)
""".replace("GRACE", repr(GRACE_S))


@contextlib.contextmanager
def sigint_ignored() -> Iterator[None]:
    """SIGINT ignored in this block: worker processes started here keep ignoring it, so a
    terminal's Ctrl-C (sent to the whole foreground process group) reaches only this process,
    which shuts them down; they print no tracebacks.  A no-op outside the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def terminate_children() -> None:
    """Terminate every child group started by :func:`run_in_group` that still runs (e.g.
    those waited for in worker threads, which a signal in the main thread does not reach)."""
    with _RUNNING_LOCK:
        running = list(_RUNNING)
    for proc in running:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in running:
        kill_group(proc)


def kill_group(proc: subprocess.Popen[bytes], grace_s: float = GRACE_S) -> None:
    """SIGTERM to ``proc``'s process group; SIGKILL to what is left once ``proc`` exited or
    after ``grace_s``."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace_s)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def _start_guard(pgid: int) -> tuple[subprocess.Popen[bytes], IO[bytes]] | None:
    try:
        guard = subprocess.Popen(
            [sys.executable, "-c", _GUARD, str(pgid)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            process_group=pgid,
        )
    except (OSError, PermissionError):  # the child already exited: nothing to guard
        return None
    assert guard.stdin is not None
    return guard, guard.stdin


def run_in_group(
    cmd: Sequence[str],
    *,
    cwd: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    stdout: IO[str] | IO[bytes] | None = None,
    stderr: IO[str] | IO[bytes] | int | None = None,
) -> int:
    """Run ``cmd`` in a new process group; return its exit status (negative: killed by signal).

    Raises:
        KeyboardInterrupt (and anything else raised while waiting): after the whole group was
            terminated.
    """
    proc = subprocess.Popen(
        list(cmd), cwd=cwd, env=dict(env) if env is not None else None, stdout=stdout,
        stderr=stderr, start_new_session=True,
    )  # fmt: skip
    guarded = _start_guard(proc.pid)
    with _RUNNING_LOCK:
        _RUNNING.add(proc)
    try:
        status = proc.wait()
    except BaseException:
        kill_group(proc)
        raise
    finally:
        with _RUNNING_LOCK:
            _RUNNING.discard(proc)
        if guarded is not None:
            guard, pipe = guarded
            with contextlib.suppress(OSError):
                if proc.returncode is not None:
                    pipe.write(b"ok")
                pipe.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                guard.wait(timeout=2 * GRACE_S + 1)
    return status
