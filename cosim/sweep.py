"""Accuracy sweeps: grids of non-idealities, Monte Carlo trials on Dask, checkpoint and resume.

A sweep is a grid ``card × training noise × conductance error × input noise``.  For every
``(card, training noise)`` the network is trained once (:func:`cosim.train.train`, seeded) and
mapped to target conductances in the card's window.  Every grid point then runs ``n_trials``
Monte Carlo trials, in fixed chunks of ``chunk_trials`` consecutive trials: a chunk draws one
conductance error per device and trial (relative, uniform ±e by default) and presents every test
pattern ``n_repeats`` times with fresh input noise (and read noise, if set).

Determinism and resume: a chunk's random stream is seeded by
``SeedSequence([seed, card, i_train, i_error, i_input, chunk])`` — the grid point and the trial
range, never the execution order — and each finished chunk is written at once to
``<out>/chunks/<key>.json`` (atomically: temporary file + rename).  A restarted sweep skips the
chunks on disk, so an interrupted and resumed sweep gives the same numbers as an uninterrupted
one.  ``<out>/manifest.json`` holds the configuration; resuming with a different one is refused.

Chunks run on ``dask.distributed``: a :class:`~distributed.LocalCluster` by default, or an
existing scheduler.  Results are written by the submitting process as they arrive, so workers
need no shared file system.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cosim import data, network, train
from cosim.errors import CosimError, UsageError

__all__ = [
    "LEVELS",
    "CARDS",
    "SweepError",
    "SweepConfig",
    "Chunk",
    "card_window",
    "window_source",
    "quick_config",
    "plan",
    "run_chunk",
    "run_sweep",
    "summarize",
]

#: Noise / error levels of the paper's figures (relative): 0, 5, 10, 15, 20, 30 %.
LEVELS = (0.0, 0.05, 0.10, 0.15, 0.20, 0.30)
#: Device cards of the paper: tungsten-, chromium- and carbon-doped M-SDC memristors.
CARDS = ("W", "Cr", "C")

# Fallback device windows when cosim.devices is not available: the derived starting cards of
# /work/shared/reference/DEVICES.md (R_on, R_off); usable window [2/R_off, 0.8/R_on].
_FALLBACK_R_OHM = {"W": (2e3, 300e3), "Cr": (5e3, 800e3), "C": (20e3, 3e6)}


class SweepError(CosimError):
    """A sweep directory is inconsistent (other configuration, corrupt chunk file)."""


@dataclass(frozen=True)
class SweepConfig:
    """A sweep grid and its Monte Carlo settings.

    Attributes:
        cards: device cards.  train_levels, g_error_levels, input_levels: relative levels.
        n_trials: Monte Carlo trials per grid point.  chunk_trials: trials per saved chunk.
        n_repeats: presentations of every test pattern per trial.
        g_error_kind: ``"uniform"`` (±e) or ``"gaussian"`` (σ = e).
        input_noise_kind: ``"gaussian"`` or ``"uniform"``.
        read_noise: relative σ of a conductance read fluctuation per presentation.
        train_steps: Adam steps of every training.  seed: master seed.  split_seed: data split.
        w_max: weight range the circuit is built for (0: :data:`cosim.train.DEFAULT_W_MAX`).
    """

    cards: tuple[str, ...] = CARDS
    train_levels: tuple[float, ...] = LEVELS
    g_error_levels: tuple[float, ...] = LEVELS
    input_levels: tuple[float, ...] = LEVELS
    n_trials: int = 100
    chunk_trials: int = 50
    n_repeats: int = 10
    g_error_kind: data.NoiseKind = "uniform"
    input_noise_kind: data.NoiseKind = "gaussian"
    read_noise: float = 0.0
    train_steps: int = 1500
    seed: int = 0
    split_seed: int = 0
    w_max: float = 0.0

    def validate(self) -> None:
        """Raise :class:`UsageError` for an empty grid or bad numbers."""
        if not (self.cards and self.train_levels and self.g_error_levels and self.input_levels):
            raise UsageError("sweep grid is empty: give at least one card and one level per axis")
        if self.n_trials < 1 or self.chunk_trials < 1 or self.n_repeats < 1:
            raise UsageError("n_trials, chunk_trials and n_repeats must be >= 1")


def quick_config(**overrides: Any) -> SweepConfig:
    """A small grid (levels 0, 10, 20 %) that runs in well under two minutes on 2 cores."""
    base = SweepConfig(
        train_levels=(0.0, 0.10, 0.20),
        g_error_levels=(0.0, 0.10, 0.20),
        input_levels=(0.0, 0.10, 0.20),
        n_trials=100,
        chunk_trials=100,
        n_repeats=5,
        train_steps=800,
    )
    return SweepConfig(**{**asdict(base), **overrides})


def card_window(name: str) -> tuple[float, float, float, float]:
    """``(g_min_S, g_max_S, v_read_V, r_series_ohm)`` of a device card.

    Taken from ``cosim.devices.load_card(name).operation`` when the card file exists,
    otherwise from the derived starting cards of DEVICES.md (window ``[2/R_off, 0.8/R_on]``,
    0.1 V read, 10 kΩ series).

    Raises:
        UsageError: unknown card name.
    """
    try:
        from cosim import devices
    except ImportError:  # pragma: no cover - devices is part of the package
        devices = None  # type: ignore[assignment]
    if devices is not None and name in devices.known_cards():
        op = devices.load_card(name).operation
        return float(op.g_min_S), float(op.g_max_S), float(op.v_read_V), float(op.r_series_ohm)
    if name not in _FALLBACK_R_OHM:
        known = sorted(set(_FALLBACK_R_OHM) | set(devices.known_cards() if devices else []))
        raise UsageError(f"unknown card {name!r}; known: {known}")
    r_on, r_off = _FALLBACK_R_OHM[name]
    return 2.0 / r_off, 0.8 / r_on, 0.1, 10e3


def window_source(name: str) -> str:
    """Where :func:`card_window` takes the card's window from: a card file or the fallback."""
    from cosim import devices

    if name in devices.known_cards():
        return str(devices.CARDS_DIR / f"{name}.toml")
    return "fallback: DEVICES.md derived starting card"


