"""Waveform files: the analog VCD writer, a streaming VCD reader, merging, GTKWave save files.

Conventions (shared with :mod:`cosim.bridge` and :mod:`cosim.metrics`):

* The analog VCD has one top scope ``analog``; one sub-scope per device (``analog.w1_0_0``,
  …, ``analog.w2_2``) with ``real`` vars ``v`` (V across the device), ``i`` (A through it),
  ``x`` (state) and optionally ``g`` (S); ``analog.supply.<name>`` with ``v`` and ``i`` (current
  delivered, so ∫v·i dt is the energy drawn); ``analog.neuron.<name>`` with ``v``.
* The digital VCD is Icarus Verilog's dump of ``xbar_top``.
* The merged file has one timescale (1 ps) and both hierarchies.

Everything is written through pyvcd; reading is a hand-rolled line parser over bytes (several
times faster than ``vcd.reader.tokenize``, see ``bench/bench_metrics.py``) that never holds
more than one line of the body in memory.  Its contract: one value change, timestamp or
keyword per body line (as Icarus Verilog, pyvcd and GTKWave write them).
"""

from __future__ import annotations

import heapq
import re
import time
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from types import TracebackType
from typing import IO, Any, cast

import numpy as np
from numpy.typing import NDArray
from vcd.gtkw import GTKWFlag, GTKWSave
from vcd.writer import VCDWriter

from cosim.errors import CosimError, UsageError

__all__ = [
    "DEADBAND",
    "AnalogVcdWriter",
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
    "merge_vcds",
    "read_header",
    "read_traces",
    "timescale_s",
    "write_gtkw",
]

#: A value change as yielded by :func:`iter_vcd`: ``(time in timescale ticks, id, value)``;
#: the value is a ``float`` for real vars, else the VCD string (``"1"``, ``"x"``, ``"0101"``).
Change = tuple[int, str, float | str]

#: Identifier of the last item :func:`iter_vcd` yields: ``(t_end, END_ID, "")`` where ``t_end``
#: is the file's last timestamp (the end of the recording; values hold until then).
END_ID = ""

_UNITS_S = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9, "ps": 1e-12, "fs": 1e-15}
_REAL_TYPES = frozenset({"real", "realtime", "shortreal", "real_parameter"})
_RANGE_RE = re.compile(r"^(?P<ref>[^\[]+)(?P<range>\[[0-9:\-]+\])$")


class VcdFormatError(CosimError):
    """A VCD file is truncated or malformed (the message names the file and line)."""


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


# --------------------------------------------------------------------------- writing


#: Default recording deadband of :class:`AnalogVcdWriter` by variable (SI units): 1 µV,
#: 10 pA, 1e-7 of the state, 1 nS.
DEADBAND: dict[str, float] = {"v": 1e-6, "i": 1e-11, "x": 1e-7, "g": 1e-9}


