"""Functional coverage of the training bench (``cosim.bench.coverage``, ``coverage.json``)."""

from __future__ import annotations

import json
from pathlib import Path

from cosim.bench.coverage import TRANSITIONS, Coverage, CoverageSettings
from cosim.config import SimConfig
from cosim.harness.regmap import phase_names
from cosim.run.sim import run_sim

GROUPS = {
    "phases",
    "transitions",
    "pulse_widths",
    "reversals",
    "failure",
    "reset",
    "inference_classes",
}


def _settings(**kw: object) -> CoverageSettings:
    base: dict[str, object] = dict(
        reset_pulse=True,
        step_wait=False,
        write_cyc=8,
        erase_cyc=6,
        adaptive_min_cycles=2,
        n_classes=2,
        n_images=3,
    )
    base.update(kw)
    return CoverageSettings(**base)  # type: ignore[arg-type]


def _hits(report: dict, group: str) -> dict[str, int]:
    return {b: r["hits"] for b, r in report["groups"][group]["bins_hit"].items()}


def test_bins_from_a_synthetic_event_sequence() -> None:
    cov = Coverage()
    # device 3: reset, read, write 8, read, write 8, read, erase 3 (reversal 1, halved),
    # read, write 2 (reversal 2, at the minimum), read
    cov.phase("idle")
    seq = [
        (3, "reset", 20),
        (3, "read", 4),
        (3, "write", 8),
        (3, "read", 4),
        (3, "write", 8),
        (3, "read", 4),
        (3, "erase", 3),
        (3, "read", 4),
        (3, "write", 2),
        (3, "read", 4),
        (None, "idle", 0),
        # device 5 starts with an erase: no reversal carried over from device 3
        (5, "reset", 20),
        (5, "read", 4),
        (5, "erase", 6),
        (5, "read", 4),
        (None, "idle", 0),
    ]
    for dev, kind, width in seq:
        if cov.current_phase != kind:
            cov.phase(kind)
        if dev is not None:
            cov.pulse(dev, kind, width)
    cov.phase("write")  # idle -> write: not a move the controller makes
    cov.phase("idle")
    cov.run_done()
    cov.pulse(5, "read", 4)  # a new run on device 5, no reset pulse: its first pulse is a read
    cov.pulse(5, "write", 8)  # first write/erase of the run: not a reversal
    cov.failed(1)
    cov.inferred([1, 1, 0])
    report = cov.report(_settings())
    assert set(report["groups"]) == GROUPS
    assert _hits(report, "reversals") == {"write_after_erase": 1, "erase_after_write": 1}
    assert _hits(report, "pulse_widths") == {
        "write 8 cycles (configured)": 3,
        "write 4 cycles (halved x1)": 0,
        "write 2 cycles (halved x2)": 1,
        "erase 6 cycles (configured)": 1,
        "erase 3 cycles (halved x1)": 1,
        "erase 2 cycles (halved x2)": 0,
    }
    assert _hits(report, "reset") == {"on": 2, "off": 1}
    assert _hits(report, "failure") == {"device failed at the pulse limit": 1}
    assert _hits(report, "inference_classes") == {"0": 1, "1": 2}
    trans = _hits(report, "transitions")
    assert set(trans) == {f"{a}->{b}" for a, b in TRANSITIONS}
    assert trans["read->write"] == 3 and trans["read->erase"] == 2 and trans["reset->read"] == 2
    assert trans["read->idle"] == 2 and trans["idle->reset"] == 2 and trans["idle->read"] == 0
    assert report["unexpected"]["transitions"] == ["idle->write", "write->idle"]
    assert report["unexpected"]["pulse_widths"] == []
    phases = _hits(report, "phases")
    assert set(phases) == set(phase_names().values()) and phases["infer"] == 0
    widths = report["groups"]["pulse_widths"]
    assert widths["hit"] == 4 and widths["bins"] == 6 and widths["percent"] == 66.7
    json.dumps(report, allow_nan=False)


def test_unexpected_width_and_unreachable_reasons() -> None:
    cov = Coverage()
    cov.pulse(0, "read", 4)
    cov.pulse(0, "write", 7)  # not a level of 8 → 4 → 2
    report = cov.report(_settings(reset_pulse=False, adaptive_min_cycles=None, n_images=0))
    assert report["unexpected"]["pulse_widths"] == ["write 7"]
    assert list(_hits(report, "pulse_widths")) == [
        "write 8 cycles (configured)",
        "erase 6 cycles (configured)",
    ]
    bins = report["groups"]["reset"]["bins_hit"]
    assert bins["off"] == {"hits": 1} and "unreachable" in bins["on"]
    assert "unreachable" in report["groups"]["phases"]["bins_hit"]["reset"]
    assert "unreachable" in report["groups"]["phases"]["bins_hit"]["infer"]
    assert "unreachable" not in report["groups"]["transitions"]["bins_hit"]["idle->read"]
    on = Coverage().report(_settings())
    assert "unreachable" in on["groups"]["transitions"]["bins_hit"]["idle->read"]
    assert "unreachable" in on["groups"]["reset"]["bins_hit"]["off"]


def test_numpy_run_writes_coverage_json(tmp_path: Path) -> None:
    run_sim(SimConfig(backend="numpy", devices=(0, 27), test_images=4, out_dir=tmp_path))
    report = json.loads((tmp_path / "coverage.json").read_text())
    assert set(report["groups"]) == GROUPS
    phases = _hits(report, "phases")
    for name in ("write", "read", "reset", "infer"):
        assert phases[name] > 0, f"phase {name} not entered"
    assert report["unexpected"] == {
        "transitions": [],
        "pulse_widths": [],
        "inference_classes": [],
    }
    assert 0 < report["hit"] <= report["bins"]
    for group in report["groups"].values():
        assert group["percent"] == round(100.0 * group["hit"] / group["bins"], 1)
    host = json.loads((tmp_path / "host.json").read_text())
    assert sum(_hits(report, "inference_classes").values()) == len(host["inferences"]) == 4
