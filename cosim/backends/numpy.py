"""The crossbar's NumPy twin as a lockstep backend: fast and approximate, for control-logic
checks (devices through :mod:`cosim.circuit.mss`, neurons from the ideal circuit equations)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from cosim.backends.protocol import X_TOLERANCE, BackendStats, check_physical
from cosim.circuit import mss
from cosim.circuit.network import CircuitSpec
from cosim.topology import DEFAULT, Topology
from cosim.waves.write import AnalogVcdWriter


class NumpyBackend:
    """The crossbar with the NumPy twin: fast, approximate, for control-logic checks.

    Between syncs the held source values are applied to every device through its series
    resistance (switch + series resistor + clamp/virtual ground, linear parts lumped), the
    state is advanced with :func:`cosim.circuit.mss.apply_pulse`, and the analog VCD gets
    ``points_per_interval`` samples of every interval.  Neurons follow the ideal circuit
    equations of :mod:`cosim.circuit.network` with the devices' actual currents.
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
        self._x = np.array(x0, dtype=float)
        self._p = params.broadcast_flat(self._x.shape)
        self._writer = writer
        self._n_pts = max(1, int(points_per_interval))
        self._ctl: dict[str, float] = {}
        self._topo = topology
        self._names = topology.device_names
        self._r_path = spec.r_read_path_ohm
        self._record(0.0)

    def _device_sources(self) -> tuple[np.ndarray, float, np.ndarray]:
        """Source voltage seen by each device's path, the programming-bus voltage and the
        neuron outputs (hidden and output; all 0 V outside inference)."""
        n = len(self._names)
        v_src = np.zeros(n)
        ctl = self._ctl
        v_prog = ctl.get("vprog", 0.0)
        sel = np.array([ctl.get(f"vsel{k}", 0.0) > 0.5 for k in range(n)])
        v_src[sel] = v_prog
        neurons = self._neurons()
        if ctl.get("vinf", 0.0) > 0.5:
            t = self._topo
            l1, l2 = t.layers
            v_src[l1] += np.repeat(self._inputs(), t.n_hid)
            v_src[l2] += np.repeat(neurons[: t.n_hid], t.n_out)
        return v_src, v_prog, neurons

    def _currents(self, v_src: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        v_dev = mss.device_voltage(self._p, v_src, self._x, self._r_path)
        return v_dev, mss.current(self._p, v_dev, self._x)

    def _inputs(self) -> np.ndarray:
        return np.array([self._ctl.get(f"vin{i}", 0.0) for i in range(self._topo.n_in)])

    def _neurons(self) -> np.ndarray:
        """Hidden and output neuron voltages for the held inputs (infer mode)."""
        spec, t = self._spec, self._topo
        if self._ctl.get("vinf", 0.0) <= 0.5:
            return np.zeros(t.n_neurons)
        v_in = self._inputs()
        l1, l2 = t.layers
        _, i1 = self._currents_for(l1, np.repeat(v_in, t.n_hid))
        i_col = i1.reshape(t.n_in, t.n_hid).sum(axis=0) - spec.g_ref1_S * v_in.sum()
        h = np.clip(spec.r_f1_ohm * i_col, 0.0, spec.v_h_max_V)
        _, i2 = self._currents_for(l2, np.repeat(h, t.n_out))
        i_out = i2.reshape(t.n_hid, t.n_out).sum(axis=0) - spec.g_ref2_S * h.sum()
        y = np.clip(spec.r_f2_ohm * i_out, 0.0, spec.v_o_max_V)
        return np.concatenate([h, y])

    def _currents_for(self, idx: slice, v_src: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = mss.MSSArrays(**{f: getattr(self._p, f)[idx] for f in self._p.__dataclass_fields__})
        v_dev = mss.device_voltage(p, v_src, self._x[idx], self._r_path)
        return v_dev, mss.current(p, v_dev, self._x[idx])

    def _record(self, t_s: float) -> None:
        v_src, v_prog, neurons = self._device_sources()
        v_dev, i_dev = self._currents(v_src)
        values: dict[str, float] = {}
        g = mss.conductance(self._p, self._x)
        for k, name in enumerate(self._names):
            values[f"{name}.v"] = float(v_dev[k])
            values[f"{name}.i"] = float(i_dev[k])
            values[f"{name}.x"] = float(self._x[k])
            values[f"{name}.g"] = float(g[k])
        spec = self._spec
        sel = v_src != 0
        i_prog = float(i_dev[sel].sum()) if v_prog != 0.0 else 0.0
        t = self._topo
        n_amps = t.n_neurons
        values["supply.vdd.v"], values["supply.vdd.i"] = spec.vdd_V, n_amps * spec.opamp_iq_A
        values["supply.vss.v"], values["supply.vss.i"] = spec.vss_V, -n_amps * spec.opamp_iq_A
        values["supply.prog.v"], values["supply.prog.i"] = v_prog, i_prog
        infer = self._ctl.get("vinf", 0.0) > 0.5
        for i in range(t.n_in):
            v_i = self._ctl.get(f"vin{i}", 0.0)
            row = i_dev[i * t.n_hid : (i + 1) * t.n_hid].sum() if infer else 0.0
            values[f"supply.in{i}.v"], values[f"supply.in{i}.i"] = v_i, float(row)
            i_ref = -t.n_hid * spec.g_ref1_S * v_i
            values[f"supply.inn{i}.v"], values[f"supply.inn{i}.i"] = -v_i, i_ref
        for n, name in enumerate(t.neuron_names):
            values[f"neuron.{name}.v"] = float(neurons[n])
        self._writer.write(t_s, values)
        self.stats.points += 1

    def mark_edge(self, t_s: float) -> None:
        """Controls change at ``t_s``: the held values go to the analog VCD there; the
        post-edge values follow at the same time stamp (:meth:`set_controls`)."""
        self._writer.mark_edge(t_s)

    def set_controls(self, values: Mapping[str, float]) -> None:
        self._ctl.update(values)
        self._record(self.stats.t_s)

    def advance_to(self, t_s: float) -> None:
        t0 = self.stats.t_s
        if t_s <= t0:
            return
        self.stats.syncs += 1
        v_src, _, _ = self._device_sources()
        active = v_src != 0
        if np.any(active):
            edges = np.linspace(t0, t_s, self._n_pts + 1)
            for a, b in zip(edges[:-1], edges[1:], strict=True):
                self._x = mss.apply_pulse(self._p, self._x, v_src, b - a, self._r_path)
                self._record(float(b))
        else:
            # 0 V everywhere: the cards hold state (checked in tests), advance exactly anyway.
            self._x = mss.step_constant(self._p, self._x, 0.0, t_s - t0)
        self.stats.t_s = t_s
        if not np.all((self._x >= -X_TOLERANCE) & (self._x <= 1.0 + X_TOLERANCE)):
            names = self._names
            check_physical(t_s, {f"{names[k]}.x": self._x[k] for k in range(len(names))}, "numpy")

    def sample(self) -> dict[str, float]:
        self.stats.samples += 1
        v_src, v_prog, neurons = self._device_sources()
        _, i_dev = self._currents(v_src)
        i_prog = float(i_dev[v_src != 0].sum()) if v_prog != 0.0 else 0.0
        out = {"sense": self._spec.r_sense_ohm * i_prog}
        out.update({name: float(neurons[n]) for n, name in enumerate(self._topo.neuron_names)})
        return out

    def states(self) -> np.ndarray:
        return self._x.copy()

    def close(self) -> None:
        self._writer.close()
