"""Spread over seeds: the summary statistics every seed-resolved figure is reported with.

A scientific claim here is stated over several independent seeds (training seeds, device
draws), never over one: :func:`quantiles` gives the median, the interquartile range and the
extremes of a per-seed sample, :func:`share` the fraction of seeds for which a statement
holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["quantiles", "share", "json_ready", "fmt_spread"]


def quantiles(values: Sequence[float]) -> dict[str, float]:
    """``median``, ``q25``, ``q75``, ``min``, ``max`` and ``n`` of a per-seed sample.

    Quantiles by linear interpolation (NumPy's default).  An empty sample gives ``n = 0`` and
    no other keys (JSON stays valid: no NaN).
    """
    a = np.asarray(values, dtype=float)
    if a.size == 0:
        return {"n": 0}
    q25, med, q75 = np.quantile(a, [0.25, 0.5, 0.75])
    return {
        "median": float(med),
        "q25": float(q25),
        "q75": float(q75),
        "min": float(a.min()),
        "max": float(a.max()),
        "n": int(a.size),
    }


def share(flags: Sequence[bool]) -> dict[str, int]:
    """``{"true": k, "n": n}``: for how many of ``n`` seeds a statement holds."""
    return {"true": int(sum(bool(f) for f in flags)), "n": len(flags)}


def fmt_spread(q: dict[str, float], scale: float = 1.0, digits: int = 1, unit: str = "") -> str:
    """``median [q25, q75]`` of :func:`quantiles` for a table cell (``n/a`` when empty)."""
    if not q.get("n"):
        return "n/a"
    return (
        f"{q['median'] * scale:.{digits}f}{unit} "
        f"[{q['q25'] * scale:.{digits}f}, {q['q75'] * scale:.{digits}f}]"
    )


def json_ready(obj: Any) -> Any:
    """Tuples to lists, recursively (for ``json.dumps``)."""
    if isinstance(obj, dict):
        return {k: json_ready(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_ready(v) for v in obj]
    return obj
