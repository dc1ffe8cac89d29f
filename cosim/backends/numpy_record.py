"""What the NumPy backend (:mod:`cosim.backends.numpy`) hands to the analog VCD writer: the
values of a point that moved since they were last handed over (device ``v``/``i``/``x``/``g``
and the input drivers past the writer's deadband, supplies and neurons exactly), and the
signals that may step at a control edge.  Arrays for many devices, floats for one.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from cosim.circuit.network import CircuitSpec
from cosim.topology import Topology
from cosim.waves.write import DEADBAND

__all__ = ["DEVICE_VARS", "Recorder"]

DEVICE_VARS = ("v", "i", "x", "g")


class Recorder:
    """The names of the backend's analog signals and the values last handed over."""

    def __init__(self, spec: CircuitSpec, topology: Topology) -> None:
        n, n_in = topology.n_dev, topology.n_in
        names = topology.device_names
        self.dev_keys = {var: [f"{nm}.{var}" for nm in names] for var in DEVICE_VARS}
        self.sup_keys = {
            "in.v": [f"supply.in{i}.v" for i in range(n_in)],
            "in.i": [f"supply.in{i}.i" for i in range(n_in)],
            "inn.v": [f"supply.inn{i}.v" for i in range(n_in)],
            "inn.i": [f"supply.inn{i}.i" for i in range(n_in)],
        }
        # array signals in two blocks (devices: v, i, x, g; input drivers), flat names, deadband
        # per row and the last value handed over (NaN: never, so the first goes out)
        blocks = {
            "dev": (DEVICE_VARS, [self.dev_keys[v] for v in DEVICE_VARS]),
            "sup": (tuple(self.sup_keys), list(self.sup_keys.values())),
        }
        self._flat = {b: [nm for row in rows for nm in row] for b, (_, rows) in blocks.items()}
        self._band = {
            b: np.array([[DEADBAND[v.rsplit(".", 1)[-1]]] for v in var])
            for b, (var, _) in blocks.items()
        }
        self._given = {"dev": np.full((4, n), np.nan), "sup": np.full((4, n_in), np.nan)}
        # the supplies and neurons, compared exactly
        self.always = [
            *(f"supply.{s}.{q}" for s in ("vdd", "vss", "prog") for q in ("v", "i")),
            *(f"neuron.{nm}.v" for nm in topology.neuron_names),
        ]
        self._always_given = [math.nan] * len(self.always)
        iq = topology.n_neurons * spec.opamp_iq_A
        self._fixed = [float(spec.vdd_V), float(iq), float(spec.vss_V), float(-iq)]
        self.zero_neurons = [0.0] * topology.n_neurons
        # _always_given holds the fixed supplies and the neurons at 0 V: only prog moves
        self._settled = False

    def block(
        self, name: str, values: NDArray[np.float64], cols: NDArray[np.intp], out: dict[str, float]
    ) -> None:
        """Hand the values of the array block ``name`` (``"dev"``: rows v, i, x, g;
        ``"sup"``: the input drivers) at the columns ``cols`` that moved past the deadband
        since they were last handed over to ``out``."""
        given = self._given[name]
        rows, at = np.nonzero(~(np.abs(values - given[:, cols]) <= self._band[name]))
        if rows.size:
            moved = values[rows, at]
            given[rows, cols[at]] = moved
            names = self._flat[name]
            flat = (rows * given.shape[1] + cols[at]).tolist()
            out.update(zip(map(names.__getitem__, flat), moved.tolist(), strict=True))

    def devices(
        self, cols: list[int], rows: tuple[list[float], ...], out: dict[str, float]
    ) -> None:
        """:meth:`block` ``"dev"`` for a few devices, in floats (``rows``: v, i, x, g)."""
        given = self._given["dev"]
        lasts = [given[:, c].tolist() for c in cols]
        for r, (var, row) in enumerate(zip(DEVICE_VARS, rows, strict=True)):
            band, names = DEADBAND[var], self.dev_keys[var]
            for c, value, last in zip(cols, row, lasts, strict=True):
                if not abs(value - last[r]) <= band:
                    given[r, c] = value
                    out[names[c]] = value

    def device(self, k: int, values: tuple[float, ...], out: dict[str, float]) -> None:
        """:meth:`devices` of device ``k`` alone (``values``: v, i, x, g)."""
        given = self._given["dev"]
        last = given[:, k].tolist()
        for r, var in enumerate(DEVICE_VARS):
            value = values[r]
            if not abs(value - last[r]) <= DEADBAND[var]:
                given[r, k] = value
                out[self.dev_keys[var][k]] = value

    def supplies(
        self, v_prog: float, i_prog: float, neurons: list[float] | None, out: dict[str, float]
    ) -> None:
        """Hand the supplies and neurons that changed (exactly) since last handed over;
        ``neurons`` None: all at 0 V."""
        given, keys = self._always_given, self.always
        if neurons is None and self._settled:  # only the pulse source can have moved
            for j, value in ((4, v_prog), (5, i_prog)):
                if value != given[j]:
                    given[j] = value
                    out[keys[j]] = value
            return
        always = [*self._fixed, v_prog, i_prog, *(neurons or self.zero_neurons)]
        for j, value in enumerate(always):
            if value != given[j]:  # NaN: never handed over
                given[j] = value
                out[keys[j]] = value
        self._settled = neurons is None

    def stepping(
        self, jump: list[int], driven: list[int], neurons: bool, inputs: bool
    ) -> list[str]:
        """Signals that may step at a control edge: ``v``/``i`` of the devices ``jump``,
        ``x``/``g`` of the devices ``driven``, the pulse source's supply, the other supplies
        and the neurons unless they stay at 0 V (``neurons`` False) and the input drivers
        when ``inputs``."""
        keys = self.dev_keys
        names = [keys[v][k] for k in jump for v in ("v", "i")]
        names += [keys[v][k] for k in driven for v in ("x", "g")]
        names += self.always if neurons else self.always[4:6]
        if inputs:
            for key_list in self.sup_keys.values():
                names += key_list
        return names
