"""Protocol monitors of the ``xbar_top`` harness and a step-per-pulse device array for
digital-only benches (cocotb 2 coroutines); re-exported by :mod:`cosim.harness`."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from cosim.bench.host import signal_int
from cosim.bench.watch import INT, ONEHOT, REAL, Signal, Watch, value_of
from cosim.errors import CosimError
from cosim.harness.policy import adaptive_widths_cycles
from cosim.harness.regmap import RegisterMap, load_register_map

__all__ = ["monitor_one_hot_sel", "monitor_pulses", "StepDevices"]


class ProtocolViolation(CosimError):
    """A protocol monitor saw the controller break the timing contract."""


def _now_ps() -> float:
    from cocotb.utils import get_sim_time

    return float(get_sim_time(unit="ps"))


def _one_hot_index(sel: int) -> int | None:
    """Index of the single set bit, None for 0; raises for more than one bit."""
    if sel == 0:
        return None
    if sel & (sel - 1):
        raise ProtocolViolation(f"sel={sel:#010x} selects more than one device")
    return sel.bit_length() - 1


def _device(sel: float) -> str:
    """A select vector as the compiled watch gives it (:data:`cosim.bench.watch.ONEHOT`)."""
    return {-1: "none", -2: "several devices", -3: "X/Z"}.get(int(sel), f"device {int(sel)}")


async def monitor_one_hot_sel(dut: Any) -> None:
    """Raise :class:`ProtocolViolation` when ``sel`` has more than one bit set (or X/Z)."""

    def on_change(t: float, v: Mapping[str, float]) -> None:
        if v["sel"] == -3:
            raise ProtocolViolation(f"sel is not resolvable at {t:.0f} ps")
        if v["sel"] == -2:
            raise ProtocolViolation(f"sel selects more than one device at {t:.0f} ps")

    await Watch(dut, [Signal("sel", ONEHOT)], on_change).run()


async def monitor_pulses(
    dut: Any, widths_cycles: Mapping[int, int], regs: RegisterMap | None = None
) -> None:
    """Check every programming pulse and ADC sample against the timing contract.

    Raises :class:`ProtocolViolation` when: a pulse starts without exactly one device
    selected, during an ADC conversion or with ``infer_en`` on; ``sel`` was not stable for
    ``SEL_SETUP_CYC`` cycles before the pulse; the pulse level or ``sel`` changes during a
    pulse; a pulse width differs from ``widths_cycles[phase]`` clock periods; ``sel`` changes
    less than ``SEL_HOLD_CYC`` cycles after a pulse; ``adc_sample`` rises other than during a
    read pulse or an inference.

    Adaptive mode (``widths_cycles`` is a :class:`PulseWidths` with ``adaptive_min_cycles``
    set): the monitor follows each device on its own — the selected device at a pulse start,
    reset at every ``start`` — and counts its direction reversals (a write after an erase or
    an erase after a write).  After ``n`` reversals a write/erase must last exactly
    ``adaptive_widths_cycles(...)[n]`` (the last entry once the widths stop shrinking),
    including the reversing pulse itself.

    Args:
        dut: the ``xbar_top`` handle.
        widths_cycles: expected width per phase code (e.g. :attr:`XbarHost.widths_cycles`).
        regs: register map (default: parsed from the header).
    """
    r = regs if regs is not None else load_register_map()
    period_ps = float(dut.CLK_PERIOD_NS.value) * 1e3
    eps = 0.5
    setup_ps, hold_ps = r["SEL_SETUP_CYC"] * period_ps, r["SEL_HOLD_CYC"] * period_ps
    signals = [
        Signal("v_prog", REAL),
        Signal("sel", ONEHOT),
        Signal("adc_sample", INT, on="rising"),
        Signal("start", INT, on="rising"),
        Signal("phase", INT, on=None),
        Signal("infer_en", INT, on=None),
    ]
    v_prev, sel_prev = 0.0, int(value_of(ONEHOT, dut.sel.value))
    adc_prev = value_of(INT, dut.adc_sample.value) == 1
    t_sel, t_on, t_off = _now_ps(), 0.0, -math.inf
    phase_on, want_cyc = 0, 0
    min_cyc = getattr(widths_cycles, "adaptive_min_cycles", None)
    wr, er = r["PHASE_WRITE"], r["PHASE_ERASE"]
    levels: tuple[tuple[int, int], ...] = ((0, 0),)
    if min_cyc is not None:
        levels = adaptive_widths_cycles(widths_cycles[wr], widths_cycles[er], min_cyc)
    dev_track: int | None = None  # device whose reversals are being counted
    last_dir, n_rev = 0, 0

    def on_event(t: float, values: Mapping[str, float]) -> None:
        nonlocal v_prev, sel_prev, adc_prev, t_sel, t_on, t_off, phase_on, want_cyc
        nonlocal dev_track, last_dir, n_rev
        if values["start"] == 1:
            dev_track = None
        v, adc, sel = values["v_prog"], values["adc_sample"] == 1, int(values["sel"])
        phase, infer = int(values["phase"]), values["infer_en"] == 1

        def fail(msg: str, t: float = t) -> None:
            raise ProtocolViolation(f"at {t:.0f} ps: {msg}")

        if sel == -3:
            fail("sel is not resolvable")
        if sel != sel_prev:
            if v_prev != 0.0:
                fail(f"sel changed from {_device(sel_prev)} to {_device(sel)} during a pulse")
            if t - t_off < hold_ps - eps:
                fail(f"sel changed {t - t_off:.0f} ps after a pulse end (hold {hold_ps:.0f} ps)")
            t_sel, sel_prev = t, sel
        if v != v_prev:
            if v_prev == 0.0:  # pulse start
                if sel < 0:
                    fail("pulse started with " + ("no device" if sel == -1 else "several devices")
                         + " selected")  # fmt: skip
                if adc:
                    fail("pulse started during an ADC conversion")
                if infer:
                    fail("pulse started with infer_en on")
                if phase not in widths_cycles:
                    fail(f"pulse started in phase {phase}")
                if t - t_sel < setup_ps - eps:
                    fail(f"pulse started {t - t_sel:.0f} ps after sel (setup {setup_ps:.0f} ps)")
                t_on, phase_on, want_cyc = t, phase, widths_cycles[phase]
                if min_cyc is not None and phase in (wr, er):
                    if sel != dev_track:
                        dev_track, last_dir, n_rev = sel, 0, 0
                    if last_dir and phase != last_dir:
                        n_rev += 1
                    last_dir = phase
                    want_cyc = levels[min(n_rev, len(levels) - 1)][0 if phase == wr else 1]
            elif v != 0.0:
                fail(f"pulse level changed {v_prev} -> {v} V without a gap")
            else:  # pulse end
                want = want_cyc * period_ps
                if abs((t - t_on) - want) > eps:
                    fail(f"phase-{phase_on} pulse lasted {t - t_on:.0f} ps, want {want:.0f} ps")
                t_off = t
            v_prev = v
        if adc and not adc_prev:
            reading = v != 0.0 and phase == r["PHASE_READ"]
            inferring = infer and phase == r["PHASE_INFER"] and v == 0.0
            if not (reading or inferring):
                fail(f"adc_sample rose outside a read pulse / inference (phase {phase})")
        adc_prev = adc

    await Watch(dut, signals, on_event).run()


class StepDevices:
    """Behavioural device array for digital-only benches (not a physical model).

    Each write pulse raises the selected device's conductance by ``dg_S`` (with
    ``per_cycle``: by ``dg_S`` per clock cycle of the pulse width), each erase lowers it, a
    reset pulse sets it to ``g_reset_S``; all clipped to ``[g_min_S, g_max_S]``.  At
    each ``adc_sample`` rise during a read pulse, ``v_sense`` is written as
    ``v_prog / (r_path + 1/g) · r_sense``.

    Attributes:
        g_S: conductances (S), by device index.
        log: ``(device, phase, v_prog_V, t_start_ps, t_end_ps)`` of every pulse seen.
    """

    def __init__(
        self,
        g_S: Sequence[float],
        *,
        dg_S: float,
        g_min_S: float,
        g_max_S: float,
        g_reset_S: float,
        r_sense_ohm: float,
        r_path_ohm: float = 0.0,
        per_cycle: bool = False,
        regs: RegisterMap | None = None,
    ) -> None:
        self.g_S = [float(g) for g in g_S]
        self.per_cycle = per_cycle
        self.dg_S, self.g_min_S, self.g_max_S, self.g_reset_S = dg_S, g_min_S, g_max_S, g_reset_S
        self.r_sense_ohm, self.r_path_ohm = r_sense_ohm, r_path_ohm
        self.regs = regs if regs is not None else load_register_map()
        self.log: list[tuple[int, int, float, float, float]] = []

    def pulses_of(self, device: int, phase: int) -> int:
        """Number of pulses of one phase code seen on one device."""
        return sum(1 for d, p, *_ in self.log if d == device and p == phase)

    def program_pulses(self, device: int, clk_period_s: float) -> list[tuple[int, int]]:
        """``(phase, width in clock cycles)`` of every write/erase pulse seen on ``device``."""
        r, period_ps = self.regs, clk_period_s * 1e12
        return [
            (p, round((t1 - t0) / period_ps))
            for d, p, _, t0, t1 in self.log
            if d == device and p in (r["PHASE_WRITE"], r["PHASE_ERASE"])
        ]

    async def run(self, dut: Any) -> None:
        """Follow the DUT's pulses forever (start with ``cocotb.start_soon``)."""
        from cocotb.triggers import First, RisingEdge, ValueChange

        r = self.regs
        period_ps = float(dut.CLK_PERIOD_NS.value) * 1e3
        on: tuple[int, int, float, float] | None = None
        adc_prev = 0
        while True:
            await First(ValueChange(dut.v_prog), RisingEdge(dut.adc_sample))
            v = float(dut.v_prog.value)
            if on is None and v != 0.0:
                dev = _one_hot_index(signal_int(dut.sel))
                if dev is None:
                    raise ProtocolViolation("StepDevices: pulse with no device selected")
                on = (dev, signal_int(dut.phase), v, _now_ps())
            elif on is not None and v == 0.0:
                dev, phase, level, t0 = on
                self.log.append((dev, phase, level, t0, _now_ps()))
                g = self.g_S[dev]
                dg = self.dg_S * (round((_now_ps() - t0) / period_ps) if self.per_cycle else 1)
                if phase == r["PHASE_WRITE"]:
                    g += dg
                elif phase == r["PHASE_ERASE"]:
                    g -= dg
                elif phase == r["PHASE_RESET"]:
                    g = self.g_reset_S
                self.g_S[dev] = min(max(g, self.g_min_S), self.g_max_S)
                on = None
            adc = signal_int(dut.adc_sample)
            if adc and not adc_prev and on is not None and on[1] == r["PHASE_READ"]:
                g = self.g_S[on[0]]
                dut.v_sense.value = on[2] / (self.r_path_ohm + 1.0 / g) * self.r_sense_ohm
            adc_prev = adc
