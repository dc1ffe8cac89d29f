"""Noise-aware computation of the weights, weight → conductance mapping, accuracy.

The network is the circuit of :mod:`cosim.circuit.network` for any
:class:`cosim.topology.Topology` ``N_IN → N_HID → N_OUT``: hidden
``h = clip(Σ_i v_i·w1_ij, 0, v_h_max)``, outputs ``y_o = clip(Σ_j h_j·w2_jo, 0, v_o_max)``;
with one output neuron the class is 1 when ``y > v_o_max/2``, with several it is the arg-max.
Weights are ``w = r_f·(G − g_ref)`` and are limited by the usable conductance window
``[g_min, g_max]``.

Training is plain full-batch gradient descent (Adam) in NumPy on that forward model, with the
hard clip replaced by a smooth surrogate (difference of two softplus functions of width
``smooth`` × range) and a logistic loss on ``(y − v_o_max/2)/t_loss`` (one output neuron) or a
softmax cross-entropy on ``y/t_loss`` (several; the arg-max decision).  ``batch`` > 0 draws a
seeded mini-batch per step (large datasets); 0 is full batch.  Weights are projected
back into the window after every step.  *Noise-aware* training draws, at every step, ``n_copies``
noisy copies of the network and of the inputs: conductances ``G·(1 + level·ξ)`` and inputs
``v + level·v_read·ξ`` (ξ standard normal, inputs clipped at 0 V), the same relative noise models
that :func:`evaluate` applies at test time.  Everything is seeded; the same arguments give the
same weights bit for bit.

Non-idealities at evaluation (all relative, all from one seeded Generator):

* conductance error after programming: ``G·(1 + e·ξ)``, ξ uniform on ±1 or standard normal;
* read noise: an independent relative Gaussian fluctuation of every conductance at every
  presentation;
* input noise: :func:`cosim.learn.data.add_input_noise`.

Device-to-device spread and cycle-to-cycle switching noise act through programming: see
:func:`cosim.twin.program.write_verify`, the algorithm-level twin of on-chip programming that turns
them into final conductances.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import expit

from cosim.circuit import network
from cosim.circuit.network import CircuitSpec
from cosim.errors import UsageError
from cosim.learn.data import Dataset, NoiseKind, add_input_noise, to_voltages
from cosim.topology import DEFAULT, Topology

__all__ = [
    "DEFAULT_W_MAX",
    "smooth_clip",
    "Weights",
    "TrainConfig",
    "Targets",
    "NonIdealities",
    "spec_for_card",
    "weight_bounds",
    "check_fits",
    "train",
    "to_conductances",
    "perturb_conductances",
    "evaluate",
]

FloatArray = NDArray[np.float64]

#: Largest weight magnitude we build the circuit for (``w_max`` of
#: :func:`cosim.circuit.network.spec_for_window`).  With ``v_h_max = v_read`` the output can
#: reach at most ``3 · v_read · w_max``: 2 gives 0.6 V at v_read = 0.1 V, barely above the
#: 0.5 V decision
#: level; 4 gives the output neuron room for a margin.
DEFAULT_W_MAX = 4.0


@dataclass(frozen=True)
class Weights:
    """Dimensionless weights: ``w1`` (N_IN, N_HID) and ``w2`` (N_HID, N_OUT)."""

    w1: FloatArray
    w2: FloatArray


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of :func:`train`.

    Attributes:
        noise: training-noise level (relative, 0–0.3 in the paper's range).
        noise_inputs: inject the noise into the inputs.
        noise_weights: inject the noise into the conductances.
        n_copies: noisy network copies per step (ignored without noise).
        steps: Adam steps.  lr: Adam step size (weight units).
        smooth: width of the smooth activation relative to each neuron's range.
        t_loss_V: temperature of the output loss (V).
        seed: seed of the initialisation, the mini-batches and the injected noise.
        batch: patterns per step (0: all; the default, for the small pattern tasks).
    """

    noise: float = 0.0
    noise_inputs: bool = True
    noise_weights: bool = True
    n_copies: int = 16
    steps: int = 1500
    lr: float = 0.03
    smooth: float = 0.05
    t_loss_V: float = 0.05
    seed: int = 0
    batch: int = 0


@dataclass(frozen=True)
class Targets:
    """Target conductances and what clipping to the window did.

    Attributes:
        g1_S: layer-1 targets (N_IN, N_HID) in S.  g2_S: layer-2 targets (N_HID, N_OUT) in S.
        n_clipped: number of weights that fell outside the window and were clipped.
        max_clip_S: largest clipping distance (S).
    """

    g1_S: FloatArray
    g2_S: FloatArray
    n_clipped: int
    max_clip_S: float


