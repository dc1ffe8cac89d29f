"""The efficiency study: training time and energy per device card, with and without reset.

:func:`run_study` runs one full programming co-simulation (``cosim sim``) per card × reset
setting, each in its own process (``python -m cosim.cli sim … --out DIR/<card>-reset-<on|off>``),
``jobs`` at a time, and reports progress as runs start and finish.  Every figure of the study
is then measured **from each run's merged VCD** with :func:`cosim.analysis.metrics.measure` (window
``training``, the same code as ``cosim report``); only the accuracy and the failed-device count
come from the run's ``summary.json`` (they need the host's labels and targets).

Outputs in the study directory: ``efficiency.json`` (every row), ``efficiency.md`` (a table) and
``efficiency.png`` (bar charts of time and energy per card, reset on/off side by side).

Microcontroller latency (optional, ``t_verify_s``): our controller is a 1 MHz state machine, so
one write-verify step takes microseconds; a host microcontroller with an ADC (as in the paper)
adds its own latency per step.  With ``t_verify_s > 0`` every run is **simulated** with that
latency: ``cosim sim --t-step-wait-s`` makes the controller idle ``t_verify_s`` after every
verify read (``REG_STEP_WAIT``, docs/controller.md), so the waits are in the waveforms and the
time and energy over them are measured from the VCD like everything else.  Each row also
carries ``wait_s = reads × t_step_wait_s`` (the wait the run must contain) and the measured
idle-phase time, as a cross-check: the idle phase holds the waits plus the few cycles between
devices.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cosim.analysis import metrics
from cosim.config import SimConfig
from cosim.errors import UsageError
from cosim.run.child import run_in_group, terminate_children
from cosim.run.spread import fmt_spread, quantiles

if TYPE_CHECKING:
    from cosim.config import SimConfig

__all__ = [
    "DEFAULT_CARDS",
    "RESET_CHOICES",
    "RunSpec",
    "RunResult",
    "StudyConfig",
    "measure_run",
    "plan_runs",
    "run_study",
    "write_outputs",
]

#: Cards of the paper's three M-SDC variants (``va_models/cards/<name>.toml``).
DEFAULT_CARDS = ("W", "Cr", "C")
#: Allowed values of the ``reset`` option.
RESET_CHOICES = ("both", "on", "off")
_ERROR_TAIL = 15


@dataclass(frozen=True)
class RunSpec:
    """One co-simulation of the study (``seed`` None: the study's single seed)."""

    card: str
    reset_pulse: bool
    seed: int | None = None

    @property
    def name(self) -> str:
        """Directory of the run: ``<card>-reset-<on|off>``, under ``seed-<s>/`` in a
        multi-seed study."""
        base = f"{self.card}-reset-{'on' if self.reset_pulse else 'off'}"
        return base if self.seed is None else f"seed-{self.seed}/{base}"


@dataclass
class StudyConfig:
    """What the study runs (every field has a ``cosim efficiency`` option).

    Attributes:
        cards: device card names (or TOML paths), in table order.
        reset: ``both``, ``on`` or ``off`` (initial reset pulse before programming).
        backend: analog backend of every run (``ngspice`` or ``numpy``).
        jobs: runs executed at the same time (each is its own process).
        out_dir: study directory; run ``r`` writes to ``out_dir / r.name``.
        seed: seed of every run (same device draws for reset on and off).
        seeds: several seeds (device draws and training): every card × reset runs once per
            seed, in ``out_dir/seed-<s>/``, and the tables add the median and interquartile
            range over seeds.  ``None``: the single ``seed`` (runs directly in ``out_dir``).
        devices: device indices to program (default all 30).
        test_images: test images to infer after training (default the whole test set).
        t_verify_s: host/microcontroller latency simulated after every verify read (s, whole
            clock periods; ``SimConfig.t_step_wait_s``); 0: none.
    """

    cards: tuple[str, ...] = DEFAULT_CARDS
    reset: str = "both"
    backend: str = "ngspice"
    jobs: int = 2
    out_dir: Path = field(default_factory=lambda: Path("build/efficiency"))
    seed: int = 1
    seeds: tuple[int, ...] | None = None
    devices: tuple[int, ...] | None = None
    test_images: int | None = None
    t_verify_s: float = 0.0

    def validate(self) -> None:
        """Raise :class:`UsageError` (or ``CardError``) for any bad field, before any run."""

        if not self.cards:
            raise UsageError("cards: give at least one card, e.g. W,Cr,C")
        if len(set(self.cards)) != len(self.cards):
            raise UsageError(f"cards {list(self.cards)!r}: a card is listed twice")
        if self.reset not in RESET_CHOICES:
            raise UsageError(f"reset {self.reset!r}: choose one of {', '.join(RESET_CHOICES)}")
        if self.jobs < 1:
            raise UsageError(f"jobs {self.jobs!r}: must be >= 1")
        if self.seeds is not None and (not self.seeds or len(set(self.seeds)) != len(self.seeds)):
            raise UsageError(f"seeds {list(self.seeds)!r}: give distinct seeds, e.g. 1-10")
        if not self.t_verify_s >= 0.0:
            raise UsageError(f"t_verify_s {self.t_verify_s!r}: must be >= 0 s")
        for spec in plan_runs(self):
            self.sim_config(spec).validate()  # unknown card → CardError listing known cards

    def sim_config(self, spec: RunSpec) -> SimConfig:
        """The :class:`cosim.run.sim.SimConfig` of one run."""

        return SimConfig(
            card=spec.card,
            reset_pulse=spec.reset_pulse,
            seed=self.seed if spec.seed is None else spec.seed,
            backend=self.backend,
            out_dir=self.out_dir / spec.name,
            devices=self.devices,
            test_images=self.test_images,
            t_step_wait_s=self.t_verify_s,
        )


@dataclass
class RunResult:
    """Measured figures of one run (SI units); ``error`` is set when the run failed.

    ``t_step_wait_s`` is the run's simulated latency per verify read (from its
    ``config.json``), ``wait_s = reads × t_step_wait_s`` the total wait the run must contain,
    ``time_idle_s`` the idle-phase time measured from the VCD (waits + between devices).
    """

    card: str
    reset_pulse: bool
    run_dir: str
    seed: int | None = None
    wall_s: float | None = None
    error: str | None = None
    training_time_s: float | None = None
    energy_J: float | None = None
    energy_device_J: float | None = None
    pulses: int | None = None
    reads: int | None = None
    p_idle_W: float | None = None
    devices_failed: int | None = None
    accuracy: float | None = None
    t_step_wait_s: float | None = None
    wait_s: float | None = None
    time_idle_s: float | None = None

    @property
    def ok(self) -> bool:
        """True when the run finished and was measured."""
        return self.error is None


def plan_runs(config: StudyConfig) -> list[RunSpec]:
    """The runs of the study, seed-major, then card, reset on before off."""
    resets = {"both": (True, False), "on": (True,), "off": (False,)}[config.reset]
    seeds: tuple[int | None, ...] = (None,) if config.seeds is None else config.seeds
    return [
        RunSpec(card, reset, seed) for seed in seeds for card in config.cards for reset in resets
    ]


def _command(config: StudyConfig, spec: RunSpec) -> list[str]:
    cmd = [sys.executable, "-m", "cosim.cli", "sim", "--card", spec.card]
    seed = config.seed if spec.seed is None else spec.seed
    cmd += ["--reset", "on" if spec.reset_pulse else "off", "--seed", str(seed)]
    cmd += ["--backend", config.backend, "--out", str((config.out_dir / spec.name).resolve())]
    if config.devices is not None:
        cmd += ["--devices", ",".join(str(k) for k in config.devices)]
    if config.test_images is not None:
        cmd += ["--test-images", str(config.test_images)]
    if config.t_verify_s > 0.0:
        cmd += ["--t-step-wait-s", repr(config.t_verify_s)]
    return cmd


def _error_text(log_path: Path, returncode: int) -> str:
    """The most telling line of a failed run's log (its ``cosim: error`` or last line)."""
    lines = [ln.strip() for ln in log_path.read_text(errors="replace").splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("cosim: error:")]
    if errors:
        return errors[-1].removeprefix("cosim: error:").strip()
    tail = lines[-1] if lines else "no output"
    return f"exit status {returncode}: {tail} (log: {log_path})"


def measure_run(run_dir: Path, spec: RunSpec) -> RunResult:
    """Measure one finished run from its ``training.vcd`` (and ``summary.json`` for accuracy).

    The run's step wait comes from its ``config.json`` (0 if absent).

    Raises:
        VcdNotFoundError, VcdFormatError: the run left no readable VCD.
    """

    report = metrics.measure(run_dir / "training.vcd", window="training")
    summary_path = run_dir / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    config_path = run_dir / "config.json"
    run_config = json.loads(config_path.read_text()) if config_path.exists() else {}
    t_wait_s = float(run_config.get("t_step_wait_s", 0.0))
    idle_s = report.time_by_phase_s.get("idle", 0.0)
    if idle_s > 0.0:
        p_idle_W: float | None = report.energy_supply_by_phase_J.get("idle", 0.0) / idle_s
    elif report.energy_J is not None and report.training_time_s:
        p_idle_W = report.energy_J / report.training_time_s
    else:
        p_idle_W = None
    reads = sum(d.reads for d in report.devices.values())
    return RunResult(
        card=spec.card,
        reset_pulse=spec.reset_pulse,
        run_dir=str(run_dir),
        seed=spec.seed,
        wall_s=summary.get("wall_time_s"),
        training_time_s=report.training_time_s,
        energy_J=report.energy_J,
        energy_device_J=report.energy_device_J,
        pulses=sum(d.pulses for d in report.devices.values()),
        reads=reads,
        p_idle_W=p_idle_W,
        devices_failed=summary.get("devices_failed"),
        accuracy=summary.get("accuracy"),
        t_step_wait_s=t_wait_s,
        wait_s=reads * t_wait_s,
        time_idle_s=idle_s,
    )


def _run_one(config: StudyConfig, spec: RunSpec, simulate: bool) -> RunResult:
    run_dir = config.out_dir / spec.name
    t0 = time.perf_counter()
    if simulate:
        run_dir.parent.mkdir(parents=True, exist_ok=True)
        log_path = run_dir.parent / f"{run_dir.name}.log"
        with open(log_path, "w") as fh:  # own process group, terminated with this process
            status = run_in_group(_command(config, spec), stdout=fh, stderr=subprocess.STDOUT)
        if status != 0:
            return RunResult(
                spec.card,
                spec.reset_pulse,
                str(run_dir),
                seed=spec.seed,
                wall_s=time.perf_counter() - t0,
                error=_error_text(log_path, status),
            )
    try:
        result = measure_run(run_dir, spec)
    except Exception as exc:  # a run that left no readable VCD is reported, not fatal
        return RunResult(
            spec.card, spec.reset_pulse, str(run_dir), seed=spec.seed, error=f"measuring: {exc}"
        )
    if simulate:
        result.wall_s = time.perf_counter() - t0
    return result


def run_study(
    config: StudyConfig, *, simulate: bool = True, log: Callable[[str], None] = print
) -> list[RunResult]:
    """Run (or, with ``simulate=False``, only re-measure) every run of the study.

    Runs execute ``config.jobs`` at a time, each in its own process; a failed run is recorded
    with its error and the others still complete.  Results come back in :func:`plan_runs`
    order, and the study's files are written by :func:`write_outputs`.

    Raises:
        UsageError, CardError: bad configuration (before anything runs).
    """
    config.validate()
    config.out_dir.mkdir(parents=True, exist_ok=True)
    specs = plan_runs(config)
    n = len(specs)
    t0 = time.perf_counter()
    lock = threading.Lock()
    done = [0]

    def task(k: int, spec: RunSpec) -> RunResult:
        with lock:
            verb = "started" if simulate else "measuring"
            log(f"[{time.perf_counter() - t0:7.1f} s] {verb} {spec.name} ({k + 1}/{n})")
        result = _run_one(config, spec, simulate)
        with lock:
            done[0] += 1
            status = "ok" if result.ok else f"FAILED: {result.error}"
            wall = "" if result.wall_s is None else f" in {result.wall_s:.1f} s"
            log(
                f"[{time.perf_counter() - t0:7.1f} s] finished {spec.name}{wall}, {status} "
                f"({done[0]}/{n} done)"
            )
        return result

    pool = ThreadPoolExecutor(max_workers=config.jobs)
    try:
        futures = [pool.submit(task, k, spec) for k, spec in enumerate(specs)]
        results = [f.result() for f in futures]
    except BaseException:  # Ctrl-C/SIGTERM: no new runs, the running ones terminated
        pool.shutdown(wait=False, cancel_futures=True)
        terminate_children()
        raise
    finally:
        pool.shutdown(wait=True)
    write_outputs(config, results)
    return results


def _fmt(value: float | None, scale: float, digits: int = 4) -> str:
    return "—" if value is None else f"{value * scale:.{digits}g}"


def table_markdown(results: Sequence[RunResult]) -> str:
    """The study as a Markdown table (one row per card × reset).

    With any run simulated with a step wait, three columns show it: the wait per verify read,
    ``reads × wait`` and the measured idle-phase time (which must hold the waits).
    """
    waits = any(r.ok and r.t_step_wait_s for r in results)
    seeded = any(r.seed is not None for r in results)
    head = (["seed"] if seeded else []) + ["card", "reset"]
    if waits:
        head += ["MCU wait per read (ms)"]
    head += [
        "training time (ms)",
        "device energy (µJ)",
        "whole-circuit energy (mJ)",
        "pulses",
        "verify reads",
        "failed devices",
        "accuracy",
    ]
    if waits:
        head += ["reads × wait (ms)", "idle phase (ms)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        first = ([str(r.seed)] if seeded else []) + [r.card, "on" if r.reset_pulse else "off"]
        if not r.ok:
            cells = [*first, f"failed: {r.error}"]
            cells += [""] * (len(head) - len(cells))
        else:
            acc = "—" if r.accuracy is None else f"{r.accuracy:.1%}"
            cells = list(first)
            if waits:
                cells += [_fmt(r.t_step_wait_s, 1e3)]
            cells += [
                _fmt(r.training_time_s, 1e3),
                _fmt(r.energy_device_J, 1e6),
                _fmt(r.energy_J, 1e3),
                str(r.pulses),
                str(r.reads),
                str(r.devices_failed),
                acc,
            ]
            if waits:
                cells += [_fmt(r.wait_s, 1e3), _fmt(r.time_idle_s, 1e3)]
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(lines) + "\n"


_SPREAD_FIELDS = (
    ("training_time_s", 1e3, "training time (ms)"),
    ("energy_J", 1e3, "whole-circuit energy (mJ)"),
    ("energy_device_J", 1e6, "device energy (µJ)"),
    ("reads", 1.0, "verify reads"),
    ("devices_failed", 1.0, "failed devices"),
)


def spread_over_seeds(results: Sequence[RunResult]) -> dict[str, dict[str, dict[str, float]]]:
    """Per ``<card>-reset-<on|off>``: :func:`cosim.run.spread.quantiles` over seeds of every
    measured figure (failed runs left out)."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for r in results:
        if not r.ok:
            continue
        key = f"{r.card}-reset-{'on' if r.reset_pulse else 'off'}"
        out.setdefault(key, {})
    for key in out:
        rows = [
            r
            for r in results
            if r.ok and f"{r.card}-reset-{'on' if r.reset_pulse else 'off'}" == key
        ]
        for attr, _, _ in _SPREAD_FIELDS:
            vals = [float(getattr(r, attr)) for r in rows if getattr(r, attr) is not None]
            out[key][attr] = quantiles(vals)
    return out


def spread_markdown(results: Sequence[RunResult]) -> str:
    """Median [interquartile range] over seeds per card × reset (a Markdown table)."""
    spread = spread_over_seeds(results)
    head = ["card × reset", "seeds", *(label for _, _, label in _SPREAD_FIELDS)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key, figs in spread.items():
        n = figs["training_time_s"].get("n", 0)
        cells = [key, str(n)]
        for attr, scale, _ in _SPREAD_FIELDS:
            digits = 0 if scale == 1.0 else 4
            q = figs[attr]
            if not q.get("n"):
                cells.append("—")
            elif digits:
                cells.append(
                    f"{_fmt(q['median'], scale)} [{_fmt(q['q25'], scale)}, {_fmt(q['q75'], scale)}]"
                )
            else:
                cells.append(fmt_spread(q, digits=0))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _plot(path: Path, results: Sequence[RunResult]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    cards = list(dict.fromkeys(r.card for r in results))
    panels = (
        ("training_time_s", 1e3, "training time (ms)"),
        ("energy_J", 1e3, "whole-circuit energy (mJ)"),
        ("energy_device_J", 1e6, "device energy (µJ)"),
    )
    fig, axes = plt.subplots(1, len(panels), figsize=(12, 3.8))
    x = np.arange(len(cards))
    width = 0.38
    for ax, (attr, scale, label) in zip(axes, panels, strict=True):
        for offset, reset in ((-width / 2, True), (width / 2, False)):
            values = []
            for card in cards:
                match = [r for r in results if r.card == card and r.reset_pulse == reset]
                got = [getattr(r, attr) for r in match if r.ok and getattr(r, attr) is not None]
                values.append(float(np.median(got)) * scale if got else np.nan)
            if not all(np.isnan(values)):
                ax.bar(x + offset, values, width, label=f"reset {'on' if reset else 'off'}")
        ax.set_xticks(x, cards)
        ax.set_ylabel(label)
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend()
    fig.suptitle("Programming the 30-device crossbar: time and energy per card")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_outputs(config: StudyConfig, results: Sequence[RunResult]) -> dict[str, Path]:
    """Write ``efficiency.json``, ``efficiency.md`` and ``efficiency.png``; return their paths."""
    out = config.out_dir
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": out / "efficiency.json",
        "md": out / "efficiency.md",
        "png": out / "efficiency.png",
    }
    meta = asdict(config)
    meta["out_dir"] = str(config.out_dir)
    meta["devices"] = None if config.devices is None else list(config.devices)
    meta["seeds"] = None if config.seeds is None else list(config.seeds)
    data: dict[str, Any] = {"config": meta, "runs": [asdict(r) for r in results]}
    seeds = f"seed {config.seed}"
    extra = ""
    if config.seeds is not None:
        data["spread_over_seeds"] = spread_over_seeds(results)
        seeds = f"seeds {', '.join(str(k) for k in config.seeds)}"
        extra = "\n## Over seeds: median [interquartile range]\n\n" + spread_markdown(results)
    paths["json"].write_text(json.dumps(data, indent=2) + "\n")
    title = (
        f"# Efficiency study ({config.backend}, {seeds})\n\n"
        "Measured from each run's training.vcd with cosim's metrics (window: start → done).\n\n"
    )
    paths["md"].write_text(title + table_markdown(results) + extra)
    _plot(paths["png"], results)
    return paths
