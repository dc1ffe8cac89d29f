"""The lockstep bridge between the HDL (Icarus, under cocotb) and the analog crossbar.

The digital simulator is the master clock.  The bridge wakes only on events (see
``docs/timing.md``):

* a change of any HDL output that drives the analog side (``v_prog``, ``v_in0..8`` as
  ``real``; ``sel`` and ``infer_en`` as logic): the analog side is advanced to that instant with
  the *old* values held (zero-order hold), then the new values are applied;
* a rising edge of ``adc_sample``: the analog side is advanced to that instant and the analog
  values (``v_sense``, ``v_h0..2``, ``v_out``) are written to the HDL's ``input real`` ports in
  the same time step; the behavioural ADC latches them after its conversion time.

Two analog backends implement :class:`AnalogBackend`: :class:`NgspiceBackend` (libngspice with
the Verilog-A models; every accepted time point goes to the analog VCD) and
:class:`NumpyBackend` (the NumPy twin; fast, for control-logic checks).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from cosim import mss
from cosim.errors import CosimError
from cosim.netlist import NEURONS, SUPPLIES, CrossbarNetlist, tran_card, with_analysis
from cosim.network import N_HIDDEN, N_IN, CircuitSpec, device_names
from cosim.ngspice import NgSpice
from cosim.waves import AnalogVcdWriter

__all__ = [
    "OUTPUT_REALS",
    "INPUT_REALS",
    "AnalogBackend",
    "AnalogSimulationError",
    "BackendStats",
    "NgspiceBackend",
    "NumpyBackend",
    "Bridge",
    "controls",
]

#: HDL ``output real`` ports that drive the analog side.
OUTPUT_REALS: tuple[str, ...] = ("v_prog",) + tuple(f"v_in{i}" for i in range(N_IN))
#: HDL ``input real`` port → analog quantity written at each ADC sample.
INPUT_REALS: dict[str, str] = {
    "v_sense": "sense",
    "v_h0": "h0",
    "v_h1": "h1",
    "v_h2": "h2",
    "v_out": "out",
}
#: Switch control level of a closed switch (the switch models threshold at 0.5 V).
V_SWITCH_ON = 1.0


def controls(v_prog: float, v_in: Sequence[float], sel: int, infer_en: bool) -> dict[str, float]:
    """Values of the netlist's external sources for the given HDL outputs."""
    values = {"vprog": float(v_prog), "vinf": V_SWITCH_ON if infer_en else 0.0}
    for i, v in enumerate(v_in):
        values[f"vin{i}"] = float(v)
        values[f"vinn{i}"] = -float(v)
    for k in range(len(device_names())):
        values[f"vsel{k}"] = V_SWITCH_ON if (sel >> k) & 1 else 0.0
    return values


class AnalogSimulationError(CosimError):
    """The analog simulator failed mid-run (the message carries its own output)."""


@dataclass
class BackendStats:
    """What a backend did: syncs (advance calls that moved time), samples, analog points."""

    syncs: int = 0
    samples: int = 0
    points: int = 0
    t_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


class AnalogBackend(Protocol):
    """What the bridge needs from an analog simulator."""

    stats: BackendStats

    def set_controls(self, values: Mapping[str, float]) -> None:
        """Hold these external-source values from the current time on."""

    def advance_to(self, t_s: float) -> None:
        """Simulate up to ``t_s`` with the held values."""

    def sample(self) -> dict[str, float]:
        """Analog values at the current time: keys ``sense``, ``h0``, ``h1``, ``h2``, ``out``."""

    def states(self) -> np.ndarray:
        """Current state ``x`` of every device (select-line order)."""

    def close(self) -> None:
        """Flush and close the analog VCD; release the simulator."""


