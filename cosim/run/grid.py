"""The grid of an accuracy sweep (:class:`SweepConfig`), the cards' windows and the training of a
sweep's networks — what :mod:`cosim.run.sweep` runs and :mod:`cosim.run.flipstudy` and
:mod:`cosim.run.scale` reuse (all re-exported by :mod:`cosim.run.sweep`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from cosim.circuit import devices, network
from cosim.circuit.devices import DeviceCard, load_card
from cosim.crossbar import card_circuit
from cosim.errors import UsageError
from cosim.learn import data, train

__all__ = [
    "LEVELS",
    "CARDS",
    "SweepConfig",
    "card_window",
    "window_source",
    "card_spec",
    "quick_config",
    "train_targets",
]

#: Noise / error levels of the paper's figures (relative): 0, 5, 10, 15, 20, 30 %.
LEVELS = (0.0, 0.05, 0.10, 0.15, 0.20, 0.30)
#: Device cards of the paper: tungsten-, chromium- and carbon-doped M-SDC memristors.
CARDS = ("W", "Cr", "C")

# Fallback device windows when cosim.circuit.devices is not available: the derived starting cards of
# /work/shared/reference/DEVICES.md (R_on, R_off); usable window [2/R_off, 0.8/R_on].
_FALLBACK_R_OHM = {"W": (2e3, 300e3), "Cr": (5e3, 800e3), "C": (20e3, 3e6)}


@dataclass(frozen=True)
class SweepConfig:
    """A sweep grid and its Monte Carlo settings.

    Attributes:
        cards: device cards.  train_levels, g_error_levels, input_levels: relative levels.
        n_trials: Monte Carlo trials per grid point.  chunk_trials: trials per saved chunk.
        n_repeats: presentations of every test pattern per trial.
        g_error_kinds: conductance-error kinds, ``"uniform"`` (±e) and/or ``"gaussian"``
            (σ = e).
        input_noise_kind: ``"gaussian"`` or ``"uniform"``.
        read_noise: relative σ of a conductance read fluctuation per presentation.
        train_steps: Adam steps of every training.  seed: master seed.  split_seed: data split.
        w_max: weight range the circuit is built for (0: :data:`cosim.learn.train.DEFAULT_W_MAX`).
        device_pool: devices drawn per card for device-to-device spread (each trial picks 30).
        d2d: draw device-to-device spread (``False``: every device nominal).
        c2c: cycle-to-cycle switching noise while programming (``False``: mean MSS).
        reset_pulse: reset pulse before programming each device.
    """

    cards: tuple[str, ...] = CARDS
    train_levels: tuple[float, ...] = LEVELS
    g_error_levels: tuple[float, ...] = LEVELS
    input_levels: tuple[float, ...] = LEVELS
    n_trials: int = 100
    chunk_trials: int = 50
    n_repeats: int = 10
    g_error_kinds: tuple[data.NoiseKind, ...] = ("uniform", "gaussian")
    input_noise_kind: data.NoiseKind = "gaussian"
    read_noise: float = 0.0
    train_steps: int = 1500
    seed: int = 0
    split_seed: int = 0
    w_max: float = 0.0
    device_pool: int = 256
    d2d: bool = True
    c2c: bool = True
    reset_pulse: bool = True

    def validate(self) -> None:
        """Raise :class:`UsageError` for an empty grid or bad numbers."""
        if not (self.cards and self.train_levels and self.g_error_levels and self.input_levels):
            raise UsageError("sweep grid is empty: give at least one card and one level per axis")
        if self.n_trials < 1 or self.chunk_trials < 1 or self.n_repeats < 1:
            raise UsageError("n_trials, chunk_trials and n_repeats must be >= 1")
        if not 0.0 <= self.read_noise <= 1.0:
            raise UsageError(f"read_noise {self.read_noise!r}: allowed range is 0..1")
        if self.device_pool < 1:
            raise UsageError(f"device_pool must be >= 1, got {self.device_pool}")
        bad = [k for k in self.g_error_kinds if k not in ("uniform", "gaussian")]
        if bad or not self.g_error_kinds:
            raise UsageError(
                f"g_error_kinds {list(self.g_error_kinds)!r}: allowed 'uniform', 'gaussian'"
            )


def quick_config(**overrides: Any) -> SweepConfig:
    """A small grid (levels 0, 10, 20 %) that runs in well under two minutes on 2 cores."""
    base = SweepConfig(
        train_levels=(0.0, 0.10, 0.20),
        g_error_levels=(0.0, 0.10, 0.20),
        input_levels=(0.0, 0.10, 0.20),
        n_trials=100,
        chunk_trials=100,
        n_repeats=5,
        train_steps=800,
    )
    return SweepConfig(**{**asdict(base), **overrides})


def card_window(name: str) -> tuple[float, float, float, float]:
    """``(g_min_S, g_max_S, v_read_V, r_series_ohm)`` of a device card.

    Taken from ``cosim.circuit.devices.load_card(name).operation`` when the card file exists,
    otherwise from the derived starting cards of DEVICES.md (window ``[2/R_off, 0.8/R_on]``,
    0.1 V read, 10 kΩ series).

    Raises:
        UsageError: unknown card name.
    """

    if name in devices.known_cards():
        op = devices.load_card(name).operation
        return float(op.g_min_S), float(op.g_max_S), float(op.v_read_V), float(op.r_series_ohm)
    if name not in _FALLBACK_R_OHM:
        known = sorted(set(_FALLBACK_R_OHM) | set(devices.known_cards()))
        raise UsageError(f"unknown card {name!r}; known: {known}")
    r_on, r_off = _FALLBACK_R_OHM[name]
    return 2.0 / r_off, 0.8 / r_on, 0.1, 10e3


def window_source(name: str) -> str:
    """Where :func:`card_window` takes the card's window from: a card file or the fallback."""

    if name in devices.known_cards():
        return str(devices.CARDS_DIR / f"{name}.toml")
    return "fallback: DEVICES.md derived starting card"


