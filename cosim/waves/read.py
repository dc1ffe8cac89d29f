"""Streaming VCD reading: header, value changes, traces; the errors of every VCD tool.

FST files are read too, as the VCD text ``fst2vcd`` streams (:mod:`cosim.waves.fst`).

A hand-rolled line parser over bytes (several times faster than ``vcd.reader.tokenize``, see
``bench/bench_metrics.py``) that never holds more than one line of the body in memory.  Its
fast path reads one value change, timestamp or keyword per body line (as Icarus Verilog, pyvcd
and GTKWave write them); a line that does not fit (several items on one line, indentation, a
``$dumpvars … $end`` block on one line, a ``$comment`` inside the body) is read token by token,
so every legal layout is accepted.  Real values ``nan``/``inf`` are passed on as floats (the
measurements report them).  Re-exported by :mod:`cosim.waves`.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import sys
import tempfile
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from cosim.errors import CosimError, UsageError
from cosim.waves.fst import open_fst_as_vcd

__all__ = [
    "Change",
    "END_ID",
    "UnknownSignalError",
    "VcdFormatError",
    "VcdHeader",
    "VcdNotFoundError",
    "VcdTimeOrderError",
    "VcdVar",
    "closest_names",
    "iter_vcd",
    "read_header",
    "seekable_vcd",
    "read_traces",
    "timescale_s",
]

#: A value change as yielded by :func:`iter_vcd`: ``(time in timescale ticks, id, value)``;
#: the value is a ``float`` for real vars, else the VCD string (``"1"``, ``"x"``, ``"0101"``).
Change = tuple[int, str, float | str]

#: Identifier of the last item :func:`iter_vcd` yields: ``(t_end, END_ID, "")`` where ``t_end``
#: is the file's last timestamp (the end of the recording; values hold until then).
END_ID = ""

_UNITS_S = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9, "ps": 1e-12, "fs": 1e-15}
_REAL_TYPES = frozenset({"real", "realtime", "shortreal", "real_parameter"})
_BODY_KEYWORDS = frozenset({b"$dumpvars", b"$dumpall", b"$dumpon", b"$dumpoff", b"$end"})
_RANGE_RE = re.compile(r"^(?P<ref>[^\[]+)(?P<range>\[[0-9:\-]+\])$")


class VcdFormatError(CosimError):
    """A VCD file is truncated or malformed (the message names the file and line)."""

    exit_status = 2  # bad input


class VcdNotFoundError(UsageError):
    """A VCD file named by the user does not exist."""


class VcdTimeOrderError(CosimError):
    """A writer was asked to go back in time."""


class UnknownSignalError(UsageError):
    """A signal name that the VCD (or writer) does not have; the message lists known ones."""


def closest_names(name: str, known: Iterable[str], n: int = 8) -> list[str]:
    """Known names ordered by similarity to ``name`` (best first), at most ``n``."""
    import difflib

    known = list(known)
    best = difflib.get_close_matches(name, known, n=n, cutoff=0.0)
    tail = name.rsplit(".", 1)[-1]
    same_leaf = [k for k in known if k.rsplit(".", 1)[-1] == tail and k not in best]
    return (same_leaf + best)[:n]


def timescale_s(text: str) -> float:
    """Seconds per tick of a VCD timescale such as ``"1ps"``, ``"1 ps"`` or ``"10 ns"``.

    Raises:
        ValueError: not a timescale (magnitude 1, 10 or 100 and a unit s … fs).
    """
    t = text.replace(" ", "").strip()
    digits = t.rstrip("afpnums")
    unit = t[len(digits) :]
    if digits not in ("1", "10", "100") or unit not in _UNITS_S:
        raise ValueError(f"bad timescale {text!r} (expected e.g. '1 ps', '10 ns')")
    return int(digits) * _UNITS_S[unit]


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class VcdVar:
    """One declared variable: ``name`` is the full dotted name (scopes + reference)."""

    name: str
    id: str
    type: str
    size: int
    range: str = ""
    scope_types: tuple[str, ...] = ()

    @property
    def is_real(self) -> bool:
        """True for real-valued vars (values are floats)."""
        return self.type in _REAL_TYPES


@dataclass(frozen=True)
class VcdHeader:
    """Header of a VCD: timescale and declared vars (in declaration order)."""

    path: Path
    timescale: str
    tick_s: float
    vars: tuple[VcdVar, ...]
    header_lines: int

    def by_name(self) -> dict[str, VcdVar]:
        """Vars keyed by full dotted name."""
        return {v.name: v for v in self.vars}

    def find(self, name: str) -> VcdVar:
        """The var called ``name``; :class:`UnknownSignalError` lists close matches."""
        found = self.by_name().get(name)
        if found is None:
            names = [v.name for v in self.vars]
            raise UnknownSignalError(
                f"{self.path}: no signal {name!r}; closest existing: "
                f"{closest_names(name, names)} ({len(names)} signals in all)"
            )
        return found


@contextlib.contextmanager
def seekable_vcd(path: str | Path) -> Iterator[Path]:
    """A regular file holding the VCD ``path``: ``-`` is standard input; a pipe or FIFO
    (``<(zcat run.vcd.gz)``) is copied to a temporary file first (the readers pass over a
    file more than once).  A regular file is used as it is."""
    text = str(path)
    if text != "-":
        try:
            mode = os.stat(text).st_mode
        except FileNotFoundError:
            raise VcdNotFoundError(f"VCD file not found: {text}") from None
        if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
            yield Path(text)
            return
    fd, name = tempfile.mkstemp(prefix="cosim-stdin-", suffix=".vcd")
    try:
        with os.fdopen(fd, "wb") as out:
            if text == "-":
                shutil.copyfileobj(sys.stdin.buffer, out, 1 << 20)
            else:
                with open(text, "rb") as src:
                    shutil.copyfileobj(src, out, 1 << 20)
        try:
            yield Path(name)
        except CosimError as exc:  # name what the user gave, not the temporary copy
            exc.args = (str(exc).replace(name, "<stdin>" if text == "-" else text),)
            raise
    finally:
        os.unlink(name)


def _open_vcd(path: str | Path) -> IO[bytes]:
    """The VCD text of a file: the file itself, or an FST file's, through ``fst2vcd``."""
    p = Path(path)
    try:
        fh = open(p, "rb", buffering=1 << 20)  # noqa: SIM115
        if fh.peek(1)[:1] == b"\x00":  # type: ignore[attr-defined]
            fh.close()
            return open_fst_as_vcd(p)
        return fh
    except FileNotFoundError:
        raise VcdNotFoundError(f"VCD file not found: {p}") from None
    except IsADirectoryError:
        raise VcdNotFoundError(f"{p} is a directory, not a VCD file") from None


