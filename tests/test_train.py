"""Tests of cosim.learn.train: training, mapping, non-idealities and the write-verify twin."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from cosim.circuit import mss, network
from cosim.errors import UsageError
from cosim.harness.contract import default_harness
from cosim.harness.policy import PulseScheme
from cosim.learn import data, datasets, train
from cosim.topology import Topology
from cosim.twin import program

G_MIN, G_MAX = 2.5e-6, 160e-6  # a Cr-like window (S)


@pytest.fixture(scope="module")
def split() -> tuple[data.Dataset, data.Dataset]:
    return data.split(data.make_dataset(), seed=0)


@pytest.fixture(scope="module")
def spec() -> network.CircuitSpec:
    return train.spec_for_card(G_MIN, G_MAX, 0.1, 10e3)


@pytest.fixture(scope="module")
def trained(spec: network.CircuitSpec, split: tuple[data.Dataset, data.Dataset]) -> dict:
    tr = split[0]
    cfg = train.TrainConfig(steps=800)
    return {
        level: train.train(spec, tr, G_MIN, G_MAX, dataclasses.replace(cfg, noise=level))
        for level in (0.0, 0.1)
    }


def test_training_is_deterministic(spec: network.CircuitSpec, split) -> None:
    cfg = train.TrainConfig(noise=0.1, steps=50, seed=5)
    a = train.train(spec, split[0], G_MIN, G_MAX, cfg)
    b = train.train(spec, split[0], G_MIN, G_MAX, cfg)
    c = train.train(spec, split[0], G_MIN, G_MAX, dataclasses.replace(cfg, seed=6))
    assert np.array_equal(a.w1, b.w1) and np.array_equal(a.w2, b.w2)
    assert not np.array_equal(a.w1, c.w1)


@pytest.mark.parametrize("level", [0.0, 0.1], ids=["clean", "noise10"])
def test_training_reaches_high_clean_accuracy(spec, split, trained, level: float) -> None:
    w = trained[level]
    tg = train.to_conductances(spec, w, G_MIN, G_MAX)
    assert tg.n_clipped == 0  # training keeps weights inside the window
    assert np.all((tg.g1_S >= G_MIN) & (tg.g1_S <= G_MAX))
    rng = np.random.default_rng(0)
    for part in split:
        acc = train.evaluate(spec, tg.g1_S, tg.g2_S, part, rng, mode="mean")
        assert acc >= 0.95


def test_noise_aware_training_helps_under_noise(spec, split, trained) -> None:
    ni = train.NonIdealities(g_error=0.1, input_noise=0.1)
    accs = {}
    for level, w in trained.items():
        tg = train.to_conductances(spec, w, G_MIN, G_MAX)
        rng = np.random.default_rng(42)
        accs[level] = train.evaluate(spec, tg.g1_S, tg.g2_S, split[1], rng, ni, n_trials=300)
    gain = accs[0.1].mean() - accs[0.0].mean()
    se = np.hypot(accs[0.1].std(ddof=1), accs[0.0].std(ddof=1)) / np.sqrt(300)
    assert gain > 3 * se  # a real effect, well outside the Monte Carlo error


def test_clipping_is_reported(spec) -> None:
    w = train.Weights(np.full((9, 3), 100.0), np.full((3, 1), -100.0))
    tg = train.to_conductances(spec, w, G_MIN, G_MAX)
    assert tg.n_clipped == 30
    assert np.all(tg.g1_S == G_MAX) and np.all(tg.g2_S == G_MIN)
    assert tg.max_clip_S > 0


def test_training_a_multi_output_topology(spec) -> None:
    """16→8→4 on the 4-class pattern task: arg-max classification, weights in the window."""
    topo = Topology((16, 8, 4))
    tr, te = datasets.train_test(topo)
    cfg = train.TrainConfig(steps=1500, t_loss_V=0.2, seed=0)
    w = train.train(spec, tr, G_MIN, G_MAX, cfg, topo)
    assert w.w1.shape == (16, 8) and w.w2.shape == (8, 4)
    tg = train.to_conductances(spec, w, G_MIN, G_MAX)
    assert tg.n_clipped == 0 and tg.g2_S.shape == (8, 4)
    rng = np.random.default_rng(0)
    acc_tr = float(train.evaluate(spec, tg.g1_S, tg.g2_S, tr, rng, mode="mean"))
    acc_te = float(train.evaluate(spec, tg.g1_S, tg.g2_S, te, rng, mode="mean"))
    assert acc_tr >= 0.9 and acc_te >= 0.6  # chance is about 0.25
    # the untrained start is near chance: training did the work
    w0 = train.train(spec, tr, G_MIN, G_MAX, dataclasses.replace(cfg, steps=0), topo)
    tg0 = train.to_conductances(spec, w0, G_MIN, G_MAX)
    assert float(train.evaluate(spec, tg0.g1_S, tg0.g2_S, tr, rng, mode="mean")) < 0.5
    # batched trials of a multi-output network
    accs = train.evaluate(
        spec, tg.g1_S, tg.g2_S, te, rng, train.NonIdealities(g_error=0.1), n_trials=7
    )
    assert accs.shape == (7,) and accs.std() > 0


def test_training_rejects_data_that_do_not_fit(spec, split) -> None:
    with pytest.raises(UsageError, match="9 inputs; topology 16,8,2 needs 16"):
        train.train(spec, split[0], G_MIN, G_MAX, train.TrainConfig(steps=1), Topology((16, 8, 2)))
    four = datasets.dataset_for(Topology((9, 3, 4)))
    with pytest.raises(UsageError, match="tells 2 classes apart"):
        train.train(spec, four, G_MIN, G_MAX, train.TrainConfig(steps=1))


def test_minibatch_training_is_seeded(spec) -> None:
    topo = Topology((16, 4, 2))
    tr, _ = datasets.train_test(topo)
    cfg = train.TrainConfig(steps=20, batch=32, noise=0.1, seed=3)
    a = train.train(spec, tr, G_MIN, G_MAX, cfg, topo)
    b = train.train(spec, tr, G_MIN, G_MAX, cfg, topo)
    c = train.train(spec, tr, G_MIN, G_MAX, dataclasses.replace(cfg, seed=4), topo)
    assert np.array_equal(a.w2, b.w2) and not np.array_equal(a.w2, c.w2)


@pytest.mark.parametrize("kind", ["uniform", "gaussian"], ids=["uniform", "gauss"])
def test_conductance_error_statistics(kind) -> None:
    g = np.full(100_000, 50e-6)
    out = train.perturb_conductances(g, 0.1, kind, np.random.default_rng(3))
    rel = out / g - 1
    sd = 0.1 / np.sqrt(3) if kind == "uniform" else 0.1
    assert rel.std() == pytest.approx(sd, rel=0.02)
    if kind == "uniform":
        assert np.abs(rel).max() <= 0.1


def test_evaluate_same_seed_same_result(spec, split, trained) -> None:
    tg = train.to_conductances(spec, trained[0.0], G_MIN, G_MAX)
    ni = train.NonIdealities(g_error=0.2, read_noise=0.05, input_noise=0.2)
    a = train.evaluate(spec, tg.g1_S, tg.g2_S, split[1], np.random.default_rng(9), ni, n_trials=20)
    b = train.evaluate(spec, tg.g1_S, tg.g2_S, split[1], np.random.default_rng(9), ni, n_trials=20)
    assert np.array_equal(a, b) and a.shape == (20,)
    assert a.std() > 0  # the noise really acts


# ------------------------------------------------------------------ write-verify twin
class _Card:
    r_on, r_off, v_on, v_off, tau, t_eff = 5e3, 800e3, 0.30, 0.155, 20e-6, 85.0
    phi, alpha_f, alpha_r, beta_f, beta_r = 1.0, 0.0, 0.0, 0.0, 0.0


def _scheme(**kw) -> PulseScheme:
    base = dict(
        v_write_V=0.45, t_write_s=1e-6, v_erase_V=-0.35, t_erase_s=1e-6,
        v_reset_V=-1.0, t_reset_s=50e-6, v_read_V=0.1, t_read_s=5e-6, t_read_sample_s=3e-6,
        t_gap_s=2e-6, reset_enabled=True, tolerance_codes=8, max_pulses=60,
    )  # fmt: skip
    return PulseScheme(**{**base, **kw})


def _setup(**kw) -> program.ProgramSetup:
    return program.ProgramSetup.create(_scheme(**kw), default_harness(), 10.1e3, 10e3)


def _params(n: int) -> mss.MSSArrays:
    rng = np.random.default_rng(7)
    return mss.MSSArrays.from_params(
        _Card(), m_tau=np.exp(0.3 * rng.standard_normal(n)), m_v_on=1 + 0.05 * rng.normal(size=n)
    )


def test_tables_match_direct_integration() -> None:
    setup = _setup()
    p = _params(4)
    tab = program.build_tables(p, setup)
    t = setup.timing()
    x = np.array([0.03, 0.31, 0.62, 0.97])
    direct = mss.apply_pulse(p, x, 0.0, t["t_setup_s"], setup.r_path_ohm)
    direct = mss.apply_pulse(p, direct, t["v_write_V"], t["t_write_s"], setup.r_path_ohm)
    direct = mss.apply_pulse(p, direct, 0.0, t["t_after_s"], setup.r_path_ohm)
    rows = np.arange(4)
    i = np.minimum((x * (tab.n_grid - 1)).astype(int), tab.n_grid - 2)
    f = x * (tab.n_grid - 1) - i
    via = x + tab.inc["write"][rows, i] * (1 - f) + tab.inc["write"][rows, i + 1] * f
    assert np.max(np.abs(via - direct)) < 1e-4
    assert np.max(direct - x) > 0.01  # the write really moves the state


def test_timing_follows_controller_register_rules() -> None:
    setup = _setup(t_read_s=2e-6, t_read_sample_s=1e-6, t_gap_s=3e-6)
    t = setup.timing()
    # after a pulse: select hold (register map) + gap, all in clock cycles
    assert t["t_after_s"] == pytest.approx((setup.sel_hold_cyc + 3) * 1e-6)
    assert t["t_setup_s"] == pytest.approx(setup.sel_setup_cyc * 1e-6)
    assert t["t_read_s"] == pytest.approx(2e-6)
    assert t["t_sample_s"] == pytest.approx(1e-6)
    assert t["v_write_V"] == pytest.approx(0.45, abs=2.5 / 2048)


def test_step_wait_enters_timing_and_read_step() -> None:
    """REG_STEP_WAIT: the twin's timing has the wait and the read step spends it at 0 V."""
    assert _setup().timing()["t_step_wait_s"] == 0.0
    setup = _setup(t_step_wait_s=70e-3)  # > 65535 cycles: both wait registers
    t = setup.timing()
    assert t["t_step_wait_s"] == pytest.approx(70e-3, rel=1e-12)
    # a leaky card (low v_off) so that 70 ms at 0 V visibly relaxes the state
    leaky = type("Leaky", (_Card,), {"v_off": 0.06})
    p = mss.MSSArrays.from_params(leaky(), m_tau=np.ones(2))
    tab = program.build_tables(p, setup)
    x = np.array([0.4, 0.9])
    direct = mss.apply_pulse(p, x, 0.0, t["t_setup_s"], setup.r_path_ohm)
    direct = mss.apply_pulse(p, direct, t["v_read_V"], t["t_read_s"], setup.r_path_ohm)
    no_wait = mss.apply_pulse(p, direct, 0.0, t["t_after_s"], setup.r_path_ohm)
    direct = mss.apply_pulse(p, no_wait, 0.0, t["t_step_wait_s"], setup.r_path_ohm)
    i = np.minimum((x * (tab.n_grid - 1)).astype(int), tab.n_grid - 2)
    f = x * (tab.n_grid - 1) - i
    rows = np.arange(2)
    via = x + tab.inc["read"][rows, i] * (1 - f) + tab.inc["read"][rows, i + 1] * f
    assert np.max(np.abs(via - direct)) < 1e-4
    assert np.max(np.abs(direct - no_wait)) > 1e-3  # the wait really is in the read step


