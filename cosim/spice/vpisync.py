"""The compiled lockstep bridge: the HDL's value changes drive the analog side from C.

:class:`VpiBridge` configures ``vpisync.c`` (built with the sync helper, :mod:`cosim.spice.build`)
inside a running simulator (Icarus's ``vvp``, whose ``vpi_*`` functions the helper finds with
``dlsym``): the driving ports, the sources they drive, the strobes and the HDL inputs that
samples are written to. Then value-change callbacks run the rules of
:class:`cosim.bench.lockstep.Bridge` in C, while ngspice's thread waits in the sync callback
between syncs (``synchelper.c``). Python reads what happened (:meth:`VpiBridge.poll`: stimulus,
samples, edges, counters) now and then and detaches it with :meth:`VpiBridge.stop`.

With an analog simulator that runs in Python (a :class:`Deferred` side, e.g. the NumPy twin)
the same C rules log every advance and source change, and call Python only when a sample is
due: the side replays the log (:meth:`Deferred.replay`, the very calls the cocotb bridge would
have made, in the same order) and gives the sampled values. No ngspice is involved then.

Why a module of its own with ctypes: it is the one other place where C is called, and it
knows nothing of ngspice beyond :meth:`cosim.spice.ngspice.NgSpice.hold_for_vpi` (the helper
and its state) and the helper's source table. Used by :mod:`cosim.bench.lockstep` only.
"""

from __future__ import annotations

import ctypes
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from cosim.errors import CosimError
from cosim.spice.ngspice import (
    NgSpice,
    Signatures,
    declare,
    load_sync_helper,
    plot_vector_name,
)

__all__ = [
    "ENGINE_ENV",
    "Deferred",
    "Logs",
    "VpiBridge",
    "VpiBridgeError",
    "VpiWatch",
    "Wake",
    "deferred_unavailable",
    "unavailable",
]

ENGINE_ENV = "COSIM_SYNC"
"""``python`` selects the cocotb bridge and the foreground engine (see cosim.spice.build)."""

_RUNNING, _STOPPED, _ENDED, _ERROR = 0, 1, 2, 3
_dbl, _int, _vp, _str = ctypes.c_double, ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p
_STIM, _SAMPLE, _EDGE = 0, 1, 2
#: The deferred analog side's callback: (t, quantities out) → 0, or nonzero if it failed.
_ANALOG = ctypes.CFUNCTYPE(_int, _dbl, ctypes.POINTER(_dbl))
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
    "vb_defer": ([_vp, _ANALOG], None),
    "vw_new": ([], _vp),
    "vw_signal": ([_vp, _str, _int], _int),
    "vw_value": ([_vp, _int], _dbl),
    "vw_start": ([_vp], _int),
    "vw_log_size": ([_vp], ctypes.c_size_t),
    "vw_log_take": ([_vp, ctypes.POINTER(_dbl)], None),
    "vw_free": ([_vp], None),
}

#: One wake of the bridge as a deferred side replays it: its time, whether the analog side
#: advances to it (time moved), and the source values that change there.
Wake = tuple[float, bool, dict[str, float]]


class Deferred(Protocol):
    """An analog side in Python that the compiled bridge calls only when a sample is due."""

    def replay(self, wakes: Sequence[Wake]) -> None:
        """Apply these wakes in order: advance to each time that moved (old values held), then
        the changes of that time."""

    def sample_values(self) -> Mapping[str, float]:
        """The sampled quantities at the current time, by quantity key."""


class VpiBridgeError(CosimError):
    """The compiled bridge could not be set up, or stopped on an error (the message says)."""


def _take_log(n: int, take: Any) -> list[float]:
    """The ``n`` doubles of a C log, emptied by ``take(pointer)`` into a NumPy buffer (a ctypes
    array type per size costs more than the copy)."""
    if n == 0:
        return []
    buf = np.empty(n)
    take(buf.ctypes.data_as(ctypes.POINTER(_dbl)))
    values: list[float] = buf.tolist()
    return values


def _bridge_reason(helper: Any) -> str | None:
    """Why ``helper``'s VPI bridge cannot run here (None: it can)."""
    if not hasattr(helper, "vb_new"):
        return "the sync helper has no VPI bridge"
    # a helper built without vpi_user.h has vb_new and vb_reason only: probe before the rest
    declare(helper, {k: _SIGNATURES[k] for k in ("vb_new", "vb_reason")})
    probe = helper.vb_new(None, 0, 0.0)
    if not probe:
        return str(helper.vb_reason().decode())
    declare(helper, _SIGNATURES)
    helper.vb_free(probe)
    return None


def deferred_unavailable() -> str | None:
    """Why the compiled bridge cannot drive an analog side in Python here (None: it can)."""
    helper, reason = load_sync_helper()
    return reason if helper is None else _bridge_reason(helper)


