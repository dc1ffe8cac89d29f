"""cocotb unit bench of the crossbar controller (toplevel ``xbar_top``).

The analog side is :class:`cosim.bench.monitors.StepDevices` (conductance moves a fixed step per
pulse), so these tests check the control logic only.  Every converter parameter is read from
the DUT; every register number from ``hdl/xbar_regs.vh``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import cocotb
import numpy as np
from cocotb.triggers import RisingEdge, Timer, with_timeout

from cosim.bench.host import XbarHost
from cosim.bench.monitors import ProtocolViolation, StepDevices, monitor_one_hot_sel, monitor_pulses
from cosim.bench.watch import flush_all
from cosim.harness.converters import (
    HarnessParams,
    conductance_to_sense_code,
    sense_code_to_conductance,
)
from cosim.harness.policy import PulseScheme, PulseWidths, verify_window
from cosim.harness.regmap import load_register_map
from cosim.topology import DEFAULT

REGS = load_register_map()
#: The bench runs the harness with its default parameters (the paper's 9,3,1 network).
N_DEV = DEFAULT.n_dev
R_SENSE_OHM = 10e3
R_PATH_OHM = 10.1e3
V_READ_V = 0.1
G_MIN_S, G_MAX_S, DG_S = 10e-6, 100e-6, 2e-6
G_RESET_S = G_MIN_S


def scheme(params: Any, *, reset: bool, tol: int, max_pulses: int) -> PulseScheme:
    """A short pulse scheme (few clock cycles per pulse) in physical units."""
    t = params.clk_period_s
    return PulseScheme(
        v_write_V=1.0,
        t_write_s=5 * t,
        v_erase_V=-1.5,
        t_erase_s=7 * t,
        v_reset_V=-2.0,
        t_reset_s=11 * t,
        v_read_V=V_READ_V,
        t_read_s=4 * t,
        t_read_sample_s=2 * t,
        t_gap_s=3 * t,
        reset_enabled=reset,
        tolerance_codes=tol,
        max_pulses=max_pulses,
    )


def code_of(g_S: float, p: HarnessParams) -> int:
    """Sense code of a read at the read level the pulse DAC really produces."""
    v_read_V = p.pulse_dac.code_to_volts(p.pulse_dac.volts_to_code(V_READ_V))
    return conductance_to_sense_code(
        g_S, v_read_V=v_read_V, r_sense_ohm=R_SENSE_OHM, adc=p.sense_adc, r_path_ohm=R_PATH_OHM
    )


def tolerance_for_step(p: HarnessParams) -> int:
    """Smallest window half-width that one conductance step cannot jump over."""
    g = np.arange(G_MIN_S, G_MAX_S, DG_S)
    steps = [code_of(b, p) - code_of(a, p) for a, b in zip(g[:-1], g[1:], strict=True)]
    return math.ceil(max(steps) / 2) + 1


def devices(g0_S: Any, *, dg_S: float = DG_S, per_cycle: bool = False) -> StepDevices:
    return StepDevices(
        g0_S,
        dg_S=dg_S,
        per_cycle=per_cycle,
        g_min_S=G_MIN_S,
        g_max_S=G_MAX_S,
        g_reset_S=G_RESET_S,
        r_sense_ohm=R_SENSE_OHM,
        r_path_ohm=R_PATH_OHM,
    )


async def setup(dut: Any) -> XbarHost:
    host = XbarHost(dut)
    await host.reset()
    return host


@cocotb.test()
async def test_register_roundtrip(dut: Any) -> None:
    """Config registers read back what was written; harness parameters are readable."""
    host = await setup(dut)
    p = host.params
    assert p.clk_period_s > 0 and p.pulse_dac.signed and p.sense_adc.conv_s >= p.clk_period_s
    await host.write("REG_TOL", 0x1234)
    last = N_DEV - 1
    await host.write("REG_DEV_IDX", last - 1)
    await host.write("REG_DEV_TARGET", 0x0123)  # increments DEV_IDX
    await host.write("REG_DEV_TARGET", 0x0ABC)
    await host.write("REG_DEV_IDX", last)
    await host.write("REG_DEV_MASK", 1)
    await host.write("REG_IN_IDX", DEFAULT.n_in - 1)
    await host.write("REG_IN_CODE", 0x0123)
    await host.write("REG_ADAPT", 0xFFFF)
    await host.write("REG_MIN_CYC", 0x0203)
    await host.write("REG_TOL_SHIFT", 0xFFF5)  # 4-bit register: upper bits dropped
    assert await host.read("REG_TOL") == 0x1234
    assert await host.read("REG_TOL_SHIFT") == 0x5
    assert await host.read("REG_DEV_IDX") == last
    assert await host.read("REG_DEV_TARGET") == 0x0ABC
    assert await host.read("REG_DEV_MASK") == 1
    await host.write("REG_DEV_IDX", last - 1)
    assert await host.read("REG_DEV_TARGET") == 0x0123
    assert await host.read("REG_DEV_MASK") == 0
    await host.write("REG_IN_IDX", DEFAULT.n_in - 1)
    assert await host.read("REG_IN_CODE") == 0x0123
    shape = [await host.read(f"REG_N_{n}") for n in ("IN", "HID", "OUT", "DEV")]
    assert shape == [*DEFAULT.widths, N_DEV]
    assert await host.read("REG_ADAPT") == 1 << REGS["ADAPT_EN"]
    assert await host.read("REG_MIN_CYC") == 0x0203
    status = await host.read("REG_STATUS")
    assert status == 0, f"idle after reset, got status {status:#x}"


@cocotb.test()
@cocotb.parametrize(reset=[False, True])
async def test_program_converges(dut: Any, reset: bool) -> None:
    """All devices reach their window; pulses, codes and protocol match the model."""
    host = await setup(dut)
    p = host.params
    tol = tolerance_for_step(p)
    await host.configure(scheme(p, reset=reset, tol=tol, max_pulses=200))
    rng = np.random.default_rng(7)
    model = devices(rng.uniform(G_MIN_S, G_MAX_S, N_DEV))
    g_target = rng.uniform(20e-6, 80e-6, N_DEV)
    targets = {k: code_of(g, p) for k, g in enumerate(g_target)}
    cocotb.start_soon(model.run(dut))
    cocotb.start_soon(monitor_one_hot_sel(dut))
    cocotb.start_soon(monitor_pulses(dut, host.widths_cycles))
    res = await host.program(targets, timeout_s=0.5)
    flush_all()  # the monitors check the changes of the last poll interval

    assert res.n_failed == 0 and all(res.ok) and not any(res.failed)
    for k in range(N_DEV):
        final = code_of(model.g_S[k], p)
        assert abs(final - targets[k]) <= tol, (k, final, targets[k])
        assert res.codes[k] == final, (k, res.codes[k], final)
        n_prog = model.pulses_of(k, REGS["PHASE_WRITE"]) + model.pulses_of(k, REGS["PHASE_ERASE"])
        assert res.pulses[k] == n_prog, (k, res.pulses[k], n_prog)
        assert model.pulses_of(k, REGS["PHASE_READ"]) == n_prog + 1
        assert model.pulses_of(k, REGS["PHASE_RESET"]) == (1 if reset else 0)
    first = {}
    for dev, phase, *_ in model.log:
        first.setdefault(dev, phase)
    assert set(first.values()) == {REGS["PHASE_RESET"] if reset else REGS["PHASE_READ"]}
    assert sorted(first) == list(first), "devices must be programmed in index order"
    assert int(dut.busy.value) == 0 and int(dut.phase.value) == 0 and int(dut.sel.value) == 0


@cocotb.test()
async def test_unreachable_target_fails_after_max_pulses(dut: Any) -> None:
    """A device whose target lies beyond g_max is flagged failed after exactly max pulses."""
    host = await setup(dut)
    p = host.params
    tol, max_pulses = tolerance_for_step(p), 6
    await host.configure(scheme(p, reset=False, tol=tol, max_pulses=max_pulses))
    model = devices([G_MAX_S - 3 * DG_S] * N_DEV)
    unreachable = code_of(G_MAX_S, p) + 3 * tol
    reachable = code_of(G_MAX_S - 5 * DG_S, p)
    targets = {3: unreachable, 4: reachable, 27: unreachable}
    cocotb.start_soon(model.run(dut))
    cocotb.start_soon(monitor_pulses(dut, host.widths_cycles))
    res = await host.program(targets, timeout_s=0.1)
    flush_all()  # the monitors check the changes of the last poll interval

    assert res.n_failed == 2
    for k in (3, 27):
        assert res.failed[k] and not res.ok[k]
        assert res.pulses[k] == max_pulses
        assert model.pulses_of(k, REGS["PHASE_WRITE"]) == max_pulses
        assert model.pulses_of(k, REGS["PHASE_READ"]) == max_pulses + 1
    assert res.ok[4] and not res.failed[4]
    assert model.pulses_of(4, REGS["PHASE_ERASE"]) == res.pulses[4] > 0
    untouched = set(range(N_DEV)) - set(targets)
    assert not any(model.pulses_of(k, p) for k in untouched for p in range(1, 5))
    assert not any(res.ok[k] or res.failed[k] for k in untouched)


@cocotb.test()
async def test_monitor_catches_two_hot_sel(dut: Any) -> None:
    """Depositing two select lines into the controller's sel register makes the monitor raise."""
    await setup(dut)

    async def force_later() -> None:
        await Timer(5, unit="us")
        dut.u_ctrl.sel.value = 0b101  # deposit on the controller's register

    cocotb.start_soon(force_later())
    caught = None
    try:
        await with_timeout(monitor_one_hot_sel(dut), 500, "us")
    except ProtocolViolation as exc:
        caught = exc
    assert caught is not None and "more than one device" in str(caught)