def _window_per_docs(target: int, tol: int, shift: int) -> int:
    """The verify window as docs/controller.md states it (REG_TOL, REG_TOL_SHIFT), written out
    here rather than calling ``policy.verify_window``, which the twin itself calls."""
    return max(tol, target >> shift) if shift else tol


def _reference_program(p_one: mss.MSSArrays, setup, x0: float, target: int) -> tuple[int, float]:
    """Independent per-device loop with direct integration (test oracle).

    Adaptive schemes: a write/erase whose direction differs from the previous one halves both
    widths (whole clock cycles, rounded down, at least ``t_min_pulse_s`` = 1 clock here).
    The verify window is the documented rule (:func:`_window_per_docs`).
    """
    t, s, rp = setup.timing(), setup.scheme, setup.r_path_ohm
    win = _window_per_docs(target, s.tolerance_codes, s.tolerance_shift)
    t_clk = setup.harness.clk_period_s
    w_cyc = round(t["t_write_s"] / t_clk)
    e_cyc = round(t["t_erase_s"] / t_clk)
    n_rev, last = 0, None

    def pulse(x: float, v: float, w: float) -> float:
        x = float(mss.apply_pulse(p_one, x, 0.0, t["t_setup_s"], rp))
        x = float(mss.apply_pulse(p_one, x, v, w, rp))
        return float(mss.apply_pulse(p_one, x, 0.0, t["t_after_s"], rp))

    x = pulse(x0, t["v_reset_V"], t["t_reset_s"]) if s.reset_enabled else x0
    n = 0
    while True:
        x = float(mss.apply_pulse(p_one, x, 0.0, t["t_setup_s"], rp))
        x = float(mss.apply_pulse(p_one, x, t["v_read_V"], t["t_sample_s"], rp))
        code = int(setup.sense_codes(mss.read_current(p_one, x, t["v_read_V"], rp)))
        x = float(mss.apply_pulse(p_one, x, t["v_read_V"], t["t_read_s"] - t["t_sample_s"], rp))
        x = float(mss.apply_pulse(p_one, x, 0.0, t["t_after_s"], rp))
        if abs(code - target) <= win or n >= s.max_pulses:
            return n, float(mss.conductance(p_one, x))
        low = code + win < target
        if s.adaptive and last is not None and low != last:
            n_rev += 1
        last = low
        shift = n_rev if s.adaptive else 0
        x = (
            pulse(x, t["v_write_V"], max(w_cyc >> shift, 1) * t_clk)
            if low
            else pulse(x, t["v_erase_V"], max(e_cyc >> shift, 1) * t_clk)
        )
        n += 1


