"""Tabulated flows of the MSS state under a constant source through a series resistance.

Private helper of :mod:`cosim.circuit.mss`.  With a constant source ``V_s`` the device voltage
solves
``V + R_s·I(V, x) = V_s``, so ``dx/dt = f(x) = a(V(x))(1 − x) − b(V(x))·x`` depends on ``x``
alone: the state ODE is autonomous and one-dimensional.  ``f(0) = a > 0`` and ``f(1) = −b < 0``,
so it has an equilibrium ``x_eq`` in (0, 1); when it is the only one (checked), a state moves
monotonically towards it and the time spent between two states is a quadrature of ``1/f``.

Per device and per side of ``x_eq`` (distance ``d = |x − x_eq|``) the table holds the time
``R(σ)`` needed to come from the far end of the side (``x = 0`` or ``x = 1``) down to ``d(σ)``,
on a uniform grid of ``σ = ln d + d/d_sw`` (geometric grading towards the equilibrium, uniform in
``x`` far from it; ``d(σ)`` by Newton).  Interval integrals use
4-point Gauss–Lobatto quadrature (exact for degree 5); lookups use cubic Hermite interpolation
with the exact derivative ``dR/dσ = −(dd/dσ)/|f|``.  A pulse of width ``w`` maps
``R ↦ R + w``; past the grid's end (``d < d_min``) the state decays exponentially with the local
rate ``|f|/d`` (the linearization at ``x_eq``, relative error O(d_min)).  So one pulse costs
O(1) vectorized work however sharp or long it is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit

from cosim.circuit import mss_model as mss

__all__ = ["Flow", "build_flow"]

FloatArray = NDArray[np.float64]

_D_MIN = 1e-10  # closest tabulated distance to the equilibrium (linear law below)
_D_SW = 0.03  # switch from geometric to uniform grading of d
_N_INT = 320  # grid intervals per side
_N_SCAN = 33  # states scanned for extra equilibria
# 4-point Gauss–Lobatto on [0, 1]: interior nodes and weights (end weights 1/12 each).
_LOB_T = np.array([0.5 - 0.5 / np.sqrt(5.0), 0.5 + 0.5 / np.sqrt(5.0)])
_LOB_W_END, _LOB_W_IN = 1.0 / 12.0, 5.0 / 12.0


def _rate(
    p: mss.MSSArrays, vs: FloatArray, rs: FloatArray, x: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """``f(x)`` and ``df/dx`` (1/s) of the autonomous state ODE; flat arrays of one shape."""
    if np.all((1.0 - p.phi) * (np.abs(p.alpha_f) + np.abs(p.alpha_r)) == 0):
        v = vs / (1.0 + rs * p.phi * mss.conductance(p, x))  # linear device: closed form
    else:
        v = mss._solve_v(p, vs, x, rs, None)
    vt = p.v_t_V
    sa = expit((v - p.v_on) / vt)
    sb = expit(-(v + p.v_off) / vt)
    a, b = sa / p.tau, sb / p.tau
    da, db = a * (1.0 - sa) / vt, -b * (1.0 - sb) / vt
    di_dx = p.phi * v * (1.0 / p.r_on - 1.0 / p.r_off)
    dv_dx = -rs * di_dx / (1.0 + rs * mss._dcurrent_dv(p, v, x))
    f = a * (1.0 - x) - b * x
    return f, (da * (1.0 - x) - db * x) * dv_dx - a - b


def _rep(p: mss.MSSArrays, m: int) -> mss.MSSArrays:
    return mss.MSSArrays(**{k: np.repeat(v, m) for k, v in vars(p).items()})


@dataclass(frozen=True)
class Flow:
    """Flow tables of ``D`` devices (flat), see the module docstring.

    Rows ``0..D−1`` of the table arrays describe the side ``x < x_eq``, rows ``D..2D−1`` the
    side ``x > x_eq``.  ``const_v`` marks devices whose voltage does not depend on ``x`` (no
    series resistance or a state-independent current): they use the exact exponential update.
    """

    x_eq: FloatArray  # (D,)
    lam: FloatArray  # (D,) relaxation rate at x_eq (1/s); for const_v devices: a + b
    const_v: NDArray[np.bool_]  # (D,)
    d_top: FloatArray  # (2D,) distance of the far end of each side
    d_sw: FloatArray  # (2D,)
    s_min: FloatArray  # (2D,) σ at d_min
    ds: FloatArray  # (2D,) grid step in σ
    r_tab: FloatArray  # (2D, N+1) time from the far end to node j (s)
    h_tab: FloatArray  # (2D, N+1) −dR/dσ at node j (s)
    usable: NDArray[np.bool_]  # (2D,) side wider than d_min

    def advance(self, x: FloatArray, w_s: float) -> FloatArray:
        """States after time ``w_s`` at the flow's source; ``x`` has shape ``(D, M)``."""
        dd, m = x.shape
        x = np.clip(x, 0.0, 1.0)
        x_eq = self.x_eq[:, None]
        dist = x - x_eq
        decay = np.exp(-self.lam * w_s)[:, None]
        linear = x_eq + dist * decay
        row = np.arange(dd)[:, None] + dd * (dist > 0)
        d0 = np.abs(dist)
        tab = self.usable[row] & (d0 > _D_MIN) & ~self.const_v[:, None]
        if not np.any(tab):
            return np.asarray(linear, dtype=float)
        r, d0 = row[tab], d0[tab]
        d_sw, s_min, ds = self.d_sw[r], self.s_min[r], self.ds[r]
        n = self.r_tab.shape[1] - 1
        d0 = np.minimum(d0, self.d_top[r])
        sig = np.log(d0) + d0 / d_sw
        pos = (sig - s_min) / ds
        j = np.clip(pos.astype(np.intp), 0, n - 1)
        base = r * (n + 1) + j
        rt, ht = self.r_tab.ravel(), self.h_tab.ravel()
        r_now = _hermite(rt[base], rt[base + 1], ht[base] * ds, ht[base + 1] * ds, pos - j)
        r_new = r_now + w_s
        r_end = rt[r * (n + 1)]
        past = r_new >= r_end
        # past the grid: exponential approach with the local rate at d_min (= 1/h there)
        d_past = _D_MIN * np.exp(np.minimum(r_end - r_new, 0.0) / ht[r * (n + 1)])
        # inside: binary search for r_tab[k] >= r_new > r_tab[k+1], then invert the cubic
        lo, hi = np.zeros_like(j), np.full_like(j, n)
        for _ in range(int(np.ceil(np.log2(n))) + 1):
            mid = (lo + hi) // 2
            ge = rt[r * (n + 1) + mid] >= r_new
            lo, hi = np.where(ge, mid, lo), np.where(ge, hi, mid)
        k = np.minimum(lo, n - 1)
        kb = r * (n + 1) + k
        y0, y1, m0, m1 = rt[kb], rt[kb + 1], ht[kb] * ds, ht[kb + 1] * ds
        t = np.clip((y0 - r_new) / np.maximum(y0 - y1, 1e-300), 0.0, 1.0)
        for _ in range(4):
            g = _hermite(y0, y1, m0, m1, t) - r_new
            dg = _hermite_dt(y0, y1, m0, m1, t)
            t = np.clip(t - g / np.where(dg < 0, dg, -1e-300), 0.0, 1.0)
        d_in = _dist(s_min + (k + t) * ds, d_sw)
        d1 = np.where(past, d_past, d_in)
        out = linear.copy()
        out[tab] = np.broadcast_to(x_eq, (dd, m))[tab] + np.sign(dist[tab]) * d1
        return np.asarray(np.clip(out, 0.0, 1.0), dtype=float)


