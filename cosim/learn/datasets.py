"""The tasks a topology can learn, by name: ``dataset_for(topology, name)``.

``"patterns"`` (the default)
    * 9 inputs and two classes (the paper's 9→3→1): the 3×3 binary patterns of
      :func:`cosim.learn.data.make_dataset`, unchanged.
    * any other input count: a **parametric pattern task** on an ``R × C`` pixel grid with
      ``R·C = N_IN``, ``R`` the largest divisor of ``N_IN`` not above ``√N_IN`` (a square
      ``k × k`` grid when ``N_IN`` is a square; 12 → 3×4, 32 → 4×8).  ``N_IN`` must have such a
      grid with ``R ≥ 3`` (9, 12, 15, 16, 18, 20, 21, 24, 25, …; on two rows the families
      collapse into each other).  Pixels are row-major, ``k = C·row + col``.  Pattern families,
      in this order:

      0. ``hbar`` — one full row (``R`` prototypes);
      1. ``vbar`` — one full column (``C``);
      2. ``diag`` — a ↘ diagonal ``(i, i + d)``: ``d = 0 … C−R`` (length ``R``) and the two
         neighbours ``d = −1`` and ``d = C−R+1`` (length ``R−1``);
      3. ``antidiag`` — the same, mirrored left–right (↙);
      4. ``corner`` — an ``s × s`` block in each of the four corners, ``s = max(1, R // 2)``;
      5. ``frame`` — the border ring;
      6. ``center`` — the ``(R−2) × (C−2)`` interior block (at least one pixel);
      7. ``x`` — the centred ↘ and ↙ diagonals together;
      8. ``plus`` — the middle row ``R // 2`` and the middle column ``C // 2`` together;
      9. ``checker`` — the two checkerboards.

      With two classes (one output neuron, or ``N_OUT = 2``) the task is the 3×3 task's idea
      on the larger grid: class 1 "diagonal" = ``diag`` ∪ ``antidiag`` ∪ ``x``, class 0
      "orthogonal" = ``hbar`` ∪ ``vbar`` ∪ ``plus``.  With ``n`` classes (``N_OUT = n ≥ 3``)
      class ``c`` is family ``c`` above, so at most 10 classes.  Every prototype appears
      undistorted and with each single pixel flipped; a pattern reached twice within a class
      is kept once, a pattern reached by two classes is dropped from both (ambiguous), so
      every class must keep at least one prototype.
``"digits"``
    The 8×8 handwritten digits bundled with scikit-learn (``sklearn.datasets.load_digits``:
    1797 images, 10 classes, grey levels 0–16; no download).  A grey level ``g`` becomes the
    pixel value ``g / 16`` ∈ [0, 1] and hence the input voltage ``(g/16)·v_read`` — the input
    DACs' range ``[0, v_read]`` (:func:`cosim.learn.data.to_voltages`; the bench then rounds it
    to the DAC code).  Fits ``64 → N_HID → 10`` only.  Split 80/20, stratified and seeded
    (:data:`cosim.learn.data.TEST_FRACTION`).

A dataset that does not fit the topology is a :class:`DatasetError` that says what fits.
"""

from __future__ import annotations

import importlib.metadata
import os
from functools import lru_cache
from math import isqrt
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from cosim.errors import UsageError
from cosim.learn.data import PROTOTYPE, SAMPLE, Dataset, make_dataset, split
from cosim.resources import cache_dir
from cosim.topology import DEFAULT, Topology

__all__ = [
    "DATASET_NAMES",
    "FAMILIES",
    "DatasetError",
    "dataset_for",
    "train_test",
    "pattern_grid",
    "pattern_dataset",
    "digits_dataset",
]

#: Names accepted by :func:`dataset_for` (``--dataset``).
DATASET_NAMES: tuple[str, ...] = ("patterns", "digits")

#: Families of the parametric pattern task, in class order.
FAMILIES: tuple[str, ...] = (
    "hbar",
    "vbar",
    "diag",
    "antidiag",
    "corner",
    "frame",
    "center",
    "x",
    "plus",
    "checker",
)
_TWO_CLASSES = {1: ("diag", "antidiag", "x"), 0: ("hbar", "vbar", "plus")}
_MIN_ROWS = 3
_DIGITS_SIDE = 8
_DIGITS_LEVELS = 16