class AnalogVcdWriter:
    """Stateful writer of the analog VCD (pyvcd ``real`` vars under scope ``analog``).

    Values are keyed by dotted names below ``analog``: ``"w1_0_0.v"``, ``"supply.vdd.i"``,
    ``"neuron.h0.v"``.  Times are quantized to the timescale; several samples within one tick
    collapse to the last one (last wins).  Values equal to the previous one are not written
    (VCD hold semantics).  The file is flushed at least every ``flush_every_s`` seconds of wall
    time, so that a crash leaves a readable prefix.

    Args:
        path: output file.
        devices: device names (``w1_<i>_<j>``, ``w2_<j>``): vars ``v``, ``i``, ``x``.
        supplies: supply names: vars ``v``, ``i``.
        neurons: neuron names: var ``v``.
        timescale: VCD timescale (``"1 ps"``).
        conductance: also register ``<device>.g``.
        flush_every_s: wall-clock interval between flushes to disk.
        deadband: absolute change below which a value is not re-recorded, by variable name
            (``v``, ``i``, ``x``, ``g``); default :data:`DEADBAND`; ``None`` records every
            change.  It keeps solver noise (1e-27 A on idle devices) out of the file; the
            energy error it can cause is at most ``(Δi·|v| + Δv·|i|)`` per second per signal.

    Raises:
        UnknownSignalError: :meth:`write` got a name that was not registered.
        VcdTimeOrderError: :meth:`write` got a time before an earlier one.
    """

    def __init__(
        self,
        path: str | Path,
        devices: Sequence[str],
        supplies: Sequence[str],
        neurons: Sequence[str],
        timescale: str = "1 ps",
        *,
        conductance: bool = False,
        flush_every_s: float = 1.0,
        deadband: Mapping[str, float] | None = None,
    ) -> None:
        self.path = Path(path)
        self.tick_s = timescale_s(timescale)
        names: list[tuple[tuple[str, ...], str]] = []
        dev_vars = ("v", "i", "x", "g") if conductance else ("v", "i", "x")
        for group, members, var_names in (
            ((), devices, dev_vars),
            (("supply",), supplies, ("v", "i")),
            (("neuron",), neurons, ("v",)),
        ):
            for member in members:
                names.extend(((*group, member), var) for var in var_names)
        keys = [".".join((*scope, var)) for scope, var in names]
        if len(set(keys)) != len(keys):
            raise UsageError(f"duplicate analog signal names in {sorted(keys)}")
        self._fh = _LineBuffer(self.path)
        sink = cast(IO[str], self._fh)  # pyvcd only calls write() and flush()
        self._vcd = VCDWriter(
            sink, timescale=timescale, date="", version="cosim", check_values=False
        )
        self._vars: dict[str, Any] = {}
        for key, (scope, var) in zip(keys, names, strict=True):
            self._vars[key] = self._vcd.register_var(("analog", *scope), var, "real", init=0.0)
        self._known = frozenset(self._vars)
        band = DEADBAND if deadband is None else deadband
        self._band = {key: float(band.get(key.rsplit(".", 1)[1], 0.0)) for key in keys}
        self._last: dict[str, float] = dict.fromkeys(keys, 0.0)
        self._pending: dict[str, float] = {}
        self._tick = 0
        self._t_s = float("-inf")
        self._flush_every_s = float(flush_every_s)
        self._next_flush = time.monotonic() + self._flush_every_s
        self._closed = False
        self.n_points = 0

    @property
    def names(self) -> list[str]:
        """The dotted names :meth:`write` accepts."""
        return list(self._vars)

    def write(self, t_s: float, values: Mapping[str, float]) -> None:
        """Record ``values`` (a subset of :attr:`names`) at time ``t_s`` (s)."""
        if self._closed:
            raise VcdTimeOrderError(f"{self.path}: write() after close()")
        if not self._known.issuperset(values):
            bad = sorted(set(values) - self._known)
            raise UnknownSignalError(
                f"{self.path}: unknown analog signal(s) {bad}; known: "
                f"{closest_names(bad[0], self._known)} … ({len(self._known)} in all)"
            )
        tick = round(t_s / self.tick_s)
        if tick != self._tick:
            if tick < self._tick:
                raise VcdTimeOrderError(
                    f"{self.path}: time went backwards: {t_s!r} s after {self._t_s!r} s"
                )
            self._emit()
            self._tick = tick
        self._t_s = t_s
        self._pending.update(values)
        self.n_points += 1
        if self.n_points & 63 == 0 and time.monotonic() >= self._next_flush:
            self.flush()

    def write_block(
        self, t_s: NDArray[np.float64], values: Mapping[str, NDArray[np.float64]]
    ) -> None:
        """Record a block of points at once (vectorized; what ngspice lockstep uses).

        Args:
            t_s: increasing times of the points (s), shape ``(k,)``.
            values: per signal name, its values at those times, shape ``(k,)``.

        Points falling in one tick keep the last.  The deadband is applied as quantization,
        so that it vectorizes: a value is written when it enters a new band-wide bin centred
        on a multiple of the band (noise around zero stays in one bin); the recorded trace
        stays within one band of the true one.
        """
        if self._closed:
            raise VcdTimeOrderError(f"{self.path}: write_block() after close()")
        t = np.asarray(t_s, dtype=float)
        if t.size == 0:
            return
        unknown = set(values) - self._known
        if unknown:
            bad = sorted(unknown)
            raise UnknownSignalError(
                f"{self.path}: unknown analog signal(s) {bad}; known: "
                f"{closest_names(bad[0], self._known)} … ({len(self._known)} in all)"
            )
        ticks = np.rint(t / self.tick_s).astype(np.int64)
        if ticks[0] < self._tick or np.any(np.diff(ticks) < 0):
            raise VcdTimeOrderError(f"{self.path}: time went backwards in a block at {t[0]!r} s")
        keep = np.append(ticks[1:] != ticks[:-1], True)  # last point of each tick
        if ticks[0] == self._tick and self._pending:
            # The open tick's pending values are superseded by the block's first tick.
            for name in values:
                self._pending.pop(name, None)
        self._emit()
        ticks = ticks[keep]
        names = list(values)
        cols = np.stack([np.asarray(values[n], dtype=float)[keep] for n in names], axis=1)
        band = np.array([self._band[n] for n in names])
        last = np.array([self._last[n] for n in names])
        safe = np.where(band > 0, band, 1.0)
        q = np.where(band > 0, np.rint(cols / safe), cols)
        q_prev = np.vstack([np.where(band > 0, np.rint(last / safe), last), q[:-1]])
        rows, idx = np.nonzero((q != q_prev) | np.isnan(cols))
        change, var = self._vcd.change, self._vars
        variables = [var[n] for n in names]
        for r, c in zip(rows.tolist(), idx.tolist(), strict=True):
            change(variables[c], int(ticks[r]), float(cols[r, c]))
        for c in set(idx.tolist()):
            self._last[names[c]] = float(cols[rows[idx == c][-1], c])
        self._tick = int(ticks[-1])
        self._t_s = float(t[-1])
        self.n_points += int(t.size)
        if time.monotonic() >= self._next_flush:
            self.flush()

    def _emit(self) -> None:
        if self._pending:
            change, tick, var = self._vcd.change, self._tick, self._vars
            last, band = self._last, self._band
            for name, value in self._pending.items():
                if abs(value - last[name]) > band[name] or value != value:
                    change(var[name], tick, value)
                    last[name] = value
            self._pending.clear()

    def flush(self) -> None:
        """Write everything but the current (still open) tick to disk."""
        self._vcd.flush()
        self._next_flush = time.monotonic() + self._flush_every_s

    def close(self) -> None:
        """Write the last tick, end the file (a final timestamp) and close it."""
        if self._closed:
            return
        self._closed = True
        try:
            self._emit()
            self._vcd.close(self._tick)
        finally:
            self._fh.close()

    def __enter__(self) -> AnalogVcdWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class _LineBuffer:
    """A text sink for pyvcd that reaches the disk only in whole lines.

    pyvcd writes complete lines per call; they are collected and written with one ``write``
    on the unbuffered file when ~1 MB is pending or on :meth:`flush`, so even a killed process
    leaves a file that ends at a line boundary.
    """

    def __init__(self, path: Path, limit: int = 1 << 20) -> None:
        self._raw = open(path, "wb", buffering=0)  # noqa: SIM115
        self._parts: list[str] = []
        self._size = 0
        self._limit = limit

    def write(self, text: str) -> int:
        self._parts.append(text)
        self._size += len(text)
        if self._size >= self._limit:
            self.flush()
        return len(text)

    def flush(self) -> None:
        if self._parts:
            data = "".join(self._parts).encode()
            self._parts.clear()
            self._size = 0
            view = memoryview(data)
            while view:
                view = view[self._raw.write(view) or 0 :]

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._raw.close()


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


