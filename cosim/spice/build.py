"""Build the compiled lockstep helper (``synchelper.c``, ``vpisync.c``) with the system cc.

The helper is shipped as source next to this module and compiled on first use into the build
cache (:func:`cosim.resources.cache_dir`, ``synchelper/``), named by the sources' hash so an
edited source is rebuilt. ``vpisync.c`` (the bridge driven from VPI callbacks) needs Icarus's
``vpi_user.h`` (found with ``iverilog-vpi --cflags``, else in the usual include folders);
without it the helper is built without the VPI bridge. Without a compiler (or with
``COSIM_SYNC=python``) :class:`cosim.spice.ngspice.NgSpice` keeps its pure-Python lockstep;
:func:`helper_library` says why.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path

from cosim.resources import cache_dir

__all__ = ["ENV_SYNC", "SOURCE", "helper_library"]

ENV_SYNC = "COSIM_SYNC"
"""``python``: use the pure-Python lockstep; ``auto`` (default): the compiled helper if it
builds; ``c``: the compiled helper or an error."""

SOURCE = Path(__file__).with_name("synchelper.c")
SOURCES = (SOURCE, SOURCE.with_name("vpisync.c"), SOURCE.with_name("synchelper.h"))
_INCLUDES = (Path("/usr/include/iverilog"), Path("/usr/local/include/iverilog"))


def _vpi_flags() -> list[str]:
    """``-I`` for ``vpi_user.h`` (Icarus), or ``-DCS_NO_VPI`` when it is not installed."""
    tool = shutil.which("iverilog-vpi")
    if tool is not None:
        try:
            out = subprocess.run(
                [tool, "--cflags"], capture_output=True, text=True, timeout=30, check=False
            ).stdout
        except (OSError, subprocess.SubprocessError):
            out = ""
        for word in out.split():
            if word.startswith("-I") and (Path(word[2:]) / "vpi_user.h").is_file():
                return [word]
    for folder in _INCLUDES:
        if (folder / "vpi_user.h").is_file():
            return [f"-I{folder}"]
    return ["-DCS_NO_VPI"]


@cache
def _build(source_text: bytes) -> tuple[Path | None, str]:
    flags = _vpi_flags()
    digest = hashlib.sha256(source_text + " ".join(flags).encode()).hexdigest()[:16]
    target = cache_dir() / "synchelper" / f"synchelper-{digest}.so"
    if target.is_file():
        return target, f"compiled helper {target}"
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        return None, "no C compiler (cc) found: pure-Python lockstep"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".so", dir=target.parent)
        os.close(fd)
    except OSError as exc:
        return None, f"cannot write to {target.parent}: {exc}: pure-Python lockstep"
    command = [compiler, "-O2", "-shared", "-fPIC", "-pthread", *flags, "-o", tmp]
    command += [str(p) for p in SOURCES if p.suffix == ".c"] + ["-lm", "-ldl"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            first = (done.stderr.strip().splitlines() or ["(no message)"])[0]
            return None, f"{compiler} failed on {SOURCE.name}: {first}: pure-Python lockstep"
        os.replace(tmp, target)
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"cannot run {compiler}: {exc}: pure-Python lockstep"
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target, f"compiled helper {target}"


def helper_library() -> tuple[Path | None, str]:
    """The compiled helper (built now if needed), or None and the reason it is not used."""
    mode = os.environ.get(ENV_SYNC, "auto").strip().lower()
    if mode == "python":
        return None, f"{ENV_SYNC}=python: pure-Python lockstep"
    try:
        text = b"".join(p.read_bytes() for p in SOURCES)
    except OSError as exc:
        return None, f"helper source missing ({exc}): pure-Python lockstep"
    return _build(text)