def _parse_header(fh: IO[bytes], path: Path) -> VcdHeader:
    """Read the header up to ``$enddefinitions`` (file positioned after it)."""
    scopes: list[str] = []
    scope_types: list[str] = []
    out: list[VcdVar] = []
    timescale = ""
    line_no = 0
    tokens: list[tuple[str, int]] = []

    def fail(msg: str, at: int) -> VcdFormatError:
        return VcdFormatError(f"{path}:{at}: {msg}")

    def take_until_end(start: int) -> list[str]:
        nonlocal line_no
        words: list[str] = []
        while True:
            while not tokens:
                raw = fh.readline()
                if not raw:
                    raise fail("truncated VCD header (missing $end)", start)
                line_no += 1
                tokens.extend((w, line_no) for w in raw.decode("utf-8", "replace").split())
            word, _ = tokens.pop(0)
            if word == "$end":
                return words
            words.append(word)

    while True:
        if not tokens:
            raw = fh.readline()
            if not raw:
                if line_no == 0:
                    raise fail("empty file (not a VCD)", 1)
                raise fail("truncated VCD header (no $enddefinitions)", line_no)
            line_no += 1
            tokens.extend((w, line_no) for w in raw.decode("utf-8", "replace").split())
            continue
        word, at = tokens.pop(0)
        if word == "$enddefinitions":
            take_until_end(at)
            if tokens:
                raise fail("unexpected text after $enddefinitions $end", at)
            break
        if word == "$scope":
            args = take_until_end(at)
            if len(args) != 2:
                raise fail(f"$scope needs a type and a name, got {args}", at)
            scope_types.append(args[0])
            scopes.append(args[1])
        elif word == "$upscope":
            take_until_end(at)
            if not scopes:
                raise fail("$upscope without $scope", at)
            scopes.pop()
            scope_types.pop()
        elif word == "$var":
            args = take_until_end(at)
            if len(args) not in (4, 5):
                raise fail(f"$var needs: type size id reference [range], got {args}", at)
            vtype, size, ident, ref = args[:4]
            rng = args[4] if len(args) == 5 else ""
            m = _RANGE_RE.match(ref)
            if m and not rng:
                ref, rng = m["ref"], m["range"]
            try:
                n_bits = int(size)
            except ValueError:
                raise fail(f"$var size must be an integer, got {size!r}", at) from None
            name = ".".join((*scopes, ref))
            out.append(VcdVar(name, ident, vtype, n_bits, rng, tuple(scope_types)))
        elif word == "$timescale":
            timescale = " ".join(take_until_end(at))
        elif word.startswith("$"):
            take_until_end(at)
        else:
            raise fail(f"unexpected {word!r} in VCD header", at)
    if not timescale:
        timescale = "1 s"
    try:
        tick = timescale_s(timescale)
    except ValueError as exc:
        raise fail(str(exc), 1) from None
    return VcdHeader(path, timescale, tick, tuple(out), line_no)


