"""One training recipe per dataset, and a content-addressed cache of the trained weights.

:data:`RECIPES` is the single source of the hyper-parameters a crossbar's target weights are
trained with: ``cosim sim`` (:func:`cosim.crossbar.make_crossbar`, inside ``vvp`` and in the
parent process), the write-verify twin of that crossbar, ``cosim scale`` and
``bench/bench_scale.py`` all call :func:`trained_weights`, so the co-simulated chip, the twin
and the scale study program the same targets.

* ``patterns`` — the paper's small tasks: full batch, 16 noisy copies per step, output
  temperature 50 mV (the values every pattern figure in ``docs/`` was made with).
* ``digits`` — 1437 training images: seeded mini-batches of 128, 8 noisy copies, softmax
  temperature 0.2 V (the arg-max of ten outputs needs a softer loss than one threshold).

Both train with :data:`TRAINING_NOISE` relative noise on conductances and inputs, 1500 Adam steps.

**Cache.**  Trained weights are stored as ``<cache_dir>/weights/<key>.npz`` where ``key`` is the
SHA-256 of everything that determines them: the circuit constants and the branch-conductance
window (hence the card), the topology, the dataset's name and the bytes of its training split,
the :class:`~cosim.learn.train.TrainConfig` (with the seed), the source of the modules that
compute them (:mod:`cosim.learn.train`, :mod:`cosim.learn.data`, :mod:`cosim.circuit.network`)
and the NumPy version.  A file is written to a unique temporary name in the same directory and
renamed into place (atomic on POSIX), so concurrent runs never read half a file; two runs that
train the same key at once write identical bytes.  An unreadable or mismatched file is trained
again and replaced.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cosim.circuit import network
from cosim.circuit.network import CircuitSpec
from cosim.errors import UsageError
from cosim.learn import data, datasets, train
from cosim.learn.data import Dataset
from cosim.learn.train import TrainConfig, Weights
from cosim.resources import cache_dir
from cosim.topology import Topology

__all__ = [
    "TRAINING_NOISE",
    "RECIPES",
    "train_config",
    "weights_key",
    "weights_cache",
    "TrainedWeights",
    "trained_weights",
]

#: Training-noise level of the target weights a crossbar is programmed with (relative).
TRAINING_NOISE = 0.1

#: The training configuration of every dataset (its ``seed`` is replaced per run).
RECIPES: dict[str, TrainConfig] = {
    "patterns": TrainConfig(noise=TRAINING_NOISE),
    "digits": TrainConfig(noise=TRAINING_NOISE, batch=128, n_copies=8, t_loss_V=0.2),
}

_CODE = (train, data, network)


def train_config(dataset: str, seed: int) -> TrainConfig:
    """The recipe of ``dataset`` with ``seed``.

    Raises:
        UsageError: no recipe for ``dataset`` (the message lists the known ones).
    """
    try:
        return dataclasses.replace(RECIPES[dataset], seed=seed)
    except KeyError:
        raise UsageError(
            f"no training recipe for dataset {dataset!r}; known: {sorted(RECIPES)}"
        ) from None


def weights_key(
    spec: CircuitSpec,
    g_min_S: float,
    g_max_S: float,
    topology: Topology,
    train_set: Dataset,
    config: TrainConfig,
) -> str:
    """Hex SHA-256 of everything :func:`cosim.learn.train.train` reads (see the module doc)."""
    digest = hashlib.sha256()

    def feed(label: str, blob: bytes) -> None:
        digest.update(label.encode() + b"\0" + len(blob).to_bytes(8, "little") + blob)

    feed("spec", json.dumps(dataclasses.asdict(spec), sort_keys=True).encode())
    feed("window", np.array([g_min_S, g_max_S], dtype=np.float64).tobytes())
    feed("topology", np.array(topology.widths, dtype=np.int64).tobytes())
    feed("dataset", train_set.name.encode())
    feed("x", np.ascontiguousarray(train_set.x, dtype=np.float64).tobytes())
    feed("y", np.ascontiguousarray(train_set.y, dtype=np.int64).tobytes())
    feed("config", json.dumps(dataclasses.asdict(config), sort_keys=True).encode())
    for mod in _CODE:
        feed(f"code:{mod.__name__}", Path(str(mod.__file__)).read_bytes())
    feed("numpy", np.__version__.encode())
    return digest.hexdigest()


def weights_cache() -> Path:
    """The directory of cached weights: ``<cache_dir>/weights``."""
    return cache_dir() / "weights"


@dataclass(frozen=True)
class TrainedWeights:
    """Weights and how they were obtained.

    Attributes:
        weights: the trained weights.  config: the configuration they were trained with.
        train_s: wall time the training took when it ran (s; read back from the cache on a hit).
        cached: read from the cache instead of trained in this call.  key: the cache key.
    """

    weights: Weights
    config: TrainConfig
    train_s: float
    cached: bool
    key: str


def _load(path: Path, topology: Topology) -> tuple[Weights, float] | None:
    try:
        with np.load(path) as z:
            w1, w2, t = z["w1"], z["w2"], float(z["train_s"])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    if w1.shape != (topology.n_in, topology.n_hid) or w2.shape != (topology.n_hid, topology.n_out):
        return None
    return Weights(w1, w2), t


def _store(path: Path, w: Weights, train_s: float) -> None:
    """Write ``path`` atomically: a unique temporary file in the same directory, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.stem + ".", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o644)  # mkstemp's 0600 would hide the cache from other users
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, w1=w.w1, w2=w.w2, train_s=np.float64(train_s))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def trained_weights(
    spec: CircuitSpec,
    g_min_S: float,
    g_max_S: float,
    topology: Topology,
    dataset: str,
    seed: int,
    *,
    cache: Path | None | bool = True,
) -> TrainedWeights:
    """The recipe's weights for ``dataset`` on ``topology`` in the window ``[g_min_S, g_max_S]``.

    Trains on the dataset's seed-0 training split (:func:`cosim.learn.datasets.train_test`)
    with :func:`train_config` ``(dataset, seed)``.

    Args:
        spec: circuit constants.  g_min_S, g_max_S: the branch-conductance window (S).
        topology: layer widths.  dataset: task name.  seed: training seed.
        cache: ``True`` — the default cache directory (:func:`weights_cache`); a path — that
            directory; ``False``/``None`` — always train, store nothing.

    Raises:
        UsageError: unknown dataset or recipe, or the dataset does not fit the topology.
    """
    train_set, _ = datasets.train_test(topology, dataset)
    cfg = train_config(dataset, seed)
    key = weights_key(spec, g_min_S, g_max_S, topology, train_set, cfg)
    folder = weights_cache() if cache is True else (cache or None)
    path = Path(folder) / f"{key}.npz" if folder else None
    if path is not None and path.is_file():
        hit = _load(path, topology)
        if hit is not None:
            return TrainedWeights(hit[0], cfg, hit[1], True, key)
    t0 = time.perf_counter()
    w = train.train(spec, train_set, g_min_S, g_max_S, cfg, topology)
    train_s = time.perf_counter() - t0
    if path is not None:
        _store(path, w, train_s)
    return TrainedWeights(w, cfg, train_s, False, key)
