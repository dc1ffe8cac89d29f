"""Accuracy sweeps: grids of non-idealities, Monte Carlo trials on Dask, checkpoint and resume.

A sweep is a grid ``card × training noise × conductance-error kind × conductance error × input
noise``.  For every ``(card, training noise)`` the network is trained once
(:func:`cosim.learn.train.train`, seeded) on the card's window seen through the inference path (as
:func:`cosim.crossbar.make_crossbar` does for the co-simulation) and mapped to target device
conductances.  Every grid point then runs ``n_trials`` Monte Carlo trials, in fixed chunks of
``chunk_trials`` consecutive trials.  One trial, in the order the hardware sees them:

1. device-to-device spread: 30 devices drawn from a pool of ``device_pool`` devices of the real
   card (:func:`cosim.circuit.devices.draw_variation`, per-device card parameters);
2. programming by write-verify with the twin of the controller (:mod:`cosim.twin.program`: the
   co-simulation's reset pulse, codes, tolerance, adaptive widths and pulse limit), with
   cycle-to-cycle switching noise of the stochastic MSS (the card's ``n_switches``);
3. conductance error after programming: ``G·(1 + e·ξ)`` per device, ξ uniform on ±1 or N(0, 1);
4. inference of every test pattern ``n_repeats`` times with fresh read noise and input noise,
   through the inference path (switch + series resistor), hard-clip forward model.

Determinism and resume: a chunk's programming is seeded by ``SeedSequence([seed, card, i_train,
chunk, 1])`` (the same programmed devices at every error and input-noise level: common random
numbers), its error and noise by ``SeedSequence([seed, card, i_train, i_kind, i_error, i_input,
chunk])`` — the grid point and the trial range, never the execution order — and each finished
chunk is written at once to ``<out>/chunks/<key>.json`` (atomically: temporary file + rename).
A restarted sweep skips the chunks on disk, so an interrupted and resumed sweep gives the same
numbers as an uninterrupted one.  ``<out>/manifest.json`` holds the configuration and hashes of
every input (:mod:`cosim.run.manifest`); resuming with
a different one is refused.

Chunks run on ``dask.distributed``: a :class:`~distributed.LocalCluster` by default, or an
existing scheduler.  One task per card builds the step tables of its device pool
(:func:`card_twin`); one task per *programming group* — the chunks of one ``(card, training
noise, trial range)``, which share their programming seed — programs the crossbars once and
evaluates every error kind, error level and input-noise level on them (:func:`run_chunks`;
each chunk's result equals :func:`run_chunk` of that chunk alone).  Results are written by the
submitting process as they arrive, so workers need no shared file system.
"""

from __future__ import annotations

import functools
import json
import math
import os
import signal
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from cosim.circuit import mss, network
from cosim.circuit.devices import DeviceCard, draw_variation, load_card, nominal_variation
from cosim.crossbar import card_circuit
from cosim.errors import Interrupted, UsageError
from cosim.harness.contract import default_harness
from cosim.learn import data, train
from cosim.run.child import sigint_ignored
from cosim.run.cluster import local_cluster
from cosim.run.grid import (
    CARDS,
    LEVELS,
    SweepConfig,
    card_spec,
    card_window,
    quick_config,
    train_targets,
    window_source,
)
from cosim.run.manifest import (
    SweepError,
    check_chunk,
    check_weights,
    load_json,
    prepare_manifest,
)
from cosim.topology import DEFAULT
from cosim.twin import program

__all__ = [
    "LEVELS",
    "CARDS",
    "SweepError",
    "SweepConfig",
    "Chunk",
    "card_window",
    "window_source",
    "card_spec",
    "quick_config",
    "plan",
    "train_targets",
    "card_twin",
    "program_trials",
    "run_chunks",
    "run_chunk",
    "run_sweep",
    "summarize",
]


