"""The register map of the crossbar controller, parsed from ``hdl/xbar_regs.vh`` (the one
place the numbers live)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from cosim.errors import UsageError
from cosim.harness.verilog import read_constants
from cosim.resources import hdl_dir

REGS_VH = hdl_dir() / "xbar_regs.vh"
"""Default location of the register-map header (``<repo>/hdl/xbar_regs.vh``)."""


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
    values = {k: int(v) for k, v in read_constants(path, "localparam").items()}
    if "REG_CTRL" not in values:
        raise UsageError(f"{path}: no REG_CTRL localparam found; is this the register map?")
    return RegisterMap(values, path)


# ----------------------------------------------------------------------------- converters


def phase_names(regs: RegisterMap | None = None) -> dict[int, str]:
    """Controller phase codes → lower-case names, from the ``PHASE_*`` constants."""
    regs = regs or load_register_map()
    return {
        value: name[len("PHASE_") :].lower()
        for name, value in regs.values.items()
        if name.startswith("PHASE_")
    }
