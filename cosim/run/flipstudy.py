"""Seed-resolved accuracy under pixel flips, with the exact Bayes ceiling beside every number.

The Gaussian-amplitude sweep (:mod:`cosim.run.sweep`) evaluates 16 fixed test images, which
noise-trained networks classify perfectly; it cannot resolve the paper's accuracy claims.
This study evaluates on the pixel-flip distribution (:mod:`cosim.learn.flip`): every pixel of
a prototype flips with probability ``p``, the accuracy is the *exact* expectation over all
512 images, and the Bayes ceiling of that ``p`` bounds it.

Grid: card × target window × training noise × **training seed**.  For each, the network is
trained (:func:`cosim.run.sweep.train_targets`, training seed = the seed of initialisation and
injected noise), then ``n_trials`` crossbars are programmed with the write-verify twin
(device-to-device spread drawn from the card's pool, cycle-to-cycle noise,
:func:`cosim.run.sweep.program_trials`), and every conductance-error level is applied to
either quantity:

* ``device`` — ``G_dev·(1 + e·ξ)``, then the inference path (switch + series resistor) is
  added, as :mod:`cosim.run.sweep` does: the branch conductance moves by only
  ``G_branch/G_dev = 1/(1 + R_path·G_dev)`` of ``e`` (the *dilution factor*, per card in the
  output);
* ``branch`` — ``G_branch·(1 + e·ξ)``, the quantity the weights are (``w = r_f·(G_branch −
  g_ref)``) and the quantity training noise perturbs (:func:`cosim.learn.train.train`).

ξ is uniform on ±1 or N(0, 1).  Per training seed the accuracy is the mean over the Monte
Carlo trials (device draws, programming noise, error draws; programming is shared by every
error level and both definitions: common random numbers); every reported figure is the
median and interquartile range **over training seeds**, and gains are paired by training seed
(same seed at training noise 0 and at the level compared).  The float network (trained
weights, no hardware) is reported too; it can never exceed the ceiling
(``tests/test_flip.py``).

Results per grid point are cached in ``<out>/runs/<key>.json``, so a rerun resumes; the
directory's ``manifest.json`` (:mod:`cosim.run.manifest`) refuses a resume with other inputs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cosim.circuit import network
from cosim.circuit.devices import load_card
from cosim.errors import UsageError
from cosim.learn import data, flip, train
from cosim.run import sweep
from cosim.run.manifest import prepare_manifest
from cosim.run.spread import json_ready, quantiles
from cosim.run.targets import TARGET_CHOICES, target_card

__all__ = [
    "ERROR_ON",
    "FlipConfig",
    "quick_flip_config",
    "dilution",
    "run_point",
    "run_flip_study",
]

#: Quantities a conductance error can perturb.
ERROR_ON = ("device", "branch")


@dataclass(frozen=True)
class FlipConfig:
    """The grid and Monte Carlo settings of the pixel-flip study (levels are fractions)."""

    cards: tuple[str, ...] = ("W", "Cr", "C")
    targets: tuple[str, ...] = ("card", "reachable")
    train_levels: tuple[float, ...] = (0.0, 0.05, 0.10, 0.15, 0.20, 0.30, 0.50, 0.75, 1.0)
    train_seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    flip_levels: tuple[float, ...] = (0.05, 0.10, 0.15)
    g_error_levels: tuple[float, ...] = (0.0, 0.10, 0.20)
    g_error_kind: data.NoiseKind = "uniform"
    error_on: tuple[str, ...] = ERROR_ON
    n_trials: int = 30
    train_steps: int = 1000
    device_pool: int = 256
    seed: int = 0

    def validate(self) -> None:
        """Raise :class:`UsageError` for an empty axis or a value out of range."""
        axes = (self.cards, self.targets, self.train_levels, self.train_seeds)
        if not all(axes) or not (self.flip_levels and self.g_error_levels and self.error_on):
            raise UsageError("flip study: every axis needs at least one value")
        if any(not 0.0 <= p <= 0.5 for p in self.flip_levels):
            raise UsageError(f"flip levels {list(self.flip_levels)!r}: allowed 0..0.5")
        if any(not 0.0 <= t <= 1.0 for t in self.train_levels):
            raise UsageError(f"training noise {list(self.train_levels)!r}: allowed 0..1")
        if 0.0 not in self.train_levels:
            raise UsageError("training noise levels must include 0 (gains are paired with it)")
        bad = [t for t in self.targets if t not in TARGET_CHOICES]
        bad += [e for e in self.error_on if e not in ERROR_ON]
        if bad:
            raise UsageError(
                f"unknown choice(s) {bad!r}: targets {list(TARGET_CHOICES)}, error_on "
                f"{list(ERROR_ON)}"
            )
        if self.n_trials < 1 or self.train_steps < 1 or self.device_pool < 1:
            raise UsageError("n_trials, train_steps and device_pool must be >= 1")


def quick_flip_config(**overrides: Any) -> FlipConfig:
    """A small study (Cr, card targets, 4 training levels × 5 seeds) for ``--quick``."""
    base = FlipConfig(
        cards=("Cr",),
        targets=("card",),
        train_levels=(0.0, 0.10, 0.30, 1.0),
        g_error_levels=(0.0, 0.10),
        n_trials=20,
        train_steps=500,
        device_pool=64,
    )
    return FlipConfig(**{**asdict(base), **overrides})


def dilution(card: str, targets: str = "card") -> dict[str, float]:
    """Device → branch dilution ``G_branch/G_dev = 1/(1 + R_path·G_dev)`` at the ends of the
    card's target window: the fraction of a relative device-conductance error that reaches
    the branch conductance (and the weight's conductance term)."""
    c = target_card(load_card(card), targets)
    spec, _, _ = sweep.card_spec(card)
    r = spec.r_infer_path_ohm
    op = c.operation
    return {
        "r_path_ohm": r,
        "at_g_min": 1.0 / (1.0 + r * op.g_min_S),
        "at_g_max": 1.0 / (1.0 + r * op.g_max_S),
    }


def _predict(spec: network.CircuitSpec, g_branch: np.ndarray) -> np.ndarray:
    """Classes of every image of :func:`cosim.learn.flip.all_images` for each trial's branch
    conductances ``(n, N_DEV)`` (select-bit order): shape ``(n, 2^N_IN)``."""
    g1, g2 = network.split_layers(g_branch)
    images = flip.all_images(g1.shape[-2])
    v = data.to_voltages(images, spec.v_read_V)
    _, y = network.forward(spec, g1[:, None], g2[:, None], v)
    return network.classify(spec, y)


def _flip_acc(pred: np.ndarray, levels: tuple[float, ...]) -> dict[str, float]:
    return {f"{p:g}": float(flip.expected_accuracy(pred, p).mean()) for p in levels}


def run_point(cfg: FlipConfig, card: str, targets: str, level: float, tseed: int) -> dict:
    """One trained network: float accuracy, programming statistics, and the mean accuracy
    over ``n_trials`` programmed crossbars per error definition, error level and flip level."""
    c = target_card(load_card(card), targets)
    wt = sweep.train_targets(c, level, tseed, steps=cfg.train_steps)
    spec = network.CircuitSpec(**wt["spec"])
    g_dev_t = np.asarray(wt["g_dev_S"])
    g_br_t = 1.0 / (spec.r_infer_path_ohm + 1.0 / g_dev_t)
    float_acc = _flip_acc(_predict(spec, g_br_t[None, :]), cfg.flip_levels)
    scfg = sweep.SweepConfig(cards=(card,), device_pool=cfg.device_pool, seed=cfg.seed)
    i_level = cfg.train_levels.index(level)
    base = [cfg.seed, sweep.CARDS.index(card) if card in sweep.CARDS else 9, i_level, tseed]
    base.append(TARGET_CHOICES.index(targets))
    rng = np.random.default_rng(np.random.SeedSequence([*base, 1]))
    out = sweep.program_trials(scfg, c, g_dev_t, cfg.n_trials, rng)
    acc: dict[str, dict[str, dict[str, float]]] = {}
    for k, where in enumerate(cfg.error_on):
        acc[where] = {}
        for j, e in enumerate(cfg.g_error_levels):
            erng = np.random.default_rng(np.random.SeedSequence([*base, 2, k, j]))
            g_dev = out.g_S
            if where == "device" and e > 0:
                g_dev = train.perturb_conductances(g_dev, e, cfg.g_error_kind, erng)
            g_br = 1.0 / (spec.r_infer_path_ohm + 1.0 / np.maximum(g_dev, 1e-30))
            if where == "branch" and e > 0:
                g_br = train.perturb_conductances(g_br, e, cfg.g_error_kind, erng)
            acc[where][f"{e:g}"] = _flip_acc(_predict(spec, g_br), cfg.flip_levels)
    return {
        "card": card,
        "targets": targets,
        "train_noise": level,
        "train_seed": tseed,
        "float": float_acc,
        "acc": acc,
        "pulses_mean": float(out.pulses.mean()),
        "failed_fraction": float(out.failed.mean()),
        "dilution_over_targets": float(np.median(g_br_t / g_dev_t)),
    }


def _key(card: str, targets: str, level: float, tseed: int) -> str:
    return f"{card}_{targets}_t{level:g}_s{tseed}"


def _summarize(cfg: FlipConfig, runs: list[dict]) -> dict[str, Any]:
    idx = {(r["card"], r["targets"], r["train_noise"], r["train_seed"]): r for r in runs}
    points, floats = [], []
    ceilings = {f"{p:g}": flip.bayes_ceiling(p) for p in cfg.flip_levels}
    for card in cfg.cards:
        for targets in cfg.targets:
            for level in cfg.train_levels:
                rs = [idx[(card, targets, level, s)] for s in cfg.train_seeds]
                r0 = [idx[(card, targets, 0.0, s)] for s in cfg.train_seeds]
                prog = {
                    "pulses_mean": quantiles([r["pulses_mean"] for r in rs]),
                    "failed_fraction": quantiles([r["failed_fraction"] for r in rs]),
                }
                for p, ceil in ceilings.items():
                    floats.append(
                        {
                            "card": card,
                            "targets": targets,
                            "train_noise": level,
                            "flip_p": float(p),
                            "bayes": ceil,
                            "acc": quantiles([r["float"][p] for r in rs]),
                        }
                    )
                    for where in cfg.error_on:
                        for e in cfg.g_error_levels:
                            a = [r["acc"][where][f"{e:g}"][p] for r in rs]
                            a0 = [r["acc"][where][f"{e:g}"][p] for r in r0]
                            clean = (
                                [r["acc"][where]["0"][p] for r in rs]
                                if 0.0 in cfg.g_error_levels
                                else a
                            )
                            points.append(
                                {
                                    "card": card,
                                    "targets": targets,
                                    "train_noise": level,
                                    "error_on": where,
                                    "g_error": e,
                                    "flip_p": float(p),
                                    "bayes": ceil,
                                    "acc": quantiles(a),
                                    "gain_vs_untrained": quantiles(
                                        [x - y for x, y in zip(a, a0, strict=True)]
                                    ),
                                    "acc_by_seed": a,
                                    "gain_by_seed": [x - y for x, y in zip(a, a0, strict=True)],
                                    "loss_vs_no_error": quantiles(
                                        [y - x for x, y in zip(a, clean, strict=True)]
                                    ),
                                    "programming": prog,
                                }
                            )
    dil = {card: {t: dilution(card, t) for t in cfg.targets} for card in cfg.cards}
    for card in cfg.cards:
        for t in cfg.targets:
            vals = [
                r["dilution_over_targets"] for r in runs if (r["card"], r["targets"]) == (card, t)
            ]
            dil[card][t]["median_over_targets"] = float(np.median(vals))
    windows = {card: {t: list(_window(card, t)) for t in cfg.targets} for card in cfg.cards}
    return {
        "complete": True,
        "config": json_ready(asdict(cfg)),
        "bayes_ceiling": ceilings,
        "dilution": dil,
        "windows_S": windows,
        "float": floats,
        "points": points,
    }


def _window(card: str, targets: str) -> tuple[float, float]:
    op = target_card(load_card(card), targets).operation
    return float(op.g_min_S), float(op.g_max_S)


def run_flip_study(
    cfg: FlipConfig, out: Path, log: Callable[[str], None] = lambda s: None
) -> dict[str, Any]:
    """Run (or resume) the study in ``out`` and write ``out/flip.json``; return its summary."""
    cfg.validate()
    out = Path(out)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    prepare_manifest(out, json_ready(asdict(cfg)), cfg.cards)  # other inputs: SweepError
    runs = []
    todo = [
        (card, t, level, s)
        for card in cfg.cards
        for t in cfg.targets
        for level in cfg.train_levels
        for s in cfg.train_seeds
    ]
    for k, (card, t, level, s) in enumerate(todo):
        path = out / "runs" / f"{_key(card, t, level, s)}.json"
        if path.exists():
            runs.append(json.loads(path.read_text()))
            continue
        res = run_point(cfg, card, t, level, s)
        _write(path, res)
        runs.append(res)
        if (k + 1) % max(1, len(todo) // 10) == 0:
            log(f"flip study: {k + 1}/{len(todo)} trained networks done")
    summary = _summarize(cfg, runs)
    _write(out / "flip.json", summary)
    return summary


def _write(path: Path, obj: Any) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(obj, indent=1))
    os.replace(tmp, path)
