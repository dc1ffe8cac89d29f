"""The compiled lockstep bridge: the HDL's value changes drive ngspice from C, no Python per sync.

:class:`VpiBridge` configures ``vpisync.c`` (built with the sync helper, :mod:`cosim.spice.build`)
inside a running simulator (Icarus's ``vvp``, whose ``vpi_*`` functions the helper finds with
``dlsym``): the driving ports, the sources they drive, the strobes and the HDL inputs that
samples are written to. Then value-change callbacks run the rules of
:class:`cosim.bench.lockstep.Bridge` in C, while ngspice's thread waits in the sync callback
between syncs (``synchelper.c``). Python reads what happened (:meth:`VpiBridge.poll`: stimulus,
samples, edges, counters) now and then and detaches it with :meth:`VpiBridge.stop`.

Why a module of its own with ctypes: it is the one other place where C is called, and it
knows nothing of ngspice beyond :meth:`cosim.spice.ngspice.NgSpice.hold_for_vpi` (the helper
and its state) and the helper's source table. Used by :mod:`cosim.bench.lockstep` only.
"""

from __future__ import annotations

import ctypes
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cosim.errors import CosimError
from cosim.spice.ngspice import NgSpice, Signatures, declare, plot_vector_name

__all__ = ["ENGINE_ENV", "Logs", "VpiBridge", "VpiBridgeError", "unavailable"]

ENGINE_ENV = "COSIM_SYNC"
"""``python`` selects the cocotb bridge and the foreground engine (see cosim.spice.build)."""

_RUNNING, _STOPPED, _ENDED, _ERROR = 0, 1, 2, 3
_dbl, _int, _vp, _str = ctypes.c_double, ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p
_SIGNATURES: Signatures = {
    "vb_new": ([_vp, _int, _dbl], _vp),
    "vb_reason": ([], _str),
    "vb_free": ([_vp], None),
    "vb_port": ([_vp, _str, _int], _int),
    "vb_drive": ([_vp, _int, _dbl, _int, _dbl, _dbl], _int),
    "vb_held": ([_vp, _int, _dbl], None),
    "vb_strobe": ([_vp, _str, _int, _int], _int),
    "vb_out": ([_vp, _str, _int, _int, _dbl], _int),
    "vb_sample": ([_vp, _int, _int, _int, _int, _dbl, _dbl, _dbl], _int),
    "vb_start": ([_vp], _int),
    "vb_stop": ([_vp], None),
    "vb_status": ([_vp], _int),
    "vb_message": ([_vp], _str),
    "vb_counters": ([_vp, ctypes.POINTER(_dbl)], None),
    "vb_log_size": ([_vp, _int], ctypes.c_size_t),
    "vb_log_take": ([_vp, _int, ctypes.POINTER(_dbl)], None),
}


class VpiBridgeError(CosimError):
    """The compiled bridge could not be set up, or stopped on an error (the message says)."""


def unavailable(ng: NgSpice) -> str | None:
    """Why the compiled bridge cannot drive ``ng`` here (None: it can)."""
    if ng.sync_engine != "c":
        return ng.sync_reason
    helper = ng._helper  # the sync helper library (same .so as the VPI bridge)
    if not hasattr(helper, "vb_new"):
        return "the sync helper has no VPI bridge"
    declare(helper, _SIGNATURES)
    probe = helper.vb_new(None, 0, 0.0)
    if not probe:
        return helper.vb_reason().decode()
    helper.vb_free(probe)
    return None


@dataclass
class Logs:
    """What the compiled bridge did since the previous :meth:`VpiBridge.poll`.

    Attributes:
        stimulus: ``(t_s, {source: value})`` per wake that changed sources.
        samples: ``(t_s, {quantity: value})`` per sample taken.
        edges: the times at which sources changed.
        events, syncs, samples_taken, t_s: running totals and the latest sync time.
        callback_cpu_s: CPU time of the simulator's thread inside the bridge's callbacks.
    """

    stimulus: list[tuple[float, dict[str, float]]] = field(default_factory=list)
    samples: list[tuple[float, dict[str, float]]] = field(default_factory=list)
    edges: list[float] = field(default_factory=list)
    events: int = 0
    syncs: int = 0
    samples_taken: int = 0
    t_s: float = 0.0
    callback_cpu_s: float = 0.0