@pytest.mark.parametrize("shift", [0, 4], ids=["abs", "rel4"])
@pytest.mark.parametrize("reset", [True, False], ids=["reset", "noreset"])
def test_write_verify_matches_direct_loop(reset: bool, shift: int) -> None:
    setup = _setup(reset_enabled=reset, tolerance_shift=shift)
    n = 6
    p = _params(n).broadcast_flat((n,))
    tab = program.build_tables(p, setup)
    g_t = np.linspace(20e-6, 120e-6, n)
    tc = setup.target_codes(g_t)
    x0 = np.linspace(0.1, 0.9, n)
    out = program.write_verify(tab, np.arange(n), x0, tc)
    for k in range(n):
        pk = mss.MSSArrays(**{f: v[k] for f, v in vars(p).items()})
        n_ref, g_ref = _reference_program(pk, setup, float(x0[k]), int(tc[k]))
        assert abs(int(out.pulses[k]) - n_ref) <= 1
        assert out.g_S[k] == pytest.approx(g_ref, rel=0.01)
    assert np.all(out.ok | out.failed) and not np.any(out.ok & out.failed)
    ok = out.ok
    sch = setup.scheme
    win = np.array([_window_per_docs(int(c), sch.tolerance_codes, sch.tolerance_shift) for c in tc])
    assert np.all(np.abs(out.codes[ok] - tc[ok]) <= win[ok])
    if shift:  # the relative window is wider than the floor at these targets
        assert np.all(win > sch.tolerance_codes)


