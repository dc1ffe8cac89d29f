"""The analog VCD writer (pyvcd): blocks of accepted analog points, a recording deadband.

Conventions of the analog VCD: one top scope ``analog``; one sub-scope per recorded element
(``analog.<name>``) with ``real`` vars; ``analog.supply.<name>`` with ``v`` and ``i`` (current
delivered, so ∫v·i dt is the energy drawn).
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any, cast

import numpy as np
from numpy.typing import NDArray
from vcd.writer import VCDWriter

from cosim.errors import UsageError
from cosim.waves.read import (
    UnknownSignalError,
    VcdTimeOrderError,
    closest_names,
    timescale_s,
)

__all__ = ["DEADBAND", "AnalogVcdWriter"]

# --------------------------------------------------------------------------- writing


#: Default recording deadband of :class:`AnalogVcdWriter` by variable (SI units): 1 µV,
#: 10 pA, 1e-7 of the state, 1 nS.
DEADBAND: dict[str, float] = {"v": 1e-6, "i": 1e-11, "x": 1e-7, "g": 1e-9}


class AnalogVcdWriter:
    """Stateful writer of the analog VCD (pyvcd ``real`` vars under scope ``analog``).

    Values are keyed by dotted names below ``analog``: ``"w1_0_0.v"``, ``"supply.vdd.i"``,
    ``"neuron.h0.v"``.  Times are quantized to the timescale; several samples within one tick
    collapse to the last one (last wins).  Values equal to the previous one are not written
    (VCD hold semantics).  :meth:`mark_edge` forces a point: the held (pre-edge) value, at the
    instant a control changes, of every signal that steps there, so a step is drawn at the
    edge, not as a ramp from the last recorded point.  The file is flushed at least every
    ``flush_every_s`` seconds of wall time, so that a crash leaves a readable prefix.

    Args:
        path: output file.
        devices: device names (``w1_<i>_<j>``, ``w2_<j>``): vars ``v``, ``i``, ``x``.
        supplies: supply names: vars ``v``, ``i``.
        neurons: neuron names: var ``v``.
        timescale: VCD timescale (``"1 ps"``).
        conductance: also register ``<device>.g``.
        signals: more dotted names (``"top.v"``, ``"vref.i"``) for designs that are no crossbar;
            the last part names the variable (and its deadband).
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
        signals: Sequence[str] = (),
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
        for signal in signals:  # any other dotted name: scope(s), then the variable
            parts = signal.split(".")
            names.append((tuple(parts[:-1]), parts[-1]))
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
        self._ident = {key: v.ident for key, v in self._vars.items()}
        self._by_ident = {v.ident: v for v in self._vars.values()}
        band = DEADBAND if deadband is None else deadband
        self._band = {key: float(band.get(key.rsplit(".", 1)[1], 0.0)) for key in keys}
        self._last: dict[str, float] = dict.fromkeys(keys, 0.0)  # last recorded
        self._text: dict[str, str] = {}  # ... its line, while that value object is the last
        self._last_tick: dict[str, int] = dict.fromkeys(keys, 0)  # ... and when
        self._edge: tuple[int, dict[str, float]] | None = None  # pending mark_edge
        self._latest: dict[str, float] = dict.fromkeys(keys, 0.0)  # last given (unbanded)
        self._pending: dict[str, float] = {}
        self._tick = 0
        self._t_s = float("-inf")
        self._flush_every_s = float(flush_every_s)
        self._next_flush = time.monotonic() + self._flush_every_s
        self._closed = False
        self._header_written = False  # pyvcd's header and $dumpvars (tick 0) are out
        self._dumped = 0  # the last time stamp written (after the header)
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
        self._latest.update(values)
        self.n_points += 1
        if self.n_points & 63 == 0 and time.monotonic() >= self._next_flush:
            self.flush()

    def write_block(
        self,
        t_s: NDArray[np.float64],
        values: Mapping[str, NDArray[np.float64]],
        *,
        edges: Sequence[float] = (),
        edge_names: Collection[str] | None = None,
    ) -> None:
        """Record a block of points at once (vectorized; what ngspice lockstep uses).

        Args:
            t_s: increasing times of the points (s), shape ``(k,)``.
            values: per signal name, its values at those times, shape ``(k,)``.
            edges: times (s, increasing) at which a control changed: after the block's points
                up to each edge, :meth:`mark_edge` records the held point there.
            edge_names: the signals :meth:`mark_edge` repeats (default all).

        Points falling in one tick keep the last.  The deadband is applied as quantization,
        so that it vectorizes: a value is written when it enters a new band-wide bin centred
        on a multiple of the band (noise around zero stays in one bin); the recorded trace
        stays within one band of the true one.
        """
        if self._closed:
            raise VcdTimeOrderError(f"{self.path}: write_block() after close()")
        t = np.asarray(t_s, dtype=float)
        if t.size and not self._known.issuperset(values):
            bad = sorted(set(values) - self._known)
            raise UnknownSignalError(
                f"{self.path}: unknown analog signal(s) {bad}; known: "
                f"{closest_names(bad[0], self._known)} … ({len(self._known)} in all)"
            )
        # One 2-D array for the whole block; the edges only cut it into row ranges (cutting
        # the dict of columns at every edge cost more than writing the values).
        names = list(values)
        cols = np.empty((t.size, len(names)))
        for c, name in enumerate(names):
            cols[:, c] = values[name]
        band = np.array([self._band[n] for n in names])
        idents = [self._ident[n] for n in names]
        start = 0
        if len(edges):
            # Points up to and at each edge's tick come before its held point.
            cuts = np.searchsorted(
                np.rint(t / self.tick_s), np.rint(np.asarray(edges) / self.tick_s), "right"
            )
            for edge, cut in zip(edges, cuts.tolist(), strict=True):
                if cut > start:
                    self._write_rows(t[start:cut], names, cols[start:cut], band, idents)
                    start = cut
                self.mark_edge(edge, edge_names)
        self._write_rows(t[start:], names, cols[start:], band, idents)

    def _write_rows(
        self,
        t: NDArray[np.float64],
        names: list[str],
        cols: NDArray[np.float64],
        band: NDArray[np.float64],
        idents: list[str],
    ) -> None:
        """:meth:`write_block` for rows without an edge inside (``cols[k, c]``: point k of
        signal ``names[c]``)."""
        if t.size == 0:
            return
        ticks = np.rint(t / self.tick_s).astype(np.int64)
        if ticks[0] < self._tick or np.any(np.diff(ticks) < 0):
            raise VcdTimeOrderError(f"{self.path}: time went backwards in a block at {t[0]!r} s")
        keep = np.append(ticks[1:] != ticks[:-1], True)  # last point of each tick
        if ticks[0] == self._tick and self._pending:
            # The open tick's pending values are superseded by the block's first tick.
            for name in names:
                self._pending.pop(name, None)
        self._emit()
        ticks = ticks[keep]
        cols = cols[keep]
        last = np.array([self._last[n] for n in names])
        safe = np.where(band > 0, band, 1.0)
        q = np.where(band > 0, np.rint(cols / safe), cols)
        q_last = np.where(band > 0, np.rint(last / safe), last)
        if self._edge is not None:  # held values of the signals that step at the first point
            first = (q[0] != q_last) | np.isnan(cols[0])
            self._resolve_edge([names[c] for c in np.flatnonzero(first).tolist()])
            last = np.array([self._last[n] for n in names])
            q_last = np.where(band > 0, np.rint(last / safe), last)
        q_prev = np.vstack([q_last, q[:-1]])
        rows, idx = np.nonzero((q != q_prev) | np.isnan(cols))
        at = ticks[rows].tolist()
        changed = cols[rows, idx].tolist()
        ident = [idents[c] for c in idx.tolist()]
        lo = 0
        for hi in [*(np.flatnonzero(np.diff(rows)) + 1).tolist(), rows.size]:  # one call per tick
            if hi > lo:
                self._changes(at[lo], ident[lo:hi], changed[lo:hi])
            lo = hi
        for c in set(idx.tolist()):
            r_last = rows[idx == c][-1]
            self._text.pop(names[c], None)
            self._last[names[c]] = float(cols[r_last, c])
            self._last_tick[names[c]] = int(ticks[r_last])
        self._latest.update(zip(names, cols[-1].tolist(), strict=True))
        self._tick = int(ticks[-1])
        self._t_s = float(t[-1])
        self.n_points += int(t.size)
        if time.monotonic() >= self._next_flush:
            self.flush()

    def mark_edge(self, t_s: float, names: Collection[str] | None = None) -> None:
        """A control edge at ``t_s``: every signal that steps there gets its held (pre-edge)
        value recorded at ``t_s``, past the deadband and the dropping of repeats.  ``names``
        limits it to those signals (a large array where only a few signals move).

        Call it when the simulation has reached ``t_s`` with the old controls and before the
        new ones act.  The held values are written lazily, at the first point after the edge,
        for the signals that change at that point (a signal that does not move needs no extra
        point, which keeps the file lean); they precede the post-edge values, which come at
        the same time stamp or at the next point.  So a step is drawn at exactly ``t_s`` in
        step and interpolated rendering; the hold rule gives the held point zero duration, so
        the energy integral is unchanged (docs/energy.md).
        """
        if self._closed:
            raise VcdTimeOrderError(f"{self.path}: mark_edge() after close()")
        tick = round(t_s / self.tick_s)
        if tick < self._tick:
            raise VcdTimeOrderError(
                f"{self.path}: edge at {t_s!r} s is before the last point at {self._t_s!r} s"
            )
        self._emit()
        self._tick, self._t_s = tick, max(t_s, self._t_s)
        latest = self._latest
        if names is None:
            held = dict(latest)
        else:
            try:
                held = dict(zip(names, map(latest.__getitem__, names), strict=True))
            except KeyError:  # not a signal of this file: nothing to hold
                held = {n: latest[n] for n in names if n in latest}
        self._edge = (tick, held)

    def _resolve_edge(self, changing: Iterable[str]) -> None:
        """Write the pending edge's held values of the ``changing`` signals (see mark_edge)."""
        if self._edge is None:
            return
        tick, held = self._edge
        self._edge = None
        self._finish_header()  # header and $dumpvars out before any forced repeat
        last, last_tick, ident, text = self._last, self._last_tick, self._ident, self._text
        lines = []
        for name in changing:
            value = held.get(name)
            if value is None:
                continue
            if last_tick[name] == tick and last[name] == value:
                continue  # already recorded there
            # mostly a repeat of the last line written (the very same float): not reformatted
            line = text.get(name) if value is last[name] else None
            if line is None:
                line = text[name] = f"r{value:.16g} {ident[name]}\n"
                last[name] = value
            lines.append(line)
            last_tick[name] = tick
        if lines:
            self._put(tick, "".join(lines))

    def _emit(self) -> None:
        pending = self._pending
        if pending:
            last, band = self._last, self._band
            moved = [
                (name, value)
                for name, value in pending.items()
                if abs(value - last[name]) > band[name] or value != value
            ]
            pending.clear()
            names = [name for name, _ in moved]
            self._resolve_edge(names if self._edge is not None else ())
            if moved:
                tick, ident = self._tick, self._ident
                if tick or self._header_written:
                    self._finish_header()
                    lines = [f"r{v:.16g} {ident[n]}\n" for n, v in moved]
                    self._text.update(zip(names, lines, strict=True))
                    self._put(tick, "".join(lines))
                else:
                    self._changes(0, [ident[n] for n in names], [v for _, v in moved])
                last.update(moved)
                self._last_tick.update(dict.fromkeys(names, tick))

    def _finish_header(self) -> None:
        """Have pyvcd write the header and the initial values ($dumpvars at tick 0); every
        later value change is written here, line by line (pyvcd's ``change`` costs ~3 µs a
        value, a formatted line ~0.5 µs; the text is the same)."""
        if not self._header_written:
            self._vcd.flush()
            self._header_written = True
            self._dumped = 0

    def _put(self, tick: int, text: str) -> None:
        """Value-change lines at ``tick`` (after the header), with the time stamp if new."""
        if tick != self._dumped:
            self._dumped = tick
            text = f"#{tick}\n{text}"
        self._fh.write(text)

    def _changes(self, tick: int, idents: list[str], values: Iterable[float]) -> None:
        """Write value changes at ``tick`` (at tick 0 before the header: into pyvcd's
        $dumpvars, which keeps the last value of each)."""
        if not self._header_written:
            if tick == 0:
                for ident, value in zip(idents, values, strict=True):
                    self._vcd.change(self._by_ident[ident], 0, float(value))
                return
            self._finish_header()
        lines = [f"r{v:.16g} {i}\n" for i, v in zip(idents, values, strict=True)]
        self._put(tick, "".join(lines))

    def flush(self) -> None:
        """Write everything but the current (still open) tick to disk."""
        self._finish_header()
        self._vcd.flush()
        self._next_flush = time.monotonic() + self._flush_every_s

    def close(self) -> None:
        """Write the last tick, end the file (a final timestamp) and close it."""
        if self._closed:
            return
        self._closed = True
        try:
            self._emit()
            if self._header_written:  # the final time stamp, as pyvcd would write it
                if self._tick != self._dumped:
                    self._put(self._tick, "")
                self._vcd.close()
            else:
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


# --------------------------------------------------------------------------- merging
