"""Replay a recorded co-simulation stimulus in ngspice alone (the lockstep-overhead baseline).

A ``training_run`` records every value the bridge applied to the analog side
(``stimulus.json``).  :func:`pwl_netlist` turns that record into piecewise-linear sources, so
that ngspice can run the same analog experiment in one ``.tran`` without Icarus, cocotb or any
synchronisation — the baseline of ``bench/bench_cosim.py``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cosim.backends.spice_lockstep import tran_card
from cosim.circuit.netlist import CrossbarNetlist, with_analysis

__all__ = ["load_record", "pwl_netlist"]


def load_record(path: str | Path) -> dict[str, Any]:
    """The ``stimulus.json`` of a run: ``{"stimulus": [[t, {src: v}]], "samples": [...]}``."""
    return json.loads(Path(path).read_text())


def _pwl(points: Sequence[tuple[float, float]], edge_s: float) -> str:
    """PWL pairs of a zero-order-hold sequence with edges of ``edge_s``."""
    pairs: list[str] = []
    last = None
    for t, v in points:
        if last is None:
            pairs.append(f"0 {v:.12g}")
        elif v != last:
            pairs.append(f"{t:.12g} {last:.12g} {t + edge_s:.12g} {v:.12g}")
        last = v
    chunks = [" ".join(pairs[i : i + 8]) for i in range(0, len(pairs), 8)]
    return "pwl(" + "\n+ ".join(chunks) + ")"


def pwl_netlist(
    nl: CrossbarNetlist,
    stimulus: Sequence[tuple[float, dict[str, float]]],
    *,
    tmax_s: float,
    edge_s: float = 1e-9,
) -> str:
    """The crossbar netlist with every ``external`` source replaced by the recorded values.

    Args:
        nl: the crossbar of the recorded run.
        stimulus: the record's ``stimulus`` list.
        tmax_s: TMAX, as in the co-simulation (the ``.tran`` card is the lockstep one; run it
            with ``NgSpice.advance_to(t_end)``).
        edge_s: rise/fall time of each recorded step (ngspice needs a finite slope).
    """
    series: dict[str, list[tuple[float, float]]] = {s: [] for s in nl.external_sources}
    for t, values in stimulus:
        for src, v in values.items():
            series[src].append((float(t), float(v)))
    lines = []
    for line in nl.text.splitlines():
        words = line.split()
        if len(words) == 4 and words[3] == "external" and words[0] in series:
            points = series[words[0]] or [(0.0, 0.0)]
            line = f"{words[0]} {words[1]} {words[2]} {_pwl(points, edge_s)}"
        lines.append(line)
    return with_analysis("\n".join(lines) + "\n", tran_card(tmax_s))
