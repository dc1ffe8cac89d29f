"""One MSS device in Python floats: the twin's equations without NumPy's cost per call.

The vectorized twin (:mod:`cosim.circuit.mss`) pays ~1 µs per NumPy call whatever the array
size; driving one device at a time (programming, where only the selected device carries a
pulse) it spends its time in that overhead.  These functions are the same equations,
operation for operation, on floats with :mod:`math`: rates, conductance, the exact update at a
constant device voltage, and :func:`pulse`, the error-controlled exponential-midpoint
integration of :func:`cosim.circuit.mss.apply_pulse` (same steps, same acceptance, same step
sizes).  Results equal the vectorized ones to float rounding: ``math.exp`` and ``math.cbrt``
may differ from NumPy's by one unit in the last place (checked in ``tests/test_mss_scalar.py``).

Only the linear device (``phi == 1``: no Schottky part, the device voltage behind a series
resistance in closed form) is covered; :func:`device` returns ``None`` for any other, and the
caller keeps the vectorized path.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from cosim.circuit.mss_model import K_B_OVER_Q_V_PER_K, MSSArrays, TwinError

__all__ = ["Device", "device", "conductance", "rates", "step_constant", "pulse"]


class Device(NamedTuple):
    """The parameters of one linear (``phi == 1``) device as floats (SI units)."""

    r_on: float
    r_off: float
    v_on: float
    v_off: float
    tau: float
    vt: float  # thermal voltage k·t_eff/q (V)


def device(p: MSSArrays, k: int) -> Device | None:
    """Device ``k`` of the flat parameter arrays ``p``, or None when it is not linear."""
    if float(p.phi[k]) != 1.0:
        return None
    t_eff = float(p.t_eff[k])
    return Device(
        float(p.r_on[k]),
        float(p.r_off[k]),
        float(p.v_on[k]),
        float(p.v_off[k]),
        float(p.tau[k]),
        K_B_OVER_Q_V_PER_K * t_eff,
    )


def _expit(z: float) -> float:
    """``1/(1 + e^(−z))`` as SciPy's ``expit`` computes it (0 where ``e^(−z)`` overflows)."""
    try:
        return 1.0 / (1.0 + math.exp(-z))
    except OverflowError:
        return 0.0


def conductance(d: Device, x: float) -> float:
    """``G(x) = x/r_on + (1 − x)/r_off`` (S)."""
    return x / d.r_on + (1.0 - x) / d.r_off


def rates(d: Device, v: float) -> tuple[float, float]:
    """Switching rates ``(a, b)`` (1/s) at device voltage ``v``."""
    return _expit((v - d.v_on) / d.vt) / d.tau, _expit(-(v + d.v_off) / d.vt) / d.tau


def _exp_update(x: float, a: float, b: float, dt: float) -> float:
    lam = a + b
    x_eq = a / lam if lam > 0 else x
    return x_eq + (x - x_eq) * math.exp(-lam * dt)


def step_constant(d: Device, x: float, v: float, dt: float) -> float:
    """State after ``dt`` at the constant device voltage ``v`` (exact)."""
    a, b = rates(d, v)
    return _exp_update(x, a, b, dt)


def pulse(d: Device, x: float, v_src: float, dt: float, rs: float, x_tol: float = 1e-7) -> float:
    """State after a rectangular pulse ``v_src`` of width ``dt`` through ``rs`` (Ω): the
    integration of :func:`cosim.circuit.mss.apply_pulse` for one device."""
    if not dt > 0:
        if dt < 0:
            raise TwinError(f"pulse width must be >= 0 s, got {dt!r}")
        return x
    r_on, r_off = d.r_on, d.r_off

    def v_dev(xs: float) -> float:  # V + R_s·V·G(x) = V_src
        return v_src / (1.0 + rs * (xs / r_on + (1.0 - xs) / r_off)) if rs else v_src

    def step(xs: float, a1: float, b1: float, h: float) -> float:  # exponential midpoint
        am, bm = rates(d, v_dev(_exp_update(xs, a1, b1, 0.5 * h)))
        return _exp_update(xs, am, bm, h)

    done, h = 0.0, dt
    for _ in range(100_000):
        h = min(h, dt - done)
        a1, b1 = rates(d, v_dev(x))
        x_full = step(x, a1, b1, h)
        x_a = step(x, a1, b1, 0.5 * h)
        a2, b2 = rates(d, v_dev(x_a))
        x_b = step(x_a, a2, b2, 0.5 * h)
        err = abs(x_b - x_full) / 3.0
        if err <= x_tol:
            x = min(max(x_b + (x_b - x_full) / 3.0, 0.0), 1.0)
            done = done + h
        h = max(h * min(max(0.9 * math.cbrt(x_tol / max(err, 1e-300)), 0.2), 5.0), 1e-15)
        if not dt - done > 1e-12 * dt:
            return x
    raise TwinError("state integration exceeded 100000 steps")  # pragma: no cover