@cocotb.test()
async def test_monitor_catches_wrong_width(dut: Any) -> None:
    """The pulse monitor raises when the write pulse is one clock longer than expected."""
    host = await setup(dut)
    p = host.params
    await host.configure(scheme(p, reset=False, tol=2, max_pulses=5))
    model = devices([G_MIN_S] * N_DEV)
    cocotb.start_soon(model.run(dut))
    wrong = dict(host.widths_cycles)
    wrong[REGS["PHASE_WRITE"]] -= 1
    cocotb.start_soon(host.program({0: code_of(50e-6, p)}, timeout_s=0.01))
    caught = None
    try:
        await with_timeout(monitor_pulses(dut, wrong), 1, "ms")
    except ProtocolViolation as exc:
        caught = exc
    assert caught is not None and f"phase-{REGS['PHASE_WRITE']} pulse lasted" in str(caught)


@cocotb.test()
async def test_inference(dut: Any) -> None:
    """Inference drives the input DACs, samples the 4 neuron ADCs once and reports the class."""
    host = await setup(dut)
    p = host.params
    adc = p.neuron_adc
    rng = np.random.default_rng(11)
    cocotb.start_soon(monitor_pulses(dut, {}))
    thr = adc.quantize(0.5 * adc.fs_V)
    seen: list[dict[str, Any]] = []

    async def watch_sample() -> None:
        while True:
            await RisingEdge(dut.adc_sample)
            seen.append(
                {
                    "infer_en": int(dut.infer_en.value),
                    "v_in": [float(dut.g_in[i].v.value) for i in range(DEFAULT.n_in)],
                }
            )

    cocotb.start_soon(watch_sample())
    _, hi = p.in_dac.code_range
    # h0 below zero and h2 above full scale exercise the clipping
    for v_out in (0.75 * adc.fs_V, 0.25 * adc.fs_V):
        v_h = [-0.05, float(rng.uniform(0, adc.fs_V)), 1.2 * adc.fs_V]
        for n, v in enumerate((*v_h, v_out)):
            dut.g_nrn[n].v.value = v
        codes = [int(c) for c in rng.integers(0, hi + 1, DEFAULT.n_in)]
        res = await host.infer(codes, settle_s=3 * p.clk_period_s, class_threshold=thr)
        flush_all()  # the monitors check the changes of the last poll interval
        assert res.h_codes == tuple(adc.quantize(v) for v in v_h)
        assert res.h_codes[0] == 0 and res.h_codes[2] == 2**adc.bits - 1
        assert res.out_codes == (adc.quantize(v_out),)
        assert res.class_index == int(res.out_codes[0] >= thr)
        assert seen[-1]["infer_en"] == 1
        want = [p.in_dac.code_to_volts(c) for c in codes]
        pairs = zip(seen[-1]["v_in"], want, strict=True)
        assert all(math.isclose(a, b, rel_tol=1e-12) for a, b in pairs)
        assert int(dut.infer_en.value) == 0 and int(dut.busy.value) == 0
        assert [float(dut.g_in[i].v.value) for i in range(DEFAULT.n_in)] == [0.0] * DEFAULT.n_in
    assert len(seen) == 2


