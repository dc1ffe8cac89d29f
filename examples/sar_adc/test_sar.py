"""cocotb test of the SAR ADC example: the digital code against the capacitor-ratio expectation.

The expected code comes from the analog side's own numbers (the deck's unit and parasitic
capacitors): after top-plate sampling, trial code D leaves ``v_in - D*cu/(256*cu + cp)`` volts
on the comparator input, so an ideal SAR returns ``floor(v_in * (256*cu + cp) / cu)``.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import cocotb
from cocotb.triggers import RisingEdge, Timer

from cosim.bench.design import start

DECK = Path(__file__).resolve().parent / "analog" / "sar.cir"
N_BITS = 8


def _param(name: str) -> float:
    match = re.search(rf"^\.param\s+{name}\s*=\s*([0-9.e+-]+)f\s*$", DECK.read_text(), re.M)
    assert match is not None, f".param {name} not found in {DECK}"
    return float(match.group(1)) * 1e-15


def expected_code(v_in: float) -> int:
    """The code an ideal comparator gives, from the deck's capacitors."""
    cu, cp = _param("cu"), _param("cp")
    lsb = cu / ((2**N_BITS) * cu + cp)  # volts per code with a 1 V reference
    return max(0, min(2**N_BITS - 1, math.floor(v_in / lsb)))


async def convert(dut, v_in: float) -> int:
    dut.v_in.value = v_in
    await RisingEdge(dut.clk)
    dut.start.value = 1
    await RisingEdge(dut.clk)
    dut.start.value = 0
    await RisingEdge(dut.done)
    await Timer(1, unit="ns")
    return int(dut.code.value)


@cocotb.test()
async def codes_match_capacitor_ratios(dut) -> None:
    """Mid-code inputs across the range convert to the code the capacitor ratios predict."""
    bridge = await start(dut)
    cu, cp = _param("cu"), _param("cp")
    lsb = cu / ((2**N_BITS) * cu + cp)
    for code in (3, 64, 100, 127, 128, 200, 251):
        v_in = (code + 0.5) * lsb
        got = await convert(dut, v_in)
        dut._log.info("v_in = %.6f V -> code %d (expected %d)", v_in, got, expected_code(v_in))
        assert got == expected_code(v_in) == code
    stats = await bridge.stop()
    assert stats["syncs"] > 0 and stats["energy_J"]