@dataclass(frozen=True)
class Chunk:
    """One unit of work: trials ``[chunk·chunk_trials, …)`` of one grid point.

    Attributes:
        card, i_train, i_error, i_input: grid indices.  index: chunk number.
        n_trials: trials in this chunk.  spec: circuit constants as a dict.
        g1_S, g2_S: target conductances (nested lists).  levels: (error, input) levels.
        config: the sweep configuration as a dict.
    """

    card: int
    i_train: int
    i_error: int
    i_input: int
    index: int
    n_trials: int
    spec: dict[str, float] = field(repr=False)
    g1_S: list[list[float]] = field(repr=False)
    g2_S: list[float] = field(repr=False)
    config: dict[str, Any] = field(repr=False)

    @property
    def key(self) -> str:
        """File-name key of the chunk."""
        return f"c{self.card}_t{self.i_train}_e{self.i_error}_n{self.i_input}_k{self.index}"


def _test_set(cfg: SweepConfig) -> data.Dataset:
    return data.split(data.make_dataset(), seed=cfg.split_seed)[1]


def _train_point(cfg: SweepConfig, card: str, i_train: int) -> dict[str, Any]:
    g_min, g_max, v_read, r_series = card_window(card)
    spec = train.spec_for_card(g_min, g_max, v_read, r_series, cfg.w_max)
    tr, _ = data.split(data.make_dataset(), seed=cfg.split_seed)
    tcfg = train.TrainConfig(
        noise=cfg.train_levels[i_train], steps=cfg.train_steps, seed=cfg.seed + 1000 * i_train
    )
    w = train.train(spec, tr, g_min, g_max, tcfg)
    tg = train.to_conductances(spec, w, g_min, g_max)
    return {
        "spec": asdict(spec),
        "g1_S": tg.g1_S.tolist(),
        "g2_S": tg.g2_S.tolist(),
        "n_clipped": tg.n_clipped,
        "w1": w.w1.tolist(),
        "w2": w.w2.tolist(),
    }


