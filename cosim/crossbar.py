"""One concrete crossbar for a run: card, drawn devices, circuit, targets, analog backends.

Everything here is a pure function of (card, seed): the cocotb bench inside ``vvp`` and the
post-processing in the parent process build the same :class:`Crossbar` independently and get
identical devices and targets.
"""

from __future__ import annotations

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
from cosim.circuit.netlist import NEURONS, SUPPLIES, CrossbarNetlist, build_crossbar
from cosim.circuit.network import N_DEVICES, CircuitSpec, device_names, forward, split_layers
from cosim.circuit.va import compile_va, model_path
from cosim.learn import data, train
from cosim.topology import DEFAULT
from cosim.waves.write import AnalogVcdWriter

if TYPE_CHECKING:
    from cosim.backends.protocol import AnalogBackend

__all__ = [
    "Crossbar",
    "card_circuit",
    "device_params",
    "make_crossbar",
    "make_backend",
    "TRAINING_NOISE",
]

#: Training-noise level of the target weights programmed by ``cosim sim`` (relative).
TRAINING_NOISE = 0.1


@dataclass(frozen=True)
class Crossbar:
    """A crossbar instance.

    Attributes:
        card: the device card.
        seed: seed of the device-to-device draw and of training.
        spec: circuit constants (window, gains, read voltage from the card).
        variation: the 30 devices' parameter multipliers.
        params: the 30 devices' effective MSS parameters.
        x0: initial device states.
        w1, w2: trained weights (9×3, 3).
        g_target_S: target conductance per device (select-line order).
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
        """Select-line-ordered per-device values → ``(layer 1 (9, 3), layer 2 (3, 1))``."""
        return split_layers(g_S)

    def netlist(self, mss_osdi: Path, neuron_osdi: Path) -> CrossbarNetlist:
        """The ngspice netlist of this crossbar."""
        inst = []
        for k in range(N_DEVICES):
            params = dict(self.variation.instance_params(k))
            params["x0"] = float(self.x0[k])
            inst.append(params)
        return build_crossbar(
            self.spec,
            self.card.model.va_params(),
            inst,
            mss_osdi=mss_osdi,
            neuron_osdi=neuron_osdi,
            title=f"cosim crossbar, card {self.card.name}, seed {self.seed}",
        )


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


def device_params(card: DeviceCard, seed: int) -> tuple[Variation, mss.MSSArrays]:
    """The 30 devices drawn for ``seed``: their variation and effective MSS parameters."""
    variation = draw_variation(card, N_DEVICES, seed)
    return variation, mss.MSSArrays.from_params(card.model, variation)


def make_crossbar(card: str | DeviceCard, seed: int) -> Crossbar:
    """Draw the devices, size the circuit for the card and train the target weights.

    Weights act on *branch* conductances (switch + series resistor + device, what a column
    actually sums), so the training window is the card's device window seen through the
    inference path; device targets are recovered from the branch targets.
    """

    card = load_card(card) if not isinstance(card, DeviceCard) else card
    spec, gb_min, gb_max = card_circuit(card)
    r_inf = spec.r_infer_path_ohm
    variation, params = device_params(card, seed)
    x0 = np.full(N_DEVICES, float(card.x0))
    train_set, _ = data.split(data.make_dataset())
    cfg = train.TrainConfig(noise=TRAINING_NOISE, seed=seed)
    w = train.train(spec, train_set, gb_min, gb_max, cfg)
    targets = train.to_conductances(spec, w, gb_min, gb_max)
    gb_target = np.concatenate([targets.g1_S.ravel(), targets.g2_S.ravel()])
    g_target = 1.0 / (1.0 / gb_target - r_inf)
    return Crossbar(card, seed, spec, variation, params, x0, w.w1, w.w2, g_target)


def make_backend(
    xbar: Crossbar, kind: str, analog_vcd: Path, *, tmax_s: float, record: tuple[int, ...] = ()
) -> AnalogBackend:
    """The analog backend (``ngspice`` or ``numpy``) writing its waveforms to ``analog_vcd``."""

    writer = AnalogVcdWriter(
        analog_vcd,
        devices=device_names(),
        supplies=list(SUPPLIES),
        neurons=list(NEURONS),
        conductance=True,
    )
    if kind == "numpy":
        return NumpyBackend(xbar.spec, xbar.params, xbar.x0, writer)
    osdi = compile_va(model_path("mss.va")), compile_va(model_path("neuron.va"))
    if kind == "ngspice-partitioned":
        return PartitionedNgspiceBackend(
            spec=xbar.spec,
            topology=DEFAULT,
            model_params=xbar.card.model.va_params(),
            instance_params=[xbar.variation.instance_params(k) for k in range(N_DEVICES)],
            params=xbar.params,
            x0=xbar.x0,
            full_netlist=lambda x: replace(xbar, x0=x).netlist(*osdi),
            osdi=osdi,
            writer=writer,
            tmax_s=tmax_s,
            record=record,
        )
    return NgspiceBackend(xbar.netlist(*osdi), writer, xbar.params, tmax_s=tmax_s)
