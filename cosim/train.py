"""Noise-aware computation of the 9→3→1 weights, weight → conductance mapping, accuracy.

The network is the circuit of :mod:`cosim.network`: hidden ``h = clip(Σ v_i·w1_ij, 0, v_h_max)``,
output ``y = clip(Σ h_j·w2_j, 0, v_o_max)``, class 1 when ``y > v_o_max/2``; weights are
``w = r_f·(G − g_ref)`` and are limited by the usable conductance window ``[g_min, g_max]``.

Training is plain full-batch gradient descent (Adam) in NumPy on that forward model, with the
hard clip replaced by a smooth surrogate (difference of two softplus functions of width
``smooth`` × range) and a logistic loss on ``(y − v_o_max/2)/t_loss``.  Weights are projected
back into the window after every step.  *Noise-aware* training draws, at every step, ``n_copies``
noisy copies of the network and of the inputs: conductances ``G·(1 + level·ξ)`` and inputs
``v + level·v_read·ξ`` (ξ standard normal, inputs clipped at 0 V), the same relative noise models
that :func:`evaluate` applies at test time.  Everything is seeded; the same arguments give the
same weights bit for bit.

Non-idealities at evaluation (all relative, all from one seeded Generator):

* conductance error after programming: ``G·(1 + e·ξ)``, ξ uniform on ±1 or standard normal;
* read noise: an independent relative Gaussian fluctuation of every conductance at every
  presentation;
* input noise: :func:`cosim.data.add_input_noise`.

Device-to-device spread and cycle-to-cycle switching noise act through programming: see
:func:`write_verify` below, the algorithm-level twin of on-chip programming that turns them
into final conductances.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import expit

from cosim import mss, network
from cosim.controller import (
    HarnessParams,
    PulseScheme,
    adaptive_widths_cycles,
    load_register_map,
)
from cosim.data import Dataset, NoiseKind, add_input_noise, to_voltages
from cosim.errors import UsageError
from cosim.network import CircuitSpec

__all__ = [
    "DEFAULT_W_MAX",
    "Weights",
    "TrainConfig",
    "Targets",
    "NonIdealities",
    "spec_for_card",
    "weight_bounds",
    "train",
    "to_conductances",
    "perturb_conductances",
    "evaluate",
    "default_harness",
    "ProgramSetup",
    "PulseTables",
    "ProgramOutcome",
    "build_tables",
    "write_verify",
]

FloatArray = NDArray[np.float64]

#: Largest weight magnitude we build the circuit for (``w_max`` of
#: :func:`cosim.network.spec_for_window`).  With ``v_h_max = v_read`` the output can reach at
#: most ``3 · v_read · w_max``: 2 gives 0.6 V at v_read = 0.1 V, barely above the 0.5 V decision
#: level; 4 gives the output neuron room for a margin.
DEFAULT_W_MAX = 4.0


@dataclass(frozen=True)
class Weights:
    """Dimensionless weights: ``w1`` (9, 3) and ``w2`` (3,)."""

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
        t_loss_V: temperature of the logistic output loss (V).
        seed: seed of the initialisation and of the injected noise.
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


@dataclass(frozen=True)
class Targets:
    """Target conductances and what clipping to the window did.

    Attributes:
        g1_S: layer-1 targets (9, 3) in S.  g2_S: layer-2 targets (3,) in S.
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


def _softplus(u: FloatArray) -> FloatArray:
    return np.logaddexp(0.0, u)


def _sclip(u: FloatArray, top: float, s: float) -> tuple[FloatArray, FloatArray]:
    """Smooth ``clip(u, 0, top)`` and its derivative (width ``s``)."""
    val = s * (_softplus(u / s) - _softplus((u - top) / s))
    der = expit(u / s) - expit((u - top) / s)
    return val, der


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