def _dist(sig: FloatArray, d_sw: FloatArray) -> FloatArray:
    """Invert ``σ = ln d + d/d_sw`` (Newton on ``u = ln d``, convex: converges from the guess)."""
    big = sig > np.log(d_sw) + 1.0
    u = np.where(big, np.log(d_sw * np.maximum(sig - np.log(d_sw), 1.0)), sig)
    for _ in range(8):
        e = np.exp(u) / d_sw
        u = u - (u + e - sig) / (1.0 + e)
    return np.asarray(np.exp(u), dtype=float)


def _hermite(
    y0: FloatArray, y1: FloatArray, m0: FloatArray, m1: FloatArray, t: FloatArray
) -> FloatArray:
    """Cubic Hermite on [0, 1]; ``m0, m1`` are −(slopes) already scaled by the step."""
    t2, t3 = t * t, t * t * t
    return np.asarray(
        (2 * t3 - 3 * t2 + 1) * y0
        - (t3 - 2 * t2 + t) * m0
        + (-2 * t3 + 3 * t2) * y1
        - (t3 - t2) * m1,
        dtype=float,
    )


def _hermite_dt(
    y0: FloatArray, y1: FloatArray, m0: FloatArray, m1: FloatArray, t: FloatArray
) -> FloatArray:
    t2 = t * t
    return np.asarray(
        (6 * t2 - 6 * t) * (y0 - y1) - (3 * t2 - 4 * t + 1) * m0 - (3 * t2 - 2 * t) * m1,
        dtype=float,
    )


