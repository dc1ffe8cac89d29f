"""Sub-commands of ``cosim`` (one module each: ``add_parser(subparsers)`` and ``run(args)``)."""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable
from decimal import Decimal

__all__ = [
    "device_indices",
    "topology_widths",
    "add_run_options",
    "finite_float",
    "parse_quantity",
    "plain_text",
    "positive_int",
    "quantity",
    "seed_int",
]

PLOT_SUFFIXES = (".png", ".pdf", ".svg")


def finite_float(text: str) -> float:
    """argparse type: a finite number (``inf``/``nan`` are refused)."""
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text!r}")
    return value


def seed_int(text: str) -> int:
    """argparse type: a seed, an integer in 0..2**32-1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"must lie in 0..{2**32 - 1}, got {text!r}")
    return value


#: SI prefixes accepted in option values, as powers of ten (``u`` and ``µ`` both micro;
#: ``meg`` as in SPICE).
_PREFIX = {
    "f": -15, "p": -12, "n": -9, "u": -6, "µ": -6, "m": -3, "": 0,
    "k": 3, "K": 3, "meg": 6, "M": 6, "G": 9,
}  # fmt: skip
#: Unit symbols accepted after the prefix, per quantity.
_UNITS = {"s": ("s",), "V": ("V", "v"), "ohm": ("ohm", "Ohm", "Ω", "R"), "Hz": ("Hz", "hz")}
_NUMBER = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(\S*)\s*$")


def parse_quantity(text: str, unit: str) -> float:
    """A number with an optional SI prefix and unit: ``40ms``, ``40 ms``, ``4e-2``, ``10k``,
    ``10kohm``, ``1.2V``, ``5us``.

    Args:
        unit: ``s``, ``V``, ``ohm`` or ``Hz`` (the symbols accepted after the prefix).

    Raises:
        ValueError: not a finite number with a known prefix/unit (the message says what is).
    """
    m = _NUMBER.match(text)
    if m is None:
        raise ValueError(f"{text!r} is not a number (e.g. 40ms, 10k, 0.5)")
    number, tail = m.groups()
    for symbol in (*_UNITS[unit], ""):
        if symbol and tail.endswith(symbol):
            prefix = tail[: -len(symbol)]
        elif not symbol:
            prefix = tail
        else:
            continue
        if prefix in _PREFIX:
            value = float(Decimal(number).scaleb(_PREFIX[prefix]))  # 5u → 5e-06 exactly
            if not math.isfinite(value):
                raise ValueError(f"{text!r} is not a finite number")
            return value
    raise ValueError(
        f"{text!r}: expected a number with an optional SI prefix (f p n u m k M G) and unit "
        f"{_UNITS[unit][0]}, e.g. 40m{_UNITS[unit][0]}"
    )


def quantity(
    unit: str, *, minimum: float | None = None, strict: bool = False
) -> Callable[[str], float]:
    """argparse type: :func:`parse_quantity` in ``unit``, optionally bounded below
    (``> minimum`` when ``strict``, else ``>=``)."""

    def parse(text: str) -> float:
        try:
            value = parse_quantity(text, unit)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        if minimum is not None and (value <= minimum if strict else value < minimum):
            raise argparse.ArgumentTypeError(
                f"must be {'>' if strict else '>='} {minimum:g} {unit}, got {text!r}"
            )
        return value

    parse.__name__ = f"quantity in {unit}"
    return parse


_ROLE = re.compile(r":[a-z]+:`~?([^`]+)`")


def plain_text(text: str | None) -> str | None:
    """Help text without Sphinx markup (``:mod:`x``` → x, double backquotes dropped)."""
    if text is None:
        return None
    return _ROLE.sub(r"\1", text).replace("``", "")


def device_indices(text: str) -> tuple[int, ...]:
    """argparse type: comma-separated device indices (``0,1,27``)."""
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected indices like 0,1,27") from None


def topology_widths(text: str) -> object:
    """argparse type: layer widths ``N_IN,N_HID,N_OUT`` (a :class:`cosim.topology.Topology`)."""
    from cosim.topology import TopologyError, parse_topology

    try:
        return parse_topology(text)
    except TopologyError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_run_options(p: argparse.ArgumentParser, *, backend: str, seed: int) -> None:
    """Options every co-simulation command shares: backend, seed, device subset, test images."""
    from cosim.config import BACKENDS

    p.add_argument(
        "--backend", choices=BACKENDS, default=backend, help=f"analog backend (default {backend})"
    )
    p.add_argument(
        "--seed", type=seed_int, default=seed, help=f"seed of all draws (default {seed})"
    )
    p.add_argument(
        "--devices",
        type=device_indices,
        default=None,
        help="program only these device indices, e.g. 0,1,27 (default all)",
    )
    p.add_argument(
        "--test-images", type=_count, default=None, help="infer only the first N test images"
    )


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text!r}")
    return value