class DatasetError(UsageError):
    """A dataset that does not exist or does not fit the topology (the message says what fits)."""


Pixels = list[tuple[int, int]]


def pattern_grid(n_in: int) -> tuple[int, int]:
    """``(R, C)`` of the parametric pattern task for ``n_in`` inputs (see the module doc).

    Raises:
        DatasetError: ``n_in`` has no grid with ``3 ≤ R ≤ C``.
    """
    rows = _rows(n_in)
    if rows < _MIN_ROWS:
        fits = ", ".join(str(n) for n in range(1, 40) if _rows(n) >= _MIN_ROWS)
        raise DatasetError(
            f"dataset 'patterns' needs N_IN = R·C with 3 ≤ R ≤ C (a pixel grid of at least "
            f"three rows: {fits}, …); N_IN = {n_in} has none"
        )
    return rows, n_in // rows


def _rows(n_in: int) -> int:
    return max((r for r in range(1, isqrt(n_in) + 1) if n_in % r == 0), default=1)


def _diagonals(r: int, c: int) -> list[Pixels]:
    offsets = [-1, *range(c - r + 1), c - r + 1]
    return [[(i, i + d) for i in range(r) if 0 <= i + d < c] for d in offsets]


def _families(r: int, c: int) -> dict[str, list[Pixels]]:
    """Prototype pixel sets of every family on an ``r × c`` grid."""
    s = max(1, r // 2)
    diag = _diagonals(r, c)
    mirror = [[(i, c - 1 - j) for i, j in p] for p in diag]
    mid = (c - r) // 2
    cross = [(i, i + mid) for i in range(r)] + [(i, c - 1 - i - mid) for i in range(r)]
    inner = [(i, j) for i in range(1, r - 1) for j in range(1, c - 1)]
    return {
        "hbar": [[(i, j) for j in range(c)] for i in range(r)],
        "vbar": [[(i, j) for i in range(r)] for j in range(c)],
        "diag": diag,
        "antidiag": mirror,
        "corner": [
            [(a + i, b + j) for i in range(s) for j in range(s)]
            for a in (0, r - s)
            for b in (0, c - s)
        ],
        "frame": [
            [(i, j) for i in range(r) for j in range(c) if i in (0, r - 1) or j in (0, c - 1)]
        ],
        "center": [inner or [((r - 1) // 2, (c - 1) // 2)]],
        "x": [cross],
        "plus": [[(r // 2, j) for j in range(c)] + [(i, c // 2) for i in range(r)]],
        "checker": [
            [(i, j) for i in range(r) for j in range(c) if (i + j) % 2 == p] for p in (0, 1)
        ],
    }


def _class_prototypes(r: int, c: int, n_classes: int) -> list[list[Pixels]]:
    fam = _families(r, c)
    if n_classes == 2:
        return [[p for f in _TWO_CLASSES[label] for p in fam[f]] for label in (0, 1)]
    return [fam[f] for f in FAMILIES[:n_classes]]


def pattern_dataset(topology: Topology = DEFAULT) -> Dataset:
    """The pattern task for ``topology`` (3×3 patterns for 9 inputs and two classes).

    Raises:
        DatasetError: no pixel grid for ``N_IN``, more classes than families, or a class left
            without a prototype on this grid.
    """
    n_in, n_classes = topology.n_in, topology.n_classes
    if n_in == 9 and n_classes == 2:
        return make_dataset()
    r, c = pattern_grid(n_in)
    if n_classes > len(FAMILIES):
        raise DatasetError(
            f"dataset 'patterns' has at most {len(FAMILIES)} classes (N_OUT ≤ {len(FAMILIES)}); "
            f"topology {topology} asks for {n_classes}"
        )
    owners: dict[bytes, set[int]] = {}
    rows: dict[bytes, tuple[NDArray[np.int8], int, int, int]] = {}
    origin = 0
    for label, protos in enumerate(_class_prototypes(r, c, n_classes)):
        for pixels in protos:
            proto = np.zeros(n_in, dtype=np.int8)
            proto[[c * i + j for i, j in pixels]] = 1
            for k in range(-1, n_in):
                d = proto.copy()
                if k >= 0:
                    d[k] ^= 1
                key = d.tobytes()
                owners.setdefault(key, set()).add(label)
                if key not in rows or (k < 0 and rows[key][3] >= 0):
                    rows[key] = (d, label, origin, k if k >= 0 else PROTOTYPE)
            origin += 1
    kept = [v for key, v in rows.items() if len(owners[key]) == 1]
    labels = np.array([v[1] for v in kept], dtype=np.int64)
    flips = np.array([v[3] for v in kept], dtype=np.int64)
    missing = [
        lab for lab in range(n_classes) if not np.any((labels == lab) & (flips == PROTOTYPE))
    ]
    if missing:
        raise DatasetError(
            f"dataset 'patterns' on a {r}×{c} grid (N_IN = {n_in}) cannot make {n_classes} "
            f"distinct classes (class {missing[0]} has no unambiguous prototype); use fewer "
            "outputs or more inputs"
        )
    return Dataset(
        np.stack([v[0] for v in kept]),
        labels,
        np.array([v[2] for v in kept], dtype=np.int64),
        flips,
    )


def digits_cache() -> Path | None:
    """The cached copy of scikit-learn's digits (``<cache_dir>/datasets``, one file per
    scikit-learn version), None without scikit-learn."""
    try:
        version = importlib.metadata.version("scikit-learn")
    except importlib.metadata.PackageNotFoundError:
        return None
    return cache_dir() / "datasets" / f"digits-sklearn-{version}.npz"


@lru_cache(maxsize=1)
def _load_digits() -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Pixels and labels of scikit-learn's digits.  Read from a cached copy when there is one:
    importing scikit-learn costs 2-3 s, in each of the processes of a run."""
    cached = digits_cache()
    if cached is not None and cached.is_file():
        try:
            with np.load(cached) as f:
                return np.asarray(f["x"], dtype=float), np.asarray(f["y"], dtype=np.int64)
        except (OSError, ValueError, KeyError):
            pass  # unreadable: load again and rewrite it
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise DatasetError(
            "dataset 'digits' needs scikit-learn (a dependency of cosim; pip install scikit-learn)"
        ) from None
    bunch = load_digits()
    x, y = np.asarray(bunch.data, dtype=float), np.asarray(bunch.target, dtype=np.int64)
    if cached is not None:
        try:  # written aside and renamed: a concurrent reader never sees half a file
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_name(f"{cached.stem}.{os.getpid()}.tmp.npz")
            np.savez(tmp, x=x, y=y)
            os.replace(tmp, cached)
        except OSError:
            pass  # no cache: the next run loads it again
    return x, y


def digits_dataset() -> Dataset:
    """The 1797 8×8 digits as pixel values ``grey/16`` ∈ [0, 1] with labels 0–9."""
    x, y = _load_digits()
    return Dataset(
        x / _DIGITS_LEVELS,
        y.copy(),
        np.arange(y.size, dtype=np.int64),
        np.full(y.size, SAMPLE, dtype=np.int64),
        "digits",
    )


def _check_digits(topology: Topology) -> None:
    n_px = _DIGITS_SIDE * _DIGITS_SIDE
    if topology.n_in != n_px or topology.n_out != 10:
        raise DatasetError(
            f"dataset 'digits' needs N_IN = {n_px} (8×8 pixels) and N_OUT = 10 (one output "
            f"neuron per digit), e.g. --topology 64,16,10; topology {topology} has "
            f"N_IN = {topology.n_in}, N_OUT = {topology.n_out}"
        )


def dataset_for(topology: Topology = DEFAULT, name: str = "patterns") -> Dataset:
    """The whole dataset ``name`` for ``topology``.

    Raises:
        DatasetError: unknown name, or the dataset does not fit the topology (the message says
            what fits).
    """
    if name == "patterns":
        return pattern_dataset(topology)
    if name == "digits":
        _check_digits(topology)
        return digits_dataset()
    raise DatasetError(f"unknown dataset {name!r}; allowed: {list(DATASET_NAMES)}")


def train_test(
    topology: Topology = DEFAULT, name: str = "patterns", *, seed: int = 0
) -> tuple[Dataset, Dataset]:
    """``(train, test)`` of dataset ``name`` for ``topology``: the task's stratified split
    (:func:`cosim.learn.data.split` with its default test fraction) for ``seed``."""
    return split(dataset_for(topology, name), seed=seed)