# ------------------------------------------------------------------ adaptive write-verify
#: Ping-pong case: the conductance moves DG_CYC_S per clock cycle of pulse width, write and
#: erase are W_CYC cycles long, so one pulse moves W_CYC·DG_CYC_S, several times the window.
DG_CYC_S, W_CYC, G0_S = 1e-6, 8, 10e-6
#: Targets between the points G0 + n·W_CYC·DG_CYC_S that fixed widths can reach.
PING_PONG_TARGETS_S = {0: 55e-6, 13: 61e-6, 29: 43e-6}


def adaptive_scheme(p: HarnessParams, *, adaptive: bool, tol: int, max_pulses: int) -> PulseScheme:
    t = p.clk_period_s
    base = scheme(p, reset=False, tol=tol, max_pulses=max_pulses)
    return dataclasses.replace(
        base, t_write_s=W_CYC * t, t_erase_s=W_CYC * t, adaptive=adaptive, t_min_pulse_s=t
    )


def ping_pong_tolerance(p: HarnessParams) -> int:
    """A window narrower than one clock cycle's worth of conductance change at every target."""
    gaps = [code_of(g + DG_CYC_S, p) - code_of(g, p) for g in PING_PONG_TARGETS_S.values()]
    tol = min(gaps) // 3
    assert tol >= 1, gaps
    return tol


