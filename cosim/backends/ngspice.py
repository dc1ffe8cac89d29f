"""The crossbar in libngspice with the Verilog-A (OSDI) models, stepped in lockstep; every
accepted time point goes to the analog VCD (device V, I, x, G; supplies; neurons)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from cosim.backends.protocol import BackendStats, check_physical
from cosim.backends.spice_lockstep import SpiceLockstep, tran_card
from cosim.circuit import mss
from cosim.circuit.netlist import CrossbarNetlist, with_analysis
from cosim.errors import RunawayError
from cosim.spice.ngspice import NgSpice
from cosim.waves.write import AnalogVcdWriter


def _probe_values(
    nl: CrossbarNetlist, get: Any, g_on_off: Any, devices: Any = None
) -> dict[str, Any]:
    """Analog VCD values from a vector getter ``get(name)`` (floats or arrays): every supply
    and neuron, and the devices named in ``devices`` (default: all)."""
    out: dict[str, Any] = {}
    r_s = nl.series_ohm
    g_on, g_off = g_on_off
    for k, (name, (a, top, col, x)) in enumerate(nl.device_nodes.items()):
        if devices is not None and name not in devices:
            continue
        v_a, v_top, state = get(a), get(top), get(x)
        out[f"{name}.v"] = v_top - get(col)
        out[f"{name}.i"] = (v_a - v_top) / r_s
        out[f"{name}.x"] = state
        out[f"{name}.g"] = state * g_on[k] + (1.0 - state) * g_off[k]
    for sup, (src, node) in nl.supplies.items():
        out[f"supply.{sup}.v"] = get(node)
        out[f"supply.{sup}.i"] = -get(f"{src}#branch")
    for neuron, node in nl.neurons.items():
        out[f"neuron.{neuron}.v"] = get(node)
    return out


class NgspiceBackend(SpiceLockstep):
    """The crossbar in libngspice with the Verilog-A (OSDI) models, stepped in lockstep.

    Args:
        netlist: the crossbar (see :func:`cosim.circuit.netlist.build_crossbar`).
        writer: analog VCD writer; receives every accepted time point.
        params: the devices' effective MSS parameters (for the recorded conductance ``g``).
        tmax_s: largest time step (choose from the shortest pulse).
        horizon_s: end time of the ``.tran`` (the run is paused long before).
        flush_every_s: wall-clock interval between blocks written to the VCD (the points stay
            in ngspice's memory until then; everything is written on close and on failure).
    """

    _writer: AnalogVcdWriter

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
        self._sample_vectors = {
            "sense": "v(sense)",
            **{n: f"v({node})" for n, node in netlist.neurons.items()},
        }
        self._read = 0  # accepted points already written to the VCD
        self._edges: list[float] = []  # control edges since the last flush
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
        edges, self._edges = self._edges, []
        probes = _probe_values(self._nl, cols.__getitem__, self._g_on_off)
        try:
            check_physical(t, probes, "ngspice")
        except RunawayError:
            self._writer.write_block(t, probes, edges=edges)  # the runaway stays visible
            self._read += t.size
            raise
        self._writer.write_block(t, probes, edges=edges)
        self._read += t.size
        self.stats.points += t.size
        self._next_flush = time.monotonic() + self._flush_every_s

    def sample_vectors(self) -> dict[str, str]:
        return self._sample_vectors

    def sample(self) -> dict[str, float]:
        self.stats.samples += 1
        self._ensure_started()
        latest = self._ng.latest
        return {q: latest(vec) for q, vec in self.sample_vectors().items()}

    def states(self) -> np.ndarray:
        latest = self._ng.latest
        return np.array([latest(f"v({n[3]})") for n in self._nl.device_nodes.values()])