def _open_vcd(path: str | Path) -> IO[bytes]:
    p = Path(path)
    try:
        return open(p, "rb", buffering=1 << 20)  # noqa: SIM115
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
                word = line.split(None, 1)[0]
                if word == b"$comment":
                    in_comment = b"$end" not in line
                elif word not in (b"$dumpvars", b"$dumpall", b"$dumpon", b"$dumpoff", b"$end"):
                    raise ValueError(f"unexpected keyword {word.decode()!r}")
            elif c == 115 or c == 83:  # s S (string)
                val, ident = line[1:].split()
                sid = wanted.get(ident)
                if sid is not None:
                    yield t, sid, val.decode()
                elif ident not in known:
                    raise KeyError(ident)
            elif in_comment:
                in_comment = b"$end" not in line
            elif line.strip():
                raise ValueError("not a value change, timestamp or keyword")
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


# --------------------------------------------------------------------------- merging


def merge_vcds(
    digital_vcd: str | Path,
    analog_vcd: str | Path,
    out_vcd: str | Path,
    *,
    timescale: str = "1 ps",
    partial: bool = False,
) -> Path:
    """Merge VCD files into one (k-way merge by time, streaming, through pyvcd).

    With ``partial=True`` inputs cut in the middle of their last line (a crashed run) are
    merged up to their last complete line (see :func:`iter_vcd`).

    Every input's hierarchy is kept; identifiers are re-assigned; times are rescaled to
    ``timescale`` (each input's timescale must be a whole multiple of it).  Inputs are
    merged in argument order at equal times.

    Returns:
        ``out_vcd`` as a :class:`~pathlib.Path`.

    Raises:
        VcdFormatError: an input is malformed, or two inputs declare the same signal name.
    """
    inputs = [Path(digital_vcd), Path(analog_vcd)]
    out = Path(out_vcd)
    tick_s = timescale_s(timescale)
    streams = [iter_vcd(p, partial=partial) for p in inputs]
    headers = [next(s) for s in streams]
    seen: dict[str, Path] = {}
    with open(out, "w", buffering=1 << 20) as fh:
        # Values come from a parsed VCD: no re-checking.
        writer = VCDWriter(
            fh, timescale=timescale, date="", version="cosim merge", check_values=False
        )
        maps: list[dict[str, Any]] = []
        for path, header in zip(inputs, headers, strict=True):
            assert isinstance(header, VcdHeader)
            mapping: dict[str, Any] = {}
            for var in header.vars:
                if var.name in seen:
                    raise VcdFormatError(
                        f"{path}: signal {var.name!r} is also declared in {seen[var.name]}"
                    )
                seen[var.name] = path
                *scope, ref = var.name.split(".")
                for depth, stype in enumerate(var.scope_types):
                    writer.set_scope_type(scope[: depth + 1], stype)
                if var.id in mapping:
                    writer.register_alias(scope, ref + var.range, mapping[var.id])
                    continue
                vtype = var.type if var.type in _PYVCD_TYPES else "wire"
                size = None if var.is_real else var.size
                mapping[var.id] = writer.register_var(scope, ref + var.range, vtype, size)
            maps.append(mapping)
        ends: list[int] = []
        scaled = [
            _rescale(stream, mapping, header.tick_s / tick_s, path, ends)  # type: ignore[union-attr]
            for stream, mapping, header, path in zip(streams, maps, headers, inputs, strict=True)
        ]
        change = writer.change
        t_last = 0
        for t_last, var, value in heapq.merge(*scaled, key=itemgetter(0)):
            change(var, t_last, value)
        writer.close(max([t_last, *ends]))
    return out