@cocotb.test()
@cocotb.parametrize(adaptive=[False, True])
async def test_adaptive_widths_stop_ping_pong(dut: Any, adaptive: bool) -> None:
    """Fixed widths overshoot both ways until max pulses; halving on reversal converges."""
    host = await setup(dut)
    p = host.params
    tol, max_pulses = ping_pong_tolerance(p), 30
    await host.configure(adaptive_scheme(p, adaptive=adaptive, tol=tol, max_pulses=max_pulses))
    model = devices([G0_S] * N_DEV, dg_S=DG_CYC_S, per_cycle=True)
    targets = {k: code_of(g, p) for k, g in PING_PONG_TARGETS_S.items()}
    cocotb.start_soon(model.run(dut))
    cocotb.start_soon(monitor_one_hot_sel(dut))
    cocotb.start_soon(monitor_pulses(dut, host.widths_cycles))
    res = await host.program(targets, timeout_s=0.1)
    flush_all()  # the monitors check the changes of the last poll interval

    wr, er = REGS["PHASE_WRITE"], REGS["PHASE_ERASE"]
    for k in targets:
        seen = model.program_pulses(k, p.clk_period_s)
        assert res.pulses[k] == len(seen)
        if not adaptive:
            assert res.failed[k] and not res.ok[k] and res.pulses[k] == max_pulses
            assert {w for _, w in seen} == {W_CYC}
            assert {ph for ph, _ in seen} == {wr, er}, "fixed widths must ping-pong"
            continue
        assert res.ok[k] and not res.failed[k], (k, seen)
        assert abs(code_of(model.g_S[k], p) - targets[k]) <= tol
        # widths are exactly the halved sequence: W_CYC >> (reversals so far), at least 1 cycle
        n_rev, want = 0, []
        for i, (ph, _) in enumerate(seen):
            n_rev += i > 0 and ph != seen[i - 1][0]
            want.append(max(W_CYC >> n_rev, 1))
        assert [w for _, w in seen] == want, (k, seen)
        assert n_rev >= 2 and res.pulses[k] < max_pulses
    assert min(w for k in targets for _, w in model.program_pulses(k, p.clk_period_s)) == (
        1 if adaptive else W_CYC
    )
    assert res.n_failed == (0 if adaptive else len(targets))


