"""Host side of the crossbar training controller (``hdl/xbar_ctrl.v`` in ``xbar_top``).

Four parts, all usable from any cocotb 2 bench that has ``xbar_top`` as its toplevel:

* the register map, parsed from ``hdl/xbar_regs.vh`` (the one place the numbers live);
* converter specs and conversions (volts ↔ DAC/ADC codes, conductance ↔ sense-ADC code),
  read from the harness parameters of the DUT (:meth:`HarnessParams.from_dut`);
* :class:`XbarHost`, an async driver of the host bus: configure a pulse scheme given in
  volts/seconds, program devices by write-verify, run an inference;
* protocol monitors (coroutines that raise :class:`ProtocolViolation`) and
  :class:`StepDevices`, a tiny behavioural device array for digital-only benches.

Everything waits on signal events (value changes, edges of ``done``/``adc_sample``); nothing
polls the clock.  Timing contract and register table: ``docs/controller.md``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from cosim.errors import CosimError, UsageError

__all__ = [
    "REGS_VH",
    "RegisterMap",
    "load_register_map",
    "DacSpec",
    "AdcSpec",
    "HarnessParams",
    "conductance_to_sense_code",
    "sense_code_to_conductance",
    "PulseScheme",
    "verify_window",
    "halve_width_cycles",
    "adaptive_widths_cycles",
    "PulseWidths",
    "ProgramResult",
    "InferenceResult",
    "XbarHost",
    "ProtocolViolation",
    "signal_int",
]

REGS_VH = Path(__file__).resolve().parents[1] / "hdl" / "xbar_regs.vh"
"""Default location of the register-map header (``<repo>/hdl/xbar_regs.vh``)."""

_LOCALPARAM = re.compile(
    r"^\s*localparam\s+(?:integer\s+|\[\s*\d+\s*:\s*\d+\s*\]\s*)?(\w+)\s*=\s*([^;]+);"
)
_SIZED = re.compile(r"^(\d+)?'([bdhoBDHO])([0-9a-fA-F_]+)$")


class ProtocolViolation(CosimError):
    """A protocol monitor saw the controller break the timing contract."""


def _parse_number(text: str, where: str) -> int:
    text = text.strip()
    if text.isdigit():
        return int(text)
    m = _SIZED.match(text)
    if not m:
        raise UsageError(f"{where}: cannot parse Verilog number {text!r}")
    base = {"b": 2, "d": 10, "h": 16, "o": 8}[m.group(2).lower()]
    return int(m.group(3).replace("_", ""), base)


@dataclass(frozen=True)
class RegisterMap:
    """All ``localparam`` constants of the register header, by name.

    Attributes:
        values: constant name → integer value, e.g. ``values["REG_CTRL"]``.
        path: header the constants were read from.
    """

    values: Mapping[str, int]
    path: Path

    def __getitem__(self, name: str) -> int:
        try:
            return self.values[name]
        except KeyError:
            known = ", ".join(sorted(self.values))
            raise UsageError(f"{name!r} is not defined in {self.path}; known: {known}") from None

    def addr(self, name_or_addr: str | int) -> int:
        """Bus address of a register name (``"REG_TOL"`` or ``"TOL"``) or a raw address."""
        if isinstance(name_or_addr, int):
            if not 0 <= name_or_addr <= 0xFF:
                raise UsageError(f"register address {name_or_addr} outside 0..255")
            return name_or_addr
        name = name_or_addr if name_or_addr.startswith("REG_") else f"REG_{name_or_addr}"
        return self[name]


@cache
def load_register_map(path: Path = REGS_VH) -> RegisterMap:
    """Parse ``localparam NAME = value;`` lines of the Verilog register header.

    Raises:
        UsageError: the file is missing or a value is not a plain Verilog number.
    """
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise UsageError(f"cannot read register map {path}: {exc}") from None
    values: dict[str, int] = {}
    for lineno, line in enumerate(lines, 1):
        m = _LOCALPARAM.match(line.split("//")[0])
        if m:
            values[m.group(1)] = _parse_number(m.group(2), f"{path}:{lineno}")
    if "REG_CTRL" not in values:
        raise UsageError(f"{path}: no REG_CTRL localparam found; is this the register map?")
    return RegisterMap(values, path)


# ----------------------------------------------------------------------------- converters
@dataclass(frozen=True)
class DacSpec:
    """A DAC as modelled by ``hdl/behav/dac_behav.v``.

    Attributes:
        bits: code width.
        fs_V: full scale (V): unsigned ``v = code·fs/2**bits``; signed ``v = code·fs/2**(bits-1)``.
        signed: two's complement codes (the pulse DAC).
    """

    bits: int
    fs_V: float
    signed: bool = False

    @property
    def lsb_V(self) -> float:
        """Voltage of one code step (V)."""
        return self.fs_V / 2 ** (self.bits - 1 if self.signed else self.bits)

    @property
    def code_range(self) -> tuple[int, int]:
        """Smallest and largest code (signed codes as negative integers)."""
        return (
            (-(2 ** (self.bits - 1)), 2 ** (self.bits - 1) - 1)
            if self.signed
            else (
                0,
                2**self.bits - 1,
            )
        )

    def code_to_volts(self, code: int) -> float:
        """Output voltage of a code (V)."""
        return code * self.lsb_V

    def volts_to_code(self, v_V: float) -> int:
        """Nearest code to ``v_V``; raises :class:`UsageError` outside the DAC range."""
        code = math.floor(v_V / self.lsb_V + 0.5)
        lo, hi = self.code_range
        if not lo <= code <= hi:
            raise UsageError(
                f"{v_V!r} V is outside the DAC range {lo * self.lsb_V:g} .. {hi * self.lsb_V:g} V"
            )
        return code

    def bus_value(self, code: int) -> int:
        """The code as an unsigned register value (two's complement for signed DACs)."""
        return code & (2**self.bits - 1)


@dataclass(frozen=True)
class AdcSpec:
    """An ADC as modelled by ``hdl/behav/adc_behav.v`` (round to nearest, clip).

    Attributes:
        bits: code width.
        fs_V: full scale (V): unipolar input 0..fs, bipolar −fs..fs in offset binary.
        bipolar: offset-binary bipolar input range.
        conv_s: conversion time from the ``adc_sample`` rise (s).
    """

    bits: int
    fs_V: float
    bipolar: bool = False
    conv_s: float = 0.0

    @property
    def lsb_V(self) -> float:
        """Voltage of one code step (V)."""
        return self.fs_V / 2 ** (self.bits - 1 if self.bipolar else self.bits)

    def quantize(self, v_V: float) -> int:
        """Code the ADC produces for ``v_V`` (identical arithmetic to the Verilog model)."""
        offset = 2 ** (self.bits - 1) if self.bipolar else 0
        x = math.floor(v_V / self.lsb_V + offset + 0.5)
        return int(min(max(x, 0), 2**self.bits - 1))

    def code_to_volts(self, code: int) -> float:
        """Input voltage at the centre of a code (V)."""
        offset = 2 ** (self.bits - 1) if self.bipolar else 0
        return (code - offset) * self.lsb_V


def conductance_to_sense_code(
    g_S: float, *, v_read_V: float, r_sense_ohm: float, adc: AdcSpec, r_path_ohm: float = 0.0
) -> int:
    """Expected sense-ADC code of a read: ``v_sense = v_read/(r_path + 1/g) · r_sense``.

    Args:
        g_S: device conductance (S), > 0.
        v_read_V: read-pulse amplitude (V).
        r_sense_ohm: transimpedance of the sense amplifier (Ω), given by the analog side.
        adc: the sense ADC.
        r_path_ohm: resistance in series with the device on the read path (Ω).
    """
    if g_S <= 0:
        raise UsageError(f"g_S must be > 0, got {g_S!r}")
    return adc.quantize(v_read_V / (r_path_ohm + 1.0 / g_S) * r_sense_ohm)


def sense_code_to_conductance(
    code: int, *, v_read_V: float, r_sense_ohm: float, adc: AdcSpec, r_path_ohm: float = 0.0
) -> float:
    """Conductance (S) whose read lands at the centre of ``code`` (inverse of the above)."""
    i_A = adc.code_to_volts(code) / r_sense_ohm
    if i_A <= 0 or v_read_V / i_A <= r_path_ohm:
        raise UsageError(f"sense code {code} maps to no positive conductance at {v_read_V} V")
    return 1.0 / (v_read_V / i_A - r_path_ohm)


def _value(dut: Any, name: str) -> Any:
    try:
        return getattr(dut, name).value
    except AttributeError:
        raise UsageError(f"the DUT has no parameter {name!r}; is the toplevel xbar_top?") from None


@dataclass(frozen=True)
class HarnessParams:
    """Clock and converter parameters of an ``xbar_top`` instance (read, never restated)."""

    clk_period_s: float
    pulse_dac: DacSpec
    in_dac: DacSpec
    sense_adc: AdcSpec
    neuron_adc: AdcSpec

    @classmethod
    def from_dut(cls, dut: Any) -> HarnessParams:
        """Read the parameters of the ``xbar_top`` handle ``dut``."""

        def i(name: str) -> int:
            return int(_value(dut, name))

        def f(name: str) -> float:
            return float(_value(dut, name))

        conv_s = f("ADC_CONV_NS") * 1e-9
        return cls(
            clk_period_s=f("CLK_PERIOD_NS") * 1e-9,
            pulse_dac=DacSpec(i("PULSE_DAC_BITS"), f("PULSE_DAC_FS_V"), signed=True),
            in_dac=DacSpec(i("IN_DAC_BITS"), f("IN_DAC_FS_V")),
            sense_adc=AdcSpec(
                i("SENSE_ADC_BITS"), f("SENSE_ADC_FS_V"), bool(i("SENSE_ADC_BIPOLAR")), conv_s
            ),
            neuron_adc=AdcSpec(
                i("NEURON_ADC_BITS"), f("NEURON_ADC_FS_V"), bool(i("NEURON_ADC_BIPOLAR")), conv_s
            ),
        )

    def cycles(self, t_s: float, what: str, minimum: int = 1, maximum: int = 0xFFFF) -> int:
        """``t_s`` as a whole number of clock cycles; raises if it is not one.

        Args:
            t_s: duration (s).
            what: field name for the error message.
            minimum: smallest allowed cycle count.
            maximum: largest allowed cycle count (65535 for a 16-bit register).
        """
        n = round(t_s / self.clk_period_s)
        if abs(n * self.clk_period_s - t_s) > 1e-6 * self.clk_period_s or n < minimum:
            raise UsageError(
                f"{what}={t_s!r} s must be a whole number >= {minimum} of clock periods "
                f"({self.clk_period_s!r} s)"
            )
        if n > maximum:
            raise UsageError(f"{what}={t_s!r} s is more than {maximum} clock cycles")
        return n


@dataclass(frozen=True)
class PulseScheme:
    """A write-verify scheme in physical units (V, s); see docs/controller.md.

    Attributes:
        v_write_V, t_write_s: write (SET, conductance up) pulse.
        v_erase_V, t_erase_s: erase (RESET direction, conductance down) pulse.
        v_reset_V, t_reset_s: initial reset pulse of every device (if ``reset_enabled``).
        v_read_V, t_read_s: read pulse.
        t_read_sample_s: from read-pulse start to the ``adc_sample`` rise (0 < it < t_read_s).
        t_gap_s: deselected time after each pulse.
        reset_enabled: apply the reset pulse before programming each device.
        tolerance_codes: verify window half-width (sense-ADC codes); with
            ``tolerance_shift`` the floor of the relative window (``REG_TOL``).
        max_pulses: write+erase pulses allowed per device before it is flagged failed.
        adaptive: halve the write and erase widths of the current device at every direction
            reversal (``REG_ADAPT``); see :func:`halve_width_cycles`.
        t_min_pulse_s: smallest width adaptation may reach (``REG_MIN_CYC``); 0 means one
            clock period.  Ignored unless ``adaptive``.
        t_step_wait_s: host/microcontroller latency per verify step (s): after every verify
            read's ADC result the controller idles this long (phase idle, nothing selected)
            before it decides.  A whole number of clock periods, < 2**32 cycles
            (``REG_STEP_WAIT``/``REG_STEP_WAIT_HI``); 0 = no wait.
        tolerance_shift: relative verify window ``REG_TOL_SHIFT`` (0..15): the half-width is
            ``max(tolerance_codes, target >> tolerance_shift)``; 0 = off (absolute window).
            See :func:`verify_window`.
    """

    v_write_V: float
    t_write_s: float
    v_erase_V: float
    t_erase_s: float
    v_reset_V: float
    t_reset_s: float
    v_read_V: float
    t_read_s: float
    t_read_sample_s: float
    t_gap_s: float
    reset_enabled: bool
    tolerance_codes: int
    max_pulses: int
    adaptive: bool = False
    t_min_pulse_s: float = 0.0
    t_step_wait_s: float = 0.0
    tolerance_shift: int = 0

    def registers(self, params: HarnessParams) -> dict[str, int]:
        """Register values (name → bus value) of this scheme for a harness."""
        dac = params.pulse_dac
        rd = params.cycles(self.t_read_s, "t_read_s", minimum=2)
        sample = params.cycles(self.t_read_sample_s, "t_read_sample_s")
        if sample >= rd:
            raise UsageError(f"t_read_sample_s={self.t_read_sample_s} must be < t_read_s")
        for name in ("tolerance_codes", "max_pulses"):
            if not 0 <= getattr(self, name) <= 0xFFFF:
                raise UsageError(f"{name}={getattr(self, name)} must be in 0..65535")
        if not 0 <= self.tolerance_shift <= _TOL_SHIFT_MAX:
            raise UsageError(
                f"tolerance_shift={self.tolerance_shift} must be in 0..{_TOL_SHIFT_MAX} "
                "(REG_TOL_SHIFT, 0 = absolute window)"
            )
        wait = params.cycles(self.t_step_wait_s, "t_step_wait_s", minimum=0, maximum=2**32 - 1)
        return {
            "REG_WRITE_CODE": dac.bus_value(dac.volts_to_code(self.v_write_V)),
            "REG_WRITE_CYC": params.cycles(self.t_write_s, "t_write_s"),
            "REG_ERASE_CODE": dac.bus_value(dac.volts_to_code(self.v_erase_V)),
            "REG_ERASE_CYC": params.cycles(self.t_erase_s, "t_erase_s"),
            "REG_RESET_CODE": dac.bus_value(dac.volts_to_code(self.v_reset_V)),
            "REG_RESET_CYC": params.cycles(self.t_reset_s, "t_reset_s"),
            "REG_READ_CODE": dac.bus_value(dac.volts_to_code(self.v_read_V)),
            "REG_READ_CYC": rd,
            "REG_READ_SAMPLE": sample,
            "REG_GAP_CYC": params.cycles(self.t_gap_s, "t_gap_s"),
            "REG_RESET_EN": int(self.reset_enabled),
            "REG_TOL": self.tolerance_codes,
            "REG_TOL_SHIFT": self.tolerance_shift,
            "REG_MAX_PULSES": self.max_pulses,
            "REG_ADAPT": int(self.adaptive) << load_register_map()["ADAPT_EN"],
            "REG_MIN_CYC": params.cycles(self.t_min_pulse_s, "t_min_pulse_s", minimum=0),
            "REG_STEP_WAIT": wait & 0xFFFF,
            "REG_STEP_WAIT_HI": wait >> 16,
        }


_TOL_SHIFT_MAX = 15  # REG_TOL_SHIFT holds 4 bits (tol_shift_r in hdl/xbar_ctrl.v)


def verify_window(target_code: int, tol: int, shift: int) -> int:
    """Verify window half-width (sense-ADC codes) of one device, as ``win_x`` in the controller.

    ``max(tol, target_code >> shift)`` if ``shift`` > 0, else ``tol``: the ``REG_TOL`` floor
    and the relative window of ``REG_TOL_SHIFT`` (shift 5 → 1/32 = 3.125 % of the target).
    A read code ``c`` is in the window (device flagged ok) iff
    ``abs(c - target_code) <= verify_window(target_code, tol, shift)``; below it the
    controller writes, above it it erases.  The one Python statement of this rule: monitors,
    result checks and the NumPy twin (:mod:`cosim.program`) all call it.

    Args:
        target_code: target sense-ADC code (>= 0).
        tol: the ``REG_TOL`` value (codes, >= 0).
        shift: the ``REG_TOL_SHIFT`` value (0..15; 0 = off).

    Raises:
        UsageError: a negative argument or a shift outside 0..15.
    """
    t, k, s = int(target_code), int(tol), int(shift)
    if t < 0 or k < 0 or not 0 <= s <= _TOL_SHIFT_MAX:
        raise UsageError(
            f"verify_window(target_code={t}, tol={k}, shift={s}): need target_code >= 0, "
            f"tol >= 0, shift in 0..{_TOL_SHIFT_MAX}"
        )
    return max(k, t >> s) if s else k


def halve_width_cycles(width_cyc: int, min_cyc: int) -> int:
    """Width after one direction reversal: ``max(w // 2, min(w, m))`` with ``m = max(min_cyc, 1)``.

    The same integer rule as ``wcur_next``/``ecur_next`` in ``hdl/xbar_ctrl.v``: the width
    halves (rounding down) but never goes below the minimum, and a width already below the
    minimum is kept (adaptation never lengthens a pulse).

    Args:
        width_cyc: current width (clock cycles, >= 1).
        min_cyc: the ``REG_MIN_CYC`` register value (0 acts as 1).
    """
    m = max(min_cyc, 1)
    return max(width_cyc // 2, min(width_cyc, m))


def adaptive_widths_cycles(
    write_cyc: int, erase_cyc: int, min_cyc: int
) -> tuple[tuple[int, int], ...]:
    """(write, erase) widths in cycles after 0, 1, 2 … reversals, up to the fixed point.

    Entry ``n`` holds the widths the controller uses for a device after its ``n``-th direction
    reversal; beyond the last entry the widths stay at the last entry.  Register values of 0
    act as 1 (as in the controller).
    """
    w, e = max(write_cyc, 1), max(erase_cyc, 1)
    levels = [(w, e)]
    while True:
        nxt = (halve_width_cycles(w, min_cyc), halve_width_cycles(e, min_cyc))
        if nxt == (w, e):
            return tuple(levels)
        w, e = nxt
        levels.append(nxt)


class PulseWidths(dict[int, int]):
    """Pulse width (clock cycles) by phase code, plus the adaptation setting.

    For write and erase the value is the width of a device's first pulses; with
    ``adaptive_min_cycles`` set (adaptation on, the ``REG_MIN_CYC`` value) later pulses of a
    device follow :func:`adaptive_widths_cycles`.

    Args:
        widths: phase code → width in cycles.
        adaptive_min_cycles: ``REG_MIN_CYC`` if adaptive mode is on, else None.
    """

    def __init__(self, widths: Mapping[int, int], adaptive_min_cycles: int | None = None):
        super().__init__(widths)
        self.adaptive_min_cycles = adaptive_min_cycles


@dataclass(frozen=True)
class ProgramResult:
    """Outcome of one programming run, per device index 0..29."""

    ok: tuple[bool, ...]
    failed: tuple[bool, ...]
    pulses: tuple[int, ...]
    codes: tuple[int, ...]
    n_failed: int


@dataclass(frozen=True)
class InferenceResult:
    """Neuron ADC codes of one inference and the class bit."""

    h_codes: tuple[int, int, int]
    out_code: int
    class_bit: int


# ----------------------------------------------------------------------------- host driver
def signal_int(handle: Any) -> int:
    """Integer value of a logic signal handle (raises on X/Z)."""
    value = handle.value
    return int(value.to_unsigned()) if hasattr(value, "to_unsigned") else int(value)


class XbarHost:
    """Async host-bus driver of an ``xbar_top`` DUT (cocotb 2).

    Writes are sampled on the rising clock edge; reads are combinational (``host_rdata``
    follows ``host_addr`` in zero time), so a read costs 1 ps of simulated time.

    Args:
        dut: the ``xbar_top`` handle.
        regs: register map (default: parsed from ``hdl/xbar_regs.vh``).
    """

    def __init__(self, dut: Any, regs: RegisterMap | None = None) -> None:
        self.dut = dut
        self.regs = regs if regs is not None else load_register_map()
        self.params = HarnessParams.from_dut(dut)
        self.n_dev = self.regs["N_DEV"]
        self.widths_cycles: PulseWidths = PulseWidths({})
        """Pulse width (cycles) per phase code of the last :meth:`configure` (for write and
        erase: the width of a device's first pulses), with the adaptation setting."""

    async def reset(self, cycles: int = 2) -> None:
        """Hold ``rst_n`` low for ``cycles`` clock cycles with the bus idle."""
        from cocotb.triggers import ClockCycles, RisingEdge

        self.dut.host_we.value = 0
        self.dut.host_addr.value = 0
        self.dut.host_wdata.value = 0
        self.dut.rst_n.value = 0
        await ClockCycles(self.dut.clk, cycles)
        self.dut.rst_n.value = 1
        await RisingEdge(self.dut.clk)

    async def write(self, reg: str | int, value: int) -> None:
        """Write a 16-bit value to a register (name or address) at the next clock edge."""
        from cocotb.triggers import RisingEdge

        if not 0 <= value <= 0xFFFF:
            raise UsageError(f"register value {value} for {reg!r} outside 0..65535")
        self.dut.host_addr.value = self.regs.addr(reg)
        self.dut.host_wdata.value = value
        self.dut.host_we.value = 1
        await RisingEdge(self.dut.clk)
        self.dut.host_we.value = 0

    async def read(self, reg: str | int) -> int:
        """Read a register (name or address); ``host_rdata`` is combinational."""
        from cocotb.triggers import Timer

        self.dut.host_addr.value = self.regs.addr(reg)
        await Timer(1, unit="ps")
        return signal_int(self.dut.host_rdata)

    async def configure(self, scheme: PulseScheme) -> dict[str, int]:
        """Write a pulse scheme (converted with the DUT's parameters); returns the registers."""
        values = scheme.registers(self.params)
        for name, value in values.items():
            await self.write(name, value)
        r = self.regs
        self.widths_cycles = PulseWidths(
            {
                r["PHASE_RESET"]: values["REG_RESET_CYC"],
                r["PHASE_WRITE"]: values["REG_WRITE_CYC"],
                r["PHASE_ERASE"]: values["REG_ERASE_CYC"],
                r["PHASE_READ"]: values["REG_READ_CYC"],
            },
            adaptive_min_cycles=values["REG_MIN_CYC"] if scheme.adaptive else None,
        )
        return values

    async def _run(self, mode: int, timeout_s: float) -> None:
        from cocotb.triggers import RisingEdge, SimTimeoutError, with_timeout

        r = self.regs
        await self.write("REG_CTRL", (1 << r["CTRL_START"]) | (mode << r["CTRL_MODE"]))
        try:
            await with_timeout(RisingEdge(self.dut.done), timeout_s * 1e9, "ns")
        except SimTimeoutError:
            raise CosimError(
                f"controller not done within {timeout_s} s of simulated time (mode {mode})"
            ) from None

    async def program(
        self,
        targets: Mapping[int, int],
        *,
        mask: Sequence[int] | None = None,
        timeout_s: float = 1.0,
    ) -> ProgramResult:
        """Write-verify the devices of ``mask`` (default: the keys of ``targets``).

        Args:
            targets: device index → target sense-ADC code (others keep their register value).
            mask: device indices to program.
            timeout_s: simulated-time limit of the run (s).
        """
        r = self.regs
        for k, code in targets.items():
            if not 0 <= k < self.n_dev:
                raise UsageError(f"device index {k} outside 0..{self.n_dev - 1}")
            await self.write(r["REG_TARGET_BASE"] + k, code)
        bits = 0
        for k in targets.keys() if mask is None else mask:
            if not 0 <= k < self.n_dev:
                raise UsageError(f"device index {k} outside 0..{self.n_dev - 1}")
            bits |= 1 << k
        await self.write("REG_MASK_LO", bits & 0xFFFF)
        await self.write("REG_MASK_HI", bits >> 16)
        await self._run(0, timeout_s)
        return await self.results()

    async def results(self) -> ProgramResult:
        """Per-device flags, pulse counts and last codes of the last programming run."""
        r = self.regs
        flags = [await self.read(r["REG_FLAG_BASE"] + k) for k in range(self.n_dev)]
        return ProgramResult(
            ok=tuple(bool(f >> r["FLAG_OK"] & 1) for f in flags),
            failed=tuple(bool(f >> r["FLAG_FAIL"] & 1) for f in flags),
            pulses=tuple([await self.read(r["REG_PCOUNT_BASE"] + k) for k in range(self.n_dev)]),
            codes=tuple([await self.read(r["REG_CODE_BASE"] + k) for k in range(self.n_dev)]),
            n_failed=await self.read("REG_NFAIL"),
        )

    async def infer(
        self,
        codes: Sequence[int],
        *,
        settle_s: float,
        class_threshold: int,
        timeout_s: float = 0.01,
    ) -> InferenceResult:
        """Run one inference with input-DAC ``codes`` (9) and return the neuron codes."""
        r = self.regs
        if len(codes) != r["N_IN"]:
            raise UsageError(f"need {r['N_IN']} input codes, got {len(codes)}")
        lo, hi = self.params.in_dac.code_range
        for i, code in enumerate(codes):
            if not lo <= code <= hi:
                raise UsageError(f"input code {code} (input {i}) outside {lo}..{hi}")
            await self.write(r["REG_INPUT_BASE"] + i, code)
        await self.write("REG_INF_SETTLE", self.params.cycles(settle_s, "settle_s"))
        await self.write("REG_CLASS_THR", class_threshold)
        await self._run(1, timeout_s)
        h = (await self.read("REG_INF_H0"), await self.read("REG_INF_H1"))
        h3 = (*h, await self.read("REG_INF_H2"))
        return InferenceResult(
            h_codes=h3,
            out_code=await self.read("REG_INF_OUT"),
            class_bit=await self.read("REG_INF_CLASS") & 1,
        )