def card_spec(name: str, w_max: float = 0.0) -> tuple[network.CircuitSpec, float, float]:
    """``(spec, gb_min_S, gb_max_S)``: the circuit for a card and its window of *branch*
    conductances (device + switch + series resistor, what a column sums during inference).

    The co-simulation's own construction (:func:`cosim.crossbar.card_circuit`), so that the
    sweep's networks are the co-simulation's.

    Raises:
        UsageError: unknown card name (the error lists the known cards).
    """

    return card_circuit(load_card(name), w_max)


def train_targets(
    card: str | DeviceCard,
    noise: float,
    seed: int,
    *,
    steps: int,
    split_seed: int = 0,
    w_max: float = 0.0,
) -> dict[str, Any]:
    """Train the network for a card (its window of branch conductances) and map it to target
    device conductances: ``spec`` (dict), ``g_dev_S`` (30 floats, select-line order),
    ``n_clipped``, ``w1``, ``w2``."""
    c = card if isinstance(card, DeviceCard) else load_card(card)
    spec, gb_min, gb_max = card_circuit(c, w_max)
    tr, _ = data.split(data.make_dataset(), seed=split_seed)
    tcfg = train.TrainConfig(noise=noise, steps=steps, seed=seed)
    w = train.train(spec, tr, gb_min, gb_max, tcfg)
    tg = train.to_conductances(spec, w, gb_min, gb_max)
    gb = np.concatenate([tg.g1_S.ravel(), tg.g2_S.ravel()])
    g_dev = 1.0 / (1.0 / gb - spec.r_infer_path_ohm)
    return {
        "spec": asdict(spec),
        "g_dev_S": g_dev.tolist(),
        "n_clipped": tg.n_clipped,
        "w1": w.w1.tolist(),
        "w2": w.w2.tolist(),
    }
