"""One concrete crossbar for a run: card, drawn devices, circuit, targets, analog backends.

Everything here is a pure function of (card, seed, topology): the cocotb bench inside ``vvp``
and the post-processing in the parent process build the same :class:`Crossbar` independently and get
identical devices and targets.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from cosim.backends.ngspice import NgspiceBackend
from cosim.backends.numpy import NumpyBackend
from cosim.backends.partitioned import PartitionedNgspiceBackend
from cosim.circuit import mss
from cosim.circuit.devices import DeviceCard, Variation, draw_variation, load_card
from cosim.circuit.netlist import CrossbarNetlist, build_crossbar, neurons, supplies
from cosim.circuit.network import CircuitSpec, classify, forward, opamp_outputs, split_layers
from cosim.circuit.va import compile_va, model_path
from cosim.learn import recipe, train
from cosim.topology import DEFAULT, Topology
from cosim.waves.write import AnalogVcdWriter

if TYPE_CHECKING:
    from cosim.backends.protocol import AnalogBackend

__all__ = [
    "Crossbar",
    "card_circuit",
    "device_params",
    "make_crossbar",
    "make_backend",
    "decide",
]


@dataclass(frozen=True)
class Crossbar:
    """A crossbar instance.

    Attributes:
        card: the device card.
        seed: seed of the device-to-device draw and of training.
        spec: circuit constants (window, gains, read voltage from the card).
        variation: the devices' parameter multipliers (select-line order).
        params: the devices' effective MSS parameters.
        x0: initial device states.
        w1, w2: trained weights (``N_IN×N_HID``, ``N_HID×N_OUT``).
        g_target_S: target conductance per device (select-line order).
        topology: the network's shape.
    """

    card: DeviceCard
    seed: int
    spec: CircuitSpec
    variation: Variation
    params: mss.MSSArrays
    x0: NDArray[np.float64]
    w1: NDArray[np.float64]
    w2: NDArray[np.float64]
    g_target_S: NDArray[np.float64]
    topology: Topology = DEFAULT

    def conductance(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """Small-signal memristive conductance ``G(x)`` of every device (S)."""
        return np.asarray(mss.conductance(self.params, x), dtype=float)

    def branch_conductance(self, g_S: NDArray[np.float64]) -> NDArray[np.float64]:
        """Conductance of device + inference path, what a column sums (S)."""
        return 1.0 / (self.spec.r_infer_path_ohm + 1.0 / np.asarray(g_S, dtype=float))

    def reference_outputs(
        self, g_S: NDArray[np.float64], v_in_V: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """NumPy reference of the network programmed to device conductances ``g_S``."""

        g1, g2 = self.split_layers(self.branch_conductance(g_S))
        return forward(self.spec, g1, g2, v_in_V)

    def split_layers(
        self, g_S: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Select-line-ordered per-device values → ``(layer 1 (N_IN, N_HID), layer 2
        (N_HID, N_OUT))``."""
        return split_layers(g_S, self.topology)

    def netlist(
        self,
        mss_osdi: Path,
        neuron_osdi: Path,
        *,
        inputs_V: NDArray[np.float64] | None = None,
        fixed_sources: Mapping[str, float] | None = None,
        save_list: bool = True,
    ) -> CrossbarNetlist:
        """The ngspice netlist of this crossbar.

        Args:
            mss_osdi, neuron_osdi: the compiled models.
            inputs_V: input voltages of an inference: its operating point starts the neurons
                at the ideal circuit's op-amp outputs for the devices' states ``x0``
                (:func:`cosim.circuit.network.opamp_outputs`).
            fixed_sources, save_list: see :func:`cosim.circuit.netlist.build_crossbar`.
        """
        start = None
        if inputs_V is not None:
            g1, g2 = self.split_layers(self.branch_conductance(self.conductance(self.x0)))
            a_h, a_o = opamp_outputs(self.spec, g1, g2, inputs_V)
            start = dict(zip(self.topology.neuron_names, [*a_h, *a_o], strict=True))
        inst = []
        for k in range(self.topology.n_dev):
            params = dict(self.variation.instance_params(k))
            params["x0"] = float(self.x0[k])
            inst.append(params)
        return build_crossbar(
            self.spec,
            self.card.model.va_params(),
            inst,
            mss_osdi=mss_osdi,
            neuron_osdi=neuron_osdi,
            topology=self.topology,
            title=f"cosim {self.topology} crossbar, card {self.card.name}, seed {self.seed}",
            neuron_start=start,
            fixed_sources=fixed_sources,
            save_list=save_list,
        )


