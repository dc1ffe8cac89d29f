"""Vectorized NumPy twin of the generalized mean metastable-switch (MSS) memristor model.

Same equations as ``va_models/mss.va`` (Molter & Nugent, arXiv:1608.04659; see
``/work/shared/reference/PAPER.md``).  State ``x`` in [0, 1] is the fraction of switches ON,
``V`` the device voltage (top minus bottom), ``V_T = k·t_eff/q``:

* rates ``a(V) = σ((V − v_on)/V_T)/τ`` (OFF→ON) and ``b(V) = σ(−(V + v_off)/V_T)/τ`` (ON→OFF),
  so ``dx/dt = a(1 − x) − b·x``;
* ``G(x) = x/r_on + (1 − x)/r_off`` and
  ``I = φ·V·G(x) + (1 − φ)·(α_f·e^(β_f V) − α_r·e^(−β_r V))``.

At a fixed device voltage the state equation is linear, so a constant-voltage segment is updated
exactly.  With a series resistance the device voltage solves ``V + R_s·I(V, x) = V_src``
(safeguarded Newton, vectorized) and ``x`` is integrated by an error-controlled exponential
midpoint scheme with per-element step sizes.  Every function broadcasts over arbitrary leading
shapes (devices, trials).  Long identical pulse trains use tabulated pulse maps composed by
doubling (:func:`pulse_train`), so their cost grows with ``log2(n_pulses)``.

The stochastic (cycle-to-cycle) variant keeps an integer count of ON switches out of ``N``
per device and draws binomial transitions from an explicit :class:`numpy.random.Generator`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cosim.circuit import mss_maps as _mss_maps  # noqa: PLC0415 (private helper importing this module)
from cosim.circuit.mss_model import (
    K_B_OVER_Q_V_PER_K,
    MSSArrays,
    TwinError,
    _solve_v,
    conductance,
    current,
    device_voltage,
    rates,
    x_from_resistance,
)

__all__ = [
    "K_B_OVER_Q_V_PER_K",
    "MSSArrays",
    "TwinError",
    "Trajectory",
    "rates",
    "conductance",
    "current",
    "x_from_resistance",
    "device_voltage",
    "step_constant",
    "integrate_pwl",
    "simulate",
    "apply_pulse",
    "read_current",
    "pulse_train",
    "stochastic_pwl",
]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Trajectory:
    """Time series of a simulation: time (s), device voltage (V), device current (A), state."""

    time_s: FloatArray
    v_V: FloatArray
    i_A: FloatArray
    x: FloatArray


def _exp_update(x: FloatArray, a: FloatArray, b: FloatArray, dt: FloatArray) -> FloatArray:
    """Exact solution of dx/dt = a(1−x) − b·x over ``dt`` at fixed a, b."""
    lam = a + b
    safe = np.where(lam > 0, lam, 1.0)
    x_eq = np.where(lam > 0, a / safe, x)
    return np.asarray(x_eq + (x - x_eq) * np.exp(-lam * dt), dtype=float)


def step_constant(p: MSSArrays, x: ArrayLike, v_V: ArrayLike, dt_s: ArrayLike) -> FloatArray:
    """State after ``dt_s`` at a constant *device* voltage ``v_V`` (exact exponential update)."""
    a, b = rates(p, v_V)
    return _exp_update(np.asarray(x, dtype=float), a, b, np.asarray(dt_s, dtype=float))


def _take(p: MSSArrays, idx: NDArray[np.intp]) -> MSSArrays:
    return MSSArrays(**{f.name: getattr(p, f.name)[idx] for f in fields(p)})


def _midpoint_step(
    p: MSSArrays,
    x: FloatArray,
    vs_start: FloatArray,
    slope: FloatArray,
    h: FloatArray,
    rs: FloatArray,
    v_start: FloatArray,
) -> FloatArray:
    """One exponential-midpoint step (2nd order) from ``x`` whose device voltage is ``v_start``."""
    a1, b1 = rates(p, v_start)
    x_half = _exp_update(x, a1, b1, 0.5 * h)
    v_mid = _solve_v(p, vs_start + 0.5 * slope * h, x_half, rs, v_start)
    am, bm = rates(p, v_mid)
    return _exp_update(x, am, bm, h)


def _integrate_segment(
    p: MSSArrays,
    x: FloatArray,
    v0: FloatArray,
    v1: FloatArray,
    dt: FloatArray,
    rs: FloatArray,
    x_tol: float,
) -> FloatArray:
    """Integrate flat arrays over one segment whose source goes linearly from v0 to v1.

    Exponential midpoint steps with Richardson extrapolation (one step of h against two of h/2:
    3rd-order result, error estimate of the 2nd-order one); each element keeps its own step
    size and finished elements leave the working set.  Without series resistance and with a
    constant source the two agree exactly, so such segments take one exact step.
    """
    out = x.astype(float, copy=True)
    sel = np.flatnonzero(dt > 0)
    if sel.size == 0:
        return out
    pp = p if sel.size == dt.size else _take(p, sel)
    xx, rr = out[sel], rs[sel]
    dd, vv0 = dt[sel], v0[sel]
    slope = (v1[sel] - vv0) / dd
    done = np.zeros_like(xx)
    h = dd.copy()
    v_prev: FloatArray | None = None
    for _ in range(100_000):
        h = np.minimum(h, dd - done)
        vs0 = vv0 + slope * done
        v_start = _solve_v(pp, vs0, xx, rr, v_prev)
        x_full = _midpoint_step(pp, xx, vs0, slope, h, rr, v_start)
        x_a = _midpoint_step(pp, xx, vs0, slope, 0.5 * h, rr, v_start)
        vs_a = vs0 + 0.5 * slope * h
        v_a = _solve_v(pp, vs_a, x_a, rr, v_start)
        x_b = _midpoint_step(pp, x_a, vs_a, slope, 0.5 * h, rr, v_a)
        err = np.abs(x_b - x_full) / 3.0
        accept = err <= x_tol
        xx = np.where(accept, np.clip(x_b + (x_b - x_full) / 3.0, 0.0, 1.0), xx)
        done = np.where(accept, done + h, done)
        v_prev = v_start
        factor = np.clip(0.9 * np.cbrt(x_tol / np.maximum(err, 1e-300)), 0.2, 5.0)
        h = np.maximum(h * factor, 1e-15)
        active = dd - done > 1e-12 * dd
        if not np.all(active):
            out[sel[~active]] = xx[~active]
            if not np.any(active):
                return out
            sel, pp, xx, rr = sel[active], _take(pp, active.nonzero()[0]), xx[active], rr[active]
            dd, vv0, slope, done = dd[active], vv0[active], slope[active], done[active]
            h, v_prev = h[active], v_prev[active]
    raise TwinError("state integration exceeded 100000 steps")  # pragma: no cover


def _flatten_inputs(
    p: MSSArrays, x0: ArrayLike, rs: ArrayLike
) -> tuple[tuple[int, ...], MSSArrays, FloatArray, FloatArray]:
    shape = np.broadcast_shapes(np.shape(x0), np.shape(rs), p.shape)
    pf = p.broadcast_flat(shape)
    xf = np.broadcast_to(np.asarray(x0, dtype=float), shape).ravel().copy()
    rf = np.broadcast_to(np.asarray(rs, dtype=float), shape).ravel().copy()
    if np.any(rf < 0):
        raise TwinError(f"series resistance must be >= 0 Ω, got {rs!r}")
    return shape, pf, xf, rf


def _check_times(t_s: FloatArray) -> None:
    if t_s.ndim != 1 or t_s.size < 2 or np.any(np.diff(t_s) < 0):
        raise TwinError("time points must be a 1-D, non-decreasing array of at least 2 values")


def integrate_pwl(
    p: MSSArrays,
    x0: ArrayLike,
    t_s: ArrayLike,
    v_src_V: ArrayLike,
    r_series_ohm: ArrayLike = 0.0,
    *,
    x_tol: float = 1e-7,
) -> FloatArray:
    """States at every time point of a piecewise-linear source through a series resistance.

    Args:
        p: parameters (shape broadcast with ``x0`` and ``r_series_ohm``: the "device shape").
        x0: initial states.
        t_s: 1-D non-decreasing time points (s); equal consecutive times make a step.
        v_src_V: source values at ``t_s``: shape ``(len(t_s),)`` (common to all devices) or
            ``(len(t_s), *device_shape)``.
        r_series_ohm: series resistance (Ω), 0 for a direct drive.
        x_tol: local error tolerance per integration step (absolute, in x).

    Returns:
        Array ``(len(t_s), *device_shape)`` of states.
    """
    t = np.asarray(t_s, dtype=float)
    _check_times(t)
    shape, pf, x, rf = _flatten_inputs(p, x0, r_series_ohm)
    v = np.asarray(v_src_V, dtype=float).reshape(t.size, -1)
    v = np.broadcast_to(v, (t.size, x.size))
    out = np.empty((t.size, x.size))
    out[0] = x
    for k in range(t.size - 1):
        dt = np.full_like(x, t[k + 1] - t[k])
        x = _integrate_segment(pf, x, v[k], v[k + 1], dt, rf, x_tol)
        out[k + 1] = x
    return out.reshape((t.size, *shape))


def simulate(
    p: MSSArrays,
    x0: ArrayLike,
    t_s: ArrayLike,
    v_src_V: ArrayLike,
    r_series_ohm: ArrayLike = 0.0,
    *,
    x_tol: float = 1e-7,
) -> Trajectory:
    """Like :func:`integrate_pwl`, also returning device voltage and current at every point."""
    t = np.asarray(t_s, dtype=float)
    x = integrate_pwl(p, x0, t, v_src_V, r_series_ohm, x_tol=x_tol)
    v_src = np.asarray(v_src_V, dtype=float).reshape((t.size,) + (1,) * (x.ndim - 1))
    v_dev = device_voltage(p, v_src, x, r_series_ohm)
    return Trajectory(time_s=t, v_V=v_dev, i_A=current(p, v_dev, x), x=x)


def apply_pulse(
    p: MSSArrays,
    x: ArrayLike,
    v_pulse_V: ArrayLike,
    t_pulse_s: ArrayLike,
    r_series_ohm: ArrayLike = 0.0,
    *,
    x_tol: float = 1e-7,
) -> FloatArray:
    """New states after a rectangular pulse (amplitude, width) through a series resistance.

    All arguments broadcast together; devices with ``t_pulse_s == 0`` are left unchanged.
    """
    shape = np.broadcast_shapes(np.shape(x), np.shape(v_pulse_V), np.shape(t_pulse_s))
    shape = np.broadcast_shapes(shape, np.shape(r_series_ohm), p.shape)
    _, pf, xf, rf = _flatten_inputs(p, np.broadcast_to(x, shape), r_series_ohm)
    vf = np.broadcast_to(np.asarray(v_pulse_V, dtype=float), shape).ravel()
    tf = np.broadcast_to(np.asarray(t_pulse_s, dtype=float), shape).ravel()
    if np.any(tf < 0):
        raise TwinError(f"pulse width must be >= 0 s, got {t_pulse_s!r}")
    return _integrate_segment(pf, xf, vf, vf, tf.copy(), rf, x_tol).reshape(shape)


def read_current(
    p: MSSArrays, x: ArrayLike, v_read_V: ArrayLike, r_series_ohm: ArrayLike = 0.0
) -> FloatArray:
    """Device current (A) during a read at ``v_read_V`` through ``r_series_ohm`` (state kept)."""
    v_dev = device_voltage(p, v_read_V, x, r_series_ohm)
    return current(p, v_dev, x)


def _interp_rows(table: FloatArray, xq: FloatArray) -> FloatArray:
    """Row-wise 4-point Lagrange (cubic) interpolation of the map ``x → x + table(x)``.

    ``table`` holds the increment ``M(x) − x`` of a map ``M`` sampled on a uniform grid of
    [0, 1] (one row per device, at least 4 points); ``xq`` the query states (same number of
    rows).  Returns ``M(xq)``.  The stencil is the 4 nodes around the query (shifted inwards at
    the ends), so the error is O(h⁴) everywhere.  Interpolating the increment keeps weak maps
    (M ≈ identity) accurate.
    """
    n = table.shape[1]
    xc = np.clip(xq, 0.0, 1.0)
    pos = xc * (n - 1)
    k0 = np.clip(pos.astype(np.intp) - 1, 0, n - 4)
    s = pos - k0
    flat = table.ravel()
    base = k0 + (n * np.arange(table.shape[0]))[:, None]
    y0, y1, y2, y3 = flat[base], flat[base + 1], flat[base + 2], flat[base + 3]
    s1, s2, s3 = s - 1.0, s - 2.0, s - 3.0
    inc = s * s3 * (0.5 * s2 * y1 - 0.5 * s1 * y2) + s1 * s2 * (s * y3 - s3 * y0) / 6.0
    return np.asarray(np.clip(xc + inc, 0.0, 1.0), dtype=float)


def pulse_train(
    p: MSSArrays,
    x0: ArrayLike,
    v_pulse_V: float,
    t_pulse_s: float,
    n_pulses: int,
    *,
    t_gap_s: float = 0.0,
    v_gap_V: float = 0.0,
    r_series_ohm: ArrayLike = 0.0,
    n_grid: int = 33,
    map_tol: float = 1e-5,
    x_tol: float = 1e-7,
) -> FloatArray:
    """States after each period (pulse, then gap) of a train of identical pulses.

    The map "state before → state after one period" is integrated once per device on a grid
    of states and interpolated (cubic, on the increment); powers of the map are built by
    composition (doubling), so that all ``n_pulses`` iterates cost ``O(log2 n_pulses)``
    vectorized operations.  The table is checked against the integrated map halfway between
    its points: while the check misses ``map_tol`` the grid is refined (up to 2049 points),
    after which the train is stepped pulse by pulse.  Without series resistance the map is
    affine and the table exact.  Trains of ≤ 16 pulses are stepped directly.

    Returns:
        Array ``(n_pulses, *device_shape)``; row k is the state after pulse k+1 and its gap.
    """
    if n_pulses < 1 or n_grid < 3:
        raise TwinError(f"n_pulses must be >= 1 and n_grid >= 3, got {n_pulses}, {n_grid}")
    if t_pulse_s < 0 or t_gap_s < 0:
        raise TwinError(f"pulse width and gap must be >= 0 s, got {t_pulse_s}, {t_gap_s}")
    shape, pf, x, rf = _flatten_inputs(p, x0, r_series_ohm)

    ones = np.ones_like(x)
    flow_p = _mss_maps.build_flow(pf, v_pulse_V * ones, rf)
    flow_g = _mss_maps.build_flow(pf, v_gap_V * ones, rf) if t_gap_s > 0 else None
    tabulated = flow_p is not None and (t_gap_s == 0 or flow_g is not None)

    def integrated(xs: FloatArray) -> FloatArray:
        d, m = xs.shape
        prm = MSSArrays(**{f.name: np.repeat(getattr(pf, f.name), m) for f in fields(pf)})
        flat, rs = xs.ravel(), np.repeat(rf, m)
        vp, vg = np.full_like(flat, v_pulse_V), np.full_like(flat, v_gap_V)
        flat = _integrate_segment(prm, flat, vp, vp, np.full_like(flat, t_pulse_s), rs, x_tol)
        flat = _integrate_segment(prm, flat, vg, vg, np.full_like(flat, t_gap_s), rs, x_tol)
        return flat.reshape(d, m)

    def period(xs: FloatArray) -> FloatArray:
        """One period applied to states ``(devices, m)``."""
        if not tabulated:
            return integrated(xs)
        assert flow_p is not None
        xs = flow_p.advance(xs, t_pulse_s)
        return xs if flow_g is None else flow_g.advance(xs, t_gap_s)

    def stepped() -> FloatArray:
        rows = [x[:, None]]
        for _ in range(n_pulses):
            rows.append(period(rows[-1]))
        return np.stack([r[:, 0] for r in rows[1:]]).reshape((n_pulses, *shape))

    if n_pulses <= 16:
        return stepped()
    d = x.size
    n_coarse = 4 if not np.any(rf) else n_grid
    table: FloatArray | None = None
    known: FloatArray | None = None  # increments on the previous (coarser) fine grid
    while n_coarse <= 1025:
        n_fine = 2 * n_coarse - 1
        grid = np.tile(np.linspace(0.0, 1.0, n_fine), (d, 1))
        todo = grid if known is None else grid[:, 1::2]
        new = period(todo) - todo
        if known is None:
            fine = new
        else:
            fine = np.empty((d, n_fine))
            fine[:, ::2], fine[:, 1::2] = known, new
        check = _interp_rows(fine[:, ::2], grid[:, 1::2]) - grid[:, 1::2]
        if np.max(np.abs(check - fine[:, 1::2]), initial=0.0) <= map_tol:
            table = fine
            break
        known, n_coarse = fine, n_fine
    if table is None:
        return stepped()
    iterates = x[:, None]
    while iterates.shape[1] < n_pulses + 1:
        iterates = np.concatenate([iterates, _interp_rows(table, iterates)], axis=1)
        if iterates.shape[1] < n_pulses + 1:  # table of M∘M from the table of M
            table = _interp_rows(table, _interp_rows(table, grid)) - grid
    return np.ascontiguousarray(iterates[:, 1 : n_pulses + 1].T).reshape((n_pulses, *shape))


def stochastic_pwl(
    p: MSSArrays,
    x0: ArrayLike,
    n_switches: ArrayLike,
    t_s: ArrayLike,
    v_src_V: ArrayLike,
    rng: np.random.Generator,
    r_series_ohm: ArrayLike = 0.0,
) -> FloatArray:
    """Stochastic (cycle-to-cycle) MSS on a time grid: integer switch counts, binomial moves.

    Per interval ``dt`` at the device voltage of the interval's start (source taken at the
    interval midpoint), ``Binomial(N(1−x), 1 − e^(−a·dt))`` switches turn ON and
    ``Binomial(N·x, 1 − e^(−b·dt))`` turn OFF.  Use a grid fine against ``τ`` while switching.

    Args:
        n_switches: switches per device ``N`` (int, broadcast with the device shape).
        rng: the only randomness source; the same seed gives identical results.

    Returns:
        States ``(len(t_s), *device_shape)`` (ON count / N).
    """
    t = np.asarray(t_s, dtype=float)
    _check_times(t)
    shape, pf, x, rf = _flatten_inputs(p, x0, r_series_ohm)
    n = np.broadcast_to(np.asarray(n_switches), shape).ravel().astype(np.int64)
    if np.any(n < 1):
        raise TwinError(f"n_switches must be >= 1, got {n_switches!r}")
    n_on = np.rint(x * n).astype(np.int64)
    v = np.broadcast_to(np.asarray(v_src_V, dtype=float).reshape(t.size, -1), (t.size, x.size))
    out = np.empty((t.size, x.size))
    out[0] = n_on / n
    for k in range(t.size - 1):
        dt = t[k + 1] - t[k]
        xk = n_on / n
        v_dev = _solve_v(pf, 0.5 * (v[k] + v[k + 1]), xk, rf, None)
        a, b = rates(pf, v_dev)
        up = rng.binomial(n - n_on, -np.expm1(-a * dt))
        down = rng.binomial(n_on, -np.expm1(-b * dt))
        n_on = n_on + up - down
        out[k + 1] = n_on / n
    return out.reshape((t.size, *shape))