def _write_json(path: Path, obj: Any) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(obj, indent=1))
    os.replace(tmp, path)


def _prepare_dir(cfg: SweepConfig, out: Path) -> None:
    (out / "chunks").mkdir(parents=True, exist_ok=True)
    (out / "weights").mkdir(exist_ok=True)
    manifest = out / "manifest.json"
    mine = json.loads(json.dumps(asdict(cfg)))
    if manifest.exists():
        theirs = json.loads(manifest.read_text())
        if theirs != mine:
            raise SweepError(
                f"{manifest} holds another sweep configuration; use another --out directory "
                "or delete it to start over"
            )
    else:
        _write_json(manifest, mine)


def plan(cfg: SweepConfig, out: Path, log: Callable[[str], None] = lambda s: None) -> list[Chunk]:
    """Train (or load cached) networks and list every chunk of the sweep."""
    cfg.validate()
    _prepare_dir(cfg, out)
    conf = asdict(cfg)
    chunks = []
    per = cfg.chunk_trials
    n_chunks = math.ceil(cfg.n_trials / per)
    for c, card in enumerate(cfg.cards):
        for t in range(len(cfg.train_levels)):
            path = out / "weights" / f"{card}_t{t}.json"
            if path.exists():
                wt = json.loads(path.read_text())
            else:
                log(f"training {card} at training noise {cfg.train_levels[t]:.0%}")
                wt = _train_point(cfg, card, t)
                _write_json(path, wt)
            for e in range(len(cfg.g_error_levels)):
                for n in range(len(cfg.input_levels)):
                    for k in range(n_chunks):
                        size = min(per, cfg.n_trials - k * per)
                        chunks.append(
                            Chunk(c, t, e, n, k, size, wt["spec"], wt["g1_S"], wt["g2_S"], conf)
                        )
    return chunks


def run_chunk(chunk: Chunk) -> dict[str, Any]:
    """Run one chunk (pure function of its arguments; executed on a Dask worker)."""
    cfg = _config_from_dict(chunk.config)
    seq = np.random.SeedSequence(
        [cfg.seed, chunk.card, chunk.i_train, chunk.i_error, chunk.i_input, chunk.index]
    )
    rng = np.random.default_rng(seq)
    spec = network.CircuitSpec(**chunk.spec)
    ni = train.NonIdealities(
        g_error=cfg.g_error_levels[chunk.i_error],
        g_error_kind=cfg.g_error_kind,
        read_noise=cfg.read_noise,
        input_noise=cfg.input_levels[chunk.i_input],
        input_noise_kind=cfg.input_noise_kind,
    )
    acc = train.evaluate(
        spec,
        chunk.g1_S,
        chunk.g2_S,
        _test_set(cfg),
        rng,
        ni,
        n_trials=chunk.n_trials,
        n_repeats=cfg.n_repeats,
    )
    return {"key": chunk.key, "acc": acc.tolist()}


def _config_from_dict(conf: dict[str, Any]) -> SweepConfig:
    conv: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in conf.items()}
    return SweepConfig(**conv)


def _load_chunk(path: Path, chunk: Chunk) -> list[float] | None:
    try:
        got = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    acc = got.get("acc") if isinstance(got, dict) else None
    if got.get("key") != chunk.key or not isinstance(acc, list) or len(acc) != chunk.n_trials:
        return None
    return [float(a) for a in acc]


