"""The design file: a TOML description of an HDL + SPICE design for the lockstep bridge.

Format (every path relative to the file; see ``docs/bridge.md`` for the full reference)::

    [design]
    name = "sar_adc"
    toplevel = "sar_top"            # HDL toplevel
    instance = ""                   # path below the top where the ports live (optional)
    hdl = ["hdl/sar.v", "hdl/sar_top.v"]
    deck = "analog/sar.cir"         # SPICE deck without .tran (the bridge adds it)
    verilog_a = []                  # compiled to OSDI automatically
    test_module = "test_sar"        # cocotb test module next to the file (optional)

    [analog]
    tmax = 20e-9                    # largest analog step, s
    t_stop = 1.0                    # horizon of the transient, s
    uic = false
    reltol = 1e-4                   # also abstol, vntol, chgtol, trtol, method, ...
    record = ["v(top)", "i(vref)"]  # to the analog VCD
    supplies = { vref = "vref" }    # name -> V source: energy = integral of v*i

    [[drive]]                       # HDL output -> `external` source
    hdl = "v_in"                    # output real (gain, default 1) ...
    source = "vin"
    [[drive]]
    hdl = "dac"                     # ... or a logic vector bit, with levels
    bit = 0
    source = "vd0"
    levels = [0.0, 1.0]

    [[sample]]                      # SPICE quantity -> HDL input real (or logic)
    hdl = "v_top"
    node = "top"                    # or current = "vref"
    strobe = "clk"                  # sample on its edge; omit to update at every sync
    edge = "falling"
    hysteresis = [0.45, 0.55]       # makes the HDL input logic (low, high thresholds)

Errors name the file and the field (:class:`DesignError`).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cosim.design.deck import DeckInfo, read_deck
from cosim.design.ports import Drive, PortMap, PortMapError, Sample
from cosim.errors import UsageError

__all__ = ["AnalogSettings", "Design", "DesignError", "load_design"]

#: ngspice options a design file may set, with the defaults that hold the accuracy target
#: (sampled voltages within 0.05 % of an exact integration): ``reltol`` 1e-4 gives 0.0012 % on
#: the workload of ``bench/bench_bridge.py`` (1e-3: 0.0009 % there; kept tighter for margin).
DEFAULT_OPTIONS: dict[str, float | str] = {"reltol": 1e-4}
_OPTIONS = ("reltol", "abstol", "vntol", "chgtol", "trtol", "method", "maxord", "gmin", "itl4")


class DesignError(UsageError):
    """A design file that cannot work; the message names the file and the field."""

    def __init__(self, path: Path | str, where: str, message: str) -> None:
        self.path = Path(path)
        self.field = where
        super().__init__(f"{path}: [{where}] {message}")


@dataclass(frozen=True)
class AnalogSettings:
    """The ``[analog]`` table.

    Attributes:
        tmax_s: largest analog step (s).
        t_stop_s: horizon of the transient (s); the run is normally paused long before.
        uic: skip the operating point (``.tran ... uic``; initial conditions from ``.ic``).
        options: ngspice ``.options`` (tolerances, method).
        record: quantities to the analog VCD (``v(node)``, ``i(source)``).
        supplies: supply name → voltage source: ``supply.<name>.v/i`` in the VCD and energy.
    """

    tmax_s: float = 1e-6
    t_stop_s: float = 1.0
    uic: bool = False
    options: dict[str, float | str] = field(default_factory=lambda: dict(DEFAULT_OPTIONS))
    record: tuple[str, ...] = ()
    supplies: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Design:
    """A validated design file."""

    path: Path
    name: str
    toplevel: str
    instance: str
    hdl: tuple[Path, ...]
    deck: Path
    verilog_a: tuple[Path, ...]
    test_module: str | None
    ports: PortMap
    analog: AnalogSettings
    deck_info: DeckInfo

    @property
    def directory(self) -> Path:
        """The directory of the design file (paths in it are relative to it)."""
        return self.path.parent


def _get(table: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str, path: Path,
         default: Any = ...) -> Any:  # fmt: skip
    if key not in table:
        if default is ...:
            raise DesignError(path, where, f"missing field {key!r}")
        return default
    value = table[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        name = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise DesignError(path, f"{where}.{key}", f"must be a {name}, got {value!r}")
    return value


def _unknown(table: dict[str, Any], allowed: tuple[str, ...], where: str, path: Path) -> None:
    for key in table:
        if key not in allowed:
            raise DesignError(
                path, f"{where}.{key}", f"unknown field; allowed: {', '.join(allowed)}"
            )


def _file(path: Path, rel: str, where: str) -> Path:
    full = (path.parent / rel).resolve()
    if not full.is_file():
        raise DesignError(path, where, f"file {rel!r} does not exist (looked for {full})")
    return full


def _quantity(info: DeckInfo, path: Path, where: str, entry: dict[str, Any]) -> str:
    """The sample key of a ``node = ...`` or ``current = ...`` entry, checked against the deck."""
    node, current = entry.get("node"), entry.get("current")
    if (node is None) == (current is None):
        raise DesignError(path, where, "give exactly one of 'node' or 'current'")
    if node is not None:
        name = str(node).lower()
        if name not in info.nodes:
            raise DesignError(path, f"{where}.node", f"node {node!r} does not exist in the deck")
        return name
    src = str(current).lower()
    if src not in info.elements or src[0] not in "vbe":
        raise DesignError(
            path, f"{where}.current", f"{current!r} is no voltage source of the deck (i(...) "
            "needs a V, B or E element)",
        )  # fmt: skip
    return f"i({src})"


def _vector(info: DeckInfo, path: Path, where: str, text: str) -> str:
    low = text.strip().lower()
    if low.startswith("v(") and low.endswith(")"):
        return _quantity(info, path, where, {"node": low[2:-1]})
    if low.startswith("i(") and low.endswith(")"):
        return _quantity(info, path, where, {"current": low[2:-1]})
    raise DesignError(path, where, f"{text!r}: write v(<node>) or i(<source>)")


def _drives(raw: list[Any], info: DeckInfo, path: Path) -> list[Drive]:
    drives = []
    for k, entry in enumerate(raw):
        where = f"drive.{k}"
        if not isinstance(entry, dict):
            raise DesignError(path, where, "each [[drive]] must be a table")
        _unknown(entry, ("hdl", "source", "gain", "bit", "levels"), where, path)
        hdl = _get(entry, "hdl", str, where, path)
        source = _get(entry, "source", str, where, path)
        if source.lower() not in info.elements:
            raise DesignError(path, f"{where}.source", f"no element {source!r} in the deck")
        if source.lower() not in info.external:
            line = info.elements[source.lower()]
            raise DesignError(
                path, f"{where}.source",
                f"{source!r} (deck line {line}) is not an `external` V or I source; write it "
                f"as '{source} <n+> <n-> dc 0 external'",
            )  # fmt: skip
        gain = _get(entry, "gain", float, where, path, 1.0)
        bit = _get(entry, "bit", int, where, path, None)
        levels = _get(entry, "levels", list, where, path, [0.0, 1.0])
        if len(levels) != 2 or not all(isinstance(v, int | float) for v in levels):
            raise DesignError(path, f"{where}.levels", "must be two numbers [low, high]")
        try:
            drives.append(Drive(hdl, source, gain, bit, (float(levels[0]), float(levels[1]))))
        except PortMapError as exc:
            raise DesignError(path, where, str(exc)) from None
    return drives


def _samples(raw: list[Any], info: DeckInfo, path: Path) -> list[Sample]:
    samples = []
    allowed = ("hdl", "node", "current", "strobe", "edge", "deadband", "hysteresis")
    for k, entry in enumerate(raw):
        where = f"sample.{k}"
        if not isinstance(entry, dict):
            raise DesignError(path, where, "each [[sample]] must be a table")
        _unknown(entry, allowed, where, path)
        hyst = _get(entry, "hysteresis", list, where, path, None)
        if hyst is not None and (
            len(hyst) != 2 or not all(isinstance(v, int | float) for v in hyst)
        ):
            raise DesignError(path, f"{where}.hysteresis", "must be two numbers [low, high]")
        try:
            samples.append(
                Sample(
                    _get(entry, "hdl", str, where, path),
                    _quantity(info, path, where, entry),
                    strobe=_get(entry, "strobe", str, where, path, None),
                    edge=_get(entry, "edge", str, where, path, "rising"),
                    deadband=_get(entry, "deadband", float, where, path, 0.0),
                    hysteresis=None if hyst is None else (float(hyst[0]), float(hyst[1])),
                )
            )
        except PortMapError as exc:
            raise DesignError(path, where, str(exc)) from None
    return samples


def _analog(raw: dict[str, Any], info: DeckInfo, path: Path) -> AnalogSettings:
    allowed = ("tmax", "t_stop", "uic", "record", "supplies", *_OPTIONS)
    _unknown(raw, allowed, "analog", path)
    options: dict[str, float | str] = dict(DEFAULT_OPTIONS)
    for name in _OPTIONS:
        if name in raw:
            options[name] = _get(raw, name, (float, int, str), "analog", path)
    record = tuple(
        _vector(info, path, f"analog.record.{k}", str(v))
        for k, v in enumerate(_get(raw, "record", list, "analog", path, []))
    )
    supplies = dict(_get(raw, "supplies", dict, "analog", path, {}))
    for name, src in supplies.items():
        if not isinstance(src, str) or src.lower() not in info.elements or src[0] not in "vV":
            raise DesignError(
                path, f"analog.supplies.{name}", f"{src!r} is no V source of the deck"
            )
    settings = AnalogSettings(
        tmax_s=_get(raw, "tmax", float, "analog", path, 1e-6),
        t_stop_s=_get(raw, "t_stop", float, "analog", path, 1.0),
        uic=_get(raw, "uic", bool, "analog", path, False),
        options=options,
        record=record,
        supplies={k: str(v).lower() for k, v in supplies.items()},
    )
    if not 0 < settings.tmax_s < settings.t_stop_s:
        raise DesignError(path, "analog.tmax", "need 0 < tmax < t_stop")
    return settings


def load_design(path: str | Path) -> Design:
    """Read and check a design file (files exist, names exist in the deck, types).

    HDL port names and kinds are checked when the bridge starts in the simulator
    (:func:`cosim.bench.design.start`), where the HDL is known.

    Raises:
        DesignError: the first problem found, naming the file and the field.
    """
    path = Path(path).resolve()
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise DesignError(path, "-", f"cannot read the design file: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise DesignError(path, "-", f"not valid TOML: {exc}") from None
    _unknown(data, ("design", "analog", "drive", "sample"), "-", path)
    top = _get(data, "design", dict, "-", path)
    allowed = ("name", "toplevel", "instance", "hdl", "deck", "verilog_a", "test_module")
    _unknown(top, allowed, "design", path)
    deck = _file(path, _get(top, "deck", str, "design", path), "design.deck")
    try:
        info = read_deck(deck)
    except (OSError, UnicodeDecodeError) as exc:
        raise DesignError(path, "design.deck", f"cannot read {deck}: {exc}") from None
    if info.has_tran:
        raise DesignError(
            path, "design.deck", "the deck has a .tran card: remove it, set [analog] tmax/t_stop"
        )
    hdl = tuple(
        _file(path, str(p), f"design.hdl.{k}")
        for k, p in enumerate(_get(top, "hdl", list, "design", path))
    )
    if not hdl:
        raise DesignError(path, "design.hdl", "name at least one HDL source")
    va = tuple(
        _file(path, str(p), f"design.verilog_a.{k}")
        for k, p in enumerate(_get(top, "verilog_a", list, "design", path, []))
    )
    drives = _drives(_get(data, "drive", list, "-", path, []), info, path)
    samples = _samples(_get(data, "sample", list, "-", path, []), info, path)
    try:
        ports = PortMap(tuple(drives), tuple(samples))
    except PortMapError as exc:
        raise DesignError(path, "drive", str(exc)) from None
    return Design(
        path=path,
        name=_get(top, "name", str, "design", path, path.stem),
        toplevel=_get(top, "toplevel", str, "design", path),
        instance=_get(top, "instance", str, "design", path, ""),
        hdl=hdl,
        deck=deck,
        verilog_a=va,
        test_module=_get(top, "test_module", str, "design", path, None),
        ports=ports,
        analog=_analog(_get(data, "analog", dict, "-", path, {}), info, path),
        deck_info=info,
    )