@dataclass(frozen=True)
class NonIdealities:
    """Seeded non-idealities applied by :func:`evaluate` (relative levels).

    Attributes:
        g_error: conductance error after programming (half-width or σ, relative to G).
        g_error_kind: ``"uniform"`` (±e) or ``"gaussian"`` (σ = e).
        read_noise: relative σ of a conductance fluctuation at every presentation.
        input_noise: input-noise level relative to v_read.
        input_noise_kind: ``"gaussian"`` or ``"uniform"``.
    """

    g_error: float = 0.0
    g_error_kind: NoiseKind = "uniform"
    read_noise: float = 0.0
    input_noise: float = 0.0
    input_noise_kind: NoiseKind = "gaussian"


def spec_for_card(
    g_min_S: float, g_max_S: float, v_read_V: float, r_series_ohm: float, w_max: float = 0.0
) -> CircuitSpec:
    """The circuit for a device window (``w_max`` 0 → :data:`DEFAULT_W_MAX`)."""
    return network.spec_for_window(
        g_min_S,
        g_max_S,
        v_read_V=v_read_V,
        r_series_ohm=r_series_ohm,
        w_max=w_max or DEFAULT_W_MAX,
    )


def weight_bounds(
    spec: CircuitSpec, g_min_S: float, g_max_S: float
) -> tuple[tuple[float, float], tuple[float, float]]:
    """``((lo1, hi1), (lo2, hi2))``: weight ranges of the two layers for the window."""
    lo1 = spec.r_f1_ohm * (g_min_S - spec.g_ref1_S)
    hi1 = spec.r_f1_ohm * (g_max_S - spec.g_ref1_S)
    lo2 = spec.r_f2_ohm * (g_min_S - spec.g_ref2_S)
    hi2 = spec.r_f2_ohm * (g_max_S - spec.g_ref2_S)
    if not (lo1 < hi1 and lo2 < hi2):
        raise UsageError(f"empty weight range for window [{g_min_S}, {g_max_S}] S")
    return (lo1, hi1), (lo2, hi2)


def _softplus_sigmoid(a: FloatArray) -> tuple[FloatArray, FloatArray]:
    """``log(1 + e^a)`` and ``1/(1 + e^-a)``, both from one ``e^-|a|`` (no overflow)."""
    e = np.exp(-np.abs(a))
    sp = np.maximum(a, 0.0) + np.log1p(e)
    r = 1.0 / (1.0 + e)
    sig = np.where(a >= 0.0, r, e * r)
    return sp, sig


def smooth_clip(u: FloatArray, top: float, s: float) -> tuple[FloatArray, FloatArray]:
    """Smooth ``clip(u, 0, top)`` and its derivative (width ``s``)."""
    a = u / s
    sp_lo, sig_lo = _softplus_sigmoid(a)
    sp_hi, sig_hi = _softplus_sigmoid(a - top / s)
    return s * (sp_lo - sp_hi), sig_lo - sig_hi