def train(
    spec: CircuitSpec,
    data: Dataset,
    g_min_S: float,
    g_max_S: float,
    config: TrainConfig | None = None,
) -> Weights:
    """Weights for the circuit ``spec`` within the window, trained on ``data``.

    Args:
        spec: circuit constants (ranges, v_read, gains).
        data: training patterns.
        g_min_S: lowest usable conductance (S).  g_max_S: highest (S).
        config: hyper-parameters (noise level, steps, seed …).

    Returns:
        Weights inside the window's bounds.

    Raises:
        UsageError: the noise level is outside [0, 1] or the window is empty.
    """
    cfg = config or TrainConfig()
    if not 0.0 <= cfg.noise <= 1.0:
        raise UsageError(f"training noise must lie in [0, 1], got {cfg.noise!r}")
    (lo1, hi1), (lo2, hi2) = weight_bounds(spec, g_min_S, g_max_S)
    rng = np.random.default_rng(cfg.seed)
    w1 = rng.uniform(-0.3, 0.3, size=(network.N_IN, network.N_HIDDEN)) * hi1
    w2 = rng.uniform(0.5, 1.0, size=network.N_HIDDEN) * hi2
    v_clean = to_voltages(data.x, spec.v_read_V)
    t = data.y.astype(float)
    thr = 0.5 * spec.v_o_max_V
    s1, s2 = cfg.smooth * spec.v_h_max_V, cfg.smooth * spec.v_o_max_V
    noisy = cfg.noise > 0
    n = cfg.n_copies if noisy else 1
    m = [np.zeros_like(w1), np.zeros_like(w2)]
    vel = [np.zeros_like(w1), np.zeros_like(w2)]
    b1, b2, eps = 0.9, 0.999, 1e-12
    for step in range(1, cfg.steps + 1):
        w = Weights(w1, w2)
        if noisy and cfg.noise_weights:
            w1n, w2n, d1, d2 = _noisy_weights(spec, w, cfg.noise, rng, n)
        else:
            w1n, w2n = np.broadcast_to(w1, (n, *w1.shape)), np.broadcast_to(w2, (n, *w2.shape))
            d1, d2 = np.ones_like(w1n), np.ones_like(w2n)
        v = np.broadcast_to(v_clean, (n, *v_clean.shape))
        if noisy and cfg.noise_inputs:
            v = add_input_noise(v, cfg.noise, v_read_V=spec.v_read_V, rng=rng)
        u1 = np.einsum("kpi,kij->kpj", v, w1n)
        h, dh = _sclip(u1, spec.v_h_max_V, s1)
        u2 = np.einsum("kpj,kj->kp", h, w2n)
        y, dy = _sclip(u2, spec.v_o_max_V, s2)
        z = (y - thr) / cfg.t_loss_V
        g_z = (expit(z) - t) / (cfg.t_loss_V * z.size)
        g_u2 = g_z * dy
        g_w2 = np.einsum("kp,kpj->kj", g_u2, h)
        g_u1 = g_u2[..., None] * w2n[:, None, :] * dh
        g_w1 = np.einsum("kpi,kpj->kij", v, g_u1)
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

    Every trial draws one conductance error for all 30 devices; every one of ``n_repeats``
    presentations of each pattern draws fresh read and input noise.

    Args:
        spec: circuit constants.
        g1_S: programmed layer-1 conductances ``(9, 3)`` or per trial ``(n_trials, 9, 3)``.
        g2_S: programmed layer-2 conductances ``(3,)`` or ``(n_trials, 3)``.
        data: test patterns.
        rng: the only randomness source.
        nonideal: the non-idealities (default: none).
        n_trials: Monte Carlo trials.  n_repeats: presentations of every pattern per trial.
        mode: ``"per_trial"`` returns ``(n_trials,)`` accuracies, ``"mean"`` a 0-d array.
    """
    ni = nonideal or NonIdealities()
    g1 = np.broadcast_to(np.asarray(g1_S, dtype=float), (n_trials, network.N_IN, network.N_HIDDEN))
    g2 = np.broadcast_to(np.asarray(g2_S, dtype=float), (n_trials, network.N_HIDDEN))
    if ni.g_error > 0:
        g1 = perturb_conductances(g1, ni.g_error, ni.g_error_kind, rng)
        g2 = perturb_conductances(g2, ni.g_error, ni.g_error_kind, rng)
    n_pat = len(data)
    shape = (n_trials, n_repeats, n_pat)
    g1b = np.broadcast_to(g1[:, None, None], (*shape, network.N_IN, network.N_HIDDEN))
    g2b = np.broadcast_to(g2[:, None, None], (*shape, network.N_HIDDEN))
    if ni.read_noise > 0:
        g1b = perturb_conductances(g1b, ni.read_noise, "gaussian", rng)
        g2b = perturb_conductances(g2b, ni.read_noise, "gaussian", rng)
    v = np.broadcast_to(to_voltages(data.x, spec.v_read_V), (*shape, network.N_IN))
    if ni.input_noise > 0:
        v = add_input_noise(
            v, ni.input_noise, v_read_V=spec.v_read_V, rng=rng, kind=ni.input_noise_kind
        )
    _, y = network.forward(spec, g1b, g2b, v)
    correct = network.classify(spec, y) == data.y
    acc = correct.reshape(n_trials, -1).mean(axis=1)
    return np.asarray(acc.mean()) if mode == "mean" else acc


# ------------------------------------------------------------ write-verify twin (programming)
@dataclass(frozen=True)
class ProgramSetup:
    """Everything the write-verify twin needs to act like the controller in ``xbar_top``.

    Attributes:
        scheme: the pulse scheme in physical units (the same object the cocotb host loads).
        harness: clock and converter parameters of the harness (pulse DAC, sense ADC).
        r_path_ohm: resistance in series with the device on the programming/read path: series
            (compliance) resistor + select-switch on-resistance (Ω).
        r_sense_ohm: transimpedance of the sense amplifier (Ω): ``v_sense = I_read · r_sense``.
        sel_setup_cyc: cycles from select on to pulse on (``SEL_SETUP_CYC`` of the register map).
        sel_hold_cyc: cycles from pulse off to select off (``SEL_HOLD_CYC``).
    """

    scheme: PulseScheme
    harness: HarnessParams
    r_path_ohm: float
    r_sense_ohm: float
    sel_setup_cyc: int
    sel_hold_cyc: int

    @classmethod
    def create(
        cls, scheme: PulseScheme, harness: HarnessParams, r_path_ohm: float, r_sense_ohm: float
    ) -> ProgramSetup:
        """A setup whose select setup/hold cycles come from ``hdl/xbar_regs.vh``."""
        regs = load_register_map()
        return cls(
            scheme, harness, r_path_ohm, r_sense_ohm, regs["SEL_SETUP_CYC"], regs["SEL_HOLD_CYC"]
        )

    def timing(self) -> dict[str, float]:
        """Effective voltages (V) and durations (s) exactly as the controller applies them.

        Voltages are the pulse-DAC outputs of the register codes; widths follow the register
        rules of ``hdl/xbar_ctrl.v`` (0 → 1 cycle, read ≥ 2 cycles, sample clamped into the
        read pulse, gap 0 → 1 cycle).
        """
        regs = self.scheme.registers(self.harness)
        dac = self.harness.pulse_dac
        t_clk = self.harness.clk_period_s

        def volts(name: str) -> float:
            raw = regs[name]
            code = raw - (1 << dac.bits) if raw >= 1 << (dac.bits - 1) else raw
            return dac.code_to_volts(code)

        read_cyc = max(regs["REG_READ_CYC"], 2)
        sample = regs["REG_READ_SAMPLE"] or 1
        sample = min(sample, read_cyc - 1)
        return {
            "v_write_V": volts("REG_WRITE_CODE"),
            "t_write_s": max(regs["REG_WRITE_CYC"], 1) * t_clk,
            "v_erase_V": volts("REG_ERASE_CODE"),
            "t_erase_s": max(regs["REG_ERASE_CYC"], 1) * t_clk,
            "v_reset_V": volts("REG_RESET_CODE"),
            "t_reset_s": max(regs["REG_RESET_CYC"], 1) * t_clk,
            "v_read_V": volts("REG_READ_CODE"),
            "t_read_s": read_cyc * t_clk,
            "t_sample_s": sample * t_clk,
            "t_setup_s": self.sel_setup_cyc * t_clk,
            "t_after_s": (self.sel_hold_cyc + max(regs["REG_GAP_CYC"], 1)) * t_clk,
        }

    def width_levels(self) -> tuple[tuple[float, float], ...]:
        """``(t_write_s, t_erase_s)`` after 0, 1, 2 … direction reversals of a device.

        One entry (the configured widths) without adaptation; with ``scheme.adaptive`` the
        controller's halving rule (:func:`cosim.controller.adaptive_widths_cycles`) up to its
        fixed point, which holds for all further reversals.
        """
        regs = self.scheme.registers(self.harness)
        t_clk = self.harness.clk_period_s
        w, e = max(regs["REG_WRITE_CYC"], 1), max(regs["REG_ERASE_CYC"], 1)
        levels = (
            adaptive_widths_cycles(w, e, regs["REG_MIN_CYC"]) if self.scheme.adaptive else ((w, e),)
        )
        return tuple((wc * t_clk, ec * t_clk) for wc, ec in levels)

    def sense_codes(self, i_read_A: ArrayLike) -> NDArray[np.int64]:
        """Sense-ADC codes of read currents (vectorized :meth:`AdcSpec.quantize`)."""
        adc = self.harness.sense_adc
        offset = 2 ** (adc.bits - 1) if adc.bipolar else 0
        v = np.asarray(i_read_A, dtype=float) * self.r_sense_ohm
        code = np.floor(v / adc.lsb_V + offset + 0.5)
        return np.clip(code, 0, 2**adc.bits - 1).astype(np.int64)

    def target_codes(self, g_S: ArrayLike) -> NDArray[np.int64]:
        """Target codes of conductances (as :func:`conductance_to_sense_code`, vectorized)."""
        g = np.asarray(g_S, dtype=float)
        v_read = self.timing()["v_read_V"]
        return self.sense_codes(v_read / (self.r_path_ohm + 1.0 / g))


XBAR_TOP_V = Path(__file__).resolve().parents[1] / "hdl" / "behav" / "xbar_top.v"
_PARAM = re.compile(r"^\s*parameter\s+(real|integer)\s+(\w+)\s*=\s*([-+0-9.eE]+)")


def default_harness(path: Path = XBAR_TOP_V) -> HarnessParams:
    """Harness parameters from the defaults declared in ``hdl/behav/xbar_top.v``.

    The same numbers :meth:`HarnessParams.from_dut` reads from a running DUT with default
    parameters, for code that runs without a simulator (Monte Carlo sweeps).

    Raises:
        UsageError: the file is missing or lacks a parameter.
    """
    try:
        text = path.read_text()
    except OSError as exc:
        raise UsageError(f"cannot read harness parameters from {path}: {exc}") from None
    values = {}
    for line in text.splitlines():
        m = _PARAM.match(line)
        if m:
            values[m.group(2)] = float(m.group(3))

    class _Dut:
        def __getattr__(self, name: str) -> object:
            if name not in values:
                raise UsageError(f"{path}: parameter {name!r} not found")
            return type("P", (), {"value": values[name]})()

    return HarnessParams.from_dut(_Dut())


@dataclass(frozen=True)
class PulseTables:
    """Per-device maps "state before → state after" of every controller step.

    ``inc[kind]`` has shape ``(n_devices, n_grid)``: the increment ``M(x) − x`` on a uniform grid
    of x in [0, 1]; a step is applied by linear interpolation of the increment.  Kinds:
    ``reset``/``write``/``erase`` (select setup at 0 V, the pulse, hold + gap at 0 V),
    ``read_pre`` (select setup, read pulse up to the ADC sample) and ``read_post`` (rest of the
    read pulse, hold + gap).  With adaptive widths, ``write@n``/``erase@n`` are the steps
    after ``n`` ≥ 1 direction reversals (:meth:`ProgramSetup.width_levels`).
    """

    params: mss.MSSArrays
    inc: dict[str, FloatArray]
    setup: ProgramSetup

    @property
    def n_grid(self) -> int:
        """Grid points per table row."""
        return int(self.inc["write"].shape[1])

    @property
    def n_levels(self) -> int:
        """Distinct write/erase width levels (1 without adaptation)."""
        return sum(1 for k in self.inc if k.startswith("write"))

    @staticmethod
    def key(kind: str, level: int) -> str:
        """Table name of a write/erase step after ``level`` reversals."""
        return kind if level == 0 else f"{kind}@{level}"


def build_tables(params: mss.MSSArrays, setup: ProgramSetup, n_grid: int = 513) -> PulseTables:
    """Integrate every controller step of every device in ``params`` (1-D) on a state grid."""
    flat = params.broadcast_flat(params.shape)
    d = flat.r_on.size
    col = mss.MSSArrays(**{k: v[:, None] for k, v in vars(flat).items()})
    grid = np.broadcast_to(np.linspace(0.0, 1.0, n_grid), (d, n_grid))
    t = setup.timing()
    rp = setup.r_path_ohm

    def run(x: FloatArray, *segments: tuple[float, float]) -> FloatArray:
        for v, dt in segments:
            if dt > 0:
                x = mss.apply_pulse(col, x, v, dt, rp)
        return x

    rest_s = t["t_after_s"]
    t_rest_read = t["t_read_s"] - t["t_sample_s"]
    steps = {
        "reset": ((0.0, t["t_setup_s"]), (t["v_reset_V"], t["t_reset_s"]), (0.0, rest_s)),
        "write": ((0.0, t["t_setup_s"]), (t["v_write_V"], t["t_write_s"]), (0.0, rest_s)),
        "erase": ((0.0, t["t_setup_s"]), (t["v_erase_V"], t["t_erase_s"]), (0.0, rest_s)),
        "read_pre": ((0.0, t["t_setup_s"]), (t["v_read_V"], t["t_sample_s"])),
        "read_post": ((t["v_read_V"], t_rest_read), (0.0, rest_s)),
    }
    for n, (t_w, t_e) in enumerate(setup.width_levels()[1:], 1):
        steps[PulseTables.key("write", n)] = (
            (0.0, t["t_setup_s"]),
            (t["v_write_V"], t_w),
            (0.0, rest_s),
        )
        steps[PulseTables.key("erase", n)] = (
            (0.0, t["t_setup_s"]),
            (t["v_erase_V"], t_e),
            (0.0, rest_s),
        )
    inc = {k: run(grid.copy(), *segs) - grid for k, segs in steps.items()}
    return PulseTables(flat, inc, setup)


@dataclass(frozen=True)
class ProgramOutcome:
    """Result of :func:`write_verify` (arrays of the devices' shape).

    Attributes:
        pulses: write + erase pulses applied (the controller's pulse counter).
        ok: ended inside the verify window.  failed: flagged failed after ``max_pulses``.
        codes: last verify (sense-ADC) code.  x: final state.  g_S: final conductance G(x).
    """

    pulses: NDArray[np.int64]
    ok: NDArray[np.bool_]
    failed: NDArray[np.bool_]
    codes: NDArray[np.int64]
    x: FloatArray
    g_S: FloatArray


def _step(
    tables: PulseTables,
    kind: str,
    rows: NDArray[np.intp],
    x: FloatArray,
    rng: np.random.Generator | None,
    n_sw: FloatArray | None,
) -> FloatArray:
    table = tables.inc[kind]
    pos = np.clip(x, 0.0, 1.0) * (table.shape[1] - 1)
    i = np.minimum(pos.astype(np.intp), table.shape[1] - 2)
    f = pos - i
    delta = table[rows, i] * (1.0 - f) + table[rows, i + 1] * f
    if rng is not None and n_sw is not None:
        room = np.where(delta > 0, 1.0 - x, x)
        var = np.abs(delta) * np.clip(1.0 - np.abs(delta) / np.maximum(room, 1e-12), 0.0, 1.0)
        delta = delta + np.sqrt(var / n_sw) * rng.standard_normal(x.shape)
    return np.clip(x + delta, 0.0, 1.0)


def write_verify(
    tables: PulseTables,
    rows: ArrayLike,
    x0: ArrayLike,
    target_codes: ArrayLike,
    *,
    rng: np.random.Generator | None = None,
    n_switches: ArrayLike | None = None,
) -> ProgramOutcome:
    """Program devices by write-verify exactly as ``hdl/xbar_ctrl.v`` does, vectorized.

    Per device: optional reset pulse → read → if ``|code − target| ≤ tol`` flag ok; else if
    ``max_pulses`` pulses were applied flag failed; else a write pulse (code too low) or an erase
    pulse (code too high), count it, read again.  With ``scheme.adaptive`` a pulse whose
    direction differs from the device's previous write/erase is a reversal: it and all later
    pulses of the device use the next width level (:meth:`ProgramSetup.width_levels`), as in
    the controller.  Devices are independent (one is selected at a time; the others see no
    voltage), so all devices and trials advance together.

    Args:
        tables: step maps of the device parameter sets (:func:`build_tables`).
        rows: for every device, its row in ``tables`` (any shape S).
        x0: initial states (broadcast to S).
        target_codes: target sense-ADC codes (broadcast to S).
        rng: randomness of cycle-to-cycle switching noise (``None``: mean model).
        n_switches: switches per device N of the stochastic MSS (broadcast to S); each pulse
            then adds Gaussian noise with the binomial variance ``|Δx|(1 − |Δx|/room)/N``.
    """
    r = np.asarray(rows, dtype=np.intp)
    shape = r.shape
    x = np.broadcast_to(np.asarray(x0, dtype=float), shape).astype(float).ravel()
    tgt = np.broadcast_to(np.asarray(target_codes), shape).astype(np.int64).ravel()
    r = r.ravel()
    n_sw = None
    if n_switches is not None:
        n_sw = np.broadcast_to(np.asarray(n_switches, dtype=float), shape).ravel()
    sch, t = tables.setup.scheme, tables.setup.timing()
    p = tables.params
    pulses = np.zeros(x.size, dtype=np.int64)
    codes = np.zeros(x.size, dtype=np.int64)
    ok = np.zeros(x.size, dtype=bool)
    failed = np.zeros(x.size, dtype=bool)
    level = np.zeros(x.size, dtype=np.intp)  # width level = reversals so far (saturating)
    last = np.zeros(x.size, dtype=np.int8)  # +1 last pulse a write, -1 an erase, 0 none yet
    top = tables.n_levels - 1
    if sch.reset_enabled:
        x = _step(tables, "reset", r, x, rng, n_sw)
    act = np.arange(x.size)
    while act.size:
        ra, xa = r[act], x[act]
        nsa = None if n_sw is None else n_sw[act]
        xa = _step(tables, "read_pre", ra, xa, None, None)
        pa = mss.MSSArrays(**{k: v[ra] for k, v in vars(p).items()})
        code = tables.setup.sense_codes(
            mss.read_current(pa, xa, t["v_read_V"], tables.setup.r_path_ohm)
        )
        xa = _step(tables, "read_post", ra, xa, None, None)
        codes[act] = code
        low = code + sch.tolerance_codes < tgt[act]
        high = code > tgt[act] + sch.tolerance_codes
        good = ~low & ~high
        give_up = ~good & (pulses[act] >= sch.max_pulses)
        ok[act[good]] = True
        failed[act[give_up]] = True
        go = ~good & ~give_up
        if sch.adaptive:
            d = np.where(low, 1, -1).astype(np.int8)
            rev = go & (last[act] != 0) & (last[act] != d)
            level[act] = np.minimum(level[act] + rev, top)
            last[act] = np.where(go, d, last[act])
        la = level[act]
        for lv in np.unique(la):
            m = la == lv
            nsm = None if nsa is None else nsa[m]
            xw = _step(tables, PulseTables.key("write", lv), ra[m], xa[m], rng, nsm)
            xe = _step(tables, PulseTables.key("erase", lv), ra[m], xa[m], rng, nsm)
            xa[m] = np.where(go[m] & low[m], xw, np.where(go[m], xe, xa[m]))
        x[act] = xa
        pulses[act[go]] += 1
        act = act[go]
    g = mss.conductance(mss.MSSArrays(**{k: v[r] for k, v in vars(p).items()}), x)
    return ProgramOutcome(
        pulses.reshape(shape),
        ok.reshape(shape),
        failed.reshape(shape),
        codes.reshape(shape),
        x.reshape(shape),
        np.asarray(g, dtype=float).reshape(shape),
    )
