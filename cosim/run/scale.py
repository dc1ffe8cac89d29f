"""Beyond the paper: a real dataset on a large crossbar — training, twin Monte Carlo on Dask.

``cosim scale`` (and ``bench/bench_scale.py``) run, for one card, topology and dataset (by
default Cr, 64 → 16 → 10 = 1184 devices, the 8×8 digits):

1. **noise-aware training** of the circuit model (:func:`cosim.learn.train.train`: clip
   neurons, signed weights through the reference conductances, the card's window seen through
   the inference path, arg-max classification; seeded mini-batches) and the **float
   reference**: the same network with its ideal target conductances, clean inputs and with the
   run's input noise;
2. **Monte Carlo trials of the programmed chip** with the twin, in chunks on
   ``dask.distributed``: every trial draws its devices from the card's device pool
   (device-to-device spread), programs them by write-verify with the co-simulation's codes,
   tolerance and pulse scheme including cycle-to-cycle noise (:func:`cosim.run.sweep.
   program_trials`), then for every conductance-error level ``e`` perturbs ``G·(1 + e·ξ)``
   (ξ uniform on ±1) and infers the test split with Gaussian input noise.

Seeds: training ``seed``; the programming of chunk ``c`` ``SeedSequence([seed, c, 1])`` and its
errors and noise ``SeedSequence([seed, c, 2])`` — the trial range, never the worker or the
order.  The result (``scale.json``) holds per error level the trial accuracies' mean, standard
deviation and count, the float reference and the timings.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cosim.circuit.devices import load_card
from cosim.circuit.network import CircuitSpec, join_layers, split_layers
from cosim.crossbar import card_circuit
from cosim.errors import UsageError
from cosim.learn import datasets, recipe, train
from cosim.run import sweep
from cosim.run.cluster import local_cluster
from cosim.topology import parse_topology

__all__ = [
    "ScaleConfig",
    "TrainedNetwork",
    "train_network",
    "card_twin",
    "trial_chunk",
    "run_trials",
    "run_scale",
    "plot_accuracy_vs_error",
]

FloatArray = np.ndarray


@dataclass(frozen=True)
class ScaleConfig:
    """One scale study.

    Attributes:
        card: device card.  topology: layer widths ``N_IN,N_HID,N_OUT``.  dataset: task name.
        seed: seed of training and of the trials.  The training's hyper-parameters are the
            dataset's recipe (:data:`cosim.learn.recipe.RECIPES`), the same ``cosim sim``
            trains its crossbar with.
        train_cache: read/write the trained weights in the weight cache
            (:func:`cosim.learn.recipe.trained_weights`); ``False`` always trains (and times it).
        input_noise: Gaussian input noise at inference, σ relative to the input swing.
        g_errors: conductance-error levels (relative, uniform ±e after programming).
        n_trials: Monte Carlo trials per level.  chunk_trials: trials per Dask task.
        workers: Dask workers of the local cluster (one thread each).
        device_pool: devices of the card drawn for the device-to-device spread.
    """

    card: str = "Cr"
    topology: str = "64,16,10"
    dataset: str = "digits"
    seed: int = 1
    train_cache: bool = True
    input_noise: float = 0.05
    g_errors: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2, 0.3)
    n_trials: int = 100
    chunk_trials: int = 10
    workers: int = 2
    device_pool: int = 256

    def validate(self) -> None:
        """Raise :class:`UsageError` (or a named topology/dataset error) for bad settings."""
        datasets.dataset_for(parse_topology(self.topology), self.dataset)
        if self.n_trials < 1 or self.chunk_trials < 1 or self.workers < 1:
            raise UsageError("n_trials, chunk_trials and workers must be >= 1")
        if not self.g_errors or any(not 0.0 <= e <= 1.0 for e in self.g_errors):
            raise UsageError(f"g_errors {list(self.g_errors)!r}: give levels in 0..1")


@dataclass(frozen=True)
class TrainedNetwork:
    """A trained network and its float reference.

    Attributes:
        spec: circuit constants.  g_dev_S: target device conductances (select-bit order).
        train_s: training wall time (s; when the weights came from the cache, the time their
            training took when it ran).  cached: the weights came from the cache.
        train_config: the hyper-parameters (``TrainConfig`` as a dict).
        n_clipped: weights clipped into the window.
        float_ref: accuracy of the ideal network on the test split: ``clean`` and ``noisy``
            (the run's input noise, 10 presentations), and on the training split (``train``).
    """

    spec: CircuitSpec
    g_dev_S: FloatArray
    train_s: float
    cached: bool
    train_config: dict[str, Any]
    n_clipped: int
    float_ref: dict[str, float] = field(default_factory=dict)


def train_network(cfg: ScaleConfig) -> TrainedNetwork:
    """Train the network of ``cfg`` for its card and report the float reference."""
    topo = parse_topology(cfg.topology)
    spec, gb_min, gb_max = card_circuit(load_card(cfg.card))
    tr, te = datasets.train_test(topo, cfg.dataset)
    tw = recipe.trained_weights(
        spec, gb_min, gb_max, topo, cfg.dataset, cfg.seed, cache=cfg.train_cache
    )
    tg = train.to_conductances(spec, tw.weights, gb_min, gb_max)
    rng = np.random.default_rng(cfg.seed)
    ni = train.NonIdealities(input_noise=cfg.input_noise)
    ref = {
        "train": float(train.evaluate(spec, tg.g1_S, tg.g2_S, tr, rng, mode="mean")),
        "clean": float(train.evaluate(spec, tg.g1_S, tg.g2_S, te, rng, mode="mean")),
        "noisy": float(
            train.evaluate(spec, tg.g1_S, tg.g2_S, te, rng, ni, n_repeats=10, mode="mean")
        ),
    }
    gb = join_layers(tg.g1_S, tg.g2_S)
    g_dev = 1.0 / (1.0 / gb - spec.r_infer_path_ohm)
    return TrainedNetwork(spec, g_dev, tw.train_s, tw.cached, asdict(tw.config), tg.n_clipped, ref)


def _sweep_config(cfg: ScaleConfig) -> sweep.SweepConfig:
    return sweep.SweepConfig(cards=(cfg.card,), seed=cfg.seed, device_pool=cfg.device_pool)


def card_twin(cfg: ScaleConfig) -> sweep.CardTwin:
    """The step tables of the card's device pool (one Dask task, shared by every chunk)."""
    return sweep.card_twin(_sweep_config(cfg), cfg.card)


def trial_chunk(
    cfg: ScaleConfig,
    spec: CircuitSpec,
    g_dev_S: FloatArray,
    chunk: int,
    n_trials: int,
    twin: sweep.CardTwin | None = None,
) -> dict[str, Any]:
    """Program ``n_trials`` chips with the twin and infer at every error level (one Dask task).

    ``twin``: the pool's step tables (:func:`card_twin`), built here when ``None``.
    Returns ``{"chunk", "acc": {level: [per-trial accuracy]}, "pulses_mean", "failed"}``.
    """
    topo = parse_topology(cfg.topology)
    _, te = datasets.train_test(topo, cfg.dataset)
    prog_rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, chunk, 1]))
    out = sweep.program_trials(_sweep_config(cfg), cfg.card, g_dev_S, n_trials, prog_rng, twin)
    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, chunk, 2]))
    ni = train.NonIdealities(input_noise=cfg.input_noise)
    acc: dict[str, list[float]] = {}
    for level in cfg.g_errors:
        g = out.g_S
        if level > 0:
            g = train.perturb_conductances(g, level, "uniform", rng)
        gb = 1.0 / (spec.r_infer_path_ohm + 1.0 / np.maximum(g, 1e-30))
        g1, g2 = split_layers(gb, topo)
        per = train.evaluate(spec, g1, g2, te, rng, ni, n_trials=n_trials)
        acc[repr(level)] = [float(a) for a in per]
    return {
        "chunk": chunk,
        "acc": acc,
        "pulses_mean": float(out.pulses.mean()),
        "failed": int(out.failed.sum()),
    }