@dataclass(frozen=True)
class Chunk:
    """One unit of work: trials ``[chunk·chunk_trials, …)`` of one grid point.

    Attributes:
        card, i_train, i_kind, i_error, i_input: grid indices.  index: chunk number.
        n_trials: trials in this chunk.  spec: circuit constants as a dict.
        g_dev_S: target device conductances, select-line order (30 floats).
        config: the sweep configuration as a dict.
    """

    card: int
    i_train: int
    i_kind: int
    i_error: int
    i_input: int
    index: int
    n_trials: int
    spec: dict[str, float] = field(repr=False)
    g_dev_S: list[float] = field(repr=False)
    config: dict[str, Any] = field(repr=False)

    @property
    def key(self) -> str:
        """File-name key of the chunk."""
        return (
            f"c{self.card}_t{self.i_train}_g{self.i_kind}_e{self.i_error}_n{self.i_input}"
            f"_k{self.index}"
        )


def _test_set(cfg: SweepConfig) -> data.Dataset:
    return data.split(data.make_dataset(), seed=cfg.split_seed)[1]


def _train_point(cfg: SweepConfig, card: str, i_train: int) -> dict[str, Any]:
    return train_targets(
        card,
        cfg.train_levels[i_train],
        cfg.seed + 1000 * i_train,
        steps=cfg.train_steps,
        split_seed=cfg.split_seed,
        w_max=cfg.w_max,
    )


def _write_json(path: Path, obj: Any) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(obj, indent=1))
    os.replace(tmp, path)


def _prepare_dir(cfg: SweepConfig, out: Path) -> None:
    (out / "chunks").mkdir(parents=True, exist_ok=True)
    (out / "weights").mkdir(exist_ok=True)
    prepare_manifest(out, json.loads(json.dumps(asdict(cfg))), cfg.cards)


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
            wt = load_json(path, log)
            if wt is not None and check_weights(wt, DEFAULT.n_dev) is not None:
                log(f"{path}: {check_weights(wt, DEFAULT.n_dev)}: recomputed")
                wt = None
            if wt is None:
                log(f"training {card} at training noise {cfg.train_levels[t]:.0%}")
                wt = _train_point(cfg, card, t)
                _write_json(path, wt)
            for g in range(len(cfg.g_error_kinds)):
                for e in range(len(cfg.g_error_levels)):
                    for n in range(len(cfg.input_levels)):
                        for k in range(n_chunks):
                            size = min(per, cfg.n_trials - k * per)
                            chunks.append(
                                Chunk(c, t, g, e, n, k, size, wt["spec"], wt["g_dev_S"], conf)
                            )
    return chunks


@functools.lru_cache(maxsize=8)
def _card_twin(
    card: str | DeviceCard, pool: int, seed: int, d2d: bool, reset_pulse: bool
) -> tuple[program.PulseTables, float, int, Any]:
    """Step tables of a card's device pool (cached per worker process), initial state, number
    of switches, and the card."""
    c = card if isinstance(card, DeviceCard) else load_card(card)
    spec, _, _ = card_circuit(c)
    hp = default_harness()
    # the setup's codes are irrelevant here: only timing and read path enter the tables
    setup, _ = program.card_program_setup(
        c, spec, [c.operation.g_max_S], hp, reset_pulse=reset_pulse
    )
    if d2d:
        variation = draw_variation(c, pool, seed)
    else:
        variation = nominal_variation(1, c)

    params = mss.MSSArrays.from_params(c.model, variation)
    return program.build_tables(params, setup), float(c.x0), int(c.n_switches), c


CardTwin = tuple[program.PulseTables, float, int, DeviceCard]


def card_twin(cfg: SweepConfig, card: str | DeviceCard) -> CardTwin:
    """The step tables of ``card``'s device pool for ``cfg`` (built once per process; a Dask
    sweep builds them once per card in one task and hands them to every chunk)."""
    return _card_twin(card, cfg.device_pool, cfg.seed + 7919, cfg.d2d, cfg.reset_pulse)


def program_trials(
    cfg: SweepConfig,
    card: str | DeviceCard,
    g_dev_S: Any,
    n_trials: int,
    rng: np.random.Generator,
    twin: CardTwin | None = None,
) -> program.ProgramOutcome:
    """Program ``n_trials`` crossbars of ``card`` (name or loaded card) to ``g_dev_S``
    (N_DEV,) with the twin.

    Each trial draws its N_DEV devices from the card's pool (device-to-device spread) and programs
    them by write-verify with the co-simulation's codes, tolerance and scheme, with cycle-to-cycle
    noise if ``cfg.c2c``.  ``twin``: the pool's tables (:func:`card_twin`), built here when
    ``None``.  Returns outcomes of shape ``(n_trials, N_DEV)``.
    """
    tables, x0, n_sw, c = twin if twin is not None else card_twin(cfg, card)
    spec, _, _ = card_circuit(c, cfg.w_max)
    setup, codes = program.card_program_setup(
        c, spec, g_dev_S, tables.setup.harness, reset_pulse=cfg.reset_pulse
    )
    tables = replace(tables, setup=setup)
    n_rows = tables.params.r_on.size
    rows = rng.integers(0, n_rows, (n_trials, np.asarray(g_dev_S).size))
    return program.write_verify(
        tables,
        rows,
        x0,
        codes,
        rng=rng if cfg.c2c else None,
        n_switches=n_sw if cfg.c2c else None,
    )