def _probe_values(nl: CrossbarNetlist, get: Any, g_on_off: Any) -> dict[str, Any]:
    """Analog VCD values from a vector getter ``get(name)`` (floats or arrays)."""
    out: dict[str, Any] = {}
    r_s = nl.series_ohm
    g_on, g_off = g_on_off
    for k, (name, (a, top, col, x)) in enumerate(nl.device_nodes.items()):
        v_a, v_top, state = get(a), get(top), get(x)
        out[f"{name}.v"] = v_top - get(col)
        out[f"{name}.i"] = (v_a - v_top) / r_s
        out[f"{name}.x"] = state
        out[f"{name}.g"] = state * g_on[k] + (1.0 - state) * g_off[k]
    for sup, (src, node) in SUPPLIES.items():
        out[f"supply.{sup}.v"] = get(node)
        out[f"supply.{sup}.i"] = -get(f"{src}#branch")
    for neuron, node in NEURONS.items():
        out[f"neuron.{neuron}.v"] = get(node)
    return out


class NgspiceBackend:
    """The crossbar in libngspice with the Verilog-A (OSDI) models, stepped in lockstep.

    Args:
        netlist: the crossbar (see :func:`cosim.netlist.build_crossbar`).
        writer: analog VCD writer; receives every accepted time point.
        params: the devices' effective MSS parameters (for the recorded conductance ``g``).
        tmax_s: largest time step (choose from the shortest pulse).
        horizon_s: end time of the ``.tran`` (the run is paused long before).
        flush_every_s: wall-clock interval between blocks written to the VCD (the points stay
            in ngspice's memory until then; everything is written on close and on failure).
    """

    def __init__(
        self,
        netlist: CrossbarNetlist,
        writer: AnalogVcdWriter,
        params: mss.MSSArrays,
        *,
        tmax_s: float,
        horizon_s: float = 100.0,
        flush_every_s: float = 0.5,
    ) -> None:
        self.stats = BackendStats()
        self._nl = netlist
        self._writer = writer
        p = params.broadcast_flat((len(netlist.devices),))
        self._g_on_off = (1.0 / p.r_on, 1.0 / p.r_off)
        self._ng = NgSpice()
        try:
            for path in netlist.osdi:
                self._ng.load_osdi(path)
            self._ng.load_circuit(with_analysis(netlist.text, tran_card(tmax_s, horizon_s)))
            for name in netlist.external_sources:
                self._ng.set_source(name, 0.0)
        except BaseException:
            self._ng.close()
            raise
        self._vectors = sorted(
            {f"{v[2:-1]}#branch" if v.startswith("i(") else v[2:-1] for v in netlist.save}
        )
        self._read = 0  # accepted points already written to the VCD
        self._flush_every_s = flush_every_s
        self._next_flush = 0.0

    def _flush_points(self) -> None:
        """Write the accepted points since the last flush to the analog VCD (one block)."""
        if self._ng.transient_state == "idle":
            return
        t = self._ng.vector_tail("time", self._read)
        if t.size == 0:
            return
        cols = {name: self._ng.vector_tail(name, self._read)[: t.size] for name in self._vectors}
        self._writer.write_block(t, _probe_values(self._nl, cols.__getitem__, self._g_on_off))
        self._read += t.size
        self.stats.points += t.size
        self._next_flush = time.monotonic() + self._flush_every_s

    def set_controls(self, values: Mapping[str, float]) -> None:
        for name, value in values.items():
            self._ng.set_source(name, value)

    def advance_to(self, t_s: float) -> None:
        if t_s > self.stats.t_s:
            try:
                self._ng.advance_to(t_s)
            except CosimError as exc:
                self._flush_points()
                tail = "\n  ".join(self._ng.recent_output(15))
                raise AnalogSimulationError(
                    f"ngspice failed advancing to t = {t_s!r} s: {exc}\n"
                    f"last ngspice output:\n  {tail}"
                ) from exc
            self.stats.syncs += 1
            self.stats.t_s = t_s
            if time.monotonic() >= self._next_flush:
                self._flush_points()

    def sample(self) -> dict[str, float]:
        self.stats.samples += 1
        if self._ng.transient_state == "idle":
            self._ng.advance_to(0.0)
        latest = self._ng.latest
        return {"sense": latest("v(sense)"), **{n: latest(f"v({n})") for n in NEURONS}}

    def states(self) -> np.ndarray:
        latest = self._ng.latest
        return np.array([latest(f"v({n[3]})") for n in self._nl.device_nodes.values()])

    def close(self) -> None:
        if self._ng.closed:
            return
        try:
            self._flush_points()
        finally:
            self._writer.close()
            self._ng.close()


