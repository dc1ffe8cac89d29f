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
    """Outcome of one programming run, per device index (select-bit order)."""

    ok: tuple[bool, ...]
    failed: tuple[bool, ...]
    pulses: tuple[int, ...]
    codes: tuple[int, ...]
    n_failed: int


@dataclass(frozen=True)
class InferenceResult:
    """Neuron ADC codes of one inference and the class the controller decided.

    Attributes:
        h_codes: hidden-neuron codes.
        out_codes: output-neuron codes.
        class_index: ``REG_INF_CLASS``: with one output neuron 1 when its code reaches the
            threshold, else 0; with several, the index of the largest output code.
    """

    h_codes: tuple[int, ...]
    out_codes: tuple[int, ...]
    class_index: int


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
        # the bus's handles, looked up once (the 64→16→10 digits run makes ~72,000 writes)
        self._addr, self._wdata, self._we = dut.host_addr, dut.host_wdata, dut.host_we
        self._rdata, self._clk = dut.host_rdata, dut.clk
        self.regs = regs if regs is not None else load_register_map()
        self.params = HarnessParams.from_dut(dut)
        # The array's shape, read from REG_N_IN .. REG_N_DEV by reset().
        self.n_in = self.n_hid = self.n_out = 0
        self.n_dev: int | None = None
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
        self.n_in = await self.read("REG_N_IN")
        self.n_hid = await self.read("REG_N_HID")
        self.n_out = await self.read("REG_N_OUT")
        self.n_dev = await self.read("REG_N_DEV")

    async def write(self, reg: str | int, value: int) -> None:
        """Write a 16-bit value to a register (name or address) at the next clock edge."""
        if not 0 <= value <= 0xFFFF:
            raise UsageError(f"register value {value} for {reg!r} outside 0..65535")
        self._addr.value = self.regs.addr(reg)
        self._wdata.value = value
        self._we.value = 1
        await self._clk.rising_edge
        self._we.value = 0

    async def read(self, reg: str | int) -> int:
        """Read a register (name or address); ``host_rdata`` is combinational."""
        from cocotb.triggers import Timer

        self._addr.value = self.regs.addr(reg)
        await Timer(1, unit="ps")
        return signal_int(self._rdata)

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
        n_dev = self._size()
        chosen = sorted(set(targets.keys() if mask is None else mask))
        for k in [*targets.keys(), *chosen]:
            if not 0 <= k < n_dev:
                raise UsageError(f"device index {k} outside 0..{n_dev - 1}")
        # Targets stream through the window: a write to REG_DEV_TARGET increments DEV_IDX.
        expected: int | None = None
        for k in sorted(targets):
            if k != expected:
                await self.write("REG_DEV_IDX", k)
            await self.write("REG_DEV_TARGET", targets[k])
            expected = k + 1
        if len(chosen) == n_dev:
            await self.write("REG_MASK_ALL", 1)
        else:
            await self.write("REG_MASK_ALL", 0)
            for k in chosen:
                await self.write("REG_DEV_IDX", k)
                await self.write("REG_DEV_MASK", 1)
        await self._run(0, timeout_s)
        return await self.results()

    def _size(self) -> int:
        if self.n_dev is None:
            raise UsageError("XbarHost: call reset() first (it reads the array's size)")
        return self.n_dev

    async def results(self) -> ProgramResult:
        """Per-device flags, pulse counts and last codes of the last programming run."""
        r = self.regs
        flags, pulses, codes = [], [], []
        for k in range(self._size()):
            await self.write("REG_DEV_IDX", k)
            flags.append(await self.read("REG_DEV_FLAG"))
            pulses.append(await self.read("REG_DEV_PCOUNT"))
            codes.append(await self.read("REG_DEV_CODE"))
        return ProgramResult(
            ok=tuple(bool(f >> r["FLAG_OK"] & 1) for f in flags),
            failed=tuple(bool(f >> r["FLAG_FAIL"] & 1) for f in flags),
            pulses=tuple(pulses),
            codes=tuple(codes),
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
        """Run one inference with input-DAC ``codes`` (``N_IN`` of them) and return the neuron
        codes and the controller's class."""
        self._size()
        if len(codes) != self.n_in:
            raise UsageError(f"need {self.n_in} input codes, got {len(codes)}")
        lo, hi = self.params.in_dac.code_range
        for i, code in enumerate(codes):
            if not lo <= code <= hi:
                raise UsageError(f"input code {code} (input {i}) outside {lo}..{hi}")
        await self.write("REG_IN_IDX", 0)
        for code in codes:  # a write to REG_IN_CODE increments IN_IDX
            await self.write("REG_IN_CODE", code)
        await self.write("REG_INF_SETTLE", self.params.cycles(settle_s, "settle_s"))
        await self.write("REG_CLASS_THR", class_threshold)
        await self._run(1, timeout_s)
        neurons = []
        for n in range(self.n_hid + self.n_out):
            await self.write("REG_NRN_IDX", n)
            neurons.append(await self.read("REG_NRN_CODE"))
        return InferenceResult(
            h_codes=tuple(neurons[: self.n_hid]),
            out_codes=tuple(neurons[self.n_hid :]),
            class_index=await self.read("REG_INF_CLASS"),
        )
