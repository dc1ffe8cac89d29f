"""Pixel-flip noise: test distributions with an exact Bayes ceiling.

The paper's task (binary 3×3 images) has a natural noise model beside Gaussian amplitude noise
on the input voltages: every pixel of a prototype flips independently with probability ``p``.
Its image distribution is known exactly, so with few pixels it can be *enumerated*: all
``2^n`` images ``x`` with their class-conditional probabilities

    P(x | prototype k) = p^d(x, k) · (1 − p)^(n − d(x, k)),   d = Hamming distance,

and, with every prototype equally likely (each class holds the same number of prototypes in
:func:`cosim.learn.data.prototypes`), ``P(x, c) = Σ_{k ∈ c} P(k) · P(x | k)``.

* :func:`bayes_ceiling` — the accuracy of the Bayes-optimal classifier,
  ``Σ_x max_c P(x, c)``: no classifier, and so neither the float network nor the circuit, can
  exceed it on this distribution.
* :func:`expected_accuracy` — the *exact* expected accuracy of any deterministic classifier
  given its decision on every image, ``Σ_x P(x, ŷ(x))``: no sampling of test images, so a
  Monte Carlo study only samples what is random in the hardware (device draws, errors).
* :func:`sample_flip_set` — a seeded test set drawn from the same distribution, for
  evaluations that need concrete images (e.g. a co-simulation).

Enumeration is limited to :data:`MAX_ENUM_PIXELS` pixels (``2^16`` images).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cosim.errors import UsageError
from cosim.learn.data import Dataset, prototypes

__all__ = [
    "MAX_ENUM_PIXELS",
    "all_images",
    "joint",
    "bayes_ceiling",
    "expected_accuracy",
    "sample_flip_set",
]

#: Largest image for which the 2^n images are enumerated.
MAX_ENUM_PIXELS = 16

FloatArray = NDArray[np.float64]


def _protos(
    protos: tuple[NDArray[np.int8], NDArray[np.int64]] | None,
) -> tuple[NDArray[np.int8], NDArray[np.int64]]:
    x, y = prototypes() if protos is None else protos
    x = np.asarray(x, dtype=np.int8)
    y = np.asarray(y, dtype=np.int64)
    if x.ndim != 2 or y.shape != (x.shape[0],):
        raise UsageError(f"prototypes: expected x (k, n) and y (k,), got {x.shape}, {y.shape}")
    return x, y


def _check_p(p: float) -> float:
    if not 0.0 <= p <= 0.5:
        raise UsageError(f"flip probability {p!r}: allowed range is 0..0.5")
    return float(p)


def all_images(n_pixels: int) -> NDArray[np.int8]:
    """Every binary image of ``n_pixels`` pixels, shape ``(2^n, n)``, image ``i`` = bits of i
    (pixel ``k`` is bit ``k``).

    Raises:
        UsageError: more than :data:`MAX_ENUM_PIXELS` pixels.
    """
    if not 1 <= n_pixels <= MAX_ENUM_PIXELS:
        raise UsageError(
            f"{n_pixels} pixels: exact enumeration allowed for 1..{MAX_ENUM_PIXELS} pixels"
        )
    idx = np.arange(2**n_pixels)
    return ((idx[:, None] >> np.arange(n_pixels)) & 1).astype(np.int8)


def joint(
    p: float, protos: tuple[NDArray[np.int8], NDArray[np.int64]] | None = None
) -> tuple[NDArray[np.int8], FloatArray]:
    """``(images (2^n, n), P (n_classes, 2^n))``: every image and its joint probability with
    each class (labels ``0 … n_classes − 1``), prototypes equally likely, pixels flipped
    independently with probability ``p``.  ``P`` sums to 1.
    """
    p = _check_p(p)
    px, py = _protos(protos)
    images = all_images(px.shape[1])
    n = px.shape[1]
    dist = (images[None, :, :] != px[:, None, :]).sum(axis=2)  # (k, 2^n)
    like = p**dist * (1.0 - p) ** (n - dist)
    n_classes = int(py.max()) + 1
    prob = np.zeros((n_classes, images.shape[0]))
    for k, c in enumerate(py):
        prob[c] += like[k] / px.shape[0]
    return images, prob


def bayes_ceiling(
    p: float, protos: tuple[NDArray[np.int8], NDArray[np.int64]] | None = None
) -> float:
    """Accuracy of the Bayes-optimal classifier under pixel flips with probability ``p``."""
    _, prob = joint(p, protos)
    return float(prob.max(axis=0).sum())


def expected_accuracy(
    predictions: ArrayLike,
    p: float,
    protos: tuple[NDArray[np.int8], NDArray[np.int64]] | None = None,
) -> FloatArray:
    """Exact expected accuracy of classifiers whose class for image ``i`` of :func:`all_images`
    is ``predictions[..., i]`` (any leading shape, e.g. one row per Monte Carlo trial).

    Returns:
        ``Σ_x P(x, ŷ(x))`` with the leading shape of ``predictions``.
    """
    _, prob = joint(p, protos)
    pred = np.asarray(predictions, dtype=np.int64)
    if pred.shape[-1] != prob.shape[1]:
        raise UsageError(
            f"predictions for {pred.shape[-1]} images; expected {prob.shape[1]} (all_images)"
        )
    if pred.min(initial=0) < 0 or pred.max(initial=0) >= prob.shape[0]:
        raise UsageError(f"predicted classes must lie in 0..{prob.shape[0] - 1}")
    picked = np.take_along_axis(
        np.broadcast_to(prob, (*pred.shape[:-1], *prob.shape)), pred[..., None, :], axis=-2
    )
    return np.asarray(picked[..., 0, :].sum(axis=-1), dtype=float)


def sample_flip_set(
    p: float,
    n_per_prototype: int,
    rng: np.random.Generator,
    protos: tuple[NDArray[np.int8], NDArray[np.int64]] | None = None,
) -> Dataset:
    """A test set drawn from the pixel-flip distribution: ``n_per_prototype`` images of every
    prototype, each pixel flipped independently with probability ``p``.

    ``Dataset.flipped`` holds the number of flipped pixels of each image (not one pixel index
    as in :func:`cosim.learn.data.make_dataset`).
    """
    p = _check_p(p)
    if n_per_prototype < 1:
        raise UsageError(f"n_per_prototype must be >= 1, got {n_per_prototype}")
    px, py = _protos(protos)
    origin = np.repeat(np.arange(px.shape[0]), n_per_prototype)
    flips = rng.random((origin.size, px.shape[1])) < p
    x = (px[origin] ^ flips).astype(np.int8)
    return Dataset(x, py[origin].copy(), origin, flips.sum(axis=1).astype(np.int64))