@cocotb.test()
@cocotb.parametrize(expect=["fixed", "min2"])
async def test_monitor_catches_wrong_adaptive_width(dut: Any, expect: str) -> None:
    """With adaptation on, a monitor expecting fixed widths or a wrong minimum raises."""
    host = await setup(dut)
    p = host.params
    tol = ping_pong_tolerance(p)
    await host.configure(adaptive_scheme(p, adaptive=True, tol=tol, max_pulses=30))
    assert host.widths_cycles.adaptive_min_cycles == 1
    model = devices([G0_S] * N_DEV, dg_S=DG_CYC_S, per_cycle=True)
    cocotb.start_soon(model.run(dut))
    wrong = PulseWidths(host.widths_cycles, None if expect == "fixed" else 2)
    cocotb.start_soon(host.program({0: code_of(PING_PONG_TARGETS_S[0], p)}, timeout_s=0.01))
    caught = None
    try:
        await with_timeout(monitor_pulses(dut, wrong), 2, "ms")
    except ProtocolViolation as exc:
        caught = exc
    assert caught is not None and f"phase-{REGS['PHASE_ERASE']} pulse lasted" in str(caught)
    want_ps = (W_CYC if expect == "fixed" else 2) * p.clk_period_s * 1e12
    assert f"want {want_ps:.0f} ps" in str(caught), str(caught)


# ------------------------------------------------------------------ host/MCU step latency
class _Recorder:
    """Phase changes while busy, and ``start``/``done`` rise times, of every run."""

    def __init__(self) -> None:
        self.phases: list[tuple[float, int]] = []
        self.starts: list[float] = []
        self.dones: list[float] = []

    async def run(self, dut: Any) -> None:
        from cocotb.triggers import First, ValueChange

        prev = (0, 0)
        while True:
            await First(ValueChange(dut.phase), RisingEdge(dut.start), RisingEdge(dut.done))
            t = float(cocotb.utils.get_sim_time(unit="ps"))
            now = (int(dut.start.value), int(dut.done.value))
            if now[0] and not prev[0]:
                self.starts.append(t)
            if now[1] and not prev[1]:
                self.dones.append(t)
            prev = now
            if int(dut.busy.value) or now[0]:
                self.phases.append((t, int(dut.phase.value)))

    def idle_ps(self, run: int, idle: int) -> float:
        """Time in phase ``idle`` between start and done of run number ``run``."""
        t0, t1 = self.starts[run], self.dones[run]
        pts = [(t, ph) for t, ph in self.phases if t0 <= t < t1]
        ends = [t for t, _ in pts[1:]] + [t1]
        return sum(b - a for (a, ph), b in zip(pts, ends, strict=True) if ph == idle)


