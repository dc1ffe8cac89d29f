"""The port map of a lockstep design: which HDL ports drive which analog sources, and back.

A design (the crossbar, or a user's own) is connected to the analog simulator only through
this map; the bridge (:mod:`cosim.bench.lockstep`) knows nothing else about it. Port kinds
(see ``docs/bridge.md`` and ``docs/timing.md``):

* :class:`Drive` — an HDL ``output real`` (``bit=None``) or one bit of a logic vector drives an
  ``external`` source: ``gain * value`` for a real, ``levels[bit]`` for a logic bit. Applied as a
  zero-order hold from the instant the port changes.
* :class:`Sample` — an analog quantity (a node voltage, the key the backend's ``sample()``
  returns) is written to an HDL ``input real`` on the rising edge of the map's ``strobe``.

HDL port names are paths below the DUT: ``v_prog``, ``sel``, or a generate scope such as
``g_in[3].v``. A port rename in the HDL is a change of this data, not of the bridge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cosim.errors import UsageError

__all__ = ["Drive", "PortMap", "PortMapError", "Sample", "hdl_path"]

#: Switch control level of a closed switch (the switch models threshold at 0.5 V).
V_SWITCH_ON = 1.0

_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*(\[\d+\])?(\.[A-Za-z_][A-Za-z0-9_$]*(\[\d+\])?)*")


class PortMapError(UsageError):
    """A port map that cannot work (bad path, duplicate source, no strobe)."""


def hdl_path(path: str) -> tuple[tuple[str, int | None], ...]:
    """``"g_in[3].v"`` → ``(("g_in", 3), ("v", None))``: the steps from the DUT to a port.

    Raises:
        PortMapError: not a dotted HDL path with optional ``[index]`` steps.
    """
    if not _PATH.fullmatch(path):
        raise PortMapError(f"HDL port {path!r} is not a path like 'v_prog' or 'g_in[3].v'")
    steps: list[tuple[str, int | None]] = []
    for part in path.split("."):
        name, _, index = part.partition("[")
        steps.append((name, int(index[:-1]) if index else None))
    return tuple(steps)


@dataclass(frozen=True)
class Drive:
    """HDL output → ``external`` source.

    Attributes:
        hdl: path of the HDL port below the DUT.
        source: name of the ``external`` source in the deck (case-insensitive in ngspice).
        gain: source value per unit of a real port (V/V or A/V); -1 gives an inverted copy.
        bit: for a logic port, the bit that drives the source (None: the port is ``real``).
        levels: source values for bit 0 and bit 1 (V or A); an unknown bit (x/z) gives level 0.
    """

    hdl: str
    source: str
    gain: float = 1.0
    bit: int | None = None
    levels: tuple[float, float] = (0.0, V_SWITCH_ON)

    def __post_init__(self) -> None:
        hdl_path(self.hdl)
        if self.bit is not None and self.bit < 0:
            raise PortMapError(f"drive {self.hdl!r} -> {self.source!r}: bit must be >= 0")


@dataclass(frozen=True)
class Sample:
    """Analog quantity → HDL input: a ``real``, or a logic bit through a hysteresis threshold.

    Attributes:
        hdl: path of the HDL input below the DUT.
        quantity: key of the backend's ``sample()`` (a node name such as ``sense``, or
            ``i(<source>)`` for a branch current).
        strobe: HDL signal whose ``edge`` takes the sample; None: updated at every sync (every
            wake of the bridge: each change of a driving port and each strobe edge).
        edge: ``"rising"`` or ``"falling"``.
        deadband: with ``strobe=None``, a new value is written only when it differs from the
            last written one by more than this (V or A); 0 writes every change.
        hysteresis: ``(low, high)``: the HDL input is logic, 1 once the quantity rises above
            ``high``, 0 once it falls below ``low``, unchanged in between. None: a ``real``.
    """

    hdl: str
    quantity: str
    strobe: str | None = None
    edge: str = "rising"
    deadband: float = 0.0
    hysteresis: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        hdl_path(self.hdl)
        if self.strobe is not None:
            hdl_path(self.strobe)
        if self.edge not in ("rising", "falling"):
            raise PortMapError(f"sample {self.hdl!r}: edge {self.edge!r}, use rising or falling")
        if self.hysteresis is not None and not self.hysteresis[0] <= self.hysteresis[1]:
            raise PortMapError(f"sample {self.hdl!r}: hysteresis needs low <= high")

    def level(self, value: float, previous: int) -> int:
        """The logic level for ``value`` given the previous level (hysteresis ports)."""
        assert self.hysteresis is not None
        low, high = self.hysteresis
        if value > high:
            return 1
        if value < low:
            return 0
        return previous


@dataclass(frozen=True)
class PortMap:
    """Everything that crosses between the HDL and the analog side.

    Attributes:
        drives: HDL outputs → sources.
        samples: analog quantities → HDL inputs.
    """

    drives: tuple[Drive, ...]
    samples: tuple[Sample, ...] = ()

    def __post_init__(self) -> None:
        seen: dict[str, str] = {}
        for d in self.drives:
            key = d.source.lower()
            if key in seen:
                raise PortMapError(
                    f"source {d.source!r} is driven twice (by {seen[key]!r} and {d.hdl!r})"
                )
            seen[key] = d.hdl

    @property
    def sources(self) -> tuple[str, ...]:
        """The driven source names, in drive order."""
        return tuple(d.source for d in self.drives)

    @property
    def quantities(self) -> tuple[str, ...]:
        """The sampled analog quantities (each once), in sample order."""
        return tuple(dict.fromkeys(s.quantity for s in self.samples))

    @property
    def strobes(self) -> tuple[tuple[str, str], ...]:
        """The distinct ``(strobe, edge)`` pairs of the samples."""
        pairs = ((s.strobe, s.edge) for s in self.samples if s.strobe is not None)
        return tuple(dict.fromkeys(pairs))
