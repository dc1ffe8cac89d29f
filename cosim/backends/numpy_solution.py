"""Solutions of the crossbar for the NumPy backend (:mod:`cosim.backends.numpy`): the
circuit at the held controls and current states, in arrays (any number of devices solved) or
in floats (at most one: programming), and what steps between two of them at a control edge.

The float form exists for speed: while programming only the selected device carries a
pulse, and NumPy's cost per call (~1 µs whatever the size) dominated work on one element.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IndexArray = NDArray[np.intp]

NONE: IndexArray = np.zeros(0, dtype=np.intp)

__all__ = ["NONE", "Solution", "One", "Pending", "stepping", "one_rows", "points"]


class Solution:
    """The circuit at the held controls and current states: source, voltage and current of
    the devices ``idx`` (sorted; every other device is at 0 V, 0 A) and the neuron outputs."""

    __slots__ = ("idx", "v_src", "v_dev", "i_dev", "neurons")

    def __init__(
        self,
        idx: IndexArray,
        v_src: FloatArray,
        v_dev: FloatArray,
        i_dev: FloatArray,
        neurons: FloatArray,
    ) -> None:
        self.idx, self.v_src, self.v_dev, self.i_dev = idx, v_src, v_dev, i_dev
        self.neurons = neurons

    def on(self, cols: IndexArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """``v_dev``, ``i_dev``, ``v_src`` on the sorted devices ``cols`` ⊇ ``idx`` (0 else)."""
        if cols.size == self.idx.size:
            return self.v_dev, self.i_dev, self.v_src
        pos = np.searchsorted(cols, self.idx)
        out = np.zeros((3, cols.size))
        out[0, pos], out[1, pos], out[2, pos] = self.v_dev, self.i_dev, self.v_src
        return out[0], out[1], out[2]


class One:
    """A :class:`Solution` with at most one device solved (``k``; -1: none) in floats: every
    other device at 0 V, 0 A, the neurons at 0 V (no inference)."""

    __slots__ = ("k", "v_src", "v_dev", "i_dev")

    def __init__(self, k: int, v_src: float, v_dev: float, i_dev: float) -> None:
        self.k, self.v_src, self.v_dev, self.i_dev = k, v_src, v_dev, i_dev

    def i_prog(self) -> float:
        """The current of the devices with a source (NumPy's ``sum`` of them: from 0.0)."""
        return 0.0 + self.i_dev if self.k >= 0 and self.v_src != 0 else 0.0

    def full(self, n_neurons: int) -> Solution:
        """The same as a :class:`Solution`."""
        if self.k < 0:
            empty = np.zeros(0)
            return Solution(NONE, empty, empty, empty, np.zeros(n_neurons))
        v = np.array([[self.v_src], [self.v_dev], [self.i_dev]])
        return Solution(np.array([self.k]), v[0], v[1], v[2], np.zeros(n_neurons))


class Pending:
    """Controls changed at ``t_s`` and not yet applied to the waveforms (more may follow at the
    same instant): the edge to mark, the solution before the first change, inputs touched."""

    __slots__ = ("t_s", "edge_s", "before", "inputs")

    def __init__(self, t_s: float, edge_s: float | None, before: Solution | One) -> None:
        self.t_s, self.edge_s, self.before, self.inputs = t_s, edge_s, before, False


def stepping(
    before: Solution | One, after: Solution | One, n_neurons: int
) -> tuple[list[int], list[int]]:
    """The devices whose voltage or current jumps from ``before`` to ``after``, and those
    driven (a source on) in either."""
    if isinstance(before, One) and isinstance(after, One):
        ends = [(s.k, s.v_dev, s.i_dev, s.v_src) for s in (before, after)]
        cols = sorted({before.k, after.k} - {-1})
        vis = [[(v, i, src) if c == k else (0.0, 0.0, 0.0) for k, v, i, src in ends] for c in cols]
        jump = [c for c, (b, a) in zip(cols, vis, strict=True) if b[:2] != a[:2]]
        driven = [c for c, (b, a) in zip(cols, vis, strict=True) if b[2] != 0 or a[2] != 0]
        return jump, driven
    before = before.full(n_neurons) if isinstance(before, One) else before
    after = after.full(n_neurons) if isinstance(after, One) else after
    cols_a = np.union1d(before.idx, after.idx)
    vb, ib, sb = before.on(cols_a)
    va, ia, sa = after.on(cols_a)
    return cols_a[(vb != va) | (ib != ia)].tolist(), cols_a[(sb != 0) | (sa != 0)].tolist()


def one_rows(
    sol: One, cols: list[int], xs: list[float], r_on: list[float], r_off: list[float]
) -> tuple[list[float], list[float], list[float], list[float]]:
    """``v``, ``i``, ``x``, ``g`` of the devices ``cols`` (states ``xs``) under ``sol``."""
    k = sol.k
    return (
        [sol.v_dev if c == k else 0.0 for c in cols],
        [sol.i_dev if c == k else 0.0 for c in cols],
        xs,
        [x / r_on[c] + (1.0 - x) / r_off[c] for c, x in zip(cols, xs, strict=True)],
    )


def points(t0: float, t_s: float, n: int) -> list[float]:
    """``np.linspace(t0, t_s, n + 1)[1:]``, the same floats."""
    step = (t_s - t0) / n
    return [j * step + t0 for j in range(1, n)] + [t_s]
