"""The MSS device equations (no time integration): parameters, rates, conductance, current,
and the device voltage behind a series resistance.

Shared by the time integration of the twin (:mod:`cosim.circuit.mss`) and its tabulated pulse
maps (:mod:`cosim.circuit.mss_maps`); see :mod:`cosim.circuit.mss` for the model.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import expit

from cosim.errors import CosimError

__all__ = [
    "K_B_OVER_Q_V_PER_K",
    "MSSArrays",
    "TwinError",
    "rates",
    "conductance",
    "current",
    "x_from_resistance",
    "device_voltage",
]

#: Boltzmann constant over elementary charge (V/K), CODATA 2018 exact values.
K_B_OVER_Q_V_PER_K = 1.380649e-23 / 1.602176634e-19

FloatArray = NDArray[np.float64]

_MULTIPLIED = {"r_on": "m_r_on", "r_off": "m_r_off", "v_on": "m_v_on", "v_off": "m_v_off"}
_MULTIPLIED["tau"] = "m_tau"


class TwinError(CosimError):
    """The twin was given inconsistent inputs (shapes, non-physical values, bad time grid)."""


@dataclass(frozen=True)
class MSSArrays:
    """Model parameters as float arrays (any broadcastable shapes), SI units.

    Attributes:
        r_on: ON resistance (Ω).  r_off: OFF resistance (Ω).
        v_on: set threshold (V, positive).  v_off: reset threshold (V, positive).
        tau: time constant (s).  t_eff: effective temperature (K), ``V_T = k·t_eff/q``.
        phi: memristive fraction of the current (1).
        alpha_f, alpha_r: Schottky prefactors (A).  beta_f, beta_r: Schottky exponents (1/V).
    """

    r_on: FloatArray
    r_off: FloatArray
    v_on: FloatArray
    v_off: FloatArray
    tau: FloatArray
    t_eff: FloatArray
    phi: FloatArray
    alpha_f: FloatArray
    alpha_r: FloatArray
    beta_f: FloatArray
    beta_r: FloatArray

    @classmethod
    def from_params(cls, params: Any, variation: Any = None, **multipliers: ArrayLike) -> MSSArrays:
        """Build from any object with the model attributes (e.g. ``DeviceCard.model``).

        Args:
            params: object with attributes ``r_on … beta_r`` (scalars or arrays).
            variation: optional object with arrays ``m_r_on, m_r_off, m_v_on, m_v_off, m_tau``
                (e.g. :func:`cosim.circuit.devices.draw_variation`); multiplies the matching
                parameters.
            **multipliers: the same multipliers given directly (``m_tau=…``); combined with
                ``variation`` by multiplication.

        Raises:
            TwinError: a parameter is missing, a multiplier name is unknown, or a value is not
                physical (non-positive resistance, τ or t_eff; φ outside [0, 1]).
        """
        known = set(_MULTIPLIED.values())
        unknown = sorted(set(multipliers) - known)
        if unknown:
            raise TwinError(f"unknown multiplier(s) {unknown}; allowed: {sorted(known)}")
        values: dict[str, FloatArray] = {}
        for f in fields(cls):
            if not hasattr(params, f.name):
                raise TwinError(f"parameter object {type(params).__name__} lacks {f.name!r}")
            val = np.asarray(getattr(params, f.name), dtype=float)
            m_name = _MULTIPLIED.get(f.name)
            if m_name is not None:
                if variation is not None:
                    val = val * np.asarray(getattr(variation, m_name), dtype=float)
                if m_name in multipliers:
                    val = val * np.asarray(multipliers[m_name], dtype=float)
            values[f.name] = val
        for name in ("r_on", "r_off", "tau", "t_eff"):
            if np.any(~(values[name] > 0)):
                raise TwinError(f"parameter {name!r} must be > 0, got {values[name]}")
        if np.any((values["phi"] < 0) | (values["phi"] > 1)):
            raise TwinError(f"parameter 'phi' must lie in [0, 1], got {values['phi']}")
        return cls(**values)

    @property
    def v_t_V(self) -> FloatArray:
        """Thermal voltage ``k·t_eff/q`` (V)."""
        return K_B_OVER_Q_V_PER_K * self.t_eff

    @property
    def shape(self) -> tuple[int, ...]:
        """Broadcast shape of all parameters."""
        return np.broadcast_shapes(*(getattr(self, f.name).shape for f in fields(self)))

    def broadcast_flat(self, shape: tuple[int, ...]) -> MSSArrays:
        """Parameters broadcast to ``shape`` and flattened to 1-D (private use by the solvers)."""
        return MSSArrays(
            **{f.name: np.broadcast_to(getattr(self, f.name), shape).ravel() for f in fields(self)}
        )


def rates(p: MSSArrays, v_V: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Switching rates ``(a, b)`` in 1/s at device voltage ``v_V``: OFF→ON and ON→OFF."""
    v = np.asarray(v_V, dtype=float)
    vt = p.v_t_V
    a = expit((v - p.v_on) / vt) / p.tau
    b = expit(-(v + p.v_off) / vt) / p.tau
    return a, b


