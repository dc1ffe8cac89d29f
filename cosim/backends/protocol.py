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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from cosim.errors import CosimError

#: Switch control level of a closed switch (the switch models threshold at 0.5 V).
V_SWITCH_ON = 1.0


def controls(
    v_prog: float, v_in: Sequence[float], sel: int, infer_en: bool, n_dev: int
) -> dict[str, float]:
    """Values of the netlist's external sources for the given HDL outputs (``n_dev`` select
    lines)."""
    values = {"vprog": float(v_prog), "vinf": V_SWITCH_ON if infer_en else 0.0}
    for i, v in enumerate(v_in):
        values[f"vin{i}"] = float(v)
        values[f"vinn{i}"] = -float(v)
    for k in range(n_dev):
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


class LockstepBackend(Protocol):
    """What the generic bridge (:mod:`cosim.bench.lockstep`) needs from an analog simulator.

    An optional ``announce_edge(t_s)`` (called before :meth:`advance_to` reaches a time at
    which controls change) lets a backend restart its integration exactly at the jump.
    """

    stats: BackendStats

    def mark_edge(self, t_s: float) -> None:
        """Controls are about to change at ``t_s`` (the current time): record the held
        (pre-edge) point of every analog signal there."""

    def set_controls(self, values: Mapping[str, float]) -> None:
        """Hold these external-source values from the current time on."""

    def advance_to(self, t_s: float) -> None:
        """Simulate up to ``t_s`` with the held values."""

    def sample(self) -> dict[str, float]:
        """Analog values at the current time, by the port map's quantity keys."""

    def close(self) -> None:
        """Flush and close the analog VCD; release the simulator."""


class AnalogBackend(Protocol):
    """What the crossbar bench needs from an analog simulator (a :class:`LockstepBackend`
    that also reports the devices' states)."""

    stats: BackendStats

    def mark_edge(self, t_s: float) -> None:
        """Controls are about to change at ``t_s`` (the current time): record the held
        (pre-edge) point of every analog signal there."""

    def set_controls(self, values: Mapping[str, float]) -> None:
        """Hold these external-source values from the current time on."""

    def advance_to(self, t_s: float) -> None:
        """Simulate up to ``t_s`` with the held values."""

    def sample(self) -> dict[str, float]:
        """Analog values at the current time: ``sense`` and every neuron by name."""

    def states(self) -> np.ndarray:
        """Current state ``x`` of every device (select-line order)."""

    def close(self) -> None:
        """Flush and close the analog VCD; release the simulator."""