_PYVCD_TYPES = frozenset(
    "event integer parameter real realtime reg supply0 supply1 time tri triand trior trireg "
    "tri0 tri1 wand wire wor bit byte enum int logic longint shortint shortreal string "
    "real_parameter".split()
)


def _rescale(
    stream: Iterator[VcdHeader | Change],
    mapping: dict[str, Any],
    factor: float,
    path: Path,
    ends: list[int],
) -> Iterator[tuple[int, Any, float | str]]:
    k = round(factor)
    if k < 1 or abs(factor - k) > 1e-9 * k:
        raise VcdFormatError(f"{path}: timescale is not a whole multiple of the merged one")
    for t, ident, value in stream:  # type: ignore[misc]
        if ident != END_ID:
            yield t * k, mapping[ident], value
        else:
            ends.append(t * k)


# --------------------------------------------------------------------------- GTKWave


def write_gtkw(
    vcd_path: str | Path,
    gtkw_path: str | Path,
    *,
    device: str | None = None,
    top: str = "xbar_top",
    analog_scope: str = "analog",
) -> Path:
    """Write a GTKWave save file for ``vcd_path`` (digital markers + one device + neurons).

    Shows, when present: ``<top>.phase``, ``start``, ``busy``, ``done``, ``sel``; the device's
    ``v``, ``i``, ``x`` (and ``g``) as interpolated analog traces — ``device`` if given, else
    the first device whose select bit rises in the file, else the first device; and the
    neuron outputs.  Only signals that exist in the VCD are named.

    Raises:
        UnknownSignalError: ``device`` is not a device of ``analog_scope``.
    """
    vcd_path, gtkw_path = Path(vcd_path), Path(gtkw_path)
    header = read_header(vcd_path)
    names = header.by_name()
    prefix = f"{analog_scope}."
    devices = sorted(
        {
            n[len(prefix) :].split(".")[0]
            for n in names
            if n.startswith(prefix) and n.endswith(".i") and n.count(".") == 2
        }
        - {"supply"}
    )
    if device is None:
        first = _first_selected(vcd_path, names.get(f"{top}.sel"))
        device = first if first in devices else (devices[0] if devices else None)
    elif device not in devices:
        raise UnknownSignalError(
            f"{vcd_path}: no device {device!r} in scope {analog_scope!r}; devices: "
            f"{closest_names(device, devices)}"
        )
    analog = GTKWFlag.analog_interpolated | GTKWFlag.analog_fullscale
    with open(gtkw_path, "w") as fh:
        save = GTKWSave(fh)
        save.comment(f"cosim: {vcd_path.name}" + (f", device {device}" if device else ""))
        save.dumpfile(str(vcd_path.resolve()))
        save.savefile(str(gtkw_path.resolve()))
        save.timestart(0)
        save.treeopen(f"{top}.")
        with save.group("control"):
            for sig, fmt in (("phase", "dec"), ("start", "bin"), ("busy", "bin")):
                _trace(save, names, f"{top}.{sig}", fmt)
            _trace(save, names, f"{top}.done", "bin")
            _trace(save, names, f"{top}.sel", "hex")
        if device is not None:
            with save.group(f"device {device}"):
                for q in ("v", "i", "x", "g"):
                    _trace(save, names, f"{prefix}{device}.{q}", "real", analog)
        neurons = sorted(n for n in names if n.startswith(f"{prefix}neuron."))
        if neurons:
            with save.group("neurons"):
                for n in neurons:
                    _trace(save, names, n, "real", analog)
    return gtkw_path


def _first_selected(vcd_path: Path, sel: VcdVar | None) -> str | None:
    """Name of the device whose ``sel`` bit is the first to go high (k = 3·i + j ↔ w1_i_j,
    27 + j ↔ w2_j), or None."""
    if sel is None:
        return None
    stream = iter_vcd(vcd_path, ids=[sel.id])
    next(stream)
    for _, ident, value in stream:  # type: ignore[misc]
        if ident != END_ID and isinstance(value, str) and "1" in value:
            k = len(value) - 1 - value.index("1")  # highest set bit
            stream.close()  # type: ignore[attr-defined]
            return f"w1_{k // 3}_{k % 3}" if k < 27 else f"w2_{k - 27}"
    return None


def _trace(
    save: GTKWSave,
    names: Mapping[str, VcdVar],
    name: str,
    fmt: str,
    flags: GTKWFlag = GTKWFlag.none,
) -> None:
    var = names.get(name)
    if var is None:
        return
    save.trace(name + var.range, datafmt=fmt, extraflags=flags)
