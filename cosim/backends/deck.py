"""Any SPICE deck in libngspice, stepped in lockstep: the analog side of a design file.

Knows nothing of crossbars: it loads the deck (and the design's Verilog-A models), adds the
``.tran`` card and ``.options`` from the design, holds the ``external`` sources the bridge
drives, samples the quantities the port map asks for, streams the recorded quantities to the
analog VCD and integrates the supplies' energy (∫ v·i dt over every accepted point).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from cosim.backends.protocol import BackendStats
from cosim.backends.spice_lockstep import SpiceLockstep, tran_card
from cosim.spice.ngspice import NgSpice
from cosim.waves.write import AnalogVcdWriter

__all__ = ["DeckBackend", "vector_name"]


def vector_name(quantity: str) -> str:
    """ngspice's vector for a quantity key: ``top`` → ``top``, ``i(vref)`` → ``vref#branch``."""
    if quantity.startswith("i(") and quantity.endswith(")"):
        return f"{quantity[2:-1]}#branch"
    return quantity


def _vcd_name(quantity: str) -> str:
    """Analog VCD name of a recorded quantity: ``top`` → ``top.v``, ``i(vref)`` → ``vref.i``."""
    if quantity.startswith("i(") and quantity.endswith(")"):
        return f"{quantity[2:-1]}.i"
    return f"{quantity}.v"


class DeckBackend(SpiceLockstep):
    """A SPICE deck in libngspice under the bridge.

    Args:
        deck_text: the deck (title line first), without an analysis card.
        sources: the ``external`` sources the bridge drives (held at 0 until driven).
        quantities: sample keys (``node`` or ``i(source)``) that :meth:`sample` returns.
        tmax_s, t_stop_s, uic: the ``.tran`` card.
        options: ngspice ``.options`` (``reltol`` ...).
        osdi: compiled Verilog-A models to load first.
        vcd: analog VCD path (None, or nothing to record: no file).
        record: quantities to the VCD (``node`` or ``i(source)``).
        supplies: supply name → (source, its + node): ``supply.<name>.v/i`` and energy.
        flush_every_s: wall-clock interval between blocks written to the VCD.
    """

    def __init__(
        self,
        deck_text: str,
        *,
        sources: Sequence[str],
        quantities: Sequence[str],
        tmax_s: float,
        t_stop_s: float = 1.0,
        uic: bool = False,
        options: Mapping[str, float | str] | None = None,
        osdi: Sequence[Path] = (),
        vcd: Path | None = None,
        record: Sequence[str] = (),
        supplies: Mapping[str, tuple[str, str]] | None = None,
        flush_every_s: float = 0.5,
    ) -> None:
        self.stats = BackendStats()
        self._quantities = [(q, vector_name(q)) for q in quantities]
        self._supplies = dict(supplies or {})
        self.energy_J = dict.fromkeys(self._supplies, 0.0)
        self._record = [(_vcd_name(q), vector_name(q)) for q in record]
        for name, (src, node) in self._supplies.items():
            self._record += [(f"supply.{name}.v", node), (f"supply.{name}.i", f"-{src}#branch")]
        self._writer = (
            AnalogVcdWriter(vcd, [], [], [], signals=[n for n, _ in self._record])
            if vcd is not None and self._record
            else None
        )
        lines = deck_text.rstrip().splitlines()
        if lines and lines[-1].strip().lower() == ".end":
            lines.pop()
        if options:
            lines.append(".options " + " ".join(f"{k}={v}" for k, v in options.items()))
        lines += [tran_card(tmax_s, t_stop_s, uic=uic), ".end"]
        self._ng = NgSpice()
        try:
            for path in osdi:
                self._ng.load_osdi(path)
            self._ng.load_circuit(lines)
            for name in sources:
                self._ng.set_source(name, 0.0)
        except BaseException:
            self._ng.close()
            raise
        self.stats.extra["sync_engine"] = self._ng.sync_engine  # "c" or "python"
        self._read = 0
        self._last: dict[str, float] = {}  # last point of the previous block (energy)
        self._flush_every_s = flush_every_s
        self._next_flush = 0.0
        self._edges: list[float] = []

    def _flush_points(self) -> None:
        if self._ng.transient_state == "idle":
            return
        t = self._ng.vector_tail("time", self._read)
        if t.size == 0:
            return
        tail = self._ng.vector_tail
        cols = {}
        for name, vec in self._record:
            sign = -1.0 if vec.startswith("-") else 1.0
            cols[name] = sign * tail(vec.lstrip("-"), self._read)[: t.size]
        t_prev = self._last.get("t")
        for sup in self._supplies:
            v, i = cols[f"supply.{sup}.v"], cols[f"supply.{sup}.i"]
            p = v * i
            if t_prev is not None:
                p0 = self._last[sup]
                self.energy_J[sup] += 0.5 * (p0 + float(p[0])) * (float(t[0]) - t_prev)
            self.energy_J[sup] += float((0.5 * (p[1:] + p[:-1]) * (t[1:] - t[:-1])).sum())
            self._last[sup] = float(p[-1])
        self._last["t"] = float(t[-1])
        edges, self._edges = self._edges, []
        if self._writer is not None:
            self._writer.write_block(t, cols, edges=edges)
        self._read += t.size
        self.stats.points += t.size
        self._next_flush = time.monotonic() + self._flush_every_s

    def sample_vectors(self) -> dict[str, str]:
        return dict(self._quantities)

    def sample(self) -> dict[str, float]:
        self.stats.samples += 1
        self._ensure_started()
        latest = self._ng.latest
        return {q: latest(vec) for q, vec in self._quantities}
