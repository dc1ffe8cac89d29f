"""cocotb side of the every-sync test: record what the bridge wrote into the HDL over time."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cocotb
from cocotb.triggers import Timer

from cosim.bench.design import start


@cocotb.test()
async def every_sync(dut) -> None:
    bridge = await start(dut)
    seen = []
    await Timer(7, unit="ns")  # read between the drive changes (multiples of 200 ns)
    for _ in range(60):
        await Timer(150, unit="ns")
        seen.append([float(dut.v_out.value), int(dut.hi.value), float(dut.i_src.value)])
    stats = await bridge.stop()
    out = Path(os.environ["COSIM_OUT"])
    (out / "seen.json").write_text(json.dumps({"seen": seen, **stats}) + "\n")