def _equilibrium(
    p: mss.MSSArrays, vs: FloatArray, rs: FloatArray
) -> tuple[FloatArray, FloatArray] | None:
    """Unique equilibrium and relaxation rate per device, or None when not unique."""
    d = vs.size
    grid = np.linspace(0.0, 1.0, _N_SCAN)
    f, _ = _rate(_rep(p, _N_SCAN), np.repeat(vs, _N_SCAN), np.repeat(rs, _N_SCAN), np.tile(grid, d))
    f = f.reshape(d, _N_SCAN)
    pos = f > 0
    if np.any(np.sum(pos[:, 1:] != pos[:, :-1], axis=1) != 1) or not np.all(pos[:, 0]):
        return None
    k = np.argmin(pos, axis=1) - 1  # last positive node
    lo, hi = grid[k], grid[k + 1]
    x = 0.5 * (lo + hi)
    for _ in range(60):
        fx, dfx = _rate(p, vs, rs, x)
        lo, hi = np.where(fx > 0, x, lo), np.where(fx > 0, hi, x)
        xn = x - fx / np.where(dfx < 0, dfx, -np.inf)
        bad = ~((xn >= lo) & (xn <= hi))
        xn = np.where(bad, 0.5 * (lo + hi), xn)
        xn = np.where(fx == 0, x, xn)
        done = np.all((np.abs(xn - x) <= 1e-15) | (hi - lo <= 4e-16))
        x = xn
        if done:
            break
    _, dfx = _rate(p, vs, rs, x)
    return x, np.maximum(-dfx, 0.0)


def build_flow(
    p: mss.MSSArrays, vs: FloatArray, rs: FloatArray, n_int: int = _N_INT
) -> Flow | None:
    """Tables of the flow at constant source ``vs`` through ``rs`` (flat arrays of length D).

    Returns None when the flow cannot be tabulated (an equilibrium that is not unique, or a
    rate that vanishes inside a side): the caller then integrates instead.
    """
    d = vs.size
    v_ends = mss._solve_v(
        _rep(p, 2), np.repeat(vs, 2), np.tile([0.0, 1.0], d), np.repeat(rs, 2), None
    )
    v_ends = v_ends.reshape(d, 2)
    const_v = v_ends[:, 0] == v_ends[:, 1]
    a, b = mss.rates(p, v_ends[:, 0])
    lam_c = a + b
    x_eq_c = np.where(lam_c > 0, a / np.where(lam_c > 0, lam_c, 1.0), 0.5)
    n = n_int
    empty = np.zeros((2 * d, n + 1))
    if np.all(const_v):
        one = np.ones(2 * d)
        return Flow(x_eq_c, lam_c, const_v, one, one, one, one, empty, empty, one < 0)
    eq = _equilibrium(p, vs, rs)
    if eq is None:
        return None
    x_eq, lam = eq
    x_eq, lam = np.where(const_v, x_eq_c, x_eq), np.where(const_v, lam_c, lam)
    d_top = np.concatenate([x_eq, 1.0 - x_eq])
    usable = d_top > 2 * _D_MIN
    d_top = np.maximum(d_top, 2 * _D_MIN)
    d_sw = np.minimum(_D_SW, d_top)
    s_min = np.log(_D_MIN) + _D_MIN / d_sw
    s_top = np.log(d_top) + d_top / d_sw
    ds = (s_top - s_min) / n
    # σ of nodes and of the two interior Lobatto points of each interval
    frac = np.concatenate([np.arange(n + 1.0), np.arange(n) + _LOB_T[0], np.arange(n) + _LOB_T[1]])
    rows = np.flatnonzero(usable & ~np.tile(const_v, 2))  # only sides that need a table
    dev, m = rows % d, frac.size
    sig = s_min[rows, None] + frac[None, :] * ds[rows, None]
    c = d_sw[rows, None]
    dist = _dist(sig, c)
    sign = np.where(rows < d, -1.0, 1.0)[:, None]
    xs = np.clip(x_eq[dev, None] + sign * dist, 0.0, 1.0)
    if np.all((1.0 - p.phi) * (np.abs(p.alpha_f) + np.abs(p.alpha_r)) == 0):
        pr = mss.MSSArrays(**{k: v[dev][:, None] for k, v in vars(p).items()})
        f, _ = _rate(pr, vs[dev][:, None], rs[dev][:, None], xs)
    else:
        pr = _rep(mss.MSSArrays(**{k: v[dev] for k, v in vars(p).items()}), m)
        fr, _ = _rate(pr, np.repeat(vs[dev], m), np.repeat(rs[dev], m), xs.ravel())
        f = fr.reshape(rows.size, m)
    with np.errstate(divide="ignore"):
        h = dist * c / ((dist + c) * np.abs(f))  # (dd/dσ)/|f|
    if not np.all((np.sign(f) == -sign) & np.isfinite(h)):
        return None
    hn, h1, h2 = h[:, : n + 1], h[:, n + 1 : 2 * n + 1], h[:, 2 * n + 1 :]
    seg = ds[rows, None] * (_LOB_W_END * (hn[:, :-1] + hn[:, 1:]) + _LOB_W_IN * (h1 + h2))
    r_tab, h_tab = np.zeros((2 * d, n + 1)), np.ones((2 * d, n + 1))
    r_tab[rows, :-1] = np.cumsum(seg[:, ::-1], axis=1)[:, ::-1]
    h_tab[rows] = hn
    return Flow(x_eq, lam, const_v, d_top, d_sw, s_min, ds, r_tab, h_tab, usable)