def test_write_verify_flags_failure_after_exactly_max_pulses() -> None:
    setup = _setup(max_pulses=5, tolerance_codes=0)
    p = _params(3)
    tab = program.build_tables(p, setup)
    unreachable = np.full(3, 4095)  # above the window: cannot be reached
    out = program.write_verify(tab, np.arange(3), 0.2, unreachable)
    assert np.all(out.failed) and np.all(out.pulses == 5)


def test_write_verify_c2c_noise_is_seeded() -> None:
    setup = _setup()
    tab = program.build_tables(_params(5), setup)
    rows = np.tile(np.arange(5), (50, 1))
    tc = setup.target_codes(np.full(5, 60e-6))
    kw = dict(n_switches=30)
    a = program.write_verify(tab, rows, 0.5, tc, rng=np.random.default_rng(1), **kw)
    b = program.write_verify(tab, rows, 0.5, tc, rng=np.random.default_rng(1), **kw)
    c = program.write_verify(tab, rows, 0.5, tc, rng=np.random.default_rng(2), **kw)
    assert np.array_equal(a.pulses, b.pulses) and np.array_equal(a.x, b.x)
    assert not np.array_equal(a.x, c.x)
    assert np.unique(a.pulses[:, 0]).size > 1  # C2C noise changes the pulse counts


