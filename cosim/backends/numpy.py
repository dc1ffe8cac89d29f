"""The crossbar's NumPy twin as a lockstep backend: fast and approximate, for control-logic
checks (devices through :mod:`cosim.circuit.mss`, neurons from the ideal circuit equations).

Its cost per sync does not grow with the array in Python: the held controls live in arrays
(select lines, inputs), the circuit is solved once per change of controls or states for all
devices at once, only devices with a non-zero source are integrated (the others take the exact
0 V update), and only values that moved by more than the VCD writer's deadband are handed to
the writer (so a write touches the few signals that changed, not every device of the array).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields

import numpy as np
from numpy.typing import NDArray

from cosim.backends.protocol import X_TOLERANCE, BackendStats, check_physical
from cosim.circuit import mss
from cosim.circuit.network import CircuitSpec
from cosim.topology import DEFAULT, Topology
from cosim.waves.write import DEADBAND, AnalogVcdWriter

FloatArray = NDArray[np.float64]

_DEVICE_VARS = ("v", "i", "x", "g")


def _take(p: mss.MSSArrays, idx: NDArray[np.intp] | slice) -> mss.MSSArrays:
    return mss.MSSArrays(**{f.name: getattr(p, f.name)[idx] for f in fields(p)})


class _Solution:
    """The circuit at the held controls and current states (every device at once)."""

    __slots__ = ("v_src", "v_dev", "i_dev", "neurons")

    def __init__(
        self, v_src: FloatArray, v_dev: FloatArray, i_dev: FloatArray, neurons: FloatArray
    ) -> None:
        self.v_src, self.v_dev, self.i_dev, self.neurons = v_src, v_dev, i_dev, neurons


class NumpyBackend:
    """The crossbar with the NumPy twin: fast, approximate, for control-logic checks.

    Between syncs the held source values are applied to every device through its series
    resistance (switch + series resistor + clamp/virtual ground, linear parts lumped), the
    state of every device with a non-zero source is advanced with
    :func:`cosim.circuit.mss.apply_pulse` (the others with the exact 0 V update
    :func:`cosim.circuit.mss.step_constant`), and the analog VCD gets ``points_per_interval``
    samples of every interval in which a source is on.  Neurons follow the ideal circuit
    equations of :mod:`cosim.circuit.network` with the devices' actual currents.  Every device's
    ``v``, ``i``, ``x``, ``g`` is recorded in every phase (subject to the writer's deadband).
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
        self._p = params.broadcast_flat(self._x.shape)
        self._layers = topology.layers
        self._still = np.asarray(mss.current(self._p, 0.0, self._x) == 0.0)  # no current at 0 V
        self._p_layer = [_take(self._p, sl) for sl in self._layers]
        self._writer = writer
        self._n_pts = max(1, int(points_per_interval))
        self._r_path = spec.r_read_path_ohm
        # held controls: arrays for the crossbar's sources, a dict for anything else
        self._sel = np.zeros(n, dtype=bool)
        self._vin = np.zeros(topology.n_in)
        self._vprog = 0.0
        self._vinf = 0.0
        self._other: dict[str, float] = {}
        self._slot: dict[str, tuple[str, int]] = {"vprog": ("prog", 0), "vinf": ("inf", 0)}
        self._slot.update({f"vsel{k}": ("sel", k) for k in range(n)})
        self._slot.update({f"vin{i}": ("in", i) for i in range(topology.n_in)})
        names = topology.device_names
        self._dev_keys = {var: [f"{nm}.{var}" for nm in names] for var in _DEVICE_VARS}
        n_in = topology.n_in
        self._sup_keys = {
            "in.v": [f"supply.in{i}.v" for i in range(n_in)],
            "in.i": [f"supply.in{i}.i" for i in range(n_in)],
            "inn.v": [f"supply.inn{i}.v" for i in range(n_in)],
            "inn.i": [f"supply.inn{i}.i" for i in range(n_in)],
        }
        self._neuron_keys = [f"neuron.{nm}.v" for nm in topology.neuron_names]
        # array signals in two blocks (devices: v, i, x, g; input drivers), flat names, deadband
        # per row and the last value handed to the writer (NaN: never, so the first goes out)
        blocks = {
            "dev": (_DEVICE_VARS, [self._dev_keys[v] for v in _DEVICE_VARS]),
            "sup": (tuple(self._sup_keys), list(self._sup_keys.values())),
        }
        self._flat = {b: [nm for row in rows for nm in row] for b, (_, rows) in blocks.items()}
        self._band = {
            b: np.array([[DEADBAND[v.rsplit(".", 1)[-1]]] for v in var])
            for b, (var, _) in blocks.items()
        }
        self._given = {"dev": np.full((4, n), np.nan), "sup": np.full((4, n_in), np.nan)}
        self._always = [
            *(f"supply.{s}.{q}" for s in ("vdd", "vss", "prog") for q in ("v", "i")),
            *self._neuron_keys,
        ]
        self._edge_s: float | None = None
        self._sol: _Solution | None = None
        self._record(0.0)

    # ------------------------------------------------------------------ the circuit
    def _solve(self) -> _Solution:
        """Source, voltage and current of every device and the neuron outputs (cached until
        the controls or the states change)."""
        if self._sol is None:
            self._sol = self._solve_states(self._x[None, :])[0]
        return self._sol

    def _solve_states(self, xs: FloatArray) -> list[_Solution]:
        """:meth:`_solve` at the held controls for each row of states ``xs`` ``(m, N_DEV)``
        (vectorized over the rows)."""
        spec, t, rp = self._spec, self._topo, self._r_path
        m = xs.shape[0]
        v_src = np.broadcast_to(np.where(self._sel, self._vprog, 0.0), xs.shape).copy()
        neurons = np.zeros((m, t.n_neurons))
        layer_iv: list[tuple[FloatArray, FloatArray]] = []
        if self._vinf > 0.5:
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
            solve = np.flatnonzero((v_src != 0).any(axis=0) | ~self._still)
            if solve.size:
                p = _take(self._p, solve)
                xk = xs[:, solve]
                v_dev[:, solve] = mss.device_voltage(p, v_src[:, solve], xk, rp)
                i_dev[:, solve] = mss.current(p, v_dev[:, solve], xk)
        return [_Solution(v_src[r], v_dev[r], i_dev[r], neurons[r]) for r in range(m)]

    # ------------------------------------------------------------------ recording
    def _moved(self, block: str, values: FloatArray, out: dict[str, float]) -> None:
        """Hand the values of the array block (rows of signals) that moved past the deadband
        since they were last handed over to ``out``."""
        given = self._given[block]
        moved = np.flatnonzero(~(np.abs(values - given) <= self._band[block]))
        if moved.size:
            flat_given, flat_values = given.reshape(-1), values.reshape(-1)
            flat_given[moved] = flat_values[moved]
            names = self._flat[block]
            vals = flat_values[moved].tolist()
            out.update(zip([names[k] for k in moved.tolist()], vals, strict=True))

    def _record(self, t_s: float) -> None:
        sol = self._solve()
        spec, t = self._spec, self._topo
        values: dict[str, float] = {}
        g = mss.conductance(self._p, self._x)
        self._moved("dev", np.stack([sol.v_dev, sol.i_dev, self._x, g]), values)
        v_prog = self._vprog
        i_prog = float(sol.i_dev[sol.v_src != 0].sum()) if v_prog != 0.0 else 0.0
        n_amps = t.n_neurons
        values["supply.vdd.v"], values["supply.vdd.i"] = spec.vdd_V, n_amps * spec.opamp_iq_A
        values["supply.vss.v"], values["supply.vss.i"] = spec.vss_V, -n_amps * spec.opamp_iq_A
        values["supply.prog.v"], values["supply.prog.i"] = v_prog, i_prog
        l1 = self._layers[0]
        if self._vinf > 0.5:
            rows = sol.i_dev[l1].reshape(t.n_in, t.n_hid).sum(axis=1)
        else:
            rows = np.zeros(t.n_in)
        vin = self._vin
        self._moved("sup", np.stack([vin, rows, -vin, -t.n_hid * spec.g_ref1_S * vin]), values)
        values.update(zip(self._neuron_keys, sol.neurons.tolist(), strict=True))
        self._writer.write(t_s, values)
        self.stats.points += 1

    def _stepping(self, before: _Solution, after: _Solution, inputs: bool) -> list[str]:
        """Signals that may step at a control edge: ``v``/``i`` of every device whose voltage
        or current jumps, ``x``/``g`` of every device driven before or after, the supplies
        (the input drivers only when ``inputs`` or ``vinf`` changed) and the neurons."""
        jump = np.flatnonzero((before.v_dev != after.v_dev) | (before.i_dev != after.i_dev))
        driven = np.flatnonzero((before.v_src != 0) | (after.v_src != 0))
        keys = self._dev_keys
        names = [keys[v][k] for k in jump.tolist() for v in ("v", "i")]
        names += [keys[v][k] for k in driven.tolist() for v in ("x", "g")]
        names += self._always
        if inputs:
            for key_list in self._sup_keys.values():
                names += key_list
        return names

    # ------------------------------------------------------------------ protocol
    def mark_edge(self, t_s: float) -> None:
        """Controls change at ``t_s``: the held values of the signals that step there go to the
        analog VCD (once :meth:`set_controls` shows which), the post-edge values follow at the
        same time stamp."""
        self._edge_s = t_s

    def set_controls(self, values: Mapping[str, float]) -> None:
        before = self._solve()
        inputs = False
        for name, value in values.items():
            kind, k = self._slot.get(name, ("other", 0))
            if kind == "sel":
                self._sel[k] = value > 0.5
            elif kind == "in":
                self._vin[k] = value
                inputs = True
            elif kind == "prog":
                self._vprog = float(value)
            elif kind == "inf":
                self._vinf = float(value)
                inputs = True
            else:
                self._other[name] = float(value)
        self._sol = None
        if self._edge_s is not None:
            stepping = self._stepping(before, self._solve(), inputs)
            self._writer.mark_edge(self._edge_s, stepping)
            self._edge_s = None
        self._record(self.stats.t_s)

    def advance_to(self, t_s: float) -> None:
        t0 = self.stats.t_s
        if t_s <= t0:
            return
        if self._edge_s is not None:  # an edge without new controls: nothing steps
            self._writer.mark_edge(self._edge_s, self._always)
            self._edge_s = None
        self.stats.syncs += 1
        v_src = self._solve().v_src
        on = np.flatnonzero(v_src != 0)
        if on.size:
            # the states at the interval's n points, integrated from its start in one call
            off = np.flatnonzero(v_src == 0)
            times = np.linspace(t0, t_s, self._n_pts + 1)[1:]
            dt = (times - t0)[:, None]
            xs = np.broadcast_to(self._x, (times.size, self._x.size)).copy()
            xs[:, on] = mss.apply_pulse(
                _take(self._p, on), self._x[on], v_src[on], dt, self._r_path
            )
            xs[:, off] = mss.step_constant(_take(self._p, off), self._x[off], 0.0, dt)
            for t_m, x, sol in zip(times.tolist(), xs, self._solve_states(xs), strict=True):
                self._x, self._sol = x, sol
                self._record(t_m)
        else:
            # 0 V everywhere: the cards hold state (checked in tests), advance exactly anyway.
            self._x = mss.step_constant(self._p, self._x, 0.0, t_s - t0)
            self._sol = None
        self.stats.t_s = t_s
        if not np.all((self._x >= -X_TOLERANCE) & (self._x <= 1.0 + X_TOLERANCE)):
            names = self._topo.device_names
            check_physical(t_s, {f"{names[k]}.x": self._x[k] for k in range(len(names))}, "numpy")

    def sample(self) -> dict[str, float]:
        self.stats.samples += 1
        sol = self._solve()
        i_prog = float(sol.i_dev[sol.v_src != 0].sum()) if self._vprog != 0.0 else 0.0
        out = {"sense": self._spec.r_sense_ohm * i_prog}
        out.update(zip(self._topo.neuron_names, sol.neurons.tolist(), strict=True))
        return out

    def states(self) -> np.ndarray:
        return self._x.copy()

    def close(self) -> None:
        self._writer.close()
