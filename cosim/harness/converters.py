"""DAC/ADC converter specs of the harness and the volts ↔ code, conductance ↔ sense-code
conversions (identical arithmetic to ``hdl/behav/dac_behav.v`` / ``adc_chan.v``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from cosim.errors import UsageError


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
    """An ADC as modelled by ``hdl/behav/adc_chan.v`` (round to nearest, clip).

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