def decide(spec: CircuitSpec, y_V: NDArray[np.float64]) -> tuple[int, float]:
    """The class the circuit decides from its output-neuron voltages, and the margin (V).

    One output neuron: class 1 above half its range, margin the distance to that level.
    Several: the arg-max (lowest index on ties, as ``hdl/xbar_ctrl.v``), margin the gap
    between the two largest outputs.
    """
    y = np.atleast_1d(np.asarray(y_V, dtype=float))
    cls = int(classify(spec, y))
    if y.size == 1:
        return cls, abs(float(y[0]) - 0.5 * spec.v_o_max_V)
    return cls, float(y[cls] - np.delete(y, cls).max())


def card_circuit(card: DeviceCard, w_max: float = 0.0) -> tuple[CircuitSpec, float, float]:
    """``(spec, gb_min_S, gb_max_S)``: the circuit for a card and its window of *branch*
    conductances (device + switch + series resistor, what a column sums during inference).

    ``w_max`` 0 means :data:`cosim.learn.train.DEFAULT_W_MAX`.
    """

    op = card.operation
    r_inf = replace(CircuitSpec(), r_series_ohm=op.r_series_ohm).r_infer_path_ohm
    gb_min, gb_max = 1.0 / (r_inf + 1.0 / op.g_min_S), 1.0 / (r_inf + 1.0 / op.g_max_S)
    spec = train.spec_for_card(gb_min, gb_max, op.v_read_V, op.r_series_ohm, w_max)
    return spec, gb_min, gb_max


def device_params(
    card: DeviceCard, seed: int, topology: Topology = DEFAULT
) -> tuple[Variation, mss.MSSArrays]:
    """The devices drawn for ``seed``: their variation and effective MSS parameters."""
    variation = draw_variation(card, topology.n_dev, seed)
    return variation, mss.MSSArrays.from_params(card.model, variation)


def make_crossbar(
    card: str | DeviceCard, seed: int, topology: Topology = DEFAULT, dataset: str = "patterns"
) -> Crossbar:
    """Draw the devices, size the circuit for the card and train the target weights.

    Weights act on *branch* conductances (switch + series resistor + device, what a column
    actually sums), so the training window is the card's device window seen through the
    inference path; device targets are recovered from the branch targets.  ``dataset`` names
    the training task (:func:`cosim.learn.datasets.dataset_for`); its training recipe and the
    weight cache are :func:`cosim.learn.recipe.trained_weights`, shared with ``cosim scale``.
    """

    card = load_card(card) if not isinstance(card, DeviceCard) else card
    spec, gb_min, gb_max = card_circuit(card)
    r_inf = spec.r_infer_path_ohm
    variation, params = device_params(card, seed, topology)
    x0 = np.full(topology.n_dev, float(card.x0))
    w = recipe.trained_weights(spec, gb_min, gb_max, topology, dataset, seed).weights
    targets = train.to_conductances(spec, w, gb_min, gb_max)
    gb_target = np.concatenate([targets.g1_S.ravel(), targets.g2_S.ravel()])
    g_target = 1.0 / (1.0 / gb_target - r_inf)
    return Crossbar(card, seed, spec, variation, params, x0, w.w1, w.w2, g_target, topology)


def make_backend(
    xbar: Crossbar, kind: str, analog_vcd: Path, *, tmax_s: float, record: tuple[int, ...] = ()
) -> AnalogBackend:
    """The analog backend (``ngspice`` or ``numpy``) writing its waveforms to ``analog_vcd``."""

    t = xbar.topology
    writer = AnalogVcdWriter(
        analog_vcd,
        devices=list(t.device_names),
        supplies=list(supplies(t)),
        neurons=list(neurons(t)),
        conductance=True,
    )
    if kind == "numpy":
        return NumpyBackend(xbar.spec, xbar.params, xbar.x0, writer, topology=t)
    osdi = compile_va(model_path("mss.va")), compile_va(model_path("neuron.va"))
    if kind == "ngspice-partitioned":
        return PartitionedNgspiceBackend(
            spec=xbar.spec,
            topology=t,
            model_params=xbar.card.model.va_params(),
            instance_params=[xbar.variation.instance_params(k) for k in range(t.n_dev)],
            params=xbar.params,
            x0=xbar.x0,
            full_netlist=lambda x, **kw: replace(xbar, x0=x).netlist(*osdi, **kw),
            osdi=osdi,
            writer=writer,
            tmax_s=tmax_s,
            record=record,
        )
    return NgspiceBackend(xbar.netlist(*osdi), writer, xbar.params, tmax_s=tmax_s)
