"""Unit tests of the NumPy twin :mod:`cosim.circuit.mss` (no simulator needed).

References are independent: closed forms of the model equations and scipy's LSODA/brentq.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.optimize import brentq

from cosim.circuit import mss

# W-like starting card of the project's DEVICES.md (φ < 1 so the Schottky branch is exercised).
W_LIKE = SimpleNamespace(
    r_on=2e3, r_off=300e3, v_on=0.28, v_off=0.195, tau=50e-6, t_eff=108.5,
    phi=0.9, alpha_f=1e-7, alpha_r=1e-7, beta_f=8.0, beta_r=8.0,
)  # fmt: skip
C_LIKE = SimpleNamespace(
    r_on=20e3, r_off=3e6, v_on=0.32, v_off=0.115, tau=5e-6, t_eff=60.0,
    phi=1.0, alpha_f=0.0, alpha_r=0.0, beta_f=8.0, beta_r=8.0,
)  # fmt: skip


def params(card: SimpleNamespace = W_LIKE, **mult: object) -> mss.MSSArrays:
    return mss.MSSArrays.from_params(card, **mult)  # type: ignore[arg-type]


def lsoda_pulse(p: mss.MSSArrays, x0: float, v_src: float, width: float, rs: float) -> float:
    """Reference: scipy LSODA on dx/dt with the device voltage from brentq."""

    def vdev(x: float) -> float:
        return brentq(lambda v: v + rs * float(mss.current(p, v, x)) - v_src, -5, 5, xtol=1e-15)

    def rhs(_t: float, y: np.ndarray) -> list[float]:
        a, b = mss.rates(p, vdev(y[0]))
        return [float(a * (1 - y[0]) - b * y[0])]

    sol = solve_ivp(rhs, (0, width), [x0], method="LSODA", rtol=1e-11, atol=1e-13)
    return float(sol.y[0, -1])


def test_ideal_device_is_a_fixed_resistor() -> None:
    ideal = SimpleNamespace(**{**vars(W_LIKE), "phi": 1.0, "tau": 1e30})
    p = params(ideal)
    x0 = np.array([0.0, 0.3, 1.0])
    v = np.linspace(-1.0, 1.0, 7)[:, None]
    g = x0 / ideal.r_on + (1 - x0) / ideal.r_off
    np.testing.assert_array_equal(mss.current(p, v, x0), v * g)
    x1 = mss.apply_pulse(p, x0, 1.0, 1e-3, 1e3)
    np.testing.assert_allclose(x1, x0, atol=1e-15)


def test_rates_and_current_match_the_equations() -> None:
    p = params()
    vt = 1.380649e-23 * 108.5 / 1.602176634e-19
    v = np.array([-0.4, 0.0, 0.1, 0.5])
    a, b = mss.rates(p, v)
    np.testing.assert_allclose(a, 1 / (1 + np.exp(-(v - 0.28) / vt)) / 50e-6, rtol=1e-12)
    # 1 − σ(u) written as σ(−u) = 1/(1 + e^u) (no cancellation)
    np.testing.assert_allclose(b, 1 / (1 + np.exp((v + 0.195) / vt)) / 50e-6, rtol=1e-12)
    i = mss.current(p, v, 0.25)
    g = 0.25 / 2e3 + 0.75 / 300e3
    ref = 0.9 * v * g + 0.1 * 1e-7 * (np.exp(8 * v) - np.exp(-8 * v))
    np.testing.assert_allclose(i, ref, rtol=1e-12)


def test_constant_voltage_update_is_the_closed_form() -> None:
    p = params()
    a, b = mss.rates(p, 0.35)
    x_eq = a / (a + b)
    for dt in (1e-7, 1e-5, 1e-3):
        expect = x_eq + (0.1 - x_eq) * np.exp(-(a + b) * dt)
        assert mss.step_constant(p, 0.1, 0.35, dt) == pytest.approx(expect, abs=1e-14)
        assert mss.apply_pulse(p, 0.1, 0.35, dt) == pytest.approx(expect, abs=1e-14)


@pytest.mark.parametrize("v_src", [-1.0, -0.2, 0.05, 0.5, 2.0], ids=lambda v: f"{v}V")
def test_device_voltage_solves_the_series_equation(v_src: float) -> None:
    p = params()
    x = np.array([0.0, 0.2, 0.7, 1.0])
    v = mss.device_voltage(p, v_src, x, 10e3)
    resid = v + 10e3 * mss.current(p, v, x) - v_src
    np.testing.assert_allclose(resid, 0.0, atol=1e-12)
    ref = [brentq(lambda u, xx=xx: u + 1e4 * float(mss.current(p, u, xx)) - v_src, -3, 3)
           for xx in x]  # fmt: skip
    np.testing.assert_allclose(v, ref, atol=1e-10)


def test_linear_device_voltage_is_the_newton_root() -> None:
    """φ = 1 (no Schottky part, the built-in cards): the closed form V = V_src/(1 + R_s·G)
    agrees with the safeguarded Newton solve the general model takes (φ just below 1)."""
    x = np.linspace(0.0, 1.0, 11)
    v_src = np.linspace(-2.0, 2.0, 11)[:, None]
    closed = mss.device_voltage(params(C_LIKE), v_src, x, 50e3)
    almost = SimpleNamespace(**{**vars(C_LIKE), "phi": np.nextafter(1.0, 0.0)})
    newton = mss.device_voltage(params(almost), v_src, x, 50e3)
    np.testing.assert_allclose(closed, newton, rtol=1e-13, atol=1e-16)
    resid = closed + 50e3 * mss.current(params(C_LIKE), closed, x) - v_src
    np.testing.assert_allclose(resid, 0.0, atol=1e-14)


@pytest.mark.parametrize(
    ("card", "v_src", "width", "rs"),
    [(W_LIKE, 0.5, 10e-6, 10e3), (W_LIKE, -0.6, 20e-6, 10e3), (C_LIKE, -0.3, 10e-6, 50e3)],
    ids=["W-write", "W-erase", "C-erase-sharp"],
)
def test_pulse_through_series_resistor_matches_lsoda(
    card: SimpleNamespace, v_src: float, width: float, rs: float
) -> None:
    p = params(card)
    x0 = np.array([0.05, 0.5, 0.75, 0.95])
    got = mss.apply_pulse(p, x0, v_src, width, rs)
    ref = [lsoda_pulse(p, float(x), v_src, width, rs) for x in x0]
    np.testing.assert_allclose(got, ref, atol=2e-6)
    assert np.any(np.abs(got - x0) > 0.01)  # the pulse really switches


@pytest.mark.parametrize(
    ("card", "v_src", "rs"),
    [(W_LIKE, 0.45, 10e3), (C_LIKE, -0.3, 50e3), (W_LIKE, 0.4, 0.0)],
    ids=["W-set", "C-erase-sharp", "W-direct"],
)
def test_pulse_train_equals_pulse_by_pulse(card: SimpleNamespace, v_src: float, rs: float) -> None:
    rng = np.random.default_rng(3)
    p = params(card, m_tau=rng.lognormal(0, 0.3, 6), m_r_on=rng.lognormal(0, 0.3, 6))
    x0 = np.linspace(0.02, 0.98, 6)
    n = 40
    train = mss.pulse_train(p, x0, v_src, 2e-6, n, t_gap_s=3e-6, r_series_ohm=rs)
    x = x0
    for k in range(n):
        x = mss.apply_pulse(p, x, v_src, 2e-6, rs)
        x = mss.apply_pulse(p, x, 0.0, 3e-6, rs)
        np.testing.assert_allclose(train[k], x, atol=2e-4, err_msg=f"pulse {k}")
    assert np.max(np.abs(train[-1] - x0)) > 0.05


def test_broadcast_over_trials_and_devices() -> None:
    p = params(m_r_on=np.array([0.8, 1.0, 1.25]))
    x0 = np.array([[0.1], [0.6]])  # (trials, 1) against 3 devices
    out = mss.apply_pulse(p, x0, 0.5, 5e-6, 10e3)
    assert out.shape == (2, 3)
    single = mss.apply_pulse(params(m_r_on=1.25), 0.6, 0.5, 5e-6, 10e3)
    assert out[1, 2] == pytest.approx(single, abs=1e-12)
    traj = mss.simulate(p, x0, np.linspace(0, 1e-5, 11), np.full(11, 0.5), 10e3)
    assert traj.x.shape == traj.i_A.shape == traj.v_V.shape == (11, 2, 3)


def test_tau_multiplier_scales_time() -> None:
    fast = mss.apply_pulse(params(), 0.2, 0.6, 5e-6, 10e3)
    slow = mss.apply_pulse(params(m_tau=2.0), 0.2, 0.6, 10e-6, 10e3)
    assert slow == pytest.approx(fast, abs=1e-6)
    assert mss.apply_pulse(params(m_tau=2.0), 0.2, 0.6, 5e-6, 10e3) < fast - 0.01


def test_initial_state_from_resistance_round_trip() -> None:
    p = params(C_LIKE)
    r = np.array([20e3, 100e3, 3e6])
    x0 = mss.x_from_resistance(p, r)
    np.testing.assert_allclose(1.0 / mss.conductance(p, x0), r, rtol=1e-12)
    np.testing.assert_allclose(x0[[0, 2]], [1.0, 0.0], atol=1e-15)
    with pytest.raises(mss.TwinError, match="outside"):
        mss.x_from_resistance(p, 10e3)


def test_read_current_through_series_resistor() -> None:
    p = params(C_LIKE)
    i = mss.read_current(p, 1.0, 0.1, 10e3)
    assert i == pytest.approx(0.1 / 30e3, rel=1e-12)


def test_bad_parameters_raise() -> None:
    with pytest.raises(mss.TwinError, match="lacks 'v_on'"):
        mss.MSSArrays.from_params(SimpleNamespace(r_on=1, r_off=2))
    with pytest.raises(mss.TwinError, match="unknown multiplier"):
        params(m_phi=2.0)
    with pytest.raises(mss.TwinError, match="'r_on' must be > 0"):
        params(m_r_on=np.array([1.0, -1.0]))
    with pytest.raises(mss.TwinError, match="non-decreasing"):
        mss.integrate_pwl(params(), 0.1, [0.0, 2e-6, 1e-6], [0.0, 0.0, 0.0])


def _stochastic_runs(n_switches: int, seed: int, trials: int = 200) -> np.ndarray:
    p = params(C_LIKE)
    t = np.linspace(0.0, 20e-6, 201)
    v = np.where(t < 10e-6, 0.45, 0.0)
    x0 = np.full(trials, 0.1)
    return mss.stochastic_pwl(p, x0, n_switches, t, v, np.random.default_rng(seed), 10e3)


def test_stochastic_is_seeded_and_converges_to_the_mean_model() -> None:
    np.testing.assert_array_equal(_stochastic_runs(100, 7), _stochastic_runs(100, 7))
    assert not np.array_equal(_stochastic_runs(100, 7), _stochastic_runs(100, 8))
    p = params(C_LIKE)
    t = np.linspace(0.0, 20e-6, 201)
    mean = mss.integrate_pwl(p, 0.1, t, np.where(t < 10e-6, 0.45, 0.0), 10e3)[:, None]
    spread = {}
    for n in (30, 300, 3000):
        runs = _stochastic_runs(n, 1)
        spread[n] = float(np.sqrt(np.mean((runs - mean) ** 2)))
        # the ensemble mean follows the mean model (first-order time grid: 1e-2 slack)
        assert np.max(np.abs(runs.mean(axis=1) - mean[:, 0])) < 2e-2
    assert spread[30] > 2.5 * spread[300] > 2.5 * 2.5 * spread[3000]


@pytest.mark.parametrize("card", ["W", "Cr", "C"])
@pytest.mark.parametrize("v_src", [1.0, -1.0, 0.35], ids=["write", "erase", "weak"])
def test_flow_tables_match_the_integrator(card: str, v_src: float) -> None:
    """The tabulated series-resistor flow (private, behind pulse_train) vs apply_pulse."""
    from cosim.circuit import mss_maps as _mss_maps
    from cosim.circuit.devices import draw_variation, load_card

    c = load_card(card)
    n = 12
    p = mss.MSSArrays.from_params(c.model, draw_variation(c, n, 3)).broadcast_flat((n,))
    vs, rs = np.full(n, v_src), np.full(n, c.operation.r_series_ohm)
    flow = _mss_maps.build_flow(p, vs, rs)
    assert flow is not None
    x0 = np.linspace(0.02, 0.98, n)
    for width in (1e-6, 5e-6, 50e-6):
        want = mss.apply_pulse(p, x0, vs, width, rs, x_tol=1e-10)
        np.testing.assert_allclose(flow.advance(x0[:, None], width)[:, 0], want, atol=2e-5)
