"""The one Verilog reader of the package: constant declarations of the project's HDL.

Reads ``localparam``/``parameter`` declarations (one per line, ``NAME = <number>``, an
optional type or range in between) with their values as Verilog numbers: plain or sized
integers (``8'h20``, ``3'd5``, ``16'd2``) and reals (``1000.0``, ``2.5e-3``).  The register
map (``hdl/xbar_regs.vh``) and the harness defaults (``hdl/behav/xbar_top.v``) are read through
it; nothing else in the package parses Verilog.
"""

from __future__ import annotations

import re
from pathlib import Path

from cosim.errors import UsageError

__all__ = ["parse_number", "read_constants"]

_DECL = re.compile(
    r"^\s*(?P<kind>localparam|parameter)\s+"
    r"(?:(?:integer|real)\s+|\[\s*[^\]]*\]\s*)?(?P<name>\w+)\s*=\s*(?P<value>[^;,)]+)"
)
_SIZED = re.compile(r"^(\d+)?'([bdhoBDHO])([0-9a-fA-F_]+)$")
_REAL = re.compile(r"^[-+]?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?$")


def parse_number(text: str, where: str) -> int | float:
    """A Verilog number: an integer (plain or sized) or a real.

    Raises:
        UsageError: not a number (``where`` names the file and line).
    """
    text = text.strip()
    if re.fullmatch(r"[-+]?\d+", text):
        return int(text)
    m = _SIZED.match(text)
    if m:
        base = {"b": 2, "d": 10, "h": 16, "o": 8}[m.group(2).lower()]
        return int(m.group(3).replace("_", ""), base)
    if _REAL.match(text):
        return float(text)
    raise UsageError(f"{where}: cannot parse Verilog number {text!r}")


def read_constants(path: Path, kind: str) -> dict[str, int | float]:
    """``NAME → value`` of every ``kind`` (``"localparam"`` or ``"parameter"``) declaration
    of ``path`` whose value is a number (declarations computed from others are skipped).

    Raises:
        UsageError: the file cannot be read, or a literal value is malformed.
    """
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    values: dict[str, int | float] = {}
    for lineno, line in enumerate(lines, 1):
        m = _DECL.match(line.split("//")[0])
        if not m or m["kind"] != kind:
            continue
        value = m["value"].strip()
        if re.search(r"[A-Za-z_(]", value.replace("'h", "").replace("'d", "").replace("'b", "")):
            if not _SIZED.match(value):
                continue  # an expression of other constants, not a literal
        values[m["name"]] = parse_number(value, f"{path}:{lineno}")
    return values