@cocotb.test()
@cocotb.parametrize(wait_cyc=[37, 65536 + 5])
async def test_step_wait_after_every_read(dut: Any, wait_cyc: int) -> None:
    """REG_STEP_WAIT(_HI): exactly ``wait_cyc`` idle cycles after every verify read.

    The same devices are programmed twice, without and with the wait: the decisions and
    pulses are identical, every pulse that follows a read starts exactly ``wait_cyc`` clocks
    later than without the wait, the programming time grows by reads × wait, and all of the
    added time is phase idle.  ``65536 + 5`` needs the high register.
    """
    host = await setup(dut)
    p = host.params
    period_ps = round(float(dut.CLK_PERIOD_NS.value) * 1e3)  # whole ps: exact comparisons
    rng = np.random.default_rng(3)
    g0 = rng.uniform(G_MIN_S, G_MAX_S, N_DEV)
    if wait_cyc < 1000:
        g_t = rng.uniform(20e-6, 80e-6, N_DEV)
    else:  # ~66 ms per read: two devices a few steps from their targets
        g_t = g0[:2] + np.array([3.4, -2.6]) * DG_S
    targets = {k: code_of(g, p) for k, g in enumerate(g_t)}
    base = scheme(p, reset=False, tol=tolerance_for_step(p), max_pulses=200)
    model, rec = devices(g0), _Recorder()
    await host.configure(base)
    cocotb.start_soon(model.run(dut))
    cocotb.start_soon(rec.run(dut))
    cocotb.start_soon(monitor_one_hot_sel(dut))
    cocotb.start_soon(monitor_pulses(dut, host.widths_cycles))
    logs = []
    for w in (0, wait_cyc):
        values = await host.configure(dataclasses.replace(base, t_step_wait_s=w * p.clk_period_s))
        assert values["REG_STEP_WAIT"] | values["REG_STEP_WAIT_HI"] << 16 == w
        model.g_S, model.log = [float(g) for g in g0], []
        res = await host.program(targets, timeout_s=2.0)
        flush_all()  # the monitors check the changes of the last poll interval
        assert res.n_failed == 0 and all(res.ok[k] for k in targets)
        logs.append(model.log)
    assert len(rec.starts) == len(rec.dones) == 2
    log0, log1 = logs
    assert [e[:3] for e in log0] == [e[:3] for e in log1], "decisions must not change"
    rd = REGS["PHASE_READ"]
    reads = sum(1 for e in log1 if e[1] == rd)
    assert reads > len(targets)
    # each pulse after a read (next step of the device or the next device) starts wait later
    shift = 0
    for i in range(1, len(log1)):
        shift += wait_cyc * period_ps if log1[i - 1][1] == rd else 0
        got = (log1[i][3] - rec.starts[1]) - (log0[i][3] - rec.starts[0])
        assert got == shift, (i, got, shift)
    t_prog = [d - s for s, d in zip(rec.starts, rec.dones, strict=True)]
    assert t_prog[1] - t_prog[0] == reads * wait_cyc * period_ps
    idle = REGS["PHASE_IDLE"]
    assert rec.idle_ps(1, idle) - rec.idle_ps(0, idle) == reads * wait_cyc * period_ps
    assert await host.read("REG_STEP_WAIT") == wait_cyc & 0xFFFF
    assert await host.read("REG_STEP_WAIT_HI") == wait_cyc >> 16


# ------------------------------------------------------------------ relative verify window
def g_for_code(code: int, p: HarnessParams) -> float:
    """A conductance whose read lands exactly on ``code`` (checked with :func:`code_of`)."""
    v_read_V = p.pulse_dac.code_to_volts(p.pulse_dac.volts_to_code(V_READ_V))
    g = sense_code_to_conductance(
        code, v_read_V=v_read_V, r_sense_ohm=R_SENSE_OHM, adc=p.sense_adc, r_path_ohm=R_PATH_OHM
    )
    assert code_of(g, p) == code, (code, g, code_of(g, p))
    return g


