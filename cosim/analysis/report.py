"""What :func:`cosim.analysis.metrics.measure` returns: :class:`Report` (per device:
:class:`DeviceReport`), and :func:`json_safe`, which keeps every JSON output valid."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["DeviceReport", "Report", "json_safe", "note_non_finite"]


def json_safe(obj: Any, where: str = "") -> tuple[Any, list[str]]:
    """``obj`` with every non-finite float replaced by None, and the paths replaced.

    JSON has no NaN or infinity; ``json.dumps`` would write invalid ``NaN`` tokens.
    """
    if isinstance(obj, float) and not math.isfinite(obj):
        return None, [where or "value"]
    if isinstance(obj, dict):
        out, bad = {}, []
        for k, v in obj.items():
            out[k], b = json_safe(v, f"{where}.{k}" if where else str(k))
            bad += b
        return out, bad
    if isinstance(obj, list | tuple):
        items, bad = [], []
        for n, v in enumerate(obj):
            item, b = json_safe(v, f"{where}[{n}]")
            items.append(item)
            bad += b
        return items, bad
    return obj, []


@dataclass
class DeviceReport:
    """Per-device results (SI units)."""

    energy_J: float = 0.0
    energy_by_phase_J: dict[str, float] = field(default_factory=dict)
    pulses: int = 0
    pulses_by_phase: dict[str, int] = field(default_factory=dict)
    reads: int = 0
    x: float | None = None
    g_S: float | None = None
    i2_A2s: float = 0.0
    """∫ i² dt of the device current: a series path of resistance R dissipates R·i2_A2s."""


@dataclass
class Report:
    """Everything measured from one VCD; ``None`` where the VCD lacks the signals."""

    vcd: str
    t_end_s: float
    window: str = "all"
    training_time_s: float | None = None
    t_start_s: float | None = None
    t_done_s: float | None = None
    energy_device_J: float | None = None
    energy_J: float | None = None
    energy_by_phase_J: dict[str, float] = field(default_factory=dict)
    energy_supply_by_phase_J: dict[str, float] = field(default_factory=dict)
    time_by_phase_s: dict[str, float] = field(default_factory=dict)
    phase_entries: dict[str, int] = field(default_factory=dict)
    supplies: dict[str, float] = field(default_factory=dict)
    devices: dict[str, DeviceReport] = field(default_factory=dict)
    n_changes: int = 0
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form (JSON-serializable: non-finite numbers become None, see notes)."""
        clean, _ = json_safe(asdict(self))
        return clean  # type: ignore[no-any-return]

    def to_json(self, indent: int | None = 2) -> str:
        """The report as one JSON object (always valid JSON)."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)


def note_non_finite(report: Report) -> None:
    """Add a note naming the figures that are not finite (NaN or infinity in the samples)."""
    bad = _non_finite(report, "")
    if bad:
        shown = ", ".join(bad[:6]) + (f" and {len(bad) - 6} more" if len(bad) > 6 else "")
        report.notes.append(
            f"non-finite values (NaN or infinity) in the VCD's samples: {shown} not "
            "measured (null in --json)"
        )


def _non_finite(obj: Any, where: str) -> list[str]:
    """The paths :func:`json_safe` of ``asdict(obj)`` would report (without the copies)."""
    if isinstance(obj, float):
        return [] if math.isfinite(obj) else [where or "value"]
    if isinstance(obj, DeviceReport | Report):
        obj = vars(obj)
    if isinstance(obj, dict):
        return [
            p for k, v in obj.items() for p in _non_finite(v, f"{where}.{k}" if where else str(k))
        ]
    if isinstance(obj, list | tuple):
        return [p for n, v in enumerate(obj) for p in _non_finite(v, f"{where}[{n}]")]
    return []
