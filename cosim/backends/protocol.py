"""What the lockstep needs from an analog simulator: the backend protocol, its statistics,
its errors and physical-bounds check, and the crossbar's source values.

The bridge (:mod:`cosim.bench.lockstep`) advances a backend to each sync time with the old
source values held, marks edges, applies new values and samples at ADC strobes
(``docs/timing.md``).  Implementations: :mod:`cosim.backends.ngspice` (the crossbar in
libngspice with the Verilog-A models), :mod:`cosim.backends.partitioned` (the same, one small
netlist per programmed device), :mod:`cosim.backends.deck` (any deck) and
:mod:`cosim.backends.numpy` (the crossbar's NumPy twin).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from cosim.errors import CosimError, RunawayError


class AnalogSimulationError(CosimError):
    """The analog simulator failed mid-run (the message carries its own output)."""


#: How far a device state may leave [0, 1] before the run is stopped (the Verilog-A model
#: overshoots by about 1 % in saturation, e.g. x = 1.0100 at 0.4 V DC; a runaway goes far beyond).
X_TOLERANCE = 0.1
#: Largest node voltage magnitude accepted as physical (V); the circuit runs on a few volts.
V_LIMIT_V = 1e3


def check_physical(
    t_s: np.ndarray | float, values: Mapping[str, np.ndarray | float], what: str
) -> None:
    """Stop a runaway model: every ``*.x`` within [0, 1] ± :data:`X_TOLERANCE`, every
    ``*.v`` within ±:data:`V_LIMIT_V`, everything finite.

    Args:
        t_s: time(s) of the values (s), a scalar or an array matching the value arrays.
        values: ``{"<device>.x": …, "<node>.v": …, …}`` (scalars or equal-length arrays).
        what: the backend's name for the message.

    Raises:
        RunawayError: names the first offending signal, its value and the time.
    """
    t = np.atleast_1d(np.asarray(t_s, dtype=float))
    for name, raw in values.items():
        arr = np.atleast_1d(np.asarray(raw, dtype=float))
        bad = ~np.isfinite(arr)
        if name.endswith(".x"):
            bad |= (arr < -X_TOLERANCE) | (arr > 1.0 + X_TOLERANCE)
            allowed = f"[0, 1] ± {X_TOLERANCE}"
        elif name.endswith(".v"):
            bad |= np.abs(arr) > V_LIMIT_V
            allowed = f"±{V_LIMIT_V:g} V"
        else:
            allowed = "finite"
        if bad.any():
            k = int(np.argmax(bad))
            when = float(t[min(k, t.size - 1)])
            raise RunawayError(
                f"{what}: {name} = {float(arr[k])!r} at t = {when!r} s is outside its physical "
                f"range ({allowed}): the model diverged; the run was stopped"
            )


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
