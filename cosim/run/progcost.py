"""Programming cost from the twin: time, energy and failed devices over many device seeds.

The co-simulation (:mod:`cosim.run.efficiency`) measures one crossbar per card and seed from
its waveforms; this module estimates the same figures with the write-verify twin
(:mod:`cosim.twin.program`, validated against ngspice) so that many device seeds, reset
widths, start states and target windows fit in one study.  For every card × seed it programs
the crossbar ``cosim sim --card CARD --seed SEED`` programs (same devices, targets, codes,
verify window and pulse scheme: :func:`cosim.twin.program.crossbar_twin`, mean MSS model as in
the Verilog-A), under every combination of

* **reset width** (``0`` = reset omitted): the reset pulse is applied here with
  :func:`cosim.circuit.mss.apply_pulse` at the card's reset amplitude through the programming
  path, so any width can be studied — the controller's 16-bit ``REG_RESET_CYC`` holds at most
  65.535 ms at 1 MHz, so a 200 ms reset would need the host (or a wider register);
* **start state**: ``hrs`` — the card's as-fabricated state (``[initial] r_init``), what
  ``cosim sim`` starts from; ``previous`` — the states a previous programming left, i.e. the
  same devices programmed first (with a reset of the card's width) to the targets of another
  training (``cosim sim --seed SEED+100``'s targets);
* **target window** (:mod:`cosim.run.targets`): ``card`` — the card's window, as the
  co-simulation; ``reachable`` — the window shrunk to what the drawn device population reaches.

Time model (per device, controller timings of :meth:`ProgramSetup.timing`): reset (select
setup + width + hold/gap), every verify read (select setup + read + ADC conversion + hold/gap
+ MCU wait), every
write/erase pulse (select setup + its adaptive width + hold/gap), plus :data:`T_BETWEEN_S`
between devices.  The MCU wait enters only as ``reads × wait`` (in ngspice the wait changes no
decision: docs/reproduction.md), so rows carry the hardware-speed time and the read count and
:func:`time_with_wait` adds any wait.  Whole-circuit energy = static peripheral power (op-amp
quiescent current × supply span × neurons; 20 mW, the measured idle power of every
co-simulation run) × time; the device energy (10⁻⁵ of it or less) is not modelled.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from cosim.circuit import mss
from cosim.circuit.devices import DeviceCard, load_card
from cosim.crossbar import make_crossbar
from cosim.errors import UsageError
from cosim.run.spread import json_ready
from cosim.run.targets import TARGET_CHOICES, target_card
from cosim.topology import DEFAULT
from cosim.twin import program

__all__ = [
    "START_CHOICES",
    "T_BETWEEN_S",
    "CostConfig",
    "program_cost",
    "static_power_W",
    "time_with_wait",
    "run_costs",
]

#: Start states: as fabricated (``hrs``) or left by a previous programming (``previous``).
START_CHOICES = ("hrs", "previous")
#: Controller cycles between two devices (select next, load target): 1 µs at 1 MHz.
T_BETWEEN_S = 1e-6
#: Seed offset of the "previous training" whose states a ``previous`` start inherits.
PREVIOUS_SEED_OFFSET = 100


@dataclass(frozen=True)
class CostConfig:
    """The grid of a twin cost study.

    Attributes:
        cards: card names or TOML paths.  seeds: device/training seeds (``cosim sim --seed``).
        reset_widths_s: reset widths (0 = reset omitted).  starts: :data:`START_CHOICES`.
        targets: target windows (:data:`cosim.run.targets.TARGET_CHOICES`).
    """

    cards: tuple[str, ...] = ("W", "Cr", "C")
    seeds: tuple[int, ...] = tuple(range(1, 11))
    reset_widths_s: tuple[float, ...] = (0.0, 0.5e-3, 5e-3, 50e-3, 200e-3)
    starts: tuple[str, ...] = START_CHOICES
    targets: tuple[str, ...] = ("card",)

    def validate(self) -> None:
        """Raise :class:`UsageError` for an empty or unknown choice."""
        if not (self.cards and self.seeds and self.reset_widths_s and self.starts):
            raise UsageError("cost study: give at least one card, seed, reset width and start")
        if any(w < 0 or w > 1.0 for w in self.reset_widths_s):
            raise UsageError(f"reset widths {list(self.reset_widths_s)!r}: allowed 0..1 s")
        bad = [s for s in self.starts if s not in START_CHOICES]
        if bad:
            raise UsageError(f"start states {bad!r}: allowed {list(START_CHOICES)}")
        bad = [t for t in self.targets if t not in TARGET_CHOICES]
        if bad or not self.targets:
            raise UsageError(f"targets {list(self.targets)!r}: allowed {list(TARGET_CHOICES)}")


def static_power_W(twin: program.CrossbarTwin) -> float:
    """Peripheral power: one op-amp per neuron at its quiescent current across the supplies."""
    spec = twin.xbar.spec
    return (DEFAULT.n_hid + DEFAULT.n_out) * spec.opamp_iq_A * (spec.vdd_V - spec.vss_V)


def time_with_wait(row: dict[str, Any], t_wait_s: float) -> float:
    """Training time of a cost row with an MCU wait after every verify read (s)."""
    return float(row["time_s"]) + int(row["reads"]) * t_wait_s


@functools.lru_cache(maxsize=16)
def _twin(card: str, seed: int, targets: str) -> program.CrossbarTwin:
    return program.crossbar_twin(target_card(load_card(card), targets), seed, reset_pulse=False)


@functools.lru_cache(maxsize=16)
def _previous_targets(card: str, seed: int, targets: str) -> tuple[float, ...]:
    xbar = make_crossbar(target_card(load_card(card), targets), seed + PREVIOUS_SEED_OFFSET)
    return tuple(float(g) for g in xbar.g_target_S)


def _reset(twin: program.CrossbarTwin, x: np.ndarray, width_s: float) -> np.ndarray:
    if width_s <= 0:
        return x
    v_reset = twin.setup.timing()["v_reset_V"]
    return np.asarray(
        mss.apply_pulse(twin.tables.params, x, v_reset, width_s, twin.setup.r_path_ohm), float
    )


def _start_state(twin: program.CrossbarTwin, card: DeviceCard, start: str, g_prev: Any) -> Any:
    x = twin.xbar.x0.astype(float)
    if start == "hrs":
        return x
    x = _reset(twin, x, card.operation.t_reset_s)
    idx = np.arange(x.size)
    prev = program.write_verify(twin.tables, idx, x, twin.setup.target_codes(np.asarray(g_prev)))
    return prev.x


def program_cost(card: str, seed: int, *, reset_s: float, start: str, targets: str) -> dict:
    """Program one crossbar with the twin and estimate its time and energy (one result row).

    Returns:
        ``card, seed, targets, start, reset_s`` and ``reads`` (verify reads), ``pulses``
        (write/erase pulses), ``failed`` (devices at the pulse limit), ``time_s`` (hardware
        loop speed, no MCU wait), ``energy_J`` (static power × time), ``p_static_W``,
        ``g_max_S`` (target window top), ``err_rel_max`` (largest |G/G_target − 1|).
    """
    twin = _twin(card, seed, targets)
    c = twin.xbar.card
    x = _start_state(twin, c, start, _previous_targets(card, seed, targets))
    x = _reset(twin, x, reset_s)
    n = x.size
    out = program.write_verify(twin.tables, np.arange(n), x, twin.target_codes)
    t = twin.setup.timing()
    reads = int(out.pulses.sum()) + n
    pulses = int(out.pulses.sum())
    t_pulse_s = float(np.sum(out.t_pulses_s)) if out.t_pulses_s is not None else 0.0
    step = t["t_setup_s"] + t["t_after_s"]
    t_conv = twin.setup.harness.sense_adc.conv_s  # the controller waits for the sense ADC
    time_s = (
        (n * (step + reset_s) if reset_s > 0 else 0.0)
        + reads * (step + t["t_read_s"] + t_conv)
        + pulses * step
        + t_pulse_s
        + n * T_BETWEEN_S
    )
    p_w = static_power_W(twin)
    err = np.abs(out.g_S / twin.xbar.g_target_S - 1.0)
    return {
        "card": c.name,
        "seed": seed,
        "targets": targets,
        "start": start,
        "reset_s": reset_s,
        "reads": reads,
        "pulses": pulses,
        "failed": int(out.failed.sum()),
        "time_s": time_s,
        "energy_J": p_w * time_s,
        "p_static_W": p_w,
        "g_max_S": float(c.operation.g_max_S),
        "err_rel_max": float(err.max()),
    }


def _group(config: CostConfig, card: str, targets: str) -> list[dict]:
    return [
        program_cost(card, seed, reset_s=width, start=start, targets=targets)
        for seed in config.seeds
        for start in config.starts
        for width in config.reset_widths_s
    ]


def run_costs(
    config: CostConfig, log: Callable[[str], None] = lambda s: None, jobs: int = 1
) -> list[dict]:
    """Every row of the study (card × targets × seed × start × reset width); ``jobs`` worker
    processes share the card × targets groups (rows come back in grid order either way)."""
    config.validate()
    groups = [(card, targets) for card in config.cards for targets in config.targets]
    if jobs <= 1:
        rows = []
        for card, targets in groups:
            log(f"twin cost: {card}, {targets} targets, {len(config.seeds)} seeds")
            rows += _group(config, card, targets)
        return rows
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(_group, config, card, targets) for card, targets in groups]
        out = []
        for (card, targets), fut in zip(groups, futures, strict=True):
            out += fut.result()
            log(f"twin cost: {card}, {targets} targets done")
    return out


def config_dict(config: CostConfig) -> dict[str, Any]:
    """The configuration as JSON-ready data."""
    return json_ready(asdict(config))