def unavailable(ng: NgSpice) -> str | None:
    """Why the compiled bridge cannot drive ``ng`` here (None: it can)."""
    if ng.sync_engine != "c":
        return ng.sync_reason
    return _bridge_reason(ng._helper)  # the sync helper library (same .so as the VPI bridge)


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
        ng: the paused (or not yet started) transient; its thread waits for the bridge.  None
            with ``deferred``.
        quantities: sample key → ngspice vector (``v(sense)``, ``vref#branch``); with
            ``deferred`` the vectors are not used.
        latest: each quantity's current value (the samples before ngspice's next point).
        t_s: the time the analog side was last advanced to (the backend's ``stats.t_s``).
        deferred: an analog side in Python, called when a sample is due (instead of ngspice).

    Raises:
        VpiBridgeError: not inside a simulator, or no compiled helper.
    """

    def __init__(
        self,
        ng: NgSpice | None,
        quantities: Mapping[str, str],
        latest: Mapping[str, float],
        t_s: float,
        *,
        deferred: Deferred | None = None,
    ) -> None:
        self._ng = ng
        self._deferred = deferred
        #: The deferred side's exception, raised by :meth:`poll` (the C side only stops).
        self.error: BaseException | None = None
        self._backlog: list[tuple[float, dict[str, float]]] = []  # replayed, not yet polled
        if ng is not None:
            why = unavailable(ng)
            if why is not None:
                raise VpiBridgeError(f"compiled bridge unavailable: {why}")
            started = ng.transient_state != "idle"
            self._helper, self._cs = ng.hold_for_vpi()
        else:
            if deferred is None:
                raise VpiBridgeError("the compiled bridge needs ngspice or a deferred analog side")
            why = deferred_unavailable()
            if why is not None:
                raise VpiBridgeError(f"compiled bridge unavailable: {why}")
            started = True  # the side simulates from t_s on
            self._helper, _ = load_sync_helper()
            self._cs = self._helper.cs_new(None, None, None, None)
        h = self._helper
        self._b = h.vb_new(self._cs, int(started), float(t_s))
        if not self._b:
            raise VpiBridgeError(f"compiled bridge unavailable: {h.vb_reason().decode()}")
        self._quantities = list(quantities)
        self._slots: dict[int, str] = {}
        h.cs_quantities_clear(self._cs)
        for q, vec in quantities.items():
            name = q if deferred is not None else plot_vector_name(vec)
            k = h.cs_quantity(self._cs, name.encode(), float(latest.get(q, 0.0)))
            self._check(k >= 0, f"too many sampled quantities ({len(quantities)})")
        if deferred is not None:
            self._callback = _ANALOG(self._on_sample)  # lives as long as the bridge
            h.vb_defer(self._b, self._callback)

    def _check(self, ok: bool, what: str) -> None:
        if not ok:
            self.stop()
            raise VpiBridgeError(f"compiled bridge: {what}")

    def slot(self, source: str) -> int:
        """The helper's table entry of an ``external`` source (created if needed)."""
        # ngspice's names are lower case; a deferred side gets its own names back
        key = source.strip().lower() if self._ng is not None else source
        k = self._helper.cs_find(self._cs, key.encode())
        if k < 0:
            if self._ng is not None:
                self._ng.set_source(key, 0.0)
            else:
                self._helper.cs_set_source(self._cs, key.encode(), 0.0)
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
        return _take_log(
            int(self._helper.vb_log_size(b, which)),
            lambda out: self._helper.vb_log_take(b, which, out),
        )

    def _wakes(self, b: Any) -> list[Wake]:
        """The stimulus log as wakes (deferred side): rows (t, wake, slot or -1, value)."""
        stim, out = self._take(b, _STIM), list[Wake]()
        wake = -1.0
        for k in range(0, len(stim), 4):
            t, w, slot, value = stim[k : k + 4]
            if w != wake:
                out.append((t, False, {}))
                wake = w
            if slot < 0:
                out[-1] = (t, True, out[-1][2])
            else:
                out[-1][2][self._slots[int(slot)]] = value
        return out

    def _replay_log(self, b: Any) -> None:
        """Hand the logged wakes to the deferred side; keep their changes for the next poll."""
        assert self._deferred is not None
        wakes = self._wakes(b)
        if wakes:
            self._deferred.replay(wakes)
            self._backlog += [(t, changes) for t, _, changes in wakes if changes]

    def _on_sample(self, t_s: float, out: Any) -> int:
        """A sample is due at ``t_s`` (called from C): replay the log, write the quantities."""
        try:
            self._replay_log(self._b)
            assert self._deferred is not None
            values = self._deferred.sample_values()
            for k, q in enumerate(self._quantities):
                out[k] = values[q]
            return 0
        except BaseException as exc:  # noqa: BLE001 -- re-raised by poll/stop, not in C
            self.error = exc
            return 1

    def _drain(self, b: Any) -> Logs:
        h, nq = self._helper, len(self._quantities)
        logs = Logs()
        if self._deferred is not None:
            self._replay_log(b)
            logs.stimulus, self._backlog = self._backlog, []
        else:
            stim = self._take(b, _STIM)
            wake = -1.0
            for k in range(0, len(stim), 4):
                t, w, slot, value = stim[k : k + 4]
                if w != wake:
                    logs.stimulus.append((t, {}))
                    wake = w
                logs.stimulus[-1][1][self._slots[int(slot)]] = value
                self._ng.set_source(self._slots[int(slot)], value)  # type: ignore[union-attr]
        rows = self._take(b, _SAMPLE)
        for k in range(0, len(rows), nq + 1):
            values = rows[k + 1 : k + 1 + nq]
            logs.samples.append((rows[k], dict(zip(self._quantities, values, strict=True))))
        logs.edges = self._take(b, _EDGE)
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
            Exception: the deferred side's own error (the bridge is detached then).
        """
        b = self._b
        if b is None:
            return Logs()
        try:
            logs = self._drain(b)
        except BaseException as exc:
            self.error = exc
        status = self._helper.vb_status(b)
        if self.error is not None:
            self.stop()
            raise self.error
        if status == _ERROR:
            message = self._helper.vb_message(b).decode()
            self.stop()
            raise VpiBridgeError(f"compiled bridge stopped: {message}")
        if status == _ENDED and self._ng is not None:
            self._ng.release_from_vpi()  # raises ngspice's error if the run failed
        return logs

    def stop(self) -> Logs:
        """Remove the callbacks, give ngspice back to Python; what happened since the last poll
        (a deferred side has replayed all of it).

        Idempotent (later calls return empty logs).  A deferred side's error is left in
        :attr:`error`.
        """
        b = self._b
        if b is None:
            return Logs()
        self._b = None
        try:
            self._helper.vb_stop(b)
            if self.error is not None:
                return Logs()
            return self._drain(b)
        except BaseException as exc:
            self.error = exc
            return Logs()
        finally:
            self._helper.vb_free(b)
            if self._ng is not None:
                self._ng.release_from_vpi()
            else:
                self._helper.cs_free(self._cs)


class VpiWatch:
    """Changes of chosen HDL signals, logged by VPI value-change callbacks in C (no Python per
    change) and taken in order by :meth:`take`.

    Kinds of signal: :attr:`INT` (a logic value of up to 53 bits; -1 while a bit is X/Z),
    :attr:`REAL`, :attr:`ONEHOT` (a logic vector of any width: the index of its one set bit; -1
    none, -2 several, -3 a bit X/Z).

    Raises:
        VpiBridgeError: not inside a simulator, or no compiled helper.
    """

    INT, REAL, ONEHOT = 0, 1, 2

    def __init__(self) -> None:
        why = deferred_unavailable()
        if why is not None:
            raise VpiBridgeError(f"compiled watch unavailable: {why}")
        self._helper, _ = load_sync_helper()
        self._w = self._helper.vw_new()
        if not self._w:
            raise VpiBridgeError(f"compiled watch unavailable: {self._helper.vb_reason().decode()}")

    def signal(self, path: str, kind: int) -> int:
        """Watch ``path`` (full HDL path) as ``kind``: its index in the rows, and its value now."""
        k = int(self._helper.vw_signal(self._w, path.encode(), kind))
        if k < 0:
            self.stop()
            raise VpiBridgeError(f"compiled watch: cannot watch {path!r} as kind {kind}")
        return k

    def value(self, k: int) -> float:
        """The current value of signal ``k`` (NaN once stopped)."""
        return float(self._helper.vw_value(self._w, k)) if self._w else math.nan

    def start(self) -> None:
        """Register the callbacks: changes are logged from now on."""
        if self._helper.vw_start(self._w) != 0:
            self.stop()
            raise VpiBridgeError("compiled watch: vpi_register_cb failed")

    def take(self) -> list[tuple[float, int, float]]:
        """The rows ``(t_fs, signal, value)`` logged since the last take, in order (the time
        in femtoseconds: exact for the first 9 s of simulated time)."""
        w = self._w
        if not w:
            return []
        rows = _take_log(
            int(self._helper.vw_log_size(w)), lambda out: self._helper.vw_log_take(w, out)
        )
        return [(rows[k], int(rows[k + 1]), rows[k + 2]) for k in range(0, len(rows), 3)]

    def stop(self) -> None:
        """Remove the callbacks and free the log (idempotent)."""
        w, self._w = self._w, None
        if w:
            self._helper.vw_free(w)
