"""FST (GTKWave's compressed waveform format): written and read through GTKWave's own tools.

``vcd2fst`` and ``fst2vcd`` come with the ``gtkwave`` Debian package (``tools/setup.sh``
installs it).  Writing converts a finished VCD; reading streams ``fst2vcd``'s VCD through a
pipe, so every tool that reads a VCD (:func:`cosim.waves.read.iter_vcd`, ``cosim report``,
``cosim plot``) reads an FST file too, in bounded memory.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import IO

from cosim.errors import CosimError, UsageError

__all__ = ["FstError", "FstToolMissing", "is_fst", "open_fst_as_vcd", "write_fst"]


class FstError(CosimError):
    """A conversion to or from FST failed (the message carries the tool's output)."""


class FstToolMissing(UsageError):
    """GTKWave's ``vcd2fst``/``fst2vcd`` are not installed."""


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise FstToolMissing(
            f"{name} not found: FST needs GTKWave's tools (apt-get install gtkwave; "
            "tools/setup.sh installs it)"
        )
    return path


def is_fst(path: str | Path) -> bool:
    """Whether a file is FST (its first block type byte is 0; a VCD starts with text)."""
    with open(path, "rb") as fh:
        return fh.read(1) == b"\x00"


def write_fst(vcd_path: str | Path, fst_path: str | Path) -> Path:
    """Convert a VCD to FST with ``vcd2fst``.

    Raises:
        FstToolMissing: ``vcd2fst`` is not installed.
        FstError: the conversion failed.
    """
    vcd_path, fst_path = Path(vcd_path), Path(fst_path)
    tmp = fst_path.with_name(fst_path.name + ".part")
    proc = subprocess.run(
        [_tool("vcd2fst"), str(vcd_path), str(tmp)], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0 or not tmp.exists():
        tmp.unlink(missing_ok=True)
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise FstError(f"vcd2fst {vcd_path} failed (exit {proc.returncode}): {' | '.join(tail)}")
    tmp.replace(fst_path)
    return fst_path


class _FstAsVcd:
    """A read-only binary stream of ``fst2vcd``'s output (what the VCD reader iterates)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._proc = subprocess.Popen(
            [_tool("fst2vcd"), str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            bufsize=1 << 20,
        )
        assert self._proc.stdout is not None
        self._out: IO[bytes] = self._proc.stdout

    def readline(self) -> bytes:
        return self._out.readline()

    def __iter__(self) -> Iterator[bytes]:
        yield from self._out
        self._check()

    def read(self) -> bytes:
        """The rest of the text (the whole-file readers)."""
        data = self._out.read()
        self._check()
        return data

    def _check(self) -> None:
        code = self._proc.wait()
        if code != 0:
            err = self._proc.stderr.read().decode(errors="replace") if self._proc.stderr else ""
            raise FstError(f"fst2vcd {self._path} failed (exit {code}): {err.strip()[-300:]}")

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        self._out.close()
        if self._proc.stderr is not None:
            self._proc.stderr.close()

    def __enter__(self) -> _FstAsVcd:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def open_fst_as_vcd(path: str | Path) -> IO[bytes]:
    """The VCD text of an FST file, streamed from ``fst2vcd`` (close it to stop the tool).

    Raises:
        FstToolMissing: ``fst2vcd`` is not installed.
    """
    return _FstAsVcd(Path(path))  # type: ignore[return-value]
