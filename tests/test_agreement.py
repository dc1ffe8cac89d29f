"""The NumPy twin against ngspice + the compiled Verilog-A model (real libngspice, openvaf-r).

Both engines solve the circuit of ``cosim device`` (source → optional series R → device); the
twin is evaluated on ngspice's own accepted time points where point-wise agreement is checked.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from cosim.circuit import devices, mss
from cosim.cli import device as cmd

pytestmark = pytest.mark.spice


def demo_card_name() -> str:
    """The Knowm demo card (name contains 'knowm' or 'demo')."""
    names = [n for n in devices.known_cards() if "knowm" in n.lower() or "demo" in n.lower()]
    assert names, f"no Knowm demo card among {sorted(devices.known_cards())}"
    return sorted(names)[0]


def test_ideal_device_is_ohmic_in_both_engines() -> None:
    card = devices.load_card(demo_card_name())
    model = SimpleNamespace(**{n: getattr(card.model, n) for n in cmd._MODEL_NAMES})
    model.phi, model.tau = 1.0, 1e6
    ideal = SimpleNamespace(model=model, x0=0.3)
    src = cmd.Source("sine", 0.8, freq_Hz=1e3)
    g = 0.3 / model.r_on + 0.7 / model.r_off
    for traj in (
        cmd.run_ngspice(ideal, src, 2e-3, 0.3, 0.0),
        cmd.run_numpy(ideal, src, 2e-3, 0.3, 0.0),
    ):
        np.testing.assert_allclose(traj.i_A, traj.v_V * g, rtol=1e-6, atol=1e-12)
        np.testing.assert_allclose(traj.x, 0.3, atol=1e-6)


def test_knowm_demo_sine_loop_agrees() -> None:
    card = devices.load_card(demo_card_name())
    src = cmd.Source("sine", 0.5, freq_Hz=100.0)
    x0 = float(card.x0)
    ng = cmd.run_ngspice(card, src, 40e-3, x0, 0.0)
    tw = cmd.run_numpy(card, src, 40e-3, x0, 0.0, t_s=ng.time_s)
    peak = float(np.max(np.abs(ng.i_A)))
    err = np.abs(ng.i_A - tw.i_A) / peak
    assert err.max() < 0.01, f"worst at t={ng.time_s[err.argmax()]:.4g} s: {err.max():.3%}"
    # pinched: near V = 0 the current vanishes; the loop encloses area (hysteresis)
    near_zero = np.abs(tw.v_V) < 1e-3
    assert near_zero.any()
    assert np.max(np.abs(tw.i_A[near_zero])) < 0.01 * peak
    # area of the positive lobe over the last period (a closed path from 0 V to 0 V)
    last = (ng.time_s >= 30e-3) & (ng.time_s <= 35e-3)
    area = abs(float(np.trapezoid(ng.i_A[last], ng.v_V[last])))
    assert area > 0.01 * peak * 0.5, f"lobe area {area:.3g} V·A"


def _program_source(op: object, n_write: int, n_erase: int) -> cmd.Source:
    """Write pulses, reads, erase pulses, reads: the card's own operation values."""
    v_w, t_w = op.v_write_V, op.t_write_s  # type: ignore[attr-defined]
    v_e, t_e = op.v_erase_V, op.t_erase_s  # type: ignore[attr-defined]
    v_r, t_r = op.v_read_V, op.t_read_s  # type: ignore[attr-defined]
    edge = 10e-9
    t, v, now = [0.0], [0.0], 0.0

    def pulse(amp: float, width: float) -> None:
        nonlocal now
        t.extend([now + edge, now + width, now + width + edge, now + 2 * width])
        v.extend([amp, amp, 0.0, 0.0])
        now += 2 * width

    for amp, width, count in ((v_w, t_w, n_write), (v_r, t_r, 2), (v_e, t_e, n_erase)):
        for _ in range(count):
            pulse(amp, width)
    pulse(v_r, t_r)
    return cmd.Source.from_pwl(t, v)


@pytest.mark.parametrize("name", ["W", "Cr", "C"], ids=["W", "Cr", "C"])
def test_pulse_trains_through_series_resistor_agree(name: str) -> None:
    card = devices.load_card(name)
    op = card.operation
    src = _program_source(op, n_write=6, n_erase=4)
    t_stop = float(src.pwl()[0][-1])
    rs = float(op.r_series_ohm)
    ng = cmd.run_ngspice(card, src, t_stop, 0.05, rs)
    tw = cmd.run_numpy(card, src, t_stop, 0.05, rs)
    assert np.max(ng.x) - 0.05 > 0.05, "the write pulses should move the state"
    assert abs(ng.x[-1] - tw.x[-1]) < 0.005
    # and the twin's pulse helpers give the same write result as its PWL integration
    p = mss.MSSArrays.from_params(card.model)
    x_w = mss.pulse_train(p, 0.05, op.v_write_V, op.t_write_s, 6, t_gap_s=op.t_write_s,
                          r_series_ohm=rs)[-1]  # fmt: skip
    i_w = np.searchsorted(tw.time_s, 12 * op.t_write_s)
    assert abs(float(x_w) - ng.x[np.searchsorted(ng.time_s, 12 * op.t_write_s)]) < 0.005
    assert abs(float(x_w) - tw.x[i_w]) < 0.005
