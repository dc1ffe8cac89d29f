"""Follow HDL signals and call a handler at their changes: how the protocol monitors, the
coverage collector and the progress log follow the harness.

Two engines, as for the bridge (``docs/timing.md``), chosen the same way (``COSIM_SYNC``):

* **compiled** (:class:`cosim.spice.vpisync.VpiWatch`): VPI callbacks log every change in C;
  a task takes the log every ``COSIM_POLL_NS`` of simulated time (and :func:`flush_all`) and
  calls the handler for each triggering change, in order, with the values every watched
  signal had at that change;
* **cocotb**: one trigger per watched change, the values read when it fires.

A handler sees the same sequence of calls either way.  Its exception ends the watch and is
raised by :meth:`Watch.run` — with the compiled engine up to one poll interval of simulated
time after the change (messages carry the change's own time).  The changes of the last poll
interval are only handled by :func:`flush_all`: a bench calls it at its end (the training
bench and the controller benches do), else they go unchecked when the test ends.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cosim.bench.lockstep import logic_int, on_each, poll_ns, python_engine_chosen, resolve
from cosim.spice.vpisync import VpiBridgeError, VpiWatch

__all__ = ["INT", "ONEHOT", "REAL", "Signal", "Watch", "flush_all", "value_of"]

INT, REAL, ONEHOT = "int", "real", "onehot"
"""Kinds of value: a logic value as an integer (-1 while a bit is X/Z); a ``real``; a vector of
any width as the index of its one set bit (-1 none, -2 several, -3 a bit X/Z)."""
_KIND = {INT: VpiWatch.INT, REAL: VpiWatch.REAL, ONEHOT: VpiWatch.ONEHOT}

#: ``handler(t_ps, values)``: the time of the change and every watched signal's value then.
Handler = Callable[[float, Mapping[str, float]], None]

_RUNNING: weakref.WeakSet[Watch] = weakref.WeakSet()


@dataclass(frozen=True)
class Signal:
    """A signal below the top (``"sel"``, ``"g_in[3].v"``), its kind, and what of it calls the
    handler: ``"change"``, ``"rising"`` (to 1) or None (only read)."""

    path: str
    kind: str = INT
    on: str | None = "change"


def value_of(kind: str, value: Any) -> float:
    """A cocotb value as the compiled watch gives it (see :data:`INT`)."""
    if kind == REAL:
        return float(value)
    n = logic_int(value)
    if kind == INT:
        return -1.0 if n is None else float(n)
    if n is None:
        return -3.0
    if n == 0:
        return -1.0
    return float(n.bit_length() - 1) if n & (n - 1) == 0 else -2.0


class _Live(Mapping[str, float]):
    """The watched signals' values, read when asked (cocotb engine)."""

    def __init__(self, handles: Mapping[str, tuple[str, Any]]) -> None:
        self._handles = handles

    def __getitem__(self, path: str) -> float:
        kind, handle = self._handles[path]
        return value_of(kind, handle.value)

    def __iter__(self) -> Iterator[str]:
        return iter(self._handles)

    def __len__(self) -> int:
        return len(self._handles)


class Watch:
    """Call ``handler`` at every triggering change of ``signals`` below ``dut``, forever
    (:meth:`run`; start it with ``cocotb.start_soon``)."""

    def __init__(self, dut: Any, signals: Sequence[Signal], handler: Handler) -> None:
        self._dut, self._signals, self._handler = dut, list(signals), handler
        self._vpi: VpiWatch | None = None
        self._values: dict[str, float] = {}
        self._handles = {s.path: (s.kind, resolve(dut, s.path)) for s in self._signals}
        #: ``"c"`` or ``"python"`` once running.
        self.engine = ""

    def _compiled(self) -> VpiWatch | None:
        if python_engine_chosen() is not None:
            return None
        try:
            vpi = VpiWatch()  # VpiBridgeError where the compiled helper cannot run
            for s in self._signals:
                k = vpi.signal(self._handles[s.path][1]._path, _KIND[s.kind])
                self._values[s.path] = vpi.value(k)
            vpi.start()
        except VpiBridgeError:  # e.g. a signal VPI cannot read: cocotb triggers instead
            return None
        return vpi

    def flush(self) -> None:
        """Call the handler for the changes logged so far (compiled engine; else nothing)."""
        vpi = self._vpi
        if vpi is None:
            return
        values, signals, handler = self._values, self._signals, self._handler
        for t_fs, k, value in vpi.take():
            s = signals[k]
            old = values[s.path]
            values[s.path] = value
            if s.on == "change" and value != old or s.on == "rising" and value == 1 != old:
                handler(t_fs * 1e-3, values)

    async def run(self) -> None:
        from cocotb.simtime import get_sim_time
        from cocotb.triggers import Timer

        self._vpi = self._compiled()
        if self._vpi is None:
            self.engine = "python"
            live = _Live(self._handles)
            triggers = []
            for s in self._signals:
                handle = self._handles[s.path][1]
                if s.on is not None:
                    triggers.append(handle.value_change if s.on == "change" else handle.rising_edge)

            def call() -> None:
                self._handler(float(get_sim_time("ps")), live)

            await on_each(triggers, call)
            return
        self.engine = "c"
        _RUNNING.add(self)
        interval = poll_ns()
        try:
            while True:
                await Timer(interval, unit="ns")
                self.flush()
        finally:
            _RUNNING.discard(self)
            vpi, self._vpi = self._vpi, None
            vpi.stop()


def flush_all() -> None:
    """:meth:`Watch.flush` every running watch (before reading what their handlers collect)."""
    for w in list(_RUNNING):
        w.flush()
