"""Fault injection on the real tools: helpers to run ``cosim`` as a user would.

Every case checks the same contract (docs/reliability.md): a bad input gives one
``cosim: error: …`` line and exit status 2, a failed simulation exit status 1, never a Python
traceback; SIGINT/SIGTERM stop a command within seconds; no earlier result is lost.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Result:
    """What a ``cosim`` process did."""

    status: int
    out: str
    err: str
    seconds: float = 0.0  # from the signal to the exit (signal cases)

    def one_line_error(self, status: int = 2) -> str:
        """Assert: exit ``status``, exactly one ``cosim: error:`` line, no traceback."""
        assert self.status == status, (self.status, self.err[-2000:])
        assert "Traceback" not in self.err and "Exception ignored" not in self.err, self.err
        lines = [line for line in self.err.splitlines() if line.startswith("cosim: error:")]
        assert len(lines) == 1, self.err[-2000:]
        return lines[0]


def _env(extra: dict[str, str] | None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra or {})
    return env


def _foreground() -> None:
    """In the child: SIGINT as in a terminal's foreground job (not ignored, whatever the test
    runner inherited: ``make test &`` starts with SIGINT ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


RunCli = Callable[..., Result]


@pytest.fixture
def cosim() -> RunCli:
    """``cosim(*args, env=…, stdin=…)`` runs the command line's ``main`` in this process
    (stdout/stderr captured, ``env`` added to the environment for the call): the same error
    path as the console script, without a Python start-up per case.  Signal cases run real
    processes (:func:`signal_cosim`); ``process=True`` runs one in a fresh process (libngspice
    keeps the first OSDI model of a name for the life of the process)."""

    def run(
        *args: str,
        env: dict[str, str] | None = None,
        stdin: bytes | None = None,
        process: bool = False,
    ) -> Result:
        if process:  # a fresh process: e.g. another Verilog-A model of the same name
            proc = subprocess.run(
                [sys.executable, "-m", "cosim.cli", *args],
                input=stdin, capture_output=True, env=_env(env), timeout=600, check=False,
            )  # fmt: skip
            return Result(proc.returncode, proc.stdout.decode(), proc.stderr.decode())
        from cosim.cli import main

        saved_env, saved_stdin = dict(os.environ), sys.stdin
        os.environ.update(env or {})
        if stdin is not None:
            sys.stdin = io.TextIOWrapper(io.BytesIO(stdin))
        out, err = io.StringIO(), io.StringIO()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    status = main(list(args))
                except SystemExit as exc:  # argparse
                    status = exc.code if isinstance(exc.code, int) else 2
        finally:
            os.environ.clear()
            os.environ.update(saved_env)
            sys.stdin = saved_stdin
        return Result(status, out.getvalue(), err.getvalue())

    return run


def signal_cosim(
    args: Sequence[str],
    signum: int,
    *,
    when: Callable[[], bool],
    env: dict[str, str] | None = None,
    timeout: float = 300,
) -> tuple[Result, int]:
    """Start ``cosim args`` in its own session, send ``signum`` to its process group (as a
    terminal does) once ``when()`` is true; returns the result and the session id."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "cosim.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(env),
        start_new_session=True,
        preexec_fn=_foreground,
    )
    deadline = time.monotonic() + timeout
    try:
        while not when():
            if proc.poll() is not None:
                out, err = proc.communicate()
                raise AssertionError(f"cosim ended before the signal: {err.decode()[-2000:]}")
            if time.monotonic() > deadline:
                raise AssertionError("the condition for the signal never came")
            time.sleep(0.1)
        os.killpg(proc.pid, signum)
        t0 = time.monotonic()
        out, err = proc.communicate(timeout=60)
        return Result(proc.returncode, out.decode(), err.decode(), time.monotonic() - t0), proc.pid
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def processes_in_session(sid: int) -> list[str]:
    """``pid command`` of every live process whose session id is ``sid``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            pid = stat.parent.name
            try:
                cmd = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                cmd = "?"
            found.append(f"{pid} {cmd}")
    return found


def process_exists(pattern: str) -> bool:
    """True if a live process's command line contains ``pattern``."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if pattern.encode() in cmdline.read_bytes():
                stat = (cmdline.parent / "stat").read_text().rsplit(")", 1)[1].split()
                if stat[0] != "Z":
                    return True
        except OSError:
            continue
    return False