def _chunks(cfg: ScaleConfig) -> list[tuple[int, int]]:
    n, c = cfg.n_trials, cfg.chunk_trials
    return [(i, min(c, n - i * c)) for i in range((n + c - 1) // c)]


def run_trials(
    cfg: ScaleConfig, net: TrainedNetwork, *, scheduler: str | None = None
) -> tuple[list[dict[str, Any]], float]:
    """All trial chunks on Dask (a local cluster of ``cfg.workers`` one-thread workers, or an
    existing ``scheduler``).  Returns the chunk results in chunk order and the wall time (s)."""
    from dask.distributed import Client

    cluster = local_cluster(cfg.workers) if scheduler is None else None
    t0 = time.perf_counter()
    try:
        with Client(scheduler or cluster) as client:
            twin = client.submit(card_twin, cfg, pure=False)  # tables built once, not per worker
            futures = [
                client.submit(trial_chunk, cfg, net.spec, net.g_dev_S, i, n, twin, pure=False)
                for i, n in _chunks(cfg)
            ]
            results = client.gather(futures)
    finally:
        if cluster is not None:
            cluster.close()
    return sorted(results, key=lambda r: r["chunk"]), time.perf_counter() - t0


def summarize(chunks: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per error level: mean, standard deviation and count of the trial accuracies."""
    levels = chunks[0]["acc"].keys() if chunks else []
    out = {}
    for level in levels:
        a = np.concatenate([np.asarray(c["acc"][level]) for c in chunks])
        sd = float(a.std(ddof=1)) if a.size > 1 else 0.0
        out[level] = {"mean": float(a.mean()), "sd": sd, "n": int(a.size)}
    return out


def run_scale(
    cfg: ScaleConfig,
    out: Path,
    *,
    scheduler: str | None = None,
    log: Callable[[str], None] = lambda s: None,
) -> dict[str, Any]:
    """Train, run the Monte Carlo trials and write ``<out>/scale.json`` (atomically)."""
    cfg.validate()
    topo = parse_topology(cfg.topology)
    log(f"training {topo} ({topo.n_dev} devices) on {cfg.dataset}, card {cfg.card}")
    net = train_network(cfg)
    how = "weights from the cache, trained in" if net.cached else "trained in"
    log(f"{how} {net.train_s:.1f} s; float reference {net.float_ref}")
    chunks, mc_s = run_trials(cfg, net, scheduler=scheduler)
    result = {
        "config": asdict(cfg),
        "n_devices": topo.n_dev,
        "topology": list(topo.widths),
        "train_s": net.train_s,
        "train_cached": net.cached,
        "train_config": net.train_config,
        "n_clipped": net.n_clipped,
        "float_reference": net.float_ref,
        "twin_s": mc_s,
        "accuracy_vs_g_error": summarize(chunks),
        "pulses_mean": float(np.mean([c["pulses_mean"] for c in chunks])),
        "failed": int(sum(c["failed"] for c in chunks)),
    }
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f"scale.json.tmp{os.getpid()}"
    tmp.write_text(json.dumps(result, indent=1))
    os.replace(tmp, out / "scale.json")
    return result


def plot_accuracy_vs_error(results: list[dict[str, Any]], path: Path) -> None:
    """Accuracy (mean ± sd over trials) against conductance error, one line per result
    (e.g. 30 vs 1184 devices), with each network's float reference dashed; PNG at ``path``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.0, 4.0))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for res in results:
        acc = res["accuracy_vs_g_error"]
        levels = sorted(acc, key=float)
        x = [100 * float(e) for e in levels]
        y = [100 * acc[e]["mean"] for e in levels]
        sd = [100 * acc[e]["sd"] for e in levels]
        label = f"{res['n_devices']} devices ({res['config']['dataset']})"
        line = ax.errorbar(x, y, yerr=sd, marker="o", capsize=3, label=label)
        ref = 100 * res["float_reference"]["noisy"]
        ax.axhline(ref, ls="--", lw=0.8, color=line[0].get_color())
    ax.set_xlabel("conductance error after programming, uniform ± (%)")
    ax.set_ylabel("test accuracy (%), twin trials")
    ax.set_title("programmed chip (twin) vs float reference (dashed)")
    ax.legend()
    ax.grid(alpha=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
