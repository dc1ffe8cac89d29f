"""The harness contract: what the bench needs from the HDL, read from the HDL itself.

The harness top (``hdl/behav/xbar_top.v``) declares the clock and converter parameters; this
module reads their defaults for code that runs without a simulator (sweeps, the twin), the
same numbers :meth:`HarnessParams.from_dut` reads from a running DUT.
"""

from __future__ import annotations

import re
from pathlib import Path

from cosim.errors import UsageError
from cosim.harness.converters import HarnessParams
from cosim.resources import hdl_dir

__all__ = ["XBAR_TOP_V", "default_harness"]

XBAR_TOP_V = hdl_dir() / "behav" / "xbar_top.v"
_PARAM = re.compile(r"^\s*parameter\s+(real|integer)\s+(\w+)\s*=\s*([-+0-9.eE]+)")


def default_harness(path: Path = XBAR_TOP_V) -> HarnessParams:
    """Harness parameters from the defaults declared in ``hdl/behav/xbar_top.v``.

    The same numbers :meth:`HarnessParams.from_dut` reads from a running DUT with default
    parameters, for code that runs without a simulator (Monte Carlo sweeps).

    Raises:
        UsageError: the file is missing or lacks a parameter.
    """
    try:
        text = path.read_text()
    except OSError as exc:
        raise UsageError(f"cannot read harness parameters from {path}: {exc}") from None
    values = {}
    for line in text.splitlines():
        m = _PARAM.match(line)
        if m:
            values[m.group(2)] = float(m.group(3))

    class _Dut:
        def __getattr__(self, name: str) -> object:
            if name not in values:
                raise UsageError(f"{path}: parameter {name!r} not found")
            return type("P", (), {"value": values[name]})()

    return HarnessParams.from_dut(_Dut())
