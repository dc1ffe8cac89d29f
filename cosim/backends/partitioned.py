"""ngspice co-simulation with a flat cost per device: the netlist partitioned per phase.

ngspice's cost per accepted time point grows with the instances in the netlist, and
programming visits every device in turn, so programming an ``N``-device array in one full
netlist costs O(N²).  But while the controller programs or reads device ``k`` (select line
``k`` on, inference switches open), only device ``k``'s path carries a pulse: every other
device hangs between the programming bus and its column behind two open switches
(``r_switch_off`` each, 1e10 Ω) and sees microvolts.  This backend therefore simulates, per
phase:

``prog k`` (exactly one select line on, ``vinf`` off)
    a **partition** netlist of constant size: the programming bus with its sense amplifier,
    device ``k`` with its select switch, inference switch, series resistor and Verilog-A model
    (state ``x0`` = its frozen state), its column with the clamp, the column's neuron and the
    column's reference resistors lumped into one (the reference currents ``Σ_i g_ref·(−v_i −
    v_col)`` equal one conductance ``n·g_ref`` to a source at ``−mean(v_i)``: exact), plus
    one resistor ``rleak`` from the bus to ground carrying the **leakage of every deselected
    path**: ``Σ_m 1 / (r_off + r_off ∥ (r_series + 1/G_m))`` with ``G_m`` the frozen device's
    small-signal conductance (the bus sees each deselected device through its open select
    switch; behind it the open inference switch and the device path to the clamped column
    are in parallel).  The leakage is linear in the bus voltage, so the lumped resistor
    carries exactly the current the deselected paths would draw; it goes into the recorded
    bus supply and into the sense reading like in the full netlist.
``infer`` (``vinf`` on) and anything else with a select line on (several lines)
    the **full** netlist with every device at its frozen state, loaded at the phase's first
    advance (the controller's ports change one by one at an instant; the load sees them
    all), so its operating point has the inputs applied.  Per load, at 1184 devices:

    - the op-amps start that operating point at the ideal circuit's outputs (``s0`` in
      :file:`va_models/neuron.va`): from zero it takes ~1,800 Newton iterations (gmin and
      source stepping), from there a few; they settle to the exact values within their pole
      (100 ns) in the transient, long before the ADC samples;
    - the select lines are constant ``dc`` sources (a change reloads): ngspice asks Python
      for every ``external`` source at every Newton iteration;
    - there is no ``.save`` list (ngspice saves every vector): starting a run looks each
      listed name up in the node list, 0.3 s at 1184 devices.

    Keeping the full netlist loaded through the idle stretches between images made each
    input write a source step of the whole array (~0.1–0.3 s each).  The states are read
    back when the phase ends (a read does move them a little; nothing is lost).
``idle`` (no select line, ``vinf`` off)
    nothing to simulate: every device sees only leakage; the bus current is
    ``v_prog · Σ_m g_leak,m``, the sense reading follows from it.

Deselected devices are **frozen**: the error is the state change that the leakage voltage
(``≲ v_prog · (r_series + 1/G)/r_off`` ≈ 10 µV) would cause, far below the MSS model's
switching threshold (zero change in the card's model).  The accuracy against the full
netlist (final conductances, read codes, energies) is measured in
``bench/bench_partitioned.py`` and ``docs/performance.md``.

Analog VCD: the supplies and neurons always; a device's ``v``, ``i``, ``x``, ``g`` only while
it is the selected device of a partition, plus every device in ``record`` (a set of device
indices, e.g. from ``--record PATTERN``) whenever the full netlist runs.  Energies need only the
supplies, whose currents are recorded in every phase: simulated where a circuit runs,
``n_neurons·i_q`` for the op-amp rails (the neuron model draws exactly ``i_q``), the lumped
leakage for the bus in idle stretches and ``v_in·Σ g_leak`` / ``−n_col·g_ref·v_in`` for the
input drivers outside inference.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from cosim.backends.ngspice import _probe_values
from cosim.backends.protocol import BackendStats
from cosim.backends.spice_lockstep import advance_or_fail, tran_card
from cosim.circuit import mss
from cosim.circuit.netlist import CrossbarNetlist, neurons, with_analysis
from cosim.circuit.network import CircuitSpec
from cosim.circuit.partition import leak_conductance, partition_netlist
from cosim.spice.ngspice import NgSpice
from cosim.topology import Topology
from cosim.waves.write import AnalogVcdWriter

__all__ = ["PartitionedNgspiceBackend"]

FloatArray = NDArray[np.float64]


class FullNetlist(Protocol):
    """Builds the full netlist for device states ``x`` (see :meth:`cosim.crossbar.Crossbar.netlist`:
    ``inputs_V`` of an inference start its neurons there; ``fixed_sources`` are ``dc``;
    ``save_list=False`` saves every vector)."""

    def __call__(
        self,
        x: FloatArray,
        *,
        inputs_V: FloatArray | None,
        fixed_sources: Mapping[str, float],
        save_list: bool,
    ) -> CrossbarNetlist: ...


#: Vectors of a partition that go to the analog VCD.
_PART_VECTORS = ("time", "sense", "a", "t", "col", "ndev#x", "vprog#branch", "nout")


class PartitionedNgspiceBackend:
    """The crossbar in libngspice, one partition per programmed device (flat cost per device).

    Args:
        spec: circuit constants.
        topology: the network's widths (device order, columns).
        model_params: the card's ``mss_memristor`` model parameters.
        instance_params: per device (select-line order) the variation multipliers (no ``x0``).
        params: the devices' effective MSS parameters (conductances, leakage).
        x0: initial device states.
        full_netlist: builds the full netlist for given device states (inference phases).
        osdi: compiled ``mss.va`` and ``neuron.va``.
        writer: analog VCD writer.
        tmax_s: largest time step.
        record: device indices recorded whenever the full netlist runs.
    """

    def __init__(
        self,
        *,
        spec: CircuitSpec,
        topology: Topology,
        model_params: Mapping[str, float],
        instance_params: Sequence[Mapping[str, float]],
        params: mss.MSSArrays,
        x0: FloatArray,
        full_netlist: FullNetlist,
        osdi: Sequence[Path],
        writer: AnalogVcdWriter,
        tmax_s: float,
        record: Sequence[int] = (),
        horizon_s: float = 100.0,
        flush_every_s: float = 0.5,
    ) -> None:
        self.stats = BackendStats()
        self.stats.extra.update({"partitions": 0, "full_loads": 0})
        self._spec, self._topo = spec, topology
        self._model = dict(model_params)
        self._inst = [dict(p) for p in instance_params]
        self._p = params.broadcast_flat((topology.n_dev,))
        self._x = np.array(x0, dtype=float)
        self._full_netlist = full_netlist
        self._writer = writer
        self._tran = tran_card(tmax_s, horizon_s)
        self._record = set(int(k) for k in record)
        self._flush_every_s = flush_every_s
        self._next_flush = 0.0
        self._names = topology.device_names
        self._ctl: dict[str, float] = {"vprog": 0.0, "vinf": 0.0}
        self._mode: tuple[str, int] = ("idle", -1)
        self._sel: set[int] = set()  # select lines that are on
        self._t_off = 0.0  # global time of the loaded circuit's t = 0
        self._read = 0
        self._edges: list[float] = []
        self._nl: CrossbarNetlist | None = None
        self._n_amps = topology.n_neurons
        supplies = ["vdd", "vss", "prog", *(f"in{i}" for i in range(topology.n_in))]
        supplies += [f"inn{i}" for i in range(topology.n_in)]
        self._base_live = [f"supply.{s}.{q}" for s in supplies for q in ("v", "i")]
        self._base_live += [f"neuron.{n}.v" for n in topology.neuron_names]
        self._live: list[str] = list(self._base_live)
        self._inputs_held: dict[str, float] = {}  # input-driver values last written
        self._fixed: dict[str, float] = {}  # dc sources of the loaded full netlist
        self._ng = NgSpice()
        try:
            for path in osdi:
                self._ng.load_osdi(path)
        except BaseException:
            self._ng.close()
            raise
        self._write_analytic(0.0)
        self._write_states(0.0)

    def _write_states(self, t_s: float) -> None:
        """Every device's state and conductance (and 0 V, 0 A) at ``t_s``: what a device
        holds while it is not recorded (the VCD keeps a value until it changes)."""
        g_rec = self._x / self._p.r_on + (1.0 - self._x) / self._p.r_off
        values: dict[str, Any] = {}
        for k, name in enumerate(self._names):
            values[f"{name}.x"] = self._x[k : k + 1]
            values[f"{name}.g"] = g_rec[k : k + 1]
            values[f"{name}.v"] = np.zeros(1)
            values[f"{name}.i"] = np.zeros(1)
        self._writer.write_block(np.array([t_s]), values)

    # ------------------------------------------------------------------ modes
    def _wanted_mode(self) -> tuple[str, int]:
        ctl = self._ctl
        if ctl.get("vinf", 0.0) > 0.5:
            return ("full", -1)
        sel = sorted(self._sel)
        if not sel:
            return ("idle", -1)
        return ("prog", sel[0]) if len(sel) == 1 else ("full", -1)

    def _g_leak(self) -> FloatArray:
        g = np.asarray(mss.conductance(self._p, self._x), dtype=float)
        return leak_conductance(self._spec, g)

    def _column(self, k: int) -> tuple[int, int, int]:
        """``(layer, input line index, neuron index)`` of device ``k``."""
        layer, a, b = self._topo.position(k)
        if layer == 1:
            return 1, a, b
        return 2, a, self._topo.n_hid + b

    def _partition_values(self) -> dict[str, float]:
        layer, line, _ = self._column(self._mode[1])
        ctl = self._ctl
        if layer == 1:
            v_in = np.array([ctl.get(f"vin{i}", 0.0) for i in range(self._topo.n_in)])
            v_line, v_ref = float(v_in[line]), -float(v_in.mean())
        else:
            v_line = v_ref = 0.0  # hidden outputs are 0 V outside inference
        return {
            "vprog": ctl.get("vprog", 0.0),
            "vsel": ctl.get(f"vsel{self._mode[1]}", 0.0),
            "vinf": ctl.get("vinf", 0.0),
            "vline": v_line,
            "vrefl": v_ref,
        }

    def _leave(self) -> None:
        """Finish the current mode: flush its points, read back the states, unload."""
        kind, k = self._mode
        if kind == "idle" or (kind == "full" and self._nl is None):  # nothing loaded
            self._flush_points()  # the edges
            return
        self._flush_points()
        if kind == "prog":
            self._x[k] = self._ng.latest("v(ndev#x)")
        elif self._ng.transient_state != "idle":  # else no time ran: the states are as loaded
            assert self._nl is not None
            latest = self._ng.latest
            self._x = np.array([latest(f"v({n[3]})") for n in self._nl.device_nodes.values()])
            self._write_states(self.stats.t_s)  # reads move the states a little
            self._inputs_held = {}  # the full netlist wrote the input drivers
        self._ng.remove_circuit()
        self._nl = None
        self._fixed = {}
        self._read = 0

    def _enter(self, mode: tuple[str, int]) -> None:
        kind, k = mode
        self._mode = mode
        devices = [k] if kind == "prog" else sorted(self._record) if kind == "full" else []
        live = self._base_live if kind == "full" else ["supply.prog.v", "supply.prog.i"]
        if kind == "prog":
            live = live + [f"neuron.{self._topo.neuron_names[self._column(k)[2]]}.v"]
        self._live = live + [f"{self._names[m]}.{q}" for m in devices for q in ("v", "i", "x", "g")]
        if kind != "full":
            self._write_inputs(self.stats.t_s)
        if kind == "idle":
            return
        self._t_off = self.stats.t_s
        if kind == "prog":
            layer, _, _ = self._column(k)
            g_leak = self._g_leak()
            g_leak[k] = 0.0
            inst = dict(self._inst[k])
            inst["x0"] = float(np.clip(self._x[k], 0.0, 1.0))  # x0 is declared in [0, 1]
            n_rows = self._topo.n_in if layer == 1 else self._topo.n_hid
            text = partition_netlist(
                self._spec,
                self._model,
                inst,
                layer=layer,
                n_rows=n_rows,
                r_leak_ohm=1.0 / max(float(g_leak.sum()), 1e-30),
                title=f"cosim partition: device {self._names[k]}",
            )
            self._ng.load_circuit(with_analysis(text, self._tran))
            values = self._partition_values()
            self.stats.extra["partitions"] += 1
        else:  # loaded at the first advance, with every control of this instant applied
            self._nl = None
            return
        for name, value in values.items():
            self._ng.set_source(name, value)
        self._ng.advance_to(0.0)

    def _load_full(self) -> None:
        """Load the full netlist for the controls now, started at its first advance.

        Loading waits for the first advance because the controller's ports change one by one
        at an instant (``vinf`` then the inputs): the operating point needs all of them (its
        neuron start values are computed from the inputs).  It is not paused at t = 0 either:
        a resume from there restarts the transient, which would solve it twice.
        """
        ctl = self._ctl
        self._fixed = {f"vsel{m}": ctl.get(f"vsel{m}", 0.0) for m in range(len(self._names))}
        inputs = None
        if ctl.get("vinf", 0.0) > 0.5:
            inputs = np.array([ctl.get(f"vin{i}", 0.0) for i in range(self._topo.n_in)])
        self._nl = self._full_netlist(
            np.clip(self._x, 0.0, 1.0), inputs_V=inputs, fixed_sources=self._fixed, save_list=False
        )
        self._ng.load_circuit(with_analysis(self._nl.text, self._tran))
        for name in self._nl.external_sources:
            self._ng.set_source(name, ctl.get(name, 0.0))
        self.stats.extra["full_loads"] += 1

    def _started(self) -> None:
        """The circuit is loaded and has its t = 0 point (before reading values from it)."""
        if self._mode[0] == "full" and self._nl is None:
            self._load_full()
        if self._ng.transient_state == "idle":
            self._ng.advance_to(0.0)

    # ------------------------------------------------------------------ recording
    def _supplies(self, n: int) -> dict[str, Any]:
        """The op-amp rails outside the full netlist, ``n`` points."""
        spec = self._spec
        i_q = self._n_amps * spec.opamp_iq_A
        return {
            "supply.vdd.v": np.full(n, spec.vdd_V),
            "supply.vdd.i": np.full(n, i_q),
            "supply.vss.v": np.full(n, spec.vss_V),
            "supply.vss.i": np.full(n, -i_q),
        }

    def _write_inputs(self, t_s: float) -> None:
        """The input drivers outside the full netlist at ``t_s`` (piecewise constant: written
        when an input or the mode changes): leakage through the open inference switches and
        the reference resistors to the clamped columns."""
        spec, ctl = self._spec, self._ctl
        g_leak = self._g_leak()
        n1, n_hid = self._topo.n_layer1, self._topo.n_hid
        g_line = g_leak[:n1].reshape(self._topo.n_in, n_hid).sum(axis=1)
        values: dict[str, float] = {}
        for i in range(self._topo.n_in):
            v_i = ctl.get(f"vin{i}", 0.0)
            values[f"supply.in{i}.v"] = v_i
            values[f"supply.in{i}.i"] = v_i * g_line[i]
            values[f"supply.inn{i}.v"] = -v_i
            values[f"supply.inn{i}.i"] = -n_hid * spec.g_ref1_S * v_i
        held = self._inputs_held
        out = {n: np.array([v]) for n, v in values.items() if held.get(n) != v}
        if out:  # the VCD holds the others
            held.update(values)
            self._writer.write_block(np.array([t_s]), out)

    def _write_analytic(self, t_s: float) -> None:
        """One point of the idle circuit (no simulator) at ``t_s``."""
        v_prog = self._ctl.get("vprog", 0.0)
        values = self._supplies(1)
        values["supply.prog.v"] = np.array([v_prog])
        values["supply.prog.i"] = np.array([v_prog * float(self._g_leak().sum())])
        for name in self._topo.neuron_names:
            values[f"neuron.{name}.v"] = np.zeros(1)
        self._writer.write_block(np.array([t_s]), values)
        self.stats.points += 1

    def _flush_points(self) -> None:
        kind, k = self._mode
        edges, self._edges = self._edges, []
        t = np.zeros(0)
        if kind != "idle" and self._ng.transient_state != "idle":
            t = self._ng.vector_tail("time", self._read)
        if t.size == 0:
            for edge in edges:
                self._writer.mark_edge(edge, self._live)
            return
        cols: dict[str, FloatArray] = {}

        def column(name: str) -> FloatArray:  # read only the vectors that are written
            if name not in cols:
                cols[name] = self._ng.vector_tail(name, self._read)[: t.size]
            return cols[name]

        if kind == "prog":
            values = self._prog_values(k, {n: column(n) for n in _PART_VECTORS})
        else:
            assert self._nl is not None
            g_on_off = (1.0 / self._p.r_on, 1.0 / self._p.r_off)
            recorded = {self._names[m] for m in self._record}
            values = _probe_values(self._nl, column, g_on_off, recorded)
        self._writer.write_block(self._t_off + t, values, edges=edges, edge_names=self._live)
        self._read += t.size
        self.stats.points += t.size
        self._next_flush = time.monotonic() + self._flush_every_s

    def _prog_values(self, k: int, cols: Mapping[str, FloatArray]) -> dict[str, Any]:
        n = cols["time"].size
        name = self._names[k]
        x = cols["ndev#x"]
        values = self._supplies(n)
        values.update(
            {
                f"{name}.v": cols["t"] - cols["col"],
                f"{name}.i": (cols["a"] - cols["t"]) / self._spec.r_series_ohm,
                f"{name}.x": x,
                f"{name}.g": x / self._p.r_on[k] + (1.0 - x) / self._p.r_off[k],
                "supply.prog.v": np.full(n, self._ctl.get("vprog", 0.0)),
                "supply.prog.i": -cols["vprog#branch"],
            }
        )
        _, _, neuron = self._column(k)
        values[f"neuron.{self._topo.neuron_names[neuron]}.v"] = cols["nout"]
        return values

    # ------------------------------------------------------------------ protocol
    def mark_edge(self, t_s: float) -> None:
        """Controls change at ``t_s``: the held point of every signal goes to the VCD there."""
        if self._mode[0] == "idle":
            self._writer.mark_edge(t_s, self._live)
        else:
            self._edges.append(t_s)

    def announce_edge(self, t_s: float) -> None:
        """Controls will change at ``t_s``: restart the integration exactly there."""
        if self._mode[0] != "idle":
            self._ng.break_at(t_s - self._t_off)

    def set_controls(self, values: Mapping[str, float]) -> None:
        self._ctl.update(values)
        for name, value in values.items():
            if name.startswith("vsel"):
                if value > 0.5:
                    self._sel.add(int(name[4:]))
                else:
                    self._sel.discard(int(name[4:]))
        mode = self._wanted_mode()
        fixed = self._fixed if mode[0] == "full" == self._mode[0] else {}
        if mode != self._mode or any(fixed.get(n, v) != v for n, v in values.items()):
            old = self._mode
            self._leave()
            if old[0] == "prog":  # the device leaves the pulse path: 0 V, 0 A from here on
                name = self._names[old[1]]
                neuron = self._topo.neuron_names[self._column(old[1])[2]]
                zero = np.zeros(1)
                self._writer.write_block(
                    np.array([self.stats.t_s]),
                    {f"{name}.v": zero, f"{name}.i": zero, f"neuron.{neuron}.v": zero},
                )
            self._enter(mode)
        elif mode[0] == "prog":
            for name, value in self._partition_values().items():
                self._ng.set_source(name, value)
        if mode[0] != "full" and mode == self._mode and any(n.startswith("vin") for n in values):
            self._write_inputs(self.stats.t_s)
        elif mode[0] == "full" and self._nl is not None:
            for name, value in values.items():
                self._ng.set_source(name, value)
        if self._mode[0] == "idle":
            self._write_analytic(self.stats.t_s)

    def advance_to(self, t_s: float) -> None:
        if t_s <= self.stats.t_s:
            return
        if self._mode[0] == "full" and self._nl is None:
            self._load_full()
        if self._mode[0] != "idle":
            what = f"ngspice ({self._mode[0]} partition)"
            advance_or_fail(self._ng, t_s - self._t_off, t_s, flush=self._flush_points, what=what)
            if time.monotonic() >= self._next_flush:
                self._flush_points()
        self.stats.syncs += 1
        self.stats.t_s = t_s

    def sample(self) -> dict[str, float]:
        self.stats.samples += 1
        kind, k = self._mode
        names = list(self._topo.neuron_names)
        if kind == "idle":
            i_prog = self._ctl.get("vprog", 0.0) * float(self._g_leak().sum())
            return {"sense": self._spec.r_sense_ohm * i_prog, **dict.fromkeys(names, 0.0)}
        self._started()
        latest = self._ng.latest
        if kind == "prog":
            out = dict.fromkeys(names, 0.0)
            out[names[self._column(k)[2]]] = latest("v(nout)")
            return {"sense": latest("v(sense)"), **out}
        nodes = neurons(self._topo)
        return {"sense": latest("v(sense)"), **{n: latest(f"v({nodes[n]})") for n in names}}

    def states(self) -> FloatArray:
        x = self._x.copy()
        kind, k = self._mode
        if kind == "prog":
            x[k] = self._ng.latest("v(ndev#x)")
        elif kind == "full" and self._nl is not None and self._ng.transient_state != "idle":
            latest = self._ng.latest
            x = np.array([latest(f"v({n[3]})") for n in self._nl.device_nodes.values()])
        return x

    def close(self) -> None:
        if self._ng.closed:
            return
        try:
            self._flush_points()
        finally:
            self._writer.close()
            self._ng.close()