@cocotb.test()
@cocotb.parametrize(shift=[3, 5])
async def test_relative_window_edges(dut: Any, shift: int) -> None:
    """REG_TOL_SHIFT: window max(REG_TOL, target >> shift), exact at both edges.

    With ``max_pulses = 0`` every device is read once and flagged ok (in the window) or failed
    (outside) without a pulse, so each device's code is chosen exactly: target ± window is ok,
    one code further out fails.  Targets span the floor-dominated (small target) and the
    relative (large target) regime; the window comes from ``policy.verify_window``.
    """
    host = await setup(dut)
    p = host.params
    tol = 4
    await host.configure(
        dataclasses.replace(scheme(p, reset=False, tol=tol, max_pulses=0), tolerance_shift=shift)
    )
    assert await host.read("REG_TOL_SHIFT") == shift
    bases = [tol << shift, 300, 517, 800, 1111]  # (tol << shift) - 1: floor; the rest relative
    plan: dict[int, tuple[int, int]] = {}  # device -> (target, read code)
    for b, t in enumerate(bases):
        tgt = t - 1 if b == 0 else t
        w = verify_window(tgt, tol, shift)
        assert w == (tol if b == 0 else tgt >> shift) and w > tol - (b == 0), (tgt, w)
        for j, off in enumerate((-w, w, -w - 1, w + 1, 0, w - 1)):
            plan[6 * b + j] = (tgt, tgt + off)
    g0 = [g_for_code(c, p) for _, c in (plan[k] for k in range(N_DEV))]
    model = devices(g0)  # (reads clip g to [G_MIN_S, G_MAX_S] after sampling: reload below)
    cocotb.start_soon(model.run(dut))
    cocotb.start_soon(monitor_pulses(dut, host.widths_cycles))
    res = await host.program({k: t for k, (t, _) in plan.items()}, timeout_s=0.1)
    flush_all()  # the monitors check the changes of the last poll interval

    wr, er = REGS["PHASE_WRITE"], REGS["PHASE_ERASE"]
    assert not any(model.pulses_of(k, ph) for k in range(N_DEV) for ph in (wr, er))
    for k, (tgt, c) in plan.items():
        want_ok = abs(c - tgt) <= verify_window(tgt, tol, shift)
        assert res.codes[k] == c, (k, res.codes[k], c)
        assert res.ok[k] == want_ok and res.failed[k] == (not want_ok), (k, tgt, c, res.ok[k])
        assert res.pulses[k] == 0
    assert res.n_failed == 2 * len(bases)
    # shift 0 turns the relative window off: the same reads against REG_TOL alone
    await host.configure(scheme(p, reset=False, tol=tol, max_pulses=0))
    assert await host.read("REG_TOL_SHIFT") == 0
    model.g_S = list(g0)
    res = await host.program({k: t for k, (t, _) in plan.items()}, timeout_s=0.1)
    flush_all()  # the monitors check the changes of the last poll interval
    for k, (tgt, c) in plan.items():
        assert res.codes[k] == c and res.ok[k] == (abs(c - tgt) <= tol), (k, tgt, c)
    assert res.n_failed > 2 * len(bases)


# ------------------------------------------------------------------ window edges: HDL vs twin
def _twin_edge_model(p: HarnessParams) -> tuple[Any, Any, Any]:
    """One nominal Cr device in the write-verify twin with the DUT's converters: its step
    tables for a scheme builder, and (x grid, first-read code) to place a read on any code."""
    from cosim.circuit import mss
    from cosim.circuit.devices import load_card, nominal_variation
    from cosim.crossbar import card_circuit
    from cosim.twin import program

    card = load_card("Cr")
    spec, _, _ = card_circuit(card)
    setup, _ = program.card_program_setup(
        card, spec, [card.operation.g_max_S], p, reset_pulse=False
    )
    params = mss.MSSArrays.from_params(card.model, nominal_variation(1, card))

    def tables(tol: int, shift: int, max_pulses: int) -> Any:
        sch = dataclasses.replace(
            setup.scheme,
            tolerance_codes=tol,
            tolerance_shift=shift,
            max_pulses=max_pulses,
            reset_enabled=False,
        )
        return program.build_tables(params, dataclasses.replace(setup, scheme=sch))

    x = np.linspace(0.0, 1.0, 200_001)
    first = program.write_verify(tables(0, 0, 0), np.zeros(x.size, int), x, 0).codes
    return tables, x, first