def _group_key(chunk: Chunk) -> tuple[int, int, int]:
    """Chunks with the same key program the same crossbars (same programming seed)."""
    return chunk.card, chunk.i_train, chunk.index


def run_chunks(chunks: list[Chunk], twin: CardTwin | None = None) -> list[dict[str, Any]]:
    """Run chunks of one programming group (equal :func:`_group_key`; one Dask task).

    The crossbars are programmed once, seeded by ``SeedSequence([seed, card, i_train, chunk,
    1])``, and every chunk's error and noise are drawn from its own seed sequence, so each
    result equals :func:`run_chunk` of that chunk alone.
    """
    if not chunks:
        return []
    first = chunks[0]
    if any(_group_key(c) != _group_key(first) for c in chunks):
        raise UsageError("run_chunks: the chunks must share card, training level and index")
    cfg = _config_from_dict(first.config)
    prog_rng = np.random.default_rng(
        np.random.SeedSequence([cfg.seed, first.card, first.i_train, first.index, 1])
    )
    out = program_trials(cfg, cfg.cards[first.card], first.g_dev_S, first.n_trials, prog_rng, twin)
    spec = network.CircuitSpec(**first.spec)
    test = _test_set(cfg)
    results = []
    for chunk in chunks:
        seq = np.random.SeedSequence(
            [
                cfg.seed,
                chunk.card,
                chunk.i_train,
                chunk.i_kind,
                chunk.i_error,
                chunk.i_input,
                chunk.index,
            ]
        )
        rng = np.random.default_rng(seq)
        g_dev = out.g_S
        level = cfg.g_error_levels[chunk.i_error]
        if level > 0:
            kind = cfg.g_error_kinds[chunk.i_kind]
            g_dev = train.perturb_conductances(g_dev, level, kind, rng)
        g_branch = 1.0 / (spec.r_infer_path_ohm + 1.0 / np.maximum(g_dev, 1e-30))
        g1, g2 = network.split_layers(g_branch)
        ni = train.NonIdealities(
            read_noise=cfg.read_noise,
            input_noise=cfg.input_levels[chunk.i_input],
            input_noise_kind=cfg.input_noise_kind,
        )
        acc = train.evaluate(
            spec, g1, g2, test, rng, ni, n_trials=chunk.n_trials, n_repeats=cfg.n_repeats
        )
        results.append(
            {
                "key": chunk.key,
                "acc": acc.tolist(),
                "pulses_mean": float(out.pulses.mean()),
                "failed": int(out.failed.sum()),
            }
        )
    return results


def run_chunk(chunk: Chunk) -> dict[str, Any]:
    """Run one chunk (pure function of its arguments)."""
    return run_chunks([chunk])[0]


def _config_from_dict(conf: dict[str, Any]) -> SweepConfig:
    conv: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in conf.items()}
    return SweepConfig(**conv)


