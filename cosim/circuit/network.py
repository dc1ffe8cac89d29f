"""The ``N_IN → N_HID → N_OUT`` crossbar network as a circuit: constants and ideal forward pass.

This module is the single source of truth for the circuit-level choices the paper leaves open
(see ``docs/circuit.md``): how pixels become voltages, how signed weights are made from
positive conductances, what the neurons compute.  The netlist builder
(:mod:`cosim.circuit.netlist`),
the training code and the NumPy reference of a programmed network all read it.

Signed weights (one memristor per weight, as in the paper): every column also receives the
current of a fixed reference conductance ``g_ref`` driven by the *inverted* input voltage, so the
column's virtual ground collects ``I_j = Σ_i (G_ij − g_ref)·V_i``.  The memristors only ever see
the non-negative input voltages; the inverted copies only drive fixed resistors.

Neurons are transimpedance amplifiers with feedback resistance ``r_f``; the activation is the
amplifier's output range: ``h = clip(r_f · I, 0, v_max)`` (a rectifier that saturates).  Hidden
outputs are limited to the read voltage so that they can drive the layer-2 memristors without
disturbing them.  With one output neuron the class is 1 when it exceeds half its range; with
several, the class is the arg-max of the output neurons.  Shapes come from
:class:`cosim.topology.Topology` (the paper's 9→3→1 is :data:`cosim.topology.DEFAULT`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cosim.topology import DEFAULT, Topology

__all__ = [
    "CircuitSpec",
    "spec_for_window",
    "forward",
    "opamp_outputs",
    "classify",
    "split_layers",
    "join_layers",
    "weights_to_conductances",
    "conductances_to_weights",
]


@dataclass(frozen=True)
class CircuitSpec:
    """Circuit constants of the crossbar network (SI units).

    Attributes:
        v_read_V: read-pulse amplitude and the input voltage of a white pixel (V).
        r_series_ohm: series (compliance) resistor in front of every memristor (Ω).
        r_switch_on_ohm: on-resistance of a select/inference switch (Ω).
        r_switch_off_ohm: off-resistance of a switch, i.e. its leakage path (Ω).
        r_clamp_on_ohm: on-resistance of a column clamp switch (Ω); small, so that the
            saturated neuron's feedback current does not lift the column during a read.
        g_ref1_S: reference conductance per input of each hidden column (S).
        g_ref2_S: reference conductance per hidden input of the output column (S).
        r_f1_ohm: feedback resistance of the hidden neurons (Ω).
        r_f2_ohm: feedback resistance of the output neuron (Ω).
        v_h_max_V: output range (saturation) of a hidden neuron (V).
        v_o_max_V: output range (saturation) of the output neuron (V).
        r_sense_ohm: transimpedance of the sense amplifier on the programming bus (Ω).
        opamp_gain: open-loop gain of the behavioural op-amps (1).
        opamp_iq_A: quiescent supply current of one op-amp (A).
        vdd_V: positive supply of the op-amps (V).
        vss_V: negative supply of the op-amps (V).
    """

    v_read_V: float = 0.1
    r_series_ohm: float = 10e3
    r_switch_on_ohm: float = 100.0
    r_switch_off_ohm: float = 1e10
    r_clamp_on_ohm: float = 1.0
    g_ref1_S: float = 50e-6
    g_ref2_S: float = 50e-6
    r_f1_ohm: float = 20e3
    r_f2_ohm: float = 20e3
    v_h_max_V: float = 0.1
    v_o_max_V: float = 1.0
    r_sense_ohm: float = 10e3
    opamp_gain: float = 1e5
    opamp_iq_A: float = 1e-3
    vdd_V: float = 2.5
    vss_V: float = -2.5

    @property
    def r_infer_path_ohm(self) -> float:
        """Linear resistance in series with a device during inference (switch + resistor)."""
        return self.r_series_ohm + self.r_switch_on_ohm

    @property
    def r_read_path_ohm(self) -> float:
        """Linear resistance in series with a device when programmed or read (select switch,
        series resistor, column clamp)."""
        return self.r_series_ohm + self.r_switch_on_ohm + self.r_clamp_on_ohm

    @property
    def w_max(self) -> tuple[float, float]:
        """Largest weight magnitude of layer 1 and layer 2 for a full window (dimensionless)."""
        return (self.r_f1_ohm * self.g_ref1_S, self.r_f2_ohm * self.g_ref2_S)


def spec_for_window(
    g_min_S: float, g_max_S: float, *, v_read_V: float, r_series_ohm: float, w_max: float = 4.0
) -> CircuitSpec:
    """A circuit whose reference sits mid-window and whose gains give ``|w| ≤ w_max``.

    Weights are dimensionless gains ``w = r_f · (G − g_ref)``; with ``g_ref`` in the middle of the
    usable window ``[g_min_S, g_max_S]`` both signs have the same range.
    """
    if not 0 < g_min_S < g_max_S:
        raise ValueError(f"need 0 < g_min_S < g_max_S, got {g_min_S!r}, {g_max_S!r}")
    g_ref = 0.5 * (g_min_S + g_max_S)
    r_f = w_max / (0.5 * (g_max_S - g_min_S))
    return replace(
        CircuitSpec(),
        v_read_V=v_read_V,
        r_series_ohm=r_series_ohm,
        g_ref1_S=g_ref,
        g_ref2_S=g_ref,
        r_f1_ohm=r_f,
        r_f2_ohm=r_f,
        v_h_max_V=v_read_V,
    )


def forward(
    spec: CircuitSpec, g1_S: ArrayLike, g2_S: ArrayLike, v_in_V: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Ideal forward pass of the circuit, vectorized over leading axes.

    Args:
        spec: circuit constants.
        g1_S: layer-1 conductances, shape ``(..., N_IN, N_HID)``.
        g2_S: layer-2 conductances, shape ``(..., N_HID, N_OUT)``.
        v_in_V: input voltages, shape ``(..., N_IN)`` (broadcast against the conductances).

    Returns:
        ``(h_V, y_V)``: hidden outputs ``(..., N_HID)`` and output neurons ``(..., N_OUT)``.
    """
    g1 = np.asarray(g1_S, dtype=float)
    g2 = np.asarray(g2_S, dtype=float)
    v = np.asarray(v_in_V, dtype=float)
    i_hidden = np.einsum("...i,...ij->...j", v, g1 - spec.g_ref1_S)
    h = np.clip(spec.r_f1_ohm * i_hidden, 0.0, spec.v_h_max_V)
    i_out = np.einsum("...j,...jo->...o", h, g2 - spec.g_ref2_S)
    y = np.clip(spec.r_f2_ohm * i_out, 0.0, spec.v_o_max_V)
    return h, y