def test_width_levels_follow_the_halving_rule() -> None:
    fixed = _setup(t_write_s=8e-6, t_erase_s=6e-6)
    assert np.allclose(fixed.width_levels(), [(8e-6, 6e-6)], rtol=1e-9, atol=0)
    setup = _setup(t_write_s=8e-6, t_erase_s=6e-6, adaptive=True, t_min_pulse_s=1e-6)
    # write 8 -> 4 -> 2 -> 1, erase 6 -> 3 -> 1 (3 // 2) -> 1: fixed point after 3 reversals
    want = [(8e-6, 6e-6), (4e-6, 3e-6), (2e-6, 1e-6), (1e-6, 1e-6)]
    assert np.allclose(setup.width_levels(), want, rtol=1e-9, atol=0)
    floor2 = _setup(t_write_s=8e-6, t_erase_s=6e-6, adaptive=True, t_min_pulse_s=2e-6)
    want2 = [(8e-6, 6e-6), (4e-6, 3e-6), (2e-6, 2e-6)]
    assert np.allclose(floor2.width_levels(), want2, rtol=1e-9, atol=0)
    tab = program.build_tables(_params(2), setup)
    assert tab.n_levels == 4 and "erase@3" in tab.inc and "write@4" not in tab.inc


# Long pulses (8 clock cycles) move a device by more than the verify window near the targets.
_PING_PONG = dict(t_write_s=8e-6, t_erase_s=8e-6, max_pulses=200, t_min_pulse_s=1e-6)


@pytest.mark.parametrize("reset", [True, False], ids=["reset", "noreset"])
def test_adaptive_write_verify_matches_direct_loop(reset: bool) -> None:
    setup = _setup(reset_enabled=reset, adaptive=True, **_PING_PONG)
    n = 6
    p = _params(n).broadcast_flat((n,))
    tab = program.build_tables(p, setup)
    tc = setup.target_codes(np.linspace(20e-6, 80e-6, n))
    x0 = np.linspace(0.2, 0.8, n)
    out = program.write_verify(tab, np.arange(n), x0, tc)
    for k in range(n):
        pk = mss.MSSArrays(**{f: v[k] for f, v in vars(p).items()})
        n_ref, g_ref = _reference_program(pk, setup, float(x0[k]), int(tc[k]))
        assert abs(int(out.pulses[k]) - n_ref) <= 1
        assert out.g_S[k] == pytest.approx(g_ref, rel=0.01)
    assert np.all(out.ok | out.failed) and out.ok.sum() >= n - 2


def test_adaptive_widths_stop_ping_pong() -> None:
    n = 12
    p = _params(n).broadcast_flat((n,))
    g_t = np.linspace(20e-6, 80e-6, n)
    out = {}
    for adaptive in (False, True):
        setup = _setup(adaptive=adaptive, **_PING_PONG)
        tab = program.build_tables(p, setup)
        out[adaptive] = program.write_verify(tab, np.arange(n), 0.5, setup.target_codes(g_t))
    fixed, adapt = out[False], out[True]
    assert fixed.failed.sum() >= 3  # fixed widths overshoot both ways until max_pulses
    assert np.all(fixed.pulses[fixed.failed] == 200)
    assert np.all(adapt.ok) and not np.any(adapt.failed)  # the same targets are reachable
    assert adapt.pulses.sum() < fixed.pulses.sum()
    # devices that never reverse direction see identical widths in both modes
    same = fixed.ok & (adapt.pulses == fixed.pulses)
    assert np.array_equal(adapt.x[same], fixed.x[same]) and same.any()
