"""cocotb side of the shared workload: start the bridge, wait for the controller, save samples."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cocotb
from cocotb.triggers import FallingEdge, Timer

from cosim.bench.design import start


@cocotb.test()
async def workload(dut) -> None:
    bridge = await start(dut)
    cols: list[float] = []
    while True:
        await FallingEdge(dut.clk)
        await Timer(1, unit="ns")  # the bridge wrote the samples at the edge
        if not int(dut.busy.value):
            break
        cols = [float(getattr(dut, f"col{j}").value) for j in range(6)]
    stats = await bridge.stop()
    out = Path(os.environ["COSIM_OUT"])
    (out / "columns.json").write_text(json.dumps({"columns_V": cols, **stats}) + "\n")
