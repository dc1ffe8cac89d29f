"""Target windows: the card's conductance window, or the window the drawn devices reach.

A card's ``[operation]`` window ``[g_min, g_max]`` is set for the *nominal* device: ``g_min =
G(x = 0.05)``, ``g_max = G(x = 0.75)`` (``G(x) = x/R_on + (1 − x)/R_off``).  With the card's
device-to-device spread (R_on lognormal σ_ln 0.3) a device whose R_on is high cannot reach a
target near ``g_max`` even at ``x = 1``: it spends the whole pulse budget and is flagged failed,
and such devices decide the device ranking (docs/reproduction.md).  The **reachable** window
applies the card's own rule to the drawn population instead: ``[Q_{1−q}(G_i(0.05)),
Q_q(G_i(0.75))]`` over a pool of devices drawn from the card's spread (``q`` =
:data:`REACHABLE_QUANTILE`), so all but a fraction ``q`` of devices reach every target at the
same state fractions the nominal card uses.
"""

from __future__ import annotations

import functools
from dataclasses import replace

import numpy as np

from cosim.circuit import mss
from cosim.circuit.devices import DeviceCard, draw_variation
from cosim.errors import UsageError

__all__ = [
    "TARGET_CHOICES",
    "REACHABLE_QUANTILE",
    "REACHABLE_POOL",
    "reachable_window",
    "target_card",
]

#: ``card``: the card's window (the co-simulation's behaviour); ``reachable``: shrunk.
TARGET_CHOICES = ("card", "reachable")
#: Fraction of the device population allowed outside the reachable window (each side).
REACHABLE_QUANTILE = 0.05
#: Devices drawn to estimate the population's window, and the seed of that draw.
REACHABLE_POOL = 4096
_POOL_SEED = 104729


@functools.lru_cache(maxsize=16)
def _window(card: DeviceCard, q: float, pool: int) -> tuple[float, float]:
    params = mss.MSSArrays.from_params(card.model, draw_variation(card, pool, _POOL_SEED))
    g_lo = np.asarray(mss.conductance(params, np.full(pool, 0.05)), float)
    g_hi = np.asarray(mss.conductance(params, np.full(pool, 0.75)), float)
    lo = max(float(np.quantile(g_lo, 1.0 - q)), card.operation.g_min_S)
    hi = min(float(np.quantile(g_hi, q)), card.operation.g_max_S)
    return lo, hi


def reachable_window(
    card: DeviceCard, q: float = REACHABLE_QUANTILE, pool: int = REACHABLE_POOL
) -> tuple[float, float]:
    """``(g_min_S, g_max_S)`` reachable by all but a fraction ``q`` of the card's devices
    (never wider than the card's window)."""
    return _window(card, q, pool)


def target_card(card: DeviceCard, targets: str) -> DeviceCard:
    """The card with its ``[operation]`` window replaced by the chosen target window."""
    if targets == "card":
        return card
    if targets != "reachable":
        raise UsageError(f"targets {targets!r}: allowed {list(TARGET_CHOICES)}")
    lo, hi = reachable_window(card)
    return replace(card, operation=replace(card.operation, g_min_S=lo, g_max_S=hi))