def read_header(path: str | Path) -> VcdHeader:
    """The header of a VCD file (reads only up to ``$enddefinitions``)."""
    with _open_vcd(path) as fh:
        return _parse_header(fh, Path(path))


def iter_vcd(
    path: str | Path, ids: Collection[str] | None = None, *, partial: bool = False
) -> Iterator[VcdHeader | Change]:
    """Stream a VCD: first a :class:`VcdHeader`, then one :data:`Change` per value change.

    The last item is ``(t_end, END_ID, "")``: the file's last timestamp, which may lie after
    the last change (a writer's final ``#t`` marks how long values were held).

    Args:
        path: the VCD file.
        ids: if given, only changes of these identifiers are yielded (others are checked
            and skipped); timestamps are checked either way.
        partial: accept a file cut in the middle of its last line (a crashed writer): that
            line is dropped and the stream ends there.  Otherwise it is an error.

    Raises:
        VcdNotFoundError: the file does not exist.
        VcdFormatError: truncated or malformed file (message: ``file:line: what``).
    """
    p = Path(path)
    fh = _open_vcd(p)
    with fh:
        header = _parse_header(fh, p)
        yield header
        yield from _iter_body(fh, p, header, ids, partial)


def _iter_body(
    fh: IO[bytes], path: Path, header: VcdHeader, ids: Collection[str] | None, partial: bool
) -> Iterator[Change]:
    known: dict[bytes, str] = {v.id.encode(): v.id for v in header.vars}
    keep = None if ids is None else frozenset(ids)
    wanted = known if keep is None else {k: s for k, s in known.items() if s in keep}
    line_no = header.header_lines
    t = 0
    in_comment = False
    line = b""
    try:
        for line_no, line in enumerate(fh, header.header_lines + 1):  # noqa: B007
            if in_comment:
                in_comment = b"$end" not in line
                continue
            try:  # the fast path: one item per line, as Icarus, pyvcd and GTKWave write
                c = line[0] if line else 10
                if c == 114 or c == 82:  # r R
                    val, ident = line[1:].split()
                    sid = wanted.get(ident)
                    if sid is not None:
                        yield t, sid, float(val)
                    elif ident not in known:
                        raise KeyError(ident)
                elif c == 98 or c == 66:  # b B
                    val, ident = line[1:].split()
                    sid = wanted.get(ident)
                    if sid is not None:
                        yield t, sid, val.decode()
                    elif ident not in known:
                        raise KeyError(ident)
                elif c in b"01xzXZ":
                    ident = line[1:].strip()
                    sid = wanted.get(ident)
                    if sid is not None:
                        yield t, sid, chr(c)
                    elif ident not in known:
                        raise KeyError(ident)
                elif c == 35:  # '#'
                    t_new = int(line[1:])
                    if t_new < t:
                        raise ValueError(f"time goes backwards ({t_new} after {t})")
                    t = t_new
                elif c == 36:  # '$'
                    words = line.split()
                    word = words[0]
                    if word == b"$comment":
                        in_comment = b"$end" not in line
                    elif word not in _BODY_KEYWORDS or len(words) > 1:
                        raise ValueError(f"unexpected keyword {word.decode()!r}")
                elif c == 115 or c == 83:  # s S (string)
                    val, ident = line[1:].split()
                    sid = wanted.get(ident)
                    if sid is not None:
                        yield t, sid, val.decode()
                    elif ident not in known:
                        raise KeyError(ident)
                elif line.strip():
                    raise ValueError("not a value change, timestamp or keyword")
            except (ValueError, KeyError, IndexError):
                # Legal variants: several items on one line, indentation, a $dumpvars block
                # on one line.  Token by token; a real error is raised from here.
                tokens = line.split()
                k = 0
                while k < len(tokens):
                    tok = tokens[k]
                    k += 1
                    if in_comment:
                        in_comment = tok != b"$end"
                        continue
                    c = tok[0]
                    if c == 35:  # '#'
                        t_new = int(tok[1:])
                        if t_new < t:
                            raise ValueError(f"time goes backwards ({t_new} after {t})") from None
                        t = t_new
                        continue
                    if c == 36:  # '$'
                        if tok == b"$comment":
                            in_comment = True
                        elif tok not in _BODY_KEYWORDS:
                            raise ValueError(f"unexpected keyword {tok.decode()!r}") from None
                        continue
                    if c in b"rRbBsS":
                        ident = tokens[k]
                        k += 1
                        value: float | str = float(tok[1:]) if c in b"rR" else tok[1:].decode()
                    elif c in b"01xzXZ":
                        ident, value = tok[1:], chr(c)
                    else:
                        raise ValueError("not a value change, timestamp or keyword") from None
                    sid = wanted.get(ident)
                    if sid is not None:
                        yield t, sid, value
                    elif ident not in known:
                        raise KeyError(ident) from None
    except (ValueError, KeyError, IndexError) as exc:
        if partial and not line.endswith(b"\n"):
            yield t, END_ID, ""
            return
        what = f"undeclared identifier {exc.args[0]!r}" if isinstance(exc, KeyError) else exc
        tail = "" if line.endswith(b"\n") else " (file ends in the middle of a line: truncated)"
        text = line[:60].decode("utf-8", "replace").rstrip()
        raise VcdFormatError(
            f"{path}:{line_no}: malformed VCD line {text!r}: {what}{tail}"
        ) from None
    yield t, END_ID, ""


def read_traces(
    path: str | Path, names: Sequence[str]
) -> tuple[dict[str, tuple[list[float], list[float | str]]], float]:
    """Value changes of a few signals, as ``{name: (t_s, values)}``, and the end time (s).

    Meant for plotting a handful of traces; memory grows with the number of their changes.

    Raises:
        UnknownSignalError: a name is not in the VCD (message lists close matches).
    """
    header = read_header(path)
    by_id: dict[str, list[str]] = {}
    for name in names:
        by_id.setdefault(header.find(name).id, []).append(name)
    out: dict[str, tuple[list[float], list[float | str]]] = {n: ([], []) for n in names}
    tick = header.tick_s
    t_end = 0
    stream = iter_vcd(path, ids=by_id)
    next(stream)
    for t, ident, value in stream:  # type: ignore[misc]
        if ident == END_ID:
            t_end = t
            break
        for name in by_id[ident]:
            ts, vs = out[name]
            ts.append(t * tick)
            vs.append(value)
    return out, t_end * tick