def _noisy_weights(
    spec: CircuitSpec, w: Weights, level: float, rng: np.random.Generator, n: int
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """``n`` copies of the weights with relative conductance noise, and ∂w_noisy/∂w."""
    xi1 = rng.standard_normal((n, *w.w1.shape)) * level
    xi2 = rng.standard_normal((n, *w.w2.shape)) * level
    g1, g2 = network.weights_to_conductances(spec, w.w1, w.w2)
    w1n = w.w1 + spec.r_f1_ohm * g1 * xi1
    w2n = w.w2 + spec.r_f2_ohm * g2 * xi2
    return w1n, w2n, 1.0 + xi1, 1.0 + xi2


def _output_gradient(
    y: FloatArray, labels: NDArray[np.int64], thr: float, t_loss: float
) -> FloatArray:
    """∂loss/∂y for outputs ``y`` ``(k, p, N_OUT)``: logistic on ``(y − thr)/t`` with one output
    neuron, softmax cross-entropy on ``y/t`` with several (mean over copies and patterns)."""
    if y.shape[-1] == 1:
        z = (y[..., 0] - thr) / t_loss
        return ((expit(z) - labels.astype(float)) / (t_loss * z.size))[..., None]
    z = y / t_loss
    z = z - z.max(axis=-1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=-1, keepdims=True)
    p[..., np.arange(labels.size), labels] -= 1.0
    return p / (t_loss * y.shape[0] * y.shape[1])


def check_fits(data: Dataset, topology: Topology) -> None:
    """Raise :class:`UsageError` unless ``data`` has ``N_IN`` inputs and labels below
    ``topology.n_classes``."""
    if data.x.ndim != 2 or data.x.shape[1] != topology.n_in:
        raise UsageError(
            f"dataset {data.name!r} has {data.x.shape[-1]} inputs; topology {topology} "
            f"needs {topology.n_in}"
        )
    if len(data) and (data.y.min() < 0 or data.y.max() >= topology.n_classes):
        raise UsageError(
            f"dataset {data.name!r} has labels {int(data.y.min())}..{int(data.y.max())}; "
            f"topology {topology} tells {topology.n_classes} classes apart"
        )


def train(
    spec: CircuitSpec,
    data: Dataset,
    g_min_S: float,
    g_max_S: float,
    config: TrainConfig | None = None,
    topology: Topology = DEFAULT,
) -> Weights:
    """Weights for the circuit ``spec`` within the window, trained on ``data``.

    Args:
        spec: circuit constants (ranges, v_read, gains).
        data: training patterns (``N_IN`` inputs, labels below ``topology.n_classes``).
        g_min_S: lowest usable conductance (S).  g_max_S: highest (S).
        config: hyper-parameters (noise level, steps, seed …).
        topology: the network's widths.

    Returns:
        Weights inside the window's bounds: ``w1 (N_IN, N_HID)``, ``w2 (N_HID, N_OUT)``.

    Raises:
        UsageError: the noise level is outside [0, 1], the window is empty, or the data do
            not fit the topology.
    """
    cfg = config or TrainConfig()
    if not 0.0 <= cfg.noise <= 1.0:
        raise UsageError(f"training noise must lie in [0, 1], got {cfg.noise!r}")
    check_fits(data, topology)
    (lo1, hi1), (lo2, hi2) = weight_bounds(spec, g_min_S, g_max_S)
    rng = np.random.default_rng(cfg.seed)
    # Start mid-range whatever the fan-in: scaled so that a 9-input layer starts as before.
    fan1 = min(1.0, 9.0 / topology.n_in)
    w1 = rng.uniform(-0.3, 0.3, size=(topology.n_in, topology.n_hid)) * hi1 * fan1
    if topology.n_out == 1:
        w2 = rng.uniform(0.5, 1.0, size=(topology.n_hid, 1)) * hi2
    else:  # several outputs compete (arg-max): signed, scaled by the hidden fan-in
        fan2 = min(1.0, 3.0 / topology.n_hid)
        w2 = rng.uniform(-1.0, 1.0, size=(topology.n_hid, topology.n_out)) * hi2 * fan2
    v_all = to_voltages(data.x, spec.v_read_V)
    thr = 0.5 * spec.v_o_max_V
    s1, s2 = cfg.smooth * spec.v_h_max_V, cfg.smooth * spec.v_o_max_V
    noisy = cfg.noise > 0
    n = cfg.n_copies if noisy else 1
    m = [np.zeros_like(w1), np.zeros_like(w2)]
    vel = [np.zeros_like(w1), np.zeros_like(w2)]
    b1, b2, eps = 0.9, 0.999, 1e-12
    batch = cfg.batch if 0 < cfg.batch < len(data) else 0
    for step in range(1, cfg.steps + 1):
        if batch:
            idx = rng.choice(len(data), size=batch, replace=False)
            v_clean, labels = v_all[idx], data.y[idx]
        else:
            v_clean, labels = v_all, data.y
        w = Weights(w1, w2)
        if noisy and cfg.noise_weights:
            w1n, w2n, d1, d2 = _noisy_weights(spec, w, cfg.noise, rng, n)
        else:
            w1n, w2n = np.broadcast_to(w1, (n, *w1.shape)), np.broadcast_to(w2, (n, *w2.shape))
            d1, d2 = np.ones_like(w1n), np.ones_like(w2n)
        v = np.broadcast_to(v_clean, (n, *v_clean.shape))
        if noisy and cfg.noise_inputs:
            v = add_input_noise(v, cfg.noise, v_read_V=spec.v_read_V, rng=rng)
        # batched matrix products (BLAS) over the k copies: (k, p, i) @ (k, i, j)
        u1 = v @ w1n
        h, dh = smooth_clip(u1, spec.v_h_max_V, s1)
        u2 = h @ w2n
        y, dy = smooth_clip(u2, spec.v_o_max_V, s2)
        g_u2 = _output_gradient(y, labels, thr, cfg.t_loss_V) * dy
        g_w2 = h.transpose(0, 2, 1) @ g_u2
        g_u1 = (g_u2 @ w2n.transpose(0, 2, 1)) * dh
        g_w1 = v.transpose(0, 2, 1) @ g_u1
        grads = [np.sum(g_w1 * d1, axis=0), np.sum(g_w2 * d2, axis=0)]
        params = [w1, w2]
        for k in range(2):
            m[k] = b1 * m[k] + (1 - b1) * grads[k]
            vel[k] = b2 * vel[k] + (1 - b2) * grads[k] ** 2
            m_hat = m[k] / (1 - b1**step)
            v_hat = vel[k] / (1 - b2**step)
            params[k] = params[k] - cfg.lr * m_hat / (np.sqrt(v_hat) + eps)
        w1 = np.clip(params[0], lo1, hi1)
        w2 = np.clip(params[1], lo2, hi2)
    return Weights(w1, w2)


def to_conductances(spec: CircuitSpec, w: Weights, g_min_S: float, g_max_S: float) -> Targets:
    """Target conductances for weights, clipped into ``[g_min_S, g_max_S]`` (clipping reported)."""
    g1, g2 = network.weights_to_conductances(spec, w.w1, w.w2)
    flat = np.concatenate([g1.ravel(), g2.ravel()])
    clipped = np.clip(flat, g_min_S, g_max_S)
    dist = np.abs(flat - clipped)
    tol = 1e-12 * g_max_S
    return Targets(
        g1_S=np.clip(g1, g_min_S, g_max_S),
        g2_S=np.clip(g2, g_min_S, g_max_S),
        n_clipped=int(np.count_nonzero(dist > tol)),
        max_clip_S=float(dist.max(initial=0.0)),
    )


def _relative_noise(
    rng: np.random.Generator, level: float, kind: NoiseKind, shape: tuple[int, ...]
) -> FloatArray:
    if kind == "uniform":
        return rng.uniform(-1.0, 1.0, size=shape) * level
    if kind == "gaussian":
        return rng.standard_normal(shape) * level
    raise UsageError(f"unknown conductance-error kind {kind!r}; allowed: ['uniform', 'gaussian']")


def perturb_conductances(
    g_S: ArrayLike, level: float, kind: NoiseKind, rng: np.random.Generator
) -> FloatArray:
    """``G·(1 + e·ξ)`` clipped at ≥ 0 S; ξ uniform on ±1 (``"uniform"``) or N(0, 1)."""
    g = np.asarray(g_S, dtype=float)
    return np.maximum(g * (1.0 + _relative_noise(rng, level, kind, g.shape)), 0.0)


def evaluate(
    spec: CircuitSpec,
    g1_S: ArrayLike,
    g2_S: ArrayLike,
    data: Dataset,
    rng: np.random.Generator,
    nonideal: NonIdealities | None = None,
    *,
    n_trials: int = 1,
    n_repeats: int = 1,
    mode: Literal["mean", "per_trial"] = "per_trial",
) -> FloatArray:
    """Accuracy of programmed networks with the exact (hard-clip) forward model of the circuit.

    Every trial draws one conductance error for all devices; every one of ``n_repeats``
    presentations of each pattern draws fresh read and input noise.

    Args:
        spec: circuit constants.
        g1_S: programmed layer-1 conductances ``(N_IN, N_HID)`` or per trial
            ``(n_trials, N_IN, N_HID)``.
        g2_S: programmed layer-2 conductances ``(N_HID, N_OUT)`` or
            ``(n_trials, N_HID, N_OUT)``.
        data: test patterns.
        rng: the only randomness source.
        nonideal: the non-idealities (default: none).
        n_trials: Monte Carlo trials.  n_repeats: presentations of every pattern per trial.
        mode: ``"per_trial"`` returns ``(n_trials,)`` accuracies, ``"mean"`` a 0-d array.
    """
    ni = nonideal or NonIdealities()
    g1_in = np.asarray(g1_S, dtype=float)
    g2_in = np.asarray(g2_S, dtype=float)
    g1 = np.broadcast_to(g1_in, (n_trials, *g1_in.shape[-2:]))
    g2 = np.broadcast_to(g2_in, (n_trials, *g2_in.shape[-2:]))
    if ni.g_error > 0:
        g1 = perturb_conductances(g1, ni.g_error, ni.g_error_kind, rng)
        g2 = perturb_conductances(g2, ni.g_error, ni.g_error_kind, rng)
    n_pat = len(data)
    shape = (n_trials, n_repeats, n_pat)
    g1b = np.broadcast_to(g1[:, None, None], (*shape, *g1.shape[-2:]))
    g2b = np.broadcast_to(g2[:, None, None], (*shape, *g2.shape[-2:]))
    if ni.read_noise > 0:
        g1b = perturb_conductances(g1b, ni.read_noise, "gaussian", rng)
        g2b = perturb_conductances(g2b, ni.read_noise, "gaussian", rng)
    v = np.broadcast_to(to_voltages(data.x, spec.v_read_V), (*shape, g1.shape[-2]))
    if ni.input_noise > 0:
        v = add_input_noise(
            v, ni.input_noise, v_read_V=spec.v_read_V, rng=rng, kind=ni.input_noise_kind
        )
    _, y = network.forward(spec, g1b, g2b, v)
    correct = network.classify(spec, y) == data.y
    acc = correct.reshape(n_trials, -1).mean(axis=1)
    return np.asarray(acc.mean()) if mode == "mean" else acc
