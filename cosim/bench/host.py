"""Host side of the crossbar training controller: an async cocotb driver of the host bus
(configure a pulse scheme, program by write-verify, run an inference).

Everything waits on signal events (value changes, edges of ``done``/``adc_sample``); nothing
polls the clock.  Timing contract and register table: ``docs/controller.md``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cosim.errors import CosimError, UsageError
from cosim.harness.converters import HarnessParams
from cosim.harness.policy import PulseScheme, PulseWidths
from cosim.harness.regmap import RegisterMap, load_register_map


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
