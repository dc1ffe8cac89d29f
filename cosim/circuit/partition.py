"""The constant-size netlist of one selected device, and the leakage of the deselected ones.

What :class:`cosim.backends.partitioned.PartitionedNgspiceBackend` simulates while exactly one
select line is on and the inference switches are open (see that module for the argument):
the programming bus with its sense amplifier, the selected device's switches, series resistor
and Verilog-A model, its clamped column with its neuron and lumped reference resistor, and one
resistor carrying the exact (linear) leakage of every deselected path.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

from cosim.circuit.netlist import _SWITCH_MODELS, _fmt
from cosim.circuit.network import CircuitSpec

__all__ = ["PART_SOURCES", "leak_conductance", "partition_netlist"]

FloatArray = NDArray[np.float64]
#: External sources of a partition netlist (each is fed from the full netlist's controls).
PART_SOURCES = ("vprog", "vsel", "vinf", "vline", "vrefl")


def leak_conductance(spec: CircuitSpec, g_dev_S: FloatArray) -> FloatArray:
    """Conductance from the programming bus through a deselected device's path (S).

    Open select switch, then the open inference switch in parallel with series resistor +
    device to the clamped (≈ 0 V) column.
    """
    r_off = spec.r_switch_off_ohm
    r_dev = spec.r_series_ohm + 1.0 / np.maximum(np.asarray(g_dev_S, dtype=float), 1e-30)
    return 1.0 / (r_off + 1.0 / (1.0 / r_off + 1.0 / r_dev))


def partition_netlist(
    spec: CircuitSpec,
    model_params: Mapping[str, float],
    instance: Mapping[str, float],
    *,
    layer: int,
    n_rows: int,
    r_leak_ohm: float,
    title: str,
) -> str:
    """The constant-size netlist of one selected device (see the module docstring).

    Args:
        spec: circuit constants.
        model_params: ``mss_memristor`` model parameters.
        instance: the device's instance parameters including ``x0`` (its frozen state).
        layer: 1 or 2 (which neuron gain and reference conductance its column has).
        n_rows: devices (= reference resistors) on its column.
        r_leak_ohm: the lumped leakage of every deselected path (Ω).
        title: title line.
    """
    g_ref, r_f, v_max = (
        (spec.g_ref1_S, spec.r_f1_ohm, spec.v_h_max_V)
        if layer == 1
        else (spec.g_ref2_S, spec.r_f2_ohm, spec.v_o_max_V)
    )
    lines = [
        f"* {title}",
        f"vdd vdd 0 dc {spec.vdd_V:.9g}",
        f"vss vss 0 dc {spec.vss_V:.9g}",
        "vprog pbus 0 external",
        f"hsense sense 0 vprog {-spec.r_sense_ohm:.9g}",
        *(f"{s} {s[1:]} 0 external" for s in PART_SOURCES[1:]),
        _SWITCH_MODELS.format(
            ron=spec.r_switch_on_ohm, roff=spec.r_switch_off_ohm, clamp=spec.r_clamp_on_ohm
        ),
        f".model mss mss_memristor {_fmt(model_params)}",
        f".model neur neuron_tia r_f={r_f:.9g} v_max={v_max:.9g} "
        f"gain={spec.opamp_gain:.9g} i_q={spec.opamp_iq_A:.9g}",
        "ssel pbus a sel 0 swsel",
        "sinf line a inf 0 swsel",
        f"rs a t {spec.r_series_ohm:.9g}",
        f"ndev t col mss {_fmt(instance)}",
        f"rrefl refl col {1.0 / (n_rows * g_ref):.9g}",
        "sclamp col 0 inf 0 swclamp",
        "nneur col nout noutn vdd vss neur",
        f"rleak pbus 0 {r_leak_ohm:.9g}",
        ".save v(sense) v(a) v(t) v(col) v(ndev#x) i(vprog) v(pbus) v(nout)",
        ".end",
    ]
    return "\n".join(lines) + "\n"