def run_sweep(
    cfg: SweepConfig,
    out: Path,
    *,
    jobs: int = 2,
    scheduler: str | None = None,
    processes: bool = True,
    log: Callable[[str], None] = lambda s: None,
    stop_after: int | None = None,
) -> dict[str, Any]:
    """Run (or resume) a sweep in ``out`` and write ``out/accuracy.json``.

    Args:
        cfg: the grid and Monte Carlo settings.
        out: sweep directory (created; an existing one is resumed).
        jobs: workers of the local cluster.  scheduler: address of an existing scheduler.
        processes: local cluster with worker processes (``False``: threads, for tests).
        log: progress callback (one line per message).
        stop_after: stop after this many newly finished chunks (simulates an interruption);
            the result is then ``{"complete": False, …}`` and no accuracy.json is written.

    Returns:
        The summary also written to ``out/accuracy.json`` (see :func:`summarize`).
    """
    from distributed import Client, LocalCluster, as_completed

    out = Path(out)
    chunks = plan(cfg, out, log)
    results: dict[str, list[float]] = {}
    todo = []
    for ch in chunks:
        got = _load_chunk(out / "chunks" / f"{ch.key}.json", ch)
        if got is None:
            todo.append(ch)
        else:
            results[ch.key] = got
    log(f"{len(chunks)} chunks, {len(chunks) - len(todo)} on disk, {len(todo)} to run")
    if todo:
        cluster = None
        if scheduler:
            client = Client(scheduler)
        else:
            cluster = LocalCluster(
                n_workers=jobs, threads_per_worker=1, processes=processes, dashboard_address=None
            )
            client = Client(cluster)
        try:
            futures = client.map(run_chunk, todo, pure=False)
            done = 0
            step = max(1, len(todo) // 20)
            for fut in as_completed(futures):
                res = fut.result()
                _write_json(out / "chunks" / f"{res['key']}.json", res)
                results[res["key"]] = res["acc"]
                done += 1
                if done % step == 0 or done == len(todo):
                    log(f"{done}/{len(todo)} chunks done")
                if stop_after is not None and done >= stop_after:
                    client.cancel(futures)
                    return {"complete": False, "done": done}
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    summary = summarize(cfg, chunks, results, out)
    _write_json(out / "accuracy.json", summary)
    return summary


def summarize(
    cfg: SweepConfig, chunks: list[Chunk], results: dict[str, list[float]], out: Path
) -> dict[str, Any]:
    """Mean accuracy per grid point with a 95 % confidence interval of the mean.

    The interval is ``mean ± 1.96·s/√n`` over the per-trial accuracies (normal approximation,
    clipped to [0, 1]).
    """
    grouped: dict[tuple[int, int, int, int], list[float]] = {}
    for ch in sorted(chunks, key=lambda c: c.index):
        grouped.setdefault((ch.card, ch.i_train, ch.i_error, ch.i_input), []).extend(
            results[ch.key]
        )
    points = []
    for (c, t, e, n), accs in sorted(grouped.items()):
        a = np.asarray(accs)
        half = 1.96 * a.std(ddof=1) / math.sqrt(a.size) if a.size > 1 else 0.0
        points.append(
            {
                "card": cfg.cards[c],
                "train_noise": cfg.train_levels[t],
                "g_error": cfg.g_error_levels[e],
                "input_noise": cfg.input_levels[n],
                "n_trials": int(a.size),
                "acc_mean": float(a.mean()),
                "ci95": [float(max(a.mean() - half, 0.0)), float(min(a.mean() + half, 1.0))],
            }
        )
    clipped = {}
    for card in cfg.cards:
        for t, level in enumerate(cfg.train_levels):
            wt = json.loads((out / "weights" / f"{card}_t{t}.json").read_text())
            clipped[f"{card}@{level:g}"] = wt["n_clipped"]
    windows = {card: [*card_window(card)[:2], window_source(card)] for card in cfg.cards}
    return {
        "complete": True,
        "config": asdict(cfg),
        "windows_S": windows,
        "clipped_weights": clipped,
        "points": points,
    }