def _load_chunk(path: Path, chunk: Chunk, log: Callable[[str], None]) -> dict[str, Any] | None:
    got = load_json(path, log)
    if got is None:
        return None
    problem = check_chunk(got, chunk.key, chunk.n_trials, DEFAULT.n_dev)
    if problem is not None:
        log(f"{path}: invalid chunk ({problem}): recomputed")
        return None
    return got  # type: ignore[no-any-return]


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
    from distributed import Client, as_completed

    out = Path(out)
    chunks = plan(cfg, out, log)
    results: dict[str, dict[str, Any]] = {}
    todo = []
    for ch in chunks:
        got = _load_chunk(out / "chunks" / f"{ch.key}.json", ch, log)
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
            # Task errors reach us through fut.result(); the workers' own logs would only add
            # heartbeat tracebacks when the cluster shuts down.
            # Workers started while SIGINT is ignored keep ignoring it: a Ctrl-C in the
            # terminal (sent to the whole process group) reaches only this process, which
            # shuts the cluster down; the workers print no tracebacks.
            with sigint_ignored():
                cluster = local_cluster(jobs, processes=processes, dashboard_address=":0")
            client = Client(cluster)
        done = 0
        try:
            futures = _submit(client, cfg, todo)
            step = max(1, len(todo) // 20)
            for fut in as_completed(futures):
                for res in fut.result():
                    _write_json(out / "chunks" / f"{res['key']}.json", res)
                    results[res["key"]] = res
                    done += 1
                    if done % step == 0 or done == len(todo):
                        log(f"{done}/{len(todo)} chunks done")
                    if stop_after is not None and done >= stop_after:
                        client.cancel(futures)
                        return {"complete": False, "done": done}
        except KeyboardInterrupt as exc:
            raise Interrupted(
                f"{done} new chunks saved, {len(results)} of {len(chunks)} on disk in {out}; "
                "run the same command again to resume",
                getattr(exc, "signum", signal.SIGINT),
            ) from None
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    summary = summarize(cfg, chunks, results, out)
    _write_json(out / "accuracy.json", summary)
    return summary


def _submit(client: Any, cfg: SweepConfig, todo: list[Chunk]) -> list[Any]:
    """One task per card building its pool's step tables, one per programming group using
    them: every card's tables are built once per sweep instead of once per worker."""
    twins = {
        c: client.submit(card_twin, cfg, cfg.cards[c], pure=False)
        for c in sorted({ch.card for ch in todo})
    }
    groups: dict[tuple[int, int, int], list[Chunk]] = {}
    for ch in todo:
        groups.setdefault(_group_key(ch), []).append(ch)
    return [
        client.submit(run_chunks, group, twins[key[0]], pure=False) for key, group in groups.items()
    ]


def summarize(
    cfg: SweepConfig, chunks: list[Chunk], results: dict[str, dict[str, Any]], out: Path
) -> dict[str, Any]:
    """Mean accuracy per grid point with a 95 % confidence interval of the mean.

    The interval is ``mean ± 1.96·s/√n`` over the per-trial accuracies (normal approximation,
    clipped to [0, 1]).  Programming statistics per ``(card, training noise)``: mean write/erase
    pulses per device and the fraction of devices flagged failed.
    """
    grouped: dict[tuple[int, int, int, int, int], list[float]] = {}
    prog: dict[tuple[int, int], list[tuple[float, int, int]]] = {}
    for ch in sorted(chunks, key=lambda c: c.index):
        res = results[ch.key]
        key = (ch.card, ch.i_train, ch.i_kind, ch.i_error, ch.i_input)
        grouped.setdefault(key, []).extend(float(a) for a in res["acc"])
        if (ch.i_kind, ch.i_error, ch.i_input) == (0, 0, 0):
            prog.setdefault((ch.card, ch.i_train), []).append(
                (float(res["pulses_mean"]), int(res["failed"]), ch.n_trials)
            )
    points = []
    for (c, t, g, e, n), accs in sorted(grouped.items()):
        a = np.asarray(accs)
        half = 1.96 * a.std(ddof=1) / math.sqrt(a.size) if a.size > 1 else 0.0
        points.append(
            {
                "card": cfg.cards[c],
                "train_noise": cfg.train_levels[t],
                "g_error_kind": cfg.g_error_kinds[g],
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
    programming = {}
    for (c, t), rows in sorted(prog.items()):
        n_dev = sum(r[2] for r in rows) * DEFAULT.n_dev
        programming[f"{cfg.cards[c]}@{cfg.train_levels[t]:g}"] = {
            "pulses_mean": sum(r[0] * r[2] for r in rows) / sum(r[2] for r in rows),
            "failed_fraction": sum(r[1] for r in rows) / n_dev,
        }
    windows = {card: [*card_window(card)[:2], window_source(card)] for card in cfg.cards}
    return {
        "complete": True,
        "config": asdict(cfg),
        "windows_S": windows,
        "clipped_weights": clipped,
        "programming": programming,
        "points": points,
    }
