"""The one-device float path :mod:`cosim.circuit.mss_scalar` against the vectorized twin
:mod:`cosim.circuit.mss` on random states, parameters, voltages and widths: the same
equations and the same integration steps, so equal to float rounding."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from cosim.circuit import mss, mss_scalar
from cosim.circuit.devices import load_card as device_card

CARDS = ("W", "Cr", "C")


def _random_linear(rng: np.random.Generator, n: int) -> mss.MSSArrays:
    """``n`` linear devices with parameters spread around the built-in cards'."""
    base = device_card(str(rng.choice(CARDS))).model
    spec = SimpleNamespace(**{f: getattr(base, f) for f in mss.MSSArrays.__dataclass_fields__})
    spec.phi = 1.0
    return mss.MSSArrays.from_params(
        spec,
        m_r_on=rng.uniform(0.5, 2.0, n),
        m_r_off=rng.uniform(0.5, 2.0, n),
        m_v_on=rng.uniform(0.7, 1.3, n),
        m_v_off=rng.uniform(0.7, 1.3, n),
        m_tau=rng.uniform(0.2, 5.0, n),
    ).broadcast_flat((n,))


@pytest.mark.parametrize("seed", range(4))
def test_pulse_equals_apply_pulse(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 200
    p = _random_linear(rng, n)
    x = rng.uniform(0.0, 1.0, n)
    x[:10] = [0.0, 1.0, 1e-9, 1 - 1e-9, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]
    v = rng.uniform(-1.6, 1.6, n) * rng.choice([1.0, 0.1, 0.0], n, p=[0.7, 0.2, 0.1])
    dt = 10 ** rng.uniform(-9, -3, n)
    dt[:3] = [0.0, 1e-12, 5e-3]
    rs = rng.uniform(0.0, 5e3, n)
    rs[:5] = 0.0
    want = mss.apply_pulse(p, x, v, dt, rs)
    got = np.array(
        [
            mss_scalar.pulse(mss_scalar.device(p, k), x[k], v[k], dt[k], rs[k])  # type: ignore[arg-type]
            for k in range(n)
        ]
    )
    assert np.any(np.abs(want - x) > 0.1)  # some pulses switch
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-13)


def test_rates_conductance_and_constant_update_equal_the_arrays() -> None:
    rng = np.random.default_rng(7)
    n = 300
    p = _random_linear(rng, n)
    x = rng.uniform(0.0, 1.0, n)
    v = rng.uniform(-2.0, 2.0, n)
    dt = 10 ** rng.uniform(-9, 0, n)
    a, b = mss.rates(p, v)
    g = mss.conductance(p, x)
    x1 = mss.step_constant(p, x, v, dt)
    for k in range(n):
        d = mss_scalar.device(p, k)
        assert d is not None
        ak, bk = mss_scalar.rates(d, float(v[k]))
        assert ak == pytest.approx(a[k], rel=1e-14, abs=0) and bk == pytest.approx(b[k], rel=1e-14)
        assert mss_scalar.conductance(d, float(x[k])) == g[k]  # no exp: the same floats
        got = mss_scalar.step_constant(d, float(x[k]), float(v[k]), float(dt[k]))
        assert got == pytest.approx(x1[k], rel=0, abs=1e-15)


def test_far_from_threshold_rates_underflow_like_expit() -> None:
    p = _random_linear(np.random.default_rng(1), 1)
    d = mss_scalar.device(p, 0)
    assert d is not None
    a, b = mss_scalar.rates(d, -1e3)  # e^(−z) overflows: the rate is 0, not an error
    a_np, b_np = mss.rates(p, -1e3)
    assert (a, b) == (float(a_np[0]), float(b_np[0])) and a == 0.0


def test_only_linear_devices_take_the_float_path() -> None:
    p = mss.MSSArrays.from_params(device_card("Cr").model).broadcast_flat((3,))
    assert mss_scalar.device(p, 1) is not None
    schottky = mss.MSSArrays(**{**p.__dict__, "phi": np.array([1.0, 0.9, 1.0])})
    assert mss_scalar.device(schottky, 1) is None
    with pytest.raises(mss.TwinError, match="pulse width"):
        mss_scalar.pulse(mss_scalar.device(p, 0), 0.5, 1.0, -1e-6, 0.0)  # type: ignore[arg-type]
