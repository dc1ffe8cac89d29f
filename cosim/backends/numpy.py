"""The crossbar's NumPy twin as a lockstep backend: fast and approximate, for control-logic
checks (devices through :mod:`cosim.circuit.mss`, neurons from the ideal circuit equations).

Its cost per sync follows the devices that carry current, not the array.  While programming
(``vinf`` off) only the selected device has a source: it alone is solved, integrated and
recorded; every other device sits at 0 V, 0 A, and its state is brought up to its exact 0 V
update lazily — when it is next driven, when the states are asked for, at the end, and at the
latest at the first sync after it could have drifted by half the VCD writer's deadband (so its
recorded ``x`` and ``g`` stay within 1.5 bands of the true ones at every sync; the writer's
deadband alone allows one).
During inference every device is driven and the whole array is solved per point.  Control
changes at one instant are applied together (the 64 input DACs of an image land in one time
step: one solve and one record, not 64), and only values that moved by more than the writer's
deadband are handed to it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import fields

import numpy as np
from numpy.typing import NDArray

from cosim.backends.numpy_record import Recorder
from cosim.backends.numpy_solution import NONE as _NONE
from cosim.backends.numpy_solution import One, Pending, Solution, one_rows, points, stepping
from cosim.backends.protocol import X_TOLERANCE, BackendStats, check_physical
from cosim.circuit import mss, mss_scalar
from cosim.circuit.network import CircuitSpec
from cosim.topology import DEFAULT, Topology
from cosim.waves.write import DEADBAND, AnalogVcdWriter

FloatArray = NDArray[np.float64]
IndexArray = NDArray[np.intp]

#: Idle devices whose 0 V update falls due within this time are updated together (s).
_GROUP_S = 1e-3


def _take(p: mss.MSSArrays, idx: IndexArray | slice) -> mss.MSSArrays:
    return mss.MSSArrays(**{f.name: getattr(p, f.name)[idx] for f in fields(p)})


class NumpyBackend:
    """The crossbar with the NumPy twin: fast, approximate, for control-logic checks.

    Between syncs the held source values are applied to every driven device through its
    series resistance (switch + series resistor + clamp/virtual ground, linear parts lumped),
    its state is advanced with :func:`cosim.circuit.mss.apply_pulse`, and the analog VCD gets
    ``points_per_interval`` samples of every interval in which a source is on.  Devices without
    a source take the exact 0 V update :func:`cosim.circuit.mss.step_constant` (lazily, see the
    module).  Neurons follow the ideal circuit equations of :mod:`cosim.circuit.network` with
    the devices' actual currents.  Every device's ``v``, ``i``, ``x``, ``g`` is recorded in
    every phase (subject to the writer's deadband).
    """

    def __init__(
        self,
        spec: CircuitSpec,
        params: mss.MSSArrays,
        x0: np.ndarray,
        writer: AnalogVcdWriter,
        *,
        points_per_interval: int = 4,
        topology: Topology = DEFAULT,
    ) -> None:
        self.stats = BackendStats()
        self._spec = spec
        self._topo = topology
        self._x = np.array(x0, dtype=float)
        n = self._x.size
        self._all = np.arange(n)
        self._tx = np.zeros(n)  # the time each state is current at (0 V since then)
        self._p = params.broadcast_flat(self._x.shape)
        self._layers = topology.layers
        # devices with current at 0 V: solved and kept current at every sync, like the driven
        still = np.asarray(mss.current(self._p, 0.0, self._x) == 0.0)
        self._loose = np.flatnonzero(~still)
        # at 0 V, x relaxes to x_eq at the rate lam: |dx/dt| = lam·|x − x_eq|·e^(−lam·t) never
        # exceeds its value at the last update, which bounds the drift of an idle device
        a0, b0 = mss.rates(self._p, 0.0)
        self._lam0 = a0 + b0
        self._x_eq0 = np.divide(a0, self._lam0, out=np.zeros(n), where=self._lam0 > 0)
        self._dg = np.abs(1.0 / self._p.r_on - 1.0 / self._p.r_off)
        # the same as floats, for the one-device path (One)
        self._lam0_f, self._x_eq0_f = self._lam0.tolist(), self._x_eq0.tolist()
        self._dg_f = self._dg.tolist()
        self._r_on_f, self._r_off_f = self._p.r_on.tolist(), self._p.r_off.tolist()
        self._one_dev: dict[int, mss_scalar.Device | None] = {}
        self._soon_at = np.zeros(n)  # when a device could have drifted by half a deadband
        self._soon_s = np.inf  # the earliest of them (may stay early, see _catch_up_soon)
        self._p_layer = [_take(self._p, sl) for sl in self._layers]
        self._p_sub: dict[bytes, mss.MSSArrays] = {}
        self._writer = writer
        self._n_pts = max(1, int(points_per_interval))
        self._r_path = spec.r_read_path_ohm
        # held controls: arrays for the crossbar's sources, a dict for anything else
        self._sel = np.zeros(n, dtype=bool)
        self._selected: set[int] = set()  # the same, as indices
        self._vin = np.zeros(topology.n_in)
        self._vprog = 0.0
        self._vinf = 0.0
        self._other: dict[str, float] = {}
        self._slot: dict[str, tuple[str, int]] = {"vprog": ("prog", 0), "vinf": ("inf", 0)}
        self._slot.update({f"vsel{k}": ("sel", k) for k in range(n)})
        self._slot.update({f"vin{i}": ("in", i) for i in range(topology.n_in)})
        self._rec = Recorder(spec, topology)
        self._neuron_names = list(topology.neuron_names)
        self._sup_stale = True  # the input drivers' block may have changed since handed over
        self._edge_s: float | None = None
        self._pending: Pending | None = None
        self._sol: Solution | One | None = None
        self._extra: list[IndexArray] = [self._all]  # devices to record besides the solved
        self._extra1: set[int] = set()  # ... one by one
        self._closed = False
        self._schedule(self._all)
        self._record(0.0)

    # ------------------------------------------------------------------ the circuit
    def _sub(self, idx: IndexArray) -> mss.MSSArrays:
        """The parameters of the devices ``idx`` (small sets cached: the same ones recur)."""
        if idx.size == self._all.size:
            return self._p
        if idx.size > 8:
            return _take(self._p, idx)
        key = idx.tobytes()
        p = self._p_sub.get(key)
        if p is None:
            if len(self._p_sub) > 4096:
                self._p_sub.clear()
            p = self._p_sub[key] = _take(self._p, idx)
        return p

    def _dense(self) -> bool:
        """Inference: every device sits in a driven path."""
        return self._vinf > 0.5

    def _solved(self) -> IndexArray:
        """The devices solved at the held controls: all during inference, else the selected
        ones when the pulse source is on, and the devices with current at 0 V."""
        if self._dense():
            return self._all
        driven = np.flatnonzero(self._sel) if self._vprog != 0.0 else _NONE
        return np.union1d(driven, self._loose) if self._loose.size else driven

    def _catch_up(self, idx: IndexArray, t_s: float) -> IndexArray:
        """Bring the states of ``idx`` (at 0 V since their last update) to ``t_s`` exactly;
        returns the devices updated (they are recorded at the next point)."""
        dt = t_s - self._tx[idx]
        late = idx[dt > 0]
        if late.size:  # mss.step_constant at 0 V, its rates taken once (the same floats)
            x_eq = self._x_eq0[late]
            self._x[late] = x_eq + (self._x[late] - x_eq) * np.exp(-self._lam0[late] * dt[dt > 0])
            self._tx[late] = t_s
            self._extra.append(late)
            self._schedule(late)
        return late

    def _schedule(self, idx: IndexArray) -> None:
        """When the devices ``idx`` (just updated) could have drifted at 0 V by half a
        deadband of ``x`` or ``g``."""
        rate = self._lam0[idx] * np.abs(self._x[idx] - self._x_eq0[idx])
        with np.errstate(divide="ignore"):
            span = np.minimum(DEADBAND["x"] / rate, DEADBAND["g"] / (rate * self._dg[idx]))
        soon = self._soon_at[idx] = self._tx[idx] + 0.5 * span
        self._soon_s = min(self._soon_s, float(np.min(soon)))

    def _catch_up_soon(self, t_s: float) -> IndexArray:
        """The 0 V update of every idle device that could have drifted by half a deadband by
        ``t_s`` or will within :data:`_GROUP_S` (one update for many)."""
        if t_s < self._soon_s or self._dense():
            return _NONE
        done = self._catch_up(np.flatnonzero(self._soon_at <= t_s + _GROUP_S), t_s)
        self._soon_s = float(np.min(self._soon_at))
        return done

    def _solve(self) -> Solution | One:
        """The circuit at the held controls and current states (cached until the controls or
        the states change)."""
        if self._sol is None:
            self._sol = self._one()
            if self._sol is None:
                idx = self._solved()
                self._catch_up(idx, self.stats.t_s)
                self._sol = self._solve_states(idx, self._x[idx][None, :])[0]
        return self._sol

    # ------------------------------------------------------------------ one device, floats
    def _device(self, k: int) -> mss_scalar.Device | None:
        if k not in self._one_dev:
            self._one_dev[k] = mss_scalar.device(self._p, k)
        return self._one_dev[k]

    def _one(self) -> One | None:
        """The solution in floats when at most one device is solved and it is linear (no
        inference, no device with current at 0 V): programming.  None: use the arrays."""
        if self._vinf > 0.5 or self._loose.size:
            return None
        if self._vprog == 0.0 or not self._selected:
            return One(-1, 0.0, 0.0, 0.0)
        if len(self._selected) > 1:
            return None
        (k,) = self._selected
        d = self._device(k)
        if d is None:
            return None
        t = self.stats.t_s
        if t - self._tx[k] > 0:  # _catch_up of one device
            self._x[k] = mss_scalar.step_constant(d, float(self._x[k]), 0.0, t - self._tx[k])
            self._tx[k] = t
            self._extra1.add(k)
            self._schedule_one(k)
        return self._one_at(k, d, self._vprog, float(self._x[k]))

    def _one_at(self, k: int, d: mss_scalar.Device, v_src: float, x: float) -> One:
        """Device ``k`` at state ``x`` driven by ``v_src`` (``phi == 1``: I = V·G exactly)."""
        g = mss_scalar.conductance(d, x)
        v = v_src / (1.0 + self._r_path * g)
        return One(k, v_src, v, v * g)

    def _schedule_one(self, k: int) -> None:
        """:meth:`_schedule` of one device."""
        rate = self._lam0_f[k] * abs(float(self._x[k]) - self._x_eq0_f[k])
        span_x = DEADBAND["x"] / rate if rate else math.inf
        rate_g = rate * self._dg_f[k]
        span = min(span_x, DEADBAND["g"] / rate_g if rate_g else math.inf)
        soon = float(self._tx[k]) + 0.5 * span
        self._soon_at[k] = soon
        self._soon_s = min(self._soon_s, soon)

    def _pulse_one(self, sol: One, t0: float, t_s: float) -> None:
        """The driven interval ``t0 → t_s`` of one device: its points integrated from ``t0``
        (as the arrays do: each from the interval's start) and recorded."""
        k, v_src = sol.k, sol.v_src
        d = self._device(k)
        assert d is not None
        times = points(t0, t_s, self._n_pts)
        x0, rp = float(self._x[k]), self._r_path
        self._tx[k] = t_s
        self._soon_at[k] = math.inf  # current at every point (rescheduled below)
        r_on, r_off, alone = self._r_on_f[k], self._r_off_f[k], {k}
        for t_m in times:
            x = mss_scalar.pulse(d, x0, v_src, t_m - t0, rp)
            self._x[k] = x
            one = self._sol = self._one_at(k, d, v_src, x)
            fast = t_m < self._soon_s and not self._extra and not self._sup_stale
            if not fast or not self._extra1 <= alone:
                self._record(t_m)
                continue
            self._extra1.clear()  # _record_one of this device alone, inline
            values: dict[str, float] = {}
            g = x / r_on + (1.0 - x) / r_off
            self._rec.device(k, (one.v_dev, one.i_dev, x, g), values)
            self._rec.supplies(self._vprog, 0.0 + one.i_dev, None, values)
            self._writer.write(t_m, values)
            self.stats.points += 1
        self._schedule_one(k)

    def _record_one(self, t_s: float, sol: One) -> None:
        """:meth:`_record` of the devices in ``_extra1`` and the solved one (if any)."""
        values: dict[str, float] = {}
        if sol.k >= 0:
            self._extra1.add(sol.k)
        if self._extra1:
            cols = sorted(self._extra1)
            self._extra1.clear()
            xs = [float(self._x[c]) for c in cols]
            self._rec.devices(cols, one_rows(sol, cols, xs, self._r_on_f, self._r_off_f), values)
        i_prog = sol.i_prog() if self._vprog != 0.0 else 0.0
        self._rec.supplies(self._vprog, i_prog, None, values)
        self._writer.write(t_s, values)
        self.stats.points += 1

    def _solve_states(self, idx: IndexArray, xs: FloatArray) -> list[Solution]:
        """:meth:`_solve` at the held controls for each row of states ``xs`` ``(m, idx.size)``
        of the devices ``idx`` (vectorized over the rows)."""
        spec, t, rp = self._spec, self._topo, self._r_path
        m = xs.shape[0]
        v_src = np.broadcast_to(np.where(self._sel[idx], self._vprog, 0.0), xs.shape).copy()
        neurons = np.zeros((m, t.n_neurons))
        layer_iv: list[tuple[FloatArray, FloatArray]] = []
        if self._dense():  # idx is every device
            (l1, l2), (p1, p2) = self._layers, self._p_layer
            v_in = self._vin
            v1 = np.broadcast_to(np.repeat(v_in, t.n_hid), (m, t.n_layer1))
            d1 = mss.device_voltage(p1, v1, xs[:, l1], rp)
            i1 = mss.current(p1, d1, xs[:, l1])
            i_col = i1.reshape(m, t.n_in, t.n_hid).sum(axis=1) - spec.g_ref1_S * v_in.sum()
            h = np.clip(spec.r_f1_ohm * i_col, 0.0, spec.v_h_max_V)
            v2 = np.repeat(h, t.n_out, axis=1)
            d2 = mss.device_voltage(p2, v2, xs[:, l2], rp)
            i2 = mss.current(p2, d2, xs[:, l2])
            i_out = i2.reshape(m, t.n_hid, t.n_out).sum(axis=1)
            i_out -= spec.g_ref2_S * h.sum(axis=1, keepdims=True)
            y = np.clip(spec.r_f2_ohm * i_out, 0.0, spec.v_o_max_V)
            neurons = np.concatenate([h, y], axis=1)
            v_src[:, l1] += v1
            v_src[:, l2] += v2
            layer_iv = [(d1, i1), (d2, i2)]
        if layer_iv and not self._sel.any():  # the neurons' solution is every device's
            v_dev = np.concatenate([layer_iv[0][0], layer_iv[1][0]], axis=1)
            i_dev = np.concatenate([layer_iv[0][1], layer_iv[1][1]], axis=1)
        else:  # a device without current at 0 V sits at 0 V, 0 A when its source is 0 V
            v_dev, i_dev = np.zeros_like(xs), np.zeros_like(xs)
            needed = (v_src != 0).any(axis=0)
            if self._loose.size:
                needed |= np.isin(idx, self._loose)
            solve = np.flatnonzero(needed)
            if solve.size:
                p = self._sub(idx[solve])
                xk = xs[:, solve]
                v_dev[:, solve] = mss.device_voltage(p, v_src[:, solve], xk, rp)
                i_dev[:, solve] = mss.current(p, v_dev[:, solve], xk)
        return [Solution(idx, v_src[r], v_dev[r], i_dev[r], neurons[r]) for r in range(m)]

    # ------------------------------------------------------------------ recording
    def _record(self, t_s: float) -> None:
        sol = self._solve()
        self._catch_up_soon(t_s)  # idle devices ride along with the points that are written
        if isinstance(sol, One):
            if self._extra and sum(a.size for a in self._extra) <= 32:  # a few caught up
                for late in self._extra:
                    self._extra1.update(late.tolist())
                self._extra.clear()
            if not self._extra and not self._sup_stale:
                self._record_one(t_s, sol)
                return
            sol = sol.full(self._topo.n_neurons)
        spec, t = self._spec, self._topo
        values: dict[str, float] = {}
        cols = sol.idx
        if self._extra or self._extra1:
            if cols.size < self._all.size:  # (every device solved: nothing to add)
                one = np.array(sorted(self._extra1), dtype=np.intp)
                cols = np.unique(np.concatenate([cols, *self._extra, one]))
            self._extra.clear()
            self._extra1.clear()
        if cols.size:
            v_dev, i_dev, _ = sol.on(cols)
            x = self._x[cols]
            g = x / self._p.r_on[cols] + (1.0 - x) / self._p.r_off[cols]  # mss.conductance
            self._rec.block("dev", np.stack([v_dev, i_dev, x, g]), cols, values)
        i_prog = float(sol.i_dev[sol.v_src != 0].sum()) if self._vprog != 0.0 else 0.0
        self._rec.supplies(self._vprog, i_prog, sol.neurons.tolist(), values)
        if self._sup_stale or self._dense():
            self._sup_stale = False
            if self._dense():
                l1 = self._layers[0]
                rows = sol.i_dev[l1].reshape(t.n_in, t.n_hid).sum(axis=1)
            else:
                rows = np.zeros(t.n_in)
            vin = self._vin
            sup = np.stack([vin, rows, -vin, -t.n_hid * spec.g_ref1_S * vin])
            self._rec.block("sup", sup, np.arange(t.n_in), values)
        self._writer.write(t_s, values)
        self.stats.points += 1

    def _commit(self) -> None:
        """Apply the pending control changes to the waveforms: the held values of what steps
        at the edge, then the new point."""
        pending, self._pending = self._pending, None
        if pending is None:
            return
        after = self._solve()
        if pending.edge_s is not None:
            before = pending.before
            jump, driven = stepping(before, after, self._topo.n_neurons)
            zero = isinstance(before, One) and isinstance(after, One)  # neurons at 0 V
            names = self._rec.stepping(jump, driven, not zero, pending.inputs)
            self._writer.mark_edge(pending.edge_s, names)
        before = pending.before  # devices no longer driven step to 0 V, 0 A
        if isinstance(before, One):
            if before.k >= 0:
                self._extra1.add(before.k)
        else:
            self._extra.append(before.idx)
        self._record(pending.t_s)

    # ------------------------------------------------------------------ protocol
    def mark_edge(self, t_s: float) -> None:
        """Controls change at ``t_s``: the held values of the signals that step there go to the
        analog VCD (once the changes of that instant are known), the post-edge values follow
        at the same time stamp."""
        self._edge_s = t_s

    def set_controls(self, values: Mapping[str, float]) -> None:
        if self._pending is None:
            self._pending = Pending(self.stats.t_s, self._edge_s, self._solve())
        self._edge_s = None  # a second edge at the same instant: the first one's held values
        dense = self._dense()
        for name, value in values.items():
            kind, k = self._slot.get(name, ("other", 0))
            if kind == "sel":
                self._sel[k] = value > 0.5
                if value > 0.5:
                    self._selected.add(k)
                else:
                    self._selected.discard(k)
            elif kind == "in":
                self._vin[k] = value
                self._pending.inputs = True
            elif kind == "prog":
                self._vprog = float(value)
            elif kind == "inf":
                self._vinf = float(value)
                self._pending.inputs = True
            else:
                self._other[name] = float(value)
        self._sup_stale = self._sup_stale or self._pending.inputs
        if self._dense() and not dense:  # every device joins the solved set
            self._catch_up(self._all, self.stats.t_s)
        self._sol = None

    def advance_to(self, t_s: float) -> None:
        t0 = self.stats.t_s
        if t_s <= t0:
            return
        self._commit()
        if self._edge_s is not None:  # an edge without new controls: nothing steps
            self._writer.mark_edge(self._edge_s, self._rec.always)
            self._edge_s = None
        self.stats.syncs += 1
        sol = self._solve()
        if isinstance(sol, One):
            if sol.k >= 0:  # _one solves a device only with its source on
                self._pulse_one(sol, t0, t_s)
            self.stats.t_s = t_s
            if t_s >= self._soon_s and self._catch_up_soon(t_s).size:  # drifted since a point
                self._record(t_s)
            if sol.k >= 0 and not -X_TOLERANCE <= self._x[sol.k] <= 1.0 + X_TOLERANCE:
                name = self._topo.device_names[sol.k]
                check_physical(t_s, {f"{name}.x": self._x[sol.k]}, "numpy")
            return
        idx, on = sol.idx, sol.v_src != 0
        if on.any():
            # the states at the interval's n points, integrated from its start in one call
            times = np.linspace(t0, t_s, self._n_pts + 1)[1:]
            dt = (times - t0)[:, None]
            xs = np.broadcast_to(self._x[idx], (times.size, idx.size)).copy()
            xs[:, on] = mss.apply_pulse(
                self._sub(idx[on]), self._x[idx[on]], sol.v_src[on], dt, self._r_path
            )
            if not on.all():
                off = idx[~on]
                xs[:, ~on] = mss.step_constant(self._sub(off), self._x[off], 0.0, dt)
            self._tx[idx] = t_s
            self._soon_at[idx] = np.inf  # current at every point (rescheduled below)
            for t_m, x, s in zip(times.tolist(), xs, self._solve_states(idx, xs), strict=True):
                self._x[idx], self._sol = x, s
                self._record(t_m)
            self._schedule(idx)
        elif idx.size:  # 0 V everywhere: the cards hold state (checked in tests), exactly
            self._catch_up(idx, t_s)
            self._sol = None
        self.stats.t_s = t_s
        if t_s >= self._soon_s and self._catch_up_soon(t_s).size:  # drifted since a point
            self._record(t_s)
        x = self._x[idx]
        if not np.all((x >= -X_TOLERANCE) & (x <= 1.0 + X_TOLERANCE)):
            names = self._topo.device_names
            check_physical(t_s, {f"{names[k]}.x": self._x[k] for k in idx.tolist()}, "numpy")

    def sample(self) -> dict[str, float]:
        self._commit()
        self.stats.samples += 1
        sol = self._solve()
        if isinstance(sol, One):
            i_prog, neurons = sol.i_prog(), self._rec.zero_neurons
        else:
            i_prog, neurons = float(sol.i_dev[sol.v_src != 0].sum()), sol.neurons.tolist()
        out = {"sense": self._spec.r_sense_ohm * (i_prog if self._vprog != 0.0 else 0.0)}
        out.update(zip(self._neuron_names, neurons, strict=True))
        return out

    def states(self) -> np.ndarray:
        self._catch_up(self._all, self.stats.t_s)
        return self._x.copy()

    def close(self) -> None:
        """Record the last point (every device at its exact state) and close the VCD."""
        if not self._closed:
            self._closed = True
            self._commit()
            self._catch_up(self._all, self.stats.t_s)
            if self._extra or self._extra1:
                self._record(self.stats.t_s)
        self._writer.close()