class NumpyBackend:
    """The crossbar with the NumPy twin: fast, approximate, for control-logic checks.

    Between syncs the held source values are applied to every device through its series
    resistance (switch + series resistor + clamp/virtual ground, linear parts lumped), the
    state is advanced with :func:`cosim.mss.apply_pulse`, and the analog VCD gets
    ``points_per_interval`` samples of every interval.  Neurons follow the ideal circuit
    equations of :mod:`cosim.network` with the devices' actual currents.
    """

    def __init__(
        self,
        spec: CircuitSpec,
        params: mss.MSSArrays,
        x0: np.ndarray,
        writer: AnalogVcdWriter,
        *,
        points_per_interval: int = 4,
    ) -> None:
        self.stats = BackendStats()
        self._spec = spec
        self._x = np.array(x0, dtype=float)
        self._p = params.broadcast_flat(self._x.shape)
        self._writer = writer
        self._n_pts = max(1, int(points_per_interval))
        self._ctl: dict[str, float] = {}
        self._names = device_names()
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
            v_in = np.array([ctl.get(f"vin{i}", 0.0) for i in range(N_IN)])
            v_src[: N_IN * N_HIDDEN] += np.repeat(v_in, N_HIDDEN)
            v_src[N_IN * N_HIDDEN :] += neurons[:N_HIDDEN]
        return v_src, v_prog, neurons

    def _currents(self, v_src: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        v_dev = mss.device_voltage(self._p, v_src, self._x, self._r_path)
        return v_dev, mss.current(self._p, v_dev, self._x)

    def _neurons(self) -> np.ndarray:
        """Hidden and output neuron voltages for the held inputs (infer mode)."""
        spec = self._spec
        if self._ctl.get("vinf", 0.0) <= 0.5:
            return np.zeros(N_HIDDEN + 1)
        v_in = np.array([self._ctl.get(f"vin{i}", 0.0) for i in range(N_IN)])
        n1 = N_IN * N_HIDDEN
        v1 = np.repeat(v_in, N_HIDDEN)
        _, i1 = self._currents_for(slice(0, n1), v1)
        i_col = i1.reshape(N_IN, N_HIDDEN).sum(axis=0) - spec.g_ref1_S * v_in.sum()
        h = np.clip(spec.r_f1_ohm * i_col, 0.0, spec.v_h_max_V)
        _, i2 = self._currents_for(slice(n1, n1 + N_HIDDEN), h)
        y = np.clip(spec.r_f2_ohm * (i2.sum() - spec.g_ref2_S * h.sum()), 0.0, spec.v_o_max_V)
        return np.append(h, y)

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
        n_amps = N_HIDDEN + 1
        values["supply.vdd.v"], values["supply.vdd.i"] = spec.vdd_V, n_amps * spec.opamp_iq_A
        values["supply.vss.v"], values["supply.vss.i"] = spec.vss_V, -n_amps * spec.opamp_iq_A
        values["supply.prog.v"], values["supply.prog.i"] = v_prog, i_prog
        infer = self._ctl.get("vinf", 0.0) > 0.5
        for i in range(N_IN):
            v_i = self._ctl.get(f"vin{i}", 0.0)
            row = i_dev[i * N_HIDDEN : (i + 1) * N_HIDDEN].sum() if infer else 0.0
            values[f"supply.in{i}.v"], values[f"supply.in{i}.i"] = v_i, float(row)
            i_ref = -N_HIDDEN * spec.g_ref1_S * v_i
            values[f"supply.inn{i}.v"], values[f"supply.inn{i}.i"] = -v_i, i_ref
        for n, name in enumerate(NEURONS):
            values[f"neuron.{name}.v"] = float(neurons[n])
        self._writer.write(t_s, values)
        self.stats.points += 1

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

    def sample(self) -> dict[str, float]:
        self.stats.samples += 1
        v_src, v_prog, neurons = self._device_sources()
        _, i_dev = self._currents(v_src)
        i_prog = float(i_dev[v_src != 0].sum()) if v_prog != 0.0 else 0.0
        out = {"sense": self._spec.r_sense_ohm * i_prog}
        out.update({name: float(neurons[n]) for n, name in enumerate(NEURONS)})
        return out

    def states(self) -> np.ndarray:
        return self._x.copy()

    def close(self) -> None:
        self._writer.close()


class Bridge:
    """The cocotb side of the lockstep: watches the HDL and drives an :class:`AnalogBackend`.

    Args:
        dut: the cocotb handle of the harness top ``xbar_top``.
        backend: the analog simulator.
    """

    def __init__(self, dut: Any, backend: AnalogBackend) -> None:
        self._dut = dut
        self.backend = backend
        self._outs = [getattr(dut, n) for n in OUTPUT_REALS]
        self._sel = dut.sel
        self._inf = dut.infer_en
        self._adc = dut.adc_sample
        self._held: dict[str, float] = {}
        self._adc_high = False
        self._stopped = False
        self.events = 0
        #: Every change applied to the analog side: ``(t_s, {source: value})``.
        self.stimulus: list[tuple[float, dict[str, float]]] = []
        #: Every ADC sample handed to the HDL: ``(t_s, {quantity: value})``.
        self.samples: list[tuple[float, dict[str, float]]] = []

    def stop(self) -> None:
        """Stop following the HDL (the backend is left as it is)."""
        self._stopped = True

    def _now_s(self) -> float:
        from cocotb.simtime import get_sim_time

        return float(get_sim_time("fs")) * 1e-15

    def _read_outputs(self) -> dict[str, float]:
        v = [float(h.value) for h in self._outs]
        sel_val = self._sel.value
        sel = int(sel_val) if sel_val.is_resolvable else 0
        inf_val = self._inf.value
        inf = bool(int(inf_val)) if inf_val.is_resolvable else False
        return controls(v[0], v[1:], sel, inf)

    def _sync_outputs(self) -> None:
        new = self._read_outputs()
        changed = {k: v for k, v in new.items() if self._held.get(k) != v}
        if changed:
            self.backend.set_controls(changed)
            self._held.update(changed)
            self.stimulus.append((self._now_s(), changed))

    def _write_inputs(self) -> None:
        values = self.backend.sample()
        self.samples.append((self._now_s(), values))
        for port, quantity in INPUT_REALS.items():
            value = values[quantity]
            if not math.isfinite(value):
                raise ArithmeticError(f"analog {quantity} is {value} at t={self._now_s()} s")
            getattr(self._dut, port).value = value

    async def run(self) -> None:
        """Follow the HDL until :meth:`stop` (start with ``cocotb.start_soon``)."""
        from cocotb.triggers import First

        self._sync_outputs()
        triggers = [h.value_change for h in self._outs]
        triggers += [self._sel.value_change, self._inf.value_change, self._adc.rising_edge]
        while not self._stopped:
            await First(*triggers)
            if self._stopped:
                break
            self.events += 1
            self.backend.advance_to(self._now_s())
            self._sync_outputs()
            adc = self._adc.value
            adc_high = adc.is_resolvable and int(adc) == 1
            if adc_high and not self._adc_high:
                self._write_inputs()
            self._adc_high = adc_high
