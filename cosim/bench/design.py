"""Bring your own design, from a cocotb test: ``bridge = await start(dut)``.

The in-simulator half of ``cosim run`` (and usable from any cocotb test, like a cocotb
extension)::

    import cocotb
    from cosim.bench.design import start

    @cocotb.test()
    async def converts(dut):
        bridge = await start(dut)          # reads $COSIM_DESIGN (or pass the design file)
        ...                                 # drive the HDL; the analog side follows
        await bridge.stop()                 # flushes the analog VCD, writes energy.json

:func:`start` loads the design file, checks every HDL port named in it against the DUT
(exists, ``real`` where a real is needed, logic wide enough for a bit), compiles the
Verilog-A models, loads the deck into ngspice and starts the lockstep
(:class:`cosim.bench.lockstep.Bridge`). Outputs go to ``$COSIM_OUT`` (default: the current
directory): ``analog.vcd`` and, if supplies are declared, ``energy.json``.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import cocotb
from cocotb.handle import IntegerObject, LogicArrayObject, LogicObject, PackedObject, RealObject

from cosim.backends.deck import DeckBackend
from cosim.bench.lockstep import Bridge, resolve
from cosim.circuit.va import compile_va
from cosim.design.file import Design, DesignError, load_design

__all__ = ["DesignBridge", "check_ports", "start"]

ENV_DESIGN = "COSIM_DESIGN"
ENV_OUT = "COSIM_OUT"
_LOGIC = (LogicObject, LogicArrayObject, PackedObject, IntegerObject)


def _handle(dut: Any, design: Design, path: str, where: str) -> Any:
    try:
        return resolve(dut, path)
    except (AttributeError, IndexError, KeyError):
        known = sorted(h._name for h in dut if hasattr(h, "_name") and not h._name.startswith("_"))
        raise DesignError(
            design.path,
            where,
            f"no HDL port {path!r} in {dut._path}; it has: {', '.join(known)}",
        ) from None


def check_ports(dut: Any, design: Design) -> None:
    """Every HDL port of the design exists below ``dut`` with the kind its entry needs.

    Raises:
        DesignError: naming the design file and the ``drive.<k>``/``sample.<k>`` field.
    """
    for k, d in enumerate(design.ports.drives):
        h = _handle(dut, design, d.hdl, f"drive.{k}.hdl")
        if d.bit is None and not isinstance(h, RealObject):
            raise DesignError(
                design.path,
                f"drive.{k}.hdl",
                f"{d.hdl!r} is not a `real` port ({type(h).__name__}); give `bit` for a logic port",
            )
        if d.bit is not None:
            if not isinstance(h, _LOGIC):
                raise DesignError(
                    design.path,
                    f"drive.{k}.bit",
                    f"{d.hdl!r} is not a logic port ({type(h).__name__})",
                )
            width = 1 if isinstance(h, LogicObject) else len(h)
            if d.bit >= width:
                raise DesignError(
                    design.path, f"drive.{k}.bit", f"{d.hdl!r} has {width} bit(s), no bit {d.bit}"
                )
    for k, s in enumerate(design.ports.samples):
        h = _handle(dut, design, s.hdl, f"sample.{k}.hdl")
        if s.hysteresis is None and not isinstance(h, RealObject):
            raise DesignError(
                design.path,
                f"sample.{k}.hdl",
                f"{s.hdl!r} is not a `real` input ({type(h).__name__}); give `hysteresis` "
                "to drive a logic input",
            )
        if s.hysteresis is not None and not isinstance(h, _LOGIC):
            raise DesignError(
                design.path,
                f"sample.{k}.hdl",
                f"{s.hdl!r} is not a logic input ({type(h).__name__})",
            )
        if s.strobe is not None:
            _handle(dut, design, s.strobe, f"sample.{k}.strobe")


def _supplies(design: Design) -> dict[str, tuple[str, str]]:
    out = {}
    for name, src in design.analog.supplies.items():
        line = design.deck.read_text().splitlines()[design.deck_info.elements[src] - 1]
        out[name] = (src, line.split()[1].lower())
    return out


class DesignBridge:
    """A running design: the lockstep bridge plus its ngspice deck.

    Attributes:
        design: the design file.
        backend: the analog simulator (:class:`cosim.backends.deck.DeckBackend`).
        bridge: the lockstep (:class:`cosim.bench.lockstep.Bridge`).
        out_dir: where ``analog.vcd`` and ``energy.json`` go.
    """

    def __init__(self, dut: Any, design: Design, out_dir: Path) -> None:
        self.design = design
        self.out_dir = out_dir
        top = resolve(dut, design.instance) if design.instance else dut
        check_ports(top, design)
        osdi = [compile_va(p) for p in design.verilog_a]
        a = design.analog
        quantities = list(design.ports.quantities)
        self.backend = DeckBackend(
            design.deck.read_text(),
            sources=design.ports.sources,
            quantities=quantities,
            tmax_s=a.tmax_s,
            t_stop_s=a.t_stop_s,
            uic=a.uic,
            options=a.options,
            osdi=osdi,
            vcd=out_dir / "analog.vcd",
            record=a.record,
            supplies=_supplies(design),
        )
        self.bridge = Bridge(top, self.backend, design.ports)
        self._task: Any = None
        self._cpu0 = 0.0

    async def start(self) -> DesignBridge:
        """Start following the HDL (returns self)."""
        self._cpu0 = time.process_time()
        self._task = cocotb.start_soon(self.bridge.run())
        return self

    async def stop(self) -> dict[str, Any]:
        """Stop the lockstep, flush the analog VCD, write ``energy.json``; return the stats."""
        self.bridge.stop()
        lockstep_cpu_s = time.process_time() - self._cpu0
        thread_cpu_s = self.backend.analog_thread_cpu_s
        self.backend.close()
        stats = {
            "lockstep_cpu_s": lockstep_cpu_s,  # the whole process (all threads), start to stop
            "analog_thread_cpu_s": thread_cpu_s,
            "callback_cpu_s": self.bridge.callback_cpu_s,
            "syncs": self.backend.stats.syncs,
            "points": self.backend.stats.points,
            "samples": self.backend.stats.samples,
            "events": self.bridge.events,
            "engine": self.bridge.engine,
            "engine_reason": self.bridge.engine_reason,
            "sync_engine": self.backend.stats.extra.get("sync_engine", "python"),
            "energy_J": self.backend.energy_J,
        }
        (self.out_dir / "bridge.json").write_text(json.dumps(stats, indent=1) + "\n")
        if self.backend.energy_J:
            energy = {
                "energy_J": self.backend.energy_J,
                "total_J": sum(self.backend.energy_J.values()),
            }
            (self.out_dir / "energy.json").write_text(json.dumps(energy, indent=1) + "\n")
        return stats


async def start(
    dut: Any, design: Design | str | Path | None = None, out_dir: str | Path | None = None
) -> DesignBridge:
    """Load a design file (default ``$COSIM_DESIGN``) and start its lockstep on ``dut``.

    Raises:
        DesignError: bad design file or HDL ports that do not match it.
    """
    if design is None:
        name = os.environ.get(ENV_DESIGN)
        if not name:
            raise DesignError("<no design>", "-", f"pass a design file or set ${ENV_DESIGN}")
        design = name
    if not isinstance(design, Design):
        design = load_design(design)
    out = Path(out_dir or os.environ.get(ENV_OUT) or ".")
    out.mkdir(parents=True, exist_ok=True)
    return await DesignBridge(dut, design, out).start()
