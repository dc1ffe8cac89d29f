"""What every libngspice backend of the lockstep shares: stepping to the bridge's sync times,
source updates, edge marks and the error/flush/close discipline.

Subclasses (:class:`cosim.backends.ngspice.NgspiceBackend` for the crossbar,
:class:`cosim.backends.deck.DeckBackend` for any deck) own the circuit, ``_flush_points``
(accepted points → analog VCD) and ``sample``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from cosim.backends.protocol import AnalogSimulationError, BackendStats
from cosim.errors import CosimError
from cosim.spice.ngspice import NgSpice
from cosim.waves.write import AnalogVcdWriter

__all__ = ["SpiceLockstep", "advance_or_fail", "tran_card"]

#: ``tstop / tstep`` of a lockstep ``.tran`` card.  ngspice allocates every saved vector for
#: ``tstop/tstep + 100`` points when a transient starts and doubles it when that is exceeded;
#: glibc hands freed memory back zeroed on reuse, so a large ratio costs ``8 B × ratio`` per
#: vector *touched* at every later load (1e5 with the 4,700 vectors of a 1,184-device netlist:
#: +0.5 then +2.5 GB per reload).  A small ratio lets the buffers grow with the points.
TRAN_RATIO = 100


def tran_card(tmax_s: float, horizon_s: float = 100.0, *, uic: bool = False) -> str:
    """The ``.tran`` card of a lockstep run, paused long before ``horizon_s``: TMAX limits the
    step; tstep only sizes ngspice's first output buffers (:data:`TRAN_RATIO`)."""
    card = f".tran {horizon_s / TRAN_RATIO:.6g} {horizon_s:.6g} 0 {tmax_s:.6g}"
    return card + (" uic" if uic else "")


def advance_or_fail(
    ng: NgSpice, t_ng_s: float, t_s: float, *, flush: Callable[[], None], what: str
) -> None:
    """Advance ``ng`` to its time ``t_ng_s`` (the run's ``t_s``); on a failure, ``flush`` what
    was computed and raise :class:`AnalogSimulationError` with ngspice's last output."""
    try:
        ng.advance_to(t_ng_s)
    except CosimError as exc:
        flush()
        tail = "\n  ".join(ng.recent_output(15))
        raise AnalogSimulationError(
            f"{what} failed advancing to t = {t_s!r} s: {exc}\nlast ngspice output:\n  {tail}"
        ) from exc


class SpiceLockstep:
    """The lockstep half of a libngspice backend (see the module docstring)."""

    stats: BackendStats
    _ng: NgSpice
    _writer: AnalogVcdWriter | None
    _edges: list[float]
    _flush_every_s: float
    _next_flush: float

    def _flush_points(self) -> None:  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def announce_edge(self, t_s: float) -> None:
        """Controls will change at ``t_s`` (called before :meth:`advance_to` reaches it)."""
        self._ng.break_at(t_s)

    def mark_edge(self, t_s: float) -> None:
        """Controls change at ``t_s`` (the current time): the analog VCD gets every signal's
        held value there (at the next flush, after the accepted point on ``t_s``)."""
        self._edges.append(t_s)

    def set_controls(self, values: Mapping[str, float]) -> None:
        for name, value in values.items():
            self._ng.set_source(name, value)

    def advance_to(self, t_s: float) -> None:
        if t_s > self.stats.t_s:
            advance_or_fail(self._ng, t_s, t_s, flush=self._flush_points, what="ngspice")
            self.stats.syncs += 1
            self.stats.t_s = t_s
            if time.monotonic() >= self._next_flush:
                self._timed_flush()

    def _timed_flush(self) -> None:
        """:meth:`_flush_points`, its CPU (this thread) added to ``stats.extra["flush_cpu_s"]``."""
        t0 = time.thread_time()
        try:
            self._flush_points()
        finally:
            extra = self.stats.extra
            extra["flush_cpu_s"] = extra.get("flush_cpu_s", 0.0) + time.thread_time() - t0

    def sample_vectors(self) -> dict[str, str]:  # pragma: no cover - every subclass defines it
        """Sample key → ngspice vector, as :meth:`sample` reads them."""
        raise NotImplementedError

    def compiled_sync(self) -> tuple[NgSpice, dict[str, str]]:
        """What the compiled bridge (:mod:`cosim.spice.vpisync`) drives: the simulator and the
        sampled vectors. The bridge then reports back through :meth:`absorb`."""
        return self._ng, self.sample_vectors()

    @property
    def analog_thread_cpu_s(self) -> float:
        """CPU time of ngspice's own thread (compiled helper; 0 with the foreground engine)."""
        return self._ng.thread_cpu_s

    def absorb(self, syncs: int, samples: int, t_s: float, edges: list[float]) -> None:
        """Syncs, samples and edges the compiled bridge made since the last call."""
        self.stats.syncs += syncs
        self.stats.samples += samples
        self.stats.t_s = max(self.stats.t_s, t_s)
        self._edges.extend(edges)
        if time.monotonic() >= self._next_flush:
            self._timed_flush()

    def _ensure_started(self) -> None:
        """Before the first sync: run to t = 0 so that values can be read."""
        if self._ng.transient_state == "idle":
            self._ng.advance_to(0.0)

    def close(self) -> None:
        if self._ng.closed:
            return
        try:
            self._timed_flush()
        finally:
            if self._writer is not None:
                self._writer.close()
            self._ng.close()