def opamp_outputs(
    spec: CircuitSpec, g1_S: ArrayLike, g2_S: ArrayLike, v_in_V: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The neurons' op-amp outputs ``−r_f · I`` (before the activation), within the supplies.

    The ideal circuit's estimate of where each op-amp settles (the activation is
    ``clip(−output, 0, v_max)``); the ngspice backends start an inference's operating point
    there (``s0`` in :file:`va_models/neuron.va`).  Arguments as :func:`forward`; returns
    ``(hidden (..., N_HID), output (..., N_OUT))``.
    """
    h, _ = forward(spec, g1_S, g2_S, v_in_V)
    v = np.asarray(v_in_V, dtype=float)
    i_hidden = np.einsum("...i,...ij->...j", v, np.asarray(g1_S, dtype=float) - spec.g_ref1_S)
    i_out = np.einsum("...j,...jo->...o", h, np.asarray(g2_S, dtype=float) - spec.g_ref2_S)
    rails = (spec.vss_V, spec.vdd_V)
    return (
        np.clip(-spec.r_f1_ohm * i_hidden, *rails),
        np.clip(-spec.r_f2_ohm * i_out, *rails),
    )


def classify(spec: CircuitSpec, y_V: ArrayLike) -> NDArray[np.int64]:
    """Class decision from the output neurons ``y_V`` of shape ``(..., N_OUT)``.

    One output neuron: class 1 when it exceeds half its range, else 0.  Several: the index of
    the largest output (arg-max; ties go to the lowest index).  Returns shape ``(...)``.
    """
    y = np.asarray(y_V)
    if y.ndim == 0:
        raise ValueError("classify needs the output-neuron axis (..., N_OUT)")
    if y.shape[-1] == 1:
        return (y[..., 0] > 0.5 * spec.v_o_max_V).astype(np.int64)
    return np.argmax(y, axis=-1).astype(np.int64)


def split_layers(
    values: ArrayLike, topology: Topology = DEFAULT
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per-device values in select-bit order ``(..., N_DEV)`` → ``(layer 1 (..., N_IN, N_HID),
    layer 2 (..., N_HID, N_OUT))``.

    Raises:
        ValueError: the last axis is not ``topology.n_dev`` long.
    """
    g = np.asarray(values, dtype=float)
    if g.shape[-1:] != (topology.n_dev,):
        raise ValueError(
            f"expected {topology.n_dev} per-device values for topology {topology}, "
            f"got shape {g.shape}"
        )
    lead = g.shape[:-1]
    l1, l2 = topology.layers
    return (
        g[..., l1].reshape(*lead, topology.n_in, topology.n_hid),
        g[..., l2].reshape(*lead, topology.n_hid, topology.n_out),
    )


def join_layers(g1: ArrayLike, g2: ArrayLike) -> NDArray[np.float64]:
    """Inverse of :func:`split_layers`: ``(..., N_IN, N_HID)``, ``(..., N_HID, N_OUT)`` →
    ``(..., N_DEV)`` in select-bit order."""
    a = np.asarray(g1, dtype=float)
    b = np.asarray(g2, dtype=float)
    flat_a = a.reshape(*a.shape[:-2], -1)
    flat_b = b.reshape(*b.shape[:-2], -1)
    return np.concatenate([flat_a, flat_b], axis=-1)


def weights_to_conductances(
    spec: CircuitSpec, w1: ArrayLike, w2: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Map dimensionless weights to target conductances: ``G = g_ref + w / r_f``."""
    g1 = spec.g_ref1_S + np.asarray(w1, dtype=float) / spec.r_f1_ohm
    g2 = spec.g_ref2_S + np.asarray(w2, dtype=float) / spec.r_f2_ohm
    return g1, g2


def conductances_to_weights(
    spec: CircuitSpec, g1_S: ArrayLike, g2_S: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Inverse of :func:`weights_to_conductances`."""
    w1 = spec.r_f1_ohm * (np.asarray(g1_S, dtype=float) - spec.g_ref1_S)
    w2 = spec.r_f2_ohm * (np.asarray(g2_S, dtype=float) - spec.g_ref2_S)
    return w1, w2