def conductance(p: MSSArrays, x: ArrayLike) -> FloatArray:
    """Memristive conductance ``G(x) = x/r_on + (1 − x)/r_off`` (S)."""
    xa = np.asarray(x, dtype=float)
    return xa / p.r_on + (1.0 - xa) / p.r_off


def current(p: MSSArrays, v_V: ArrayLike, x: ArrayLike) -> FloatArray:
    """Device current (A) at device voltage ``v_V`` and state ``x``."""
    v = np.asarray(v_V, dtype=float)
    schottky = p.alpha_f * np.exp(p.beta_f * v) - p.alpha_r * np.exp(-p.beta_r * v)
    return p.phi * v * conductance(p, x) + (1.0 - p.phi) * schottky


def _dcurrent_dv(p: MSSArrays, v: FloatArray, x: FloatArray) -> FloatArray:
    schottky = p.alpha_f * p.beta_f * np.exp(p.beta_f * v) + p.alpha_r * p.beta_r * np.exp(
        -p.beta_r * v
    )
    return p.phi * conductance(p, x) + (1.0 - p.phi) * schottky


def x_from_resistance(p: MSSArrays, r_init_ohm: ArrayLike) -> FloatArray:
    """Initial state giving resistance ``r_init_ohm``: ``r_on(R − r_off)/(R(r_on − r_off))``.

    Raises:
        TwinError: ``r_init_ohm`` lies outside [r_on, r_off].
    """
    r = np.asarray(r_init_ohm, dtype=float)
    lo, hi = np.minimum(p.r_on, p.r_off), np.maximum(p.r_on, p.r_off)
    if np.any((r < lo * (1 - 1e-12)) | (r > hi * (1 + 1e-12))):
        raise TwinError(f"initial resistance {r} Ω outside [r_on, r_off] = [{lo}, {hi}] Ω")
    return np.asarray(p.r_on * (r - p.r_off) / (r * (p.r_on - p.r_off)), dtype=float)


def device_voltage(
    p: MSSArrays,
    v_src_V: ArrayLike,
    x: ArrayLike,
    r_series_ohm: ArrayLike = 0.0,
    v_guess_V: ArrayLike | None = None,
) -> FloatArray:
    """Voltage across the device when ``v_src_V`` drives it through ``r_series_ohm``.

    Solves ``V + R_s·I(V, x) = V_src`` with Newton steps safeguarded by bisection inside a
    bracket that provably contains the (unique: the left side increases with V) root.
    Converges to ~1e-13 V.  With ``phi = 1`` (no Schottky part) the root in closed form.
    """
    if np.all(p.phi == 1.0):  # linear (see _solve_v): no flattening needed
        g = conductance(p, x)
        rs_ohm = np.asarray(r_series_ohm, dtype=float)
        return np.asarray(np.asarray(v_src_V, dtype=float) / (1.0 + rs_ohm * g), dtype=float)
    vs, xa, rs = np.broadcast_arrays(
        np.asarray(v_src_V, dtype=float), np.asarray(x, dtype=float), np.asarray(r_series_ohm)
    )
    shape = np.broadcast_shapes(vs.shape, p.shape)
    vs, xa, rs = (np.broadcast_to(a, shape).astype(float).ravel() for a in (vs, xa, rs))
    pf = p.broadcast_flat(shape)
    guess = None if v_guess_V is None else np.broadcast_to(v_guess_V, shape).astype(float).ravel()
    return _solve_v(pf, vs, xa, rs, guess).reshape(shape)


def _solve_v(
    p: MSSArrays, vs: FloatArray, x: FloatArray, rs: FloatArray, guess: FloatArray | None
) -> FloatArray:
    """Flat-array core of :func:`device_voltage`."""
    if not np.any(rs):
        return vs.copy()
    if np.all(p.phi == 1.0):  # no Schottky part: I = V·G(x), the root in closed form
        return np.asarray(vs / (1.0 + rs * conductance(p, x)), dtype=float)
    i0 = current(p, 0.0, x)
    shifted = vs - rs * i0
    lo = np.minimum(np.minimum(vs, 0.0), shifted)
    hi = np.maximum(np.maximum(vs, 0.0), shifted)
    g_lin = p.phi * conductance(p, x)
    v = shifted / (1.0 + rs * g_lin) if guess is None else guess.copy()
    v = np.clip(v, lo, hi)
    for _ in range(100):
        f = v + rs * current(p, v, x) - vs
        lo = np.where(f <= 0, v, lo)
        hi = np.where(f >= 0, v, hi)
        v_new = v - f / (1.0 + rs * _dcurrent_dv(p, v, x))
        outside = ~((v_new >= lo) & (v_new <= hi))
        v_new = np.where(outside & (f != 0), 0.5 * (lo + hi), v_new)
        v_new = np.where(f == 0, v, v_new)
        step = np.abs(v_new - v)
        v = v_new
        if np.all(step <= 1e-13 + 1e-12 * np.abs(v)):
            return v
    raise TwinError("device-voltage solve did not converge in 100 iterations")  # pragma: no cover