@cocotb.test()
async def test_window_edges_agree_with_twin(dut: Any) -> None:
    """The controller and the write-verify twin decide alike on and next to the window edges.

    Each device's first read is placed on a chosen code — target ± window exactly, one code
    inside, one code outside, the target itself — in both: the HDL reads it through
    :class:`StepDevices`, the twin (:mod:`cosim.twin.program`, a nominal Cr device) starts from
    a state whose read gives that code.  With ``max_pulses = 0`` only the window decides (ok or
    failed); with ``max_pulses = 1`` the direction of the one pulse (write below the window,
    erase above it) is compared too.  Both read REG_TOL/REG_TOL_SHIFT semantics from their own
    code: the expected outcome comes from neither, only from the other side.
    """
    from cosim.twin import program

    host = await setup(dut)
    p = host.params
    tol, shift = 4, 5
    tables, x_grid, first_code = _twin_edge_model(p)
    plan: dict[int, tuple[int, int]] = {}  # device -> (target, read code)
    for b, tgt in enumerate((100, 300, 700, 1111)):  # floor-dominated, then relative windows
        w = verify_window(tgt, tol, shift)
        for j, off in enumerate((-w, w, -w - 1, w + 1, 0, w - 1, 1 - w)):
            plan[7 * b + j] = (tgt, tgt + off)
    devs = sorted(plan)
    targets = np.array([plan[k][0] for k in devs])
    reads = np.array([plan[k][1] for k in devs])
    pos = np.searchsorted(first_code, reads)
    assert np.all(first_code[pos] == reads), "the twin device cannot read some planned code"
    x0 = x_grid[pos]
    model = devices([g_for_code(int(c), p) for c in reads] + [G_MIN_S] * (N_DEV - len(devs)))
    cocotb.start_soon(model.run(dut))
    wr, er = REGS["PHASE_WRITE"], REGS["PHASE_ERASE"]
    for max_pulses in (0, 1):
        tw = program.write_verify(tables(tol, shift, max_pulses), np.zeros(len(devs), int), x0,
                                  targets)  # fmt: skip
        base = scheme(p, reset=False, tol=tol, max_pulses=max_pulses)
        await host.configure(dataclasses.replace(base, tolerance_shift=shift))
        model.g_S[: len(devs)] = [g_for_code(int(c), p) for c in reads]
        model.log = []
        res = await host.program({k: int(targets[k]) for k in devs}, timeout_s=0.1)
        for k in devs:
            where = (max_pulses, k, plan[k])
            if max_pulses == 0:  # one read, the window alone decides
                assert res.codes[k] == plan[k][1] and tw.codes[k] == plan[k][1], where
                hdl = (res.ok[k], res.failed[k], res.pulses[k])
                twin = (bool(tw.ok[k]), bool(tw.failed[k]), int(tw.pulses[k]))
            else:  # outside the window one pulse: the HDL's phase, the twin's state change
                hdl = (res.pulses[k], model.pulses_of(k, wr) - model.pulses_of(k, er))
                twin = (int(tw.pulses[k]), int(np.sign(tw.x[k] - x0[k])) if tw.pulses[k] else 0)
            assert hdl == twin, f"HDL {hdl} vs twin {twin} at (max_pulses, device, plan) {where}"
        if max_pulses == 0:
            edges = [k for k in devs if abs(plan[k][1] - plan[k][0]) == verify_window(
                plan[k][0], tol, shift)]  # fmt: skip
            assert edges and all(res.ok[k] for k in edges)
            assert res.n_failed == 2 * 4
