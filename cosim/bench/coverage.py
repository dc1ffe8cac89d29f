"""Functional coverage of the training bench: which controller behaviours a run reached.

:class:`Coverage` holds the bins and is fed events (phase changes, pulses, the end of a run,
failures, inference classes); it needs no simulator, so its counting is unit-tested directly.
:func:`collect` is the cocotb coroutine that feeds it from the harness ports named by
:func:`cosim.harness.contract.contract`.  :meth:`Coverage.report` gives the ``coverage.json``
record: per group, each bin's hit count, the group's percentage, and for an unhit bin the
reason when it cannot be reached in the run's configuration (``docs/controller.md``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cosim.bench.watch import INT, REAL, Signal, Watch, value_of
from cosim.harness.contract import Contract
from cosim.harness.policy import adaptive_widths_cycles
from cosim.harness.regmap import load_register_map, phase_names

__all__ = ["CoverageSettings", "Coverage", "collect", "TRANSITIONS"]

#: Phase transitions (from, to) the controller can make (``hdl/xbar_ctrl.v`` sequencer).
TRANSITIONS: tuple[tuple[str, str], ...] = (
    ("idle", "reset"),  # a device starts with a reset pulse
    ("idle", "read"),  # a device starts with a read (no reset), or a step wait ends
    ("idle", "infer"),  # an inference starts
    ("reset", "read"),  # verify read after the reset pulse
    ("read", "write"),  # verify: below the window
    ("read", "erase"),  # verify: above the window
    ("read", "idle"),  # device done / failed, or a step wait starts
    ("write", "read"),
    ("erase", "read"),
    ("infer", "idle"),
)


@dataclass(frozen=True)
class CoverageSettings:
    """What a run was configured to do (decides which bins are reachable).

    Attributes:
        reset_pulse: reset pulse before each device (``REG_RESET_EN``).
        step_wait: a host step latency after each verify read (``REG_STEP_WAIT`` > 0).
        write_cyc, erase_cyc: configured write/erase widths (clock cycles).
        adaptive_min_cycles: ``REG_MIN_CYC`` with adaptation on, else None.
        n_classes: classes ``REG_INF_CLASS`` can report (2 for one output neuron).
        n_images: inferences the bench runs.
    """

    reset_pulse: bool
    step_wait: bool
    write_cyc: int
    erase_cyc: int
    adaptive_min_cycles: int | None
    n_classes: int
    n_images: int

    @classmethod
    def from_registers(
        cls, regs: Mapping[str, int], *, n_classes: int, n_images: int
    ) -> CoverageSettings:
        """Settings from the configuration registers the host wrote (``XbarHost.configure``)."""
        adaptive = bool(regs["REG_ADAPT"] >> load_register_map()["ADAPT_EN"] & 1)
        return cls(
            reset_pulse=bool(regs["REG_RESET_EN"] & 1),
            step_wait=bool(regs["REG_STEP_WAIT"] or regs["REG_STEP_WAIT_HI"]),
            write_cyc=regs["REG_WRITE_CYC"],
            erase_cyc=regs["REG_ERASE_CYC"],
            adaptive_min_cycles=regs["REG_MIN_CYC"] if adaptive else None,
            n_classes=n_classes,
            n_images=n_images,
        )

    def width_levels(self) -> dict[str, tuple[int, ...]]:
        """Distinct widths (cycles) per kind: the configured one, then each halving."""
        if self.adaptive_min_cycles is None:
            levels: tuple[tuple[int, int], ...] = (
                (max(self.write_cyc, 1), max(self.erase_cyc, 1)),
            )
        else:
            levels = adaptive_widths_cycles(
                self.write_cyc, self.erase_cyc, self.adaptive_min_cycles
            )
        return {
            kind: tuple(dict.fromkeys(lv[i] for lv in levels))
            for i, kind in enumerate(("write", "erase"))
        }


class Coverage:
    """Coverage bins of one bench run, fed event by event."""

    def __init__(self) -> None:
        self.phases: dict[str, int] = {}
        self.transitions: dict[tuple[str, str], int] = {}
        self.widths: dict[tuple[str, int], int] = {}
        self.reversals: dict[str, int] = {"write_after_erase": 0, "erase_after_write": 0}
        self.reset: dict[str, int] = {"on": 0, "off": 0}
        self.failures = 0
        self.classes: dict[int, int] = {}
        self._phase: str | None = None
        self._device: int | None = None  # device whose pulse direction is being followed
        self._last_dir: str | None = None

    @property
    def current_phase(self) -> str | None:
        """The phase last seen."""
        return self._phase

    def phase(self, name: str) -> None:
        """The phase marker changed to ``name``."""
        self.phases[name] = self.phases.get(name, 0) + 1
        if self._phase is not None and self._phase != name:
            key = (self._phase, name)
            self.transitions[key] = self.transitions.get(key, 0) + 1
        self._phase = name

    def pulse(self, device: int, kind: str, width_cycles: int) -> None:
        """A programming pulse of ``kind`` (phase name) on ``device`` ended."""
        if device != self._device:  # the device's first pulse: reset or read
            self._device, self._last_dir = device, None
            if kind in ("reset", "read"):
                self.reset["on" if kind == "reset" else "off"] += 1
        if kind not in ("write", "erase"):
            return
        key = (kind, width_cycles)
        self.widths[key] = self.widths.get(key, 0) + 1
        if self._last_dir is not None and self._last_dir != kind:
            self.reversals[f"{kind}_after_{self._last_dir}"] += 1
        self._last_dir = kind

    def run_done(self) -> None:
        """A controller run ended (``done``): the next pulse starts a device afresh."""
        self._device, self._last_dir = None, None

    def failed(self, n: int) -> None:
        """``n`` devices were flagged failed at the pulse limit."""
        self.failures += n

    def inferred(self, classes: Iterable[int]) -> None:
        """Classes (``REG_INF_CLASS``) the controller decided."""
        for c in classes:
            self.classes[int(c)] = self.classes.get(int(c), 0) + 1

    # ------------------------------------------------------------------------ report
    def report(self, s: CoverageSettings) -> dict[str, Any]:
        """The ``coverage.json`` record of this run under settings ``s``."""
        no_reset = "reset pulse off in this configuration"
        no_infer = "no inference in this configuration (0 test images)"
        unreach_phase = {"reset": no_reset if not s.reset_pulse else None}
        unreach_phase["infer"] = no_infer if s.n_images == 0 else None
        phases = {
            name: (self.phases.get(name, 0), unreach_phase.get(name))
            for name in phase_names().values()
        }
        trans: dict[str, tuple[int, str | None]] = {}
        for a, b in TRANSITIONS:
            why = unreach_phase.get(a) or unreach_phase.get(b)
            if (a, b) == ("idle", "read") and s.reset_pulse and not s.step_wait:
                why = "every device starts with a reset pulse and there is no step wait"
            trans[f"{a}->{b}"] = (self.transitions.get((a, b), 0), why)
        levels = s.width_levels()
        widths: dict[str, tuple[int, str | None]] = {}
        for kind, values in levels.items():
            for i, w in enumerate(values):
                label = "configured" if i == 0 else f"halved x{i}"
                widths[f"{kind} {w} cycles ({label})"] = (self.widths.get((kind, w), 0), None)
        reset_why = {"on": no_reset if not s.reset_pulse else None}
        reset_why["off"] = "reset pulse on in this configuration" if s.reset_pulse else None
        groups: dict[str, dict[str, tuple[int, str | None]]] = {
            "phases": phases,
            "transitions": trans,
            "pulse_widths": widths,
            "reversals": {k: (v, None) for k, v in self.reversals.items()},
            "failure": {"device failed at the pulse limit": (self.failures, None)},
            "reset": {k: (v, reset_why[k]) for k, v in self.reset.items()},
            "inference_classes": {
                str(c): (self.classes.get(c, 0), no_infer if s.n_images == 0 else None)
                for c in range(s.n_classes)
            },
        }
        unexpected = {
            "transitions": sorted(
                f"{a}->{b}" for a, b in self.transitions if (a, b) not in TRANSITIONS
            ),
            "pulse_widths": sorted(
                f"{k} {w}" for k, w in self.widths if w not in levels.get(k, ())
            ),
            "inference_classes": sorted(c for c in self.classes if not 0 <= c < s.n_classes),
        }
        out_groups = {name: _group(bins) for name, bins in groups.items()}
        hit = sum(g["hit"] for g in out_groups.values())
        total = sum(g["bins"] for g in out_groups.values())
        unreachable = sum(g["unreachable"] for g in out_groups.values())
        return {
            "hit": hit,
            "bins": total,
            "unreachable": unreachable,
            "percent": _pct(hit, total),
            "percent_reachable": _pct(hit, total - unreachable),
            "groups": out_groups,
            "unexpected": unexpected,
        }

    def summary_line(self, report: Mapping[str, Any]) -> str:
        """One-line summary of a :meth:`report` for the log."""
        missed = [
            f"{g}:{b}"
            for g, grp in report["groups"].items()
            for b, rec in grp["bins_hit"].items()
            if rec["hits"] == 0 and "unreachable" not in rec
        ]
        return (
            f"coverage: {report['hit']}/{report['bins']} bins hit ({report['percent']:.1f} %), "
            f"{report['unreachable']} unreachable in this configuration, "
            f"{len(missed)} reachable but missed{': ' + ', '.join(missed) if missed else ''}"
        )


def _pct(hit: int, total: int) -> float:
    return round(100.0 * hit / total, 1) if total else 100.0


def _group(bins: Mapping[str, tuple[int, str | None]]) -> dict[str, Any]:
    recs: dict[str, dict[str, Any]] = {}
    for name, (hits, why) in bins.items():
        recs[name] = {"hits": hits}
        if hits == 0 and why:
            recs[name]["unreachable"] = why
    hit = sum(1 for r in recs.values() if r["hits"] > 0)
    unreachable = sum(1 for r in recs.values() if "unreachable" in r)
    return {
        "hit": hit,
        "bins": len(recs),
        "unreachable": unreachable,
        "percent": _pct(hit, len(recs)),
        "bins_hit": recs,
    }


async def collect(dut: Any, c: Contract, cov: Coverage) -> None:
    """Feed ``cov`` from the harness forever (start with ``cocotb.start_soon``).

    Watches the phase marker, the pulse DAC (a pulse's device is ``cur_dev`` and its kind the
    phase at its start; its width in clock cycles), ``done`` (end of a run).
    """
    names = phase_names()
    period_ps = float(dut.CLK_PERIOD_NS.value) * 1e3
    signals = [
        Signal(c.phase, INT),
        Signal(c.prog_dac, REAL),
        Signal(c.done, INT),
        Signal(c.cur_dev, INT, on=None),
    ]
    on: tuple[int, str, float] | None = None
    done_prev = value_of(INT, getattr(dut, c.done).value)

    def on_event(t: float, v: Mapping[str, float]) -> None:
        nonlocal on, done_prev
        done = v[c.done]
        if done == 1 and done_prev != 1:
            cov.run_done()
        done_prev = done
        code = int(v[c.phase])
        if code < 0:  # X/Z before the reset
            return
        name = names.get(code, str(code))
        if name != cov.current_phase:
            cov.phase(name)
        level = v[c.prog_dac]
        if on is None and level != 0.0:
            on = (int(v[c.cur_dev]), name, t)
        elif on is not None and level == 0.0:
            dev, kind, t0 = on
            cov.pulse(dev, kind, round((t - t0) / period_ps))
            on = None

    await Watch(dut, signals, on_event).run()
