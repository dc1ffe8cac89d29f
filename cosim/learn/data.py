"""Datasets as arrays, the paper's 3×3 binary patterns, the split and the input-noise models.

The tasks for other topologies (a parametric pattern task for any grid, the 8×8 digits) and the
``dataset_for(topology, name)`` entry live in :mod:`cosim.learn.datasets`.

The paper (arXiv 2408.14680) classifies "3×3-pixel binary images" with a two-layer network but
does not publish the patterns.  Our documented choice (see ``docs/reproduction.md``, "Dataset"):

* **class 1 — diagonal ("X-like")**: the X ``{0, 2, 4, 6, 8}``, the main diagonal ``{0, 4, 8}``
  and the anti-diagonal ``{2, 4, 6}``;
* **class 0 — orthogonal ("+-like")**: the plus ``{1, 3, 4, 5, 7}``, the vertical middle bar
  ``{1, 4, 7}`` and the horizontal middle bar ``{3, 4, 5}``;
* distortions: every prototype with one pixel flipped (9 per prototype); a pattern reached twice
  within a class (the X with a corner off equals a diagonal with a corner on) is kept once.

That gives 26 distinct patterns per class.  No pattern appears in both classes: every
prototype of one class differs from every prototype of the other in at least 4 pixels, so one
flip each cannot make them equal.  The classes are separable by "corner pixels minus edge
pixels" with a margin of one pixel, which suits a network without bias inputs whose neurons
only pass positive sums.  Pixels are
numbered row-major, ``k = 3·row + col``, matching the input lines ``v_in0 … v_in8``.

Inputs are voltages: a white pixel is ``v_read_V``, a black one 0 V.  Input noise is relative to
that swing (``level = 0.1`` means σ or half-width 0.1·v_read) and the result is clipped at 0 V
because the input DACs are unipolar.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cosim.errors import UsageError

__all__ = [
    "N_PIXELS",
    "PROTOTYPE",
    "SAMPLE",
    "TEST_FRACTION",
    "NoiseKind",
    "Dataset",
    "prototypes",
    "make_dataset",
    "split",
    "to_voltages",
    "add_input_noise",
]

N_PIXELS = 9

#: ``Dataset.flipped`` of an undistorted prototype (never drawn into a test split).
PROTOTYPE = -1
#: ``Dataset.flipped`` of a recorded sample that is neither a prototype nor a distortion.
SAMPLE = -2

#: Test fraction of :func:`split` per task (the digits use the usual 80/20).
TEST_FRACTION = {"patterns": 0.3, "digits": 0.2}

NoiseKind = Literal["gaussian", "uniform"]
_NOISE_KINDS: tuple[str, ...] = ("gaussian", "uniform")


@dataclass(frozen=True)
class Dataset:
    """Patterns and labels.

    Attributes:
        x: pixels, shape ``(n, N_IN)``, row-major: 0/1 (int8) for the pattern tasks, grey
            levels in [0, 1] (float) for the digits.
        y: labels, shape ``(n,)``; 3×3 task: 1 = diagonal (X-like), 0 = orthogonal (+-like).
        origin: index of the prototype each pattern was made from (3×3: 0–2 diagonal, 3–5
            orthogonal; digits: the sample's index in the source data).
        flipped: the flipped pixel, :data:`PROTOTYPE` (-1) for an undistorted prototype (always
            kept for training), :data:`SAMPLE` (-2) for a recorded sample (digits).
        name: the task's name (``"patterns"``, ``"digits"``).
    """

    x: NDArray[np.int8] | NDArray[np.float64]
    y: NDArray[np.int64]
    origin: NDArray[np.int64]
    flipped: NDArray[np.int64]
    name: str = "patterns"

    def __len__(self) -> int:
        return int(self.y.size)

    def subset(self, index: ArrayLike) -> Dataset:
        """The patterns at ``index`` (an integer array or a boolean mask)."""
        idx = np.asarray(index)
        return Dataset(self.x[idx], self.y[idx], self.origin[idx], self.flipped[idx], self.name)


def prototypes() -> tuple[NDArray[np.int8], NDArray[np.int64]]:
    """The six undistorted patterns ``(x (6, 9), y (6,))``: 3 diagonal, then 3 orthogonal."""
    lit = (
        (0, 2, 4, 6, 8),  # X
        (0, 4, 8),  # main diagonal
        (2, 4, 6),  # anti-diagonal
        (1, 3, 4, 5, 7),  # plus
        (1, 4, 7),  # vertical middle bar
        (3, 4, 5),  # horizontal middle bar
    )
    x = np.zeros((6, N_PIXELS), dtype=np.int8)
    for p, pixels in enumerate(lit):
        x[p, list(pixels)] = 1
    return x, np.array([1, 1, 1, 0, 0, 0], dtype=np.int64)


def make_dataset() -> Dataset:
    """All prototypes and their single-pixel-flip distortions (52 patterns, 26 per class)."""
    protos, labels = prototypes()
    xs: list[NDArray[np.int8]] = []
    ys, origin, flipped = [], [], []
    seen: dict[bytes, int] = {}
    for p, (proto, label) in enumerate(zip(protos, labels, strict=True)):
        for k in range(-1, N_PIXELS):
            d = proto.copy()
            if k >= 0:
                d[k] ^= 1
            key = d.tobytes()
            if key in seen:
                if seen[key] != label:  # pragma: no cover - excluded by construction
                    raise AssertionError(f"pattern {d} in both classes")
                continue
            seen[key] = int(label)
            xs.append(d)
            ys.append(int(label))
            origin.append(p)
            flipped.append(k)
    return Dataset(np.stack(xs), np.array(ys), np.array(origin), np.array(flipped))


def split(
    data: Dataset, *, test_fraction: float | None = None, seed: int = 0
) -> tuple[Dataset, Dataset]:
    """Deterministic stratified train/test split.

    Each class is permuted with ``numpy.random.default_rng(seed)`` (classes in label order) and
    its first ``round(test_fraction · n_class)`` patterns go to the test set.  Undistorted
    prototypes always stay in the training set.  ``test_fraction`` None is the task's
    :data:`TEST_FRACTION` (0.3 for the patterns, 0.2 for the digits).

    Raises:
        UsageError: ``test_fraction`` is not in (0, 1).
    """
    if test_fraction is None:
        test_fraction = TEST_FRACTION.get(data.name, 0.3)
    if not 0.0 < test_fraction < 1.0:
        raise UsageError(f"test_fraction must lie in (0, 1), got {test_fraction!r}")
    rng = np.random.default_rng(seed)
    test = np.zeros(len(data), dtype=bool)
    for label in np.unique(data.y):
        candidates = np.flatnonzero((data.y == label) & (data.flipped != PROTOTYPE))
        n_test = round(test_fraction * np.count_nonzero(data.y == label))
        chosen = rng.permutation(candidates)[:n_test]
        test[chosen] = True
    return data.subset(~test), data.subset(test)


def to_voltages(pixels: ArrayLike, v_read_V: float) -> NDArray[np.float64]:
    """Pixel values (0/1 or in between) to input voltages: ``pixel · v_read_V``."""
    return np.asarray(pixels, dtype=float) * float(v_read_V)


def add_input_noise(
    v_in_V: ArrayLike,
    level: float,
    *,
    v_read_V: float,
    rng: np.random.Generator,
    kind: NoiseKind = "gaussian",
) -> NDArray[np.float64]:
    """Input voltages with additive noise relative to the swing ``v_read_V``, clipped at ≥ 0 V.

    Args:
        v_in_V: clean input voltages (any shape).
        level: relative noise level (0.1 = 10 %): Gaussian σ = level·v_read, or uniform on
            ±level·v_read.
        v_read_V: input swing (V).
        rng: the only randomness source.
        kind: ``"gaussian"`` or ``"uniform"``.

    Raises:
        UsageError: unknown ``kind`` or negative ``level``.
    """
    if kind not in _NOISE_KINDS:
        raise UsageError(f"unknown input-noise kind {kind!r}; allowed: {list(_NOISE_KINDS)}")
    if level < 0:
        raise UsageError(f"input-noise level must be >= 0, got {level!r}")
    v = np.asarray(v_in_V, dtype=float)
    scale = level * v_read_V
    if kind == "gaussian":
        noise = rng.normal(0.0, 1.0, size=v.shape) * scale
    else:
        noise = rng.uniform(-1.0, 1.0, size=v.shape) * scale
    return np.maximum(v + noise, 0.0)
