"""An independent reading of VCD files for tests: pyvcd's tokenizer plus NumPy.

Tests that check figures computed by :mod:`cosim.analysis.metrics` (which reads VCDs with
``cosim.waves.read``'s own parser and integrates in one streaming pass) recompute them here
through a different parser (``vcd.reader.tokenize``) and a different integration (whole traces,
NumPy, VCD hold rule: a value holds from its change until the next change).  Nothing here
imports :mod:`cosim`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from vcd.reader import TokenKind, tokenize

_UNIT_S = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9, "ps": 1e-12, "fs": 1e-15}


@dataclass
class Trace:
    """The changes of one variable: times (s) and values (float for reals, str for logic)."""

    t_s: np.ndarray
    values: list[float | str]

    def floats(self) -> np.ndarray:
        return np.array([float(v) for v in self.values], dtype=float)


@dataclass
class Waves:
    """Traces of the wanted variables and the file's last timestamp (s)."""

    traces: dict[str, Trace]
    t_end_s: float


def read(vcd: Path, names: Iterable[str] = (), prefix: str | None = None) -> Waves:
    """Traces of ``names`` (full dotted names) and of every variable under ``prefix`` (e.g.
    ``"analog."``) from ``vcd``; a missing name raises KeyError."""
    wanted = set(names)
    scope: list[str] = []
    ids: dict[str, list[str]] = {}
    times: dict[str, list[int]] = {}
    vals: dict[str, list[float | str]] = {}
    scale, now, seen = 1.0, 0, set()
    with open(vcd, "rb") as stream:
        for tok in tokenize(stream):
            kind = tok.kind
            if kind is TokenKind.CHANGE_TIME:
                now = int(tok.data)
            elif kind in (TokenKind.CHANGE_REAL, TokenKind.CHANGE_SCALAR, TokenKind.CHANGE_VECTOR):
                for name in ids.get(tok.data.id_code, ()):
                    times[name].append(now)
                    value = tok.data.value
                    vals[name].append(value if kind is TokenKind.CHANGE_REAL else str(value))
            elif kind is TokenKind.SCOPE:
                scope.append(tok.data.ident)
            elif kind is TokenKind.UPSCOPE:
                scope.pop()
            elif kind is TokenKind.VAR:
                name = ".".join([*scope, tok.data.reference])
                if name in wanted or (prefix is not None and name.startswith(prefix)):
                    ids.setdefault(tok.data.id_code, []).append(name)
                    times[name], vals[name] = [], []
                    seen.add(name)
            elif kind is TokenKind.TIMESCALE:
                scale = int(tok.data.magnitude) * _UNIT_S[str(tok.data.unit.value)]
    missing = wanted - seen
    if missing:
        raise KeyError(f"{vcd}: no variables {sorted(missing)}")
    traces = {n: Trace(np.array(times[n], dtype=float) * scale, vals[n]) for n in seen}
    return Waves(traces, now * scale)


def scopes(waves: Waves, parent: str, quantities: Iterable[str]) -> list[str]:
    """Direct sub-scopes of ``parent`` that carry every one of ``quantities``, sorted."""
    found: dict[str, set[str]] = {}
    for name in waves.traces:
        rest = name.removeprefix(parent + ".")
        if rest != name and rest.count(".") == 1:
            sub, q = rest.split(".")
            found.setdefault(sub, set()).add(q)
    return sorted(s for s, qs in found.items() if set(quantities) <= qs)


def first_rise(trace: Trace, after_s: float = -1.0) -> float:
    """Time of the first 0→1 change of a 1-bit trace after ``after_s`` (s)."""
    prev = "0"
    for t, v in zip(trace.t_s, trace.values, strict=True):
        if v == "1" and prev != "1" and t > after_s:
            return float(t)
        prev = str(v)
    raise ValueError("no rising edge")


def held(trace: Trace, at_s: np.ndarray) -> np.ndarray:
    """Value of a real trace held at each time of ``at_s`` (0 before its first change)."""
    t, y = trace.t_s, trace.floats()
    k = np.searchsorted(t, at_s, side="right") - 1
    return np.where(k >= 0, y[np.maximum(k, 0)], 0.0)


def integral(traces: list[Trace], t0_s: float, t1_s: float, power: int = 1) -> float:
    """∫ from t0 to t1 of the product of the held traces (each to ``power``), hold rule."""
    grid = np.unique(np.concatenate([tr.t_s for tr in traces] + [np.array([t0_s, t1_s])]))
    grid = grid[(grid >= t0_s) & (grid <= t1_s)]
    prod = np.ones(grid.size)
    for tr in traces:
        prod = prod * held(tr, grid) ** power
    return float(np.sum(prod[:-1] * np.diff(grid)))
