"""cocotb side of the shared workload: start the bridge, wait for the controller, save samples."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cocotb
from cocotb.triggers import FallingEdge

from cosim.bench.design import start


@cocotb.test()
async def workload(dut) -> None:
    bridge = await start(dut)
    # No Python per clock (spicebind's run has none either): wait for the end; the columns
    # then still hold the samples the bridge wrote at the last pulse's falling clock edge.
    await FallingEdge(dut.busy)
    cols = [float(getattr(dut, f"col{j}").value) for j in range(6)]
    stats = await bridge.stop()
    out = Path(os.environ["COSIM_OUT"])
    (out / "columns.json").write_text(json.dumps({"columns_V": cols, **stats}) + "\n")