class VpiBridge:
    """The lockstep rules of :class:`cosim.bench.lockstep.Bridge`, run from VPI callbacks.

    Args:
        ng: the paused (or not yet started) transient; its thread waits for the bridge.
        quantities: sample key → ngspice vector (``v(sense)``, ``vref#branch``).
        latest: each quantity's current value (the samples before ngspice's next point).
        t_s: the time the analog side was last advanced to (the backend's ``stats.t_s``).

    Raises:
        VpiBridgeError: not inside a simulator, or no compiled helper.
    """

    def __init__(
        self, ng: NgSpice, quantities: Mapping[str, str], latest: Mapping[str, float], t_s: float
    ) -> None:
        why = unavailable(ng)
        if why is not None:
            raise VpiBridgeError(f"compiled bridge unavailable: {why}")
        started = ng.transient_state != "idle"
        self._ng = ng
        self._helper, self._cs = ng.hold_for_vpi()
        h = self._helper
        self._b = h.vb_new(self._cs, int(started), float(t_s))
        if not self._b:
            raise VpiBridgeError(f"compiled bridge unavailable: {h.vb_reason().decode()}")
        self._quantities = list(quantities)
        self._slots: dict[int, str] = {}
        h.cs_quantities_clear(self._cs)
        for q, vec in quantities.items():
            k = h.cs_quantity(self._cs, plot_vector_name(vec).encode(), float(latest.get(q, 0.0)))
            self._check(k >= 0, f"too many sampled quantities ({len(quantities)})")

    def _check(self, ok: bool, what: str) -> None:
        if not ok:
            self.stop()
            raise VpiBridgeError(f"compiled bridge: {what}")

    def slot(self, source: str) -> int:
        """The helper's table entry of an ``external`` source (created if needed)."""
        key = source.strip().lower()
        k = self._helper.cs_find(self._cs, key.encode())
        if k < 0:
            self._ng.set_source(key, 0.0)
            k = self._helper.cs_find(self._cs, key.encode())
        self._check(k >= 0, f"no table entry for source {source!r} (too many sources)")
        self._slots[k] = key
        return int(k)

    def port(self, path: str, *, logic: bool) -> None:
        """A driving port (its full HDL path); the drives that follow belong to it."""
        k = self._helper.vb_port(self._b, path.encode(), int(logic))
        self._check(k >= 0, f"no VPI handle for {path!r} (or too many ports)")

    def drive(self, source: str, *, gain: float, bit: int, levels: tuple[float, float]) -> None:
        slot = self.slot(source)
        ok = self._helper.vb_drive(self._b, slot, gain, bit, levels[0], levels[1]) == 0
        self._check(ok, f"cannot add the drive of {source!r}")

    def held(self, source: str, value: float) -> None:
        self._helper.vb_held(self._b, self.slot(source), float(value))

    def strobe(self, path: str, *, rising: bool, level: int) -> int:
        k = self._helper.vb_strobe(self._b, path.encode(), int(rising), int(level))
        self._check(k >= 0, f"no VPI handle for strobe {path!r} (or too many strobes)")
        return int(k)

    def output(self, path: str, *, logic: bool, written: float | None) -> int:
        has, value = written is not None, 0.0 if written is None else float(written)
        k = self._helper.vb_out(self._b, path.encode(), int(logic), int(has), value)
        self._check(k >= 0, f"no VPI handle for {path!r} (or too many inputs)")
        return int(k)

    def sample(
        self,
        out: int,
        quantity: str,
        group: int,
        hysteresis: tuple[float, float] | None,
        deadband: float,
    ) -> None:
        q = self._quantities.index(quantity)
        lo, hi = hysteresis if hysteresis is not None else (0.0, 0.0)
        ok = self._helper.vb_sample(self._b, out, q, group, int(hysteresis is not None), lo, hi,
                                    deadband) == 0  # fmt: skip
        self._check(ok, f"cannot add the sample of {quantity!r}")

    def start(self) -> None:
        """Register the value-change callbacks: from now on C follows the HDL."""
        self._check(self._helper.vb_start(self._b) == 0, "vpi_register_cb failed")

    def _take(self, b: Any, which: int) -> list[float]:
        n = int(self._helper.vb_log_size(b, which))
        if n == 0:
            return []
        buf = (_dbl * n)()
        self._helper.vb_log_take(b, which, buf)
        return list(buf)

    def _drain(self, b: Any) -> Logs:
        h, nq = self._helper, len(self._quantities)
        logs = Logs()
        stim = self._take(b, 0)
        wake = -1.0
        for k in range(0, len(stim), 4):
            t, w, slot, value = stim[k : k + 4]
            if w != wake:
                logs.stimulus.append((t, {}))
                wake = w
            logs.stimulus[-1][1][self._slots[int(slot)]] = value
            self._ng.set_source(self._slots[int(slot)], value)  # Python's copy of the table
        rows = self._take(b, 1)
        for k in range(0, len(rows), nq + 1):
            values = rows[k + 1 : k + 1 + nq]
            logs.samples.append((rows[k], dict(zip(self._quantities, values, strict=True))))
        logs.edges = self._take(b, 2)
        counters = (_dbl * 6)()
        h.vb_counters(b, counters)
        logs.events, logs.syncs, logs.samples_taken = (int(c) for c in counters[:3])
        logs.t_s, logs.callback_cpu_s = counters[3], counters[5]
        return logs

    def poll(self) -> Logs:
        """What happened since the last poll.

        Raises:
            VpiBridgeError: the bridge stopped on an error (it is detached then).
            SimulationError: ngspice's transient failed (its own message).
        """
        b = self._b
        if b is None:
            return Logs()
        logs = self._drain(b)
        status = self._helper.vb_status(b)
        if status == _ERROR:
            message = self._helper.vb_message(b).decode()
            self.stop()
            raise VpiBridgeError(f"compiled bridge stopped: {message}")
        if status == _ENDED:
            self._ng.release_from_vpi()  # raises ngspice's error if the run failed
        return logs

    def stop(self) -> Logs:
        """Remove the callbacks, give ngspice back to Python; what happened since the last poll.

        Idempotent (later calls return empty logs).
        """
        b = self._b
        if b is None:
            return Logs()
        self._b = None
        try:
            self._helper.vb_stop(b)
            return self._drain(b)
        finally:
            self._helper.vb_free(b)
            self._ng.release_from_vpi()
