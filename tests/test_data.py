"""Tests of cosim.learn.data: dataset, deterministic split, input-noise statistics."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cosim.errors import UsageError
from cosim.learn import data, datasets
from cosim.topology import DEFAULT, Topology


def test_dataset_classes_distinct_and_balanced() -> None:
    ds = data.make_dataset()
    assert np.unique(ds.x, axis=0).shape[0] == len(ds)
    assert np.count_nonzero(ds.y == 1) == np.count_nonzero(ds.y == 0)
    protos, labels = data.prototypes()
    assert set(np.unique(ds.x)) <= {0, 1}
    for p, label in zip(protos, labels, strict=True):
        hit = np.flatnonzero((ds.x == p).all(axis=1))
        assert hit.size == 1 and ds.y[hit[0]] == label
    # every distortion is one flip away from its prototype
    dist = np.abs(ds.x - protos[ds.origin]).sum(axis=1)
    assert np.array_equal(dist, (ds.flipped >= 0).astype(int))


def test_split_is_deterministic_stratified_and_disjoint() -> None:
    ds = data.make_dataset()
    tr1, te1 = data.split(ds, seed=3)
    tr2, te2 = data.split(ds, seed=3)
    assert np.array_equal(te1.x, te2.x) and np.array_equal(tr1.x, tr2.x)
    _, te3 = data.split(ds, seed=4)
    assert not np.array_equal(te1.x, te3.x)
    assert len(tr1) + len(te1) == len(ds)
    rows = {r.tobytes() for r in tr1.x}
    assert not any(r.tobytes() in rows for r in te1.x)
    assert np.count_nonzero(te1.y == 1) == np.count_nonzero(te1.y == 0)
    assert np.all(te1.flipped >= 0)  # prototypes stay in training
    with pytest.raises(UsageError, match="test_fraction"):
        data.split(ds, test_fraction=1.0)


@pytest.mark.parametrize("kind", ["gaussian", "uniform"], ids=["gauss", "uniform"])
def test_input_noise_statistics(kind: data.NoiseKind) -> None:
    v_read = 0.1
    level = 0.2
    v = np.full(200_000, 0.5)  # far from 0 V: clipping does not act
    a = data.add_input_noise(v, level, v_read_V=v_read, rng=np.random.default_rng(1), kind=kind)
    b = data.add_input_noise(v, level, v_read_V=v_read, rng=np.random.default_rng(1), kind=kind)
    assert np.array_equal(a, b)
    noise = a - v
    expected_sd = level * v_read if kind == "gaussian" else level * v_read / np.sqrt(3)
    assert abs(noise.mean()) < 5 * expected_sd / np.sqrt(v.size)
    assert noise.std() == pytest.approx(expected_sd, rel=0.01)
    if kind == "uniform":
        assert noise.max() <= level * v_read and noise.min() >= -level * v_read


def test_input_noise_clips_at_zero_and_rejects_bad_input() -> None:
    v = data.to_voltages(np.zeros(10_000), 0.1)
    out = data.add_input_noise(v, 0.3, v_read_V=0.1, rng=np.random.default_rng(0))
    assert out.min() == 0.0 and out.max() > 0.0
    with pytest.raises(UsageError, match="allowed"):
        data.add_input_noise(v, 0.1, v_read_V=0.1, rng=np.random.default_rng(0), kind="pink")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match=">= 0"):
        data.add_input_noise(v, -0.1, v_read_V=0.1, rng=np.random.default_rng(0))


def test_default_topology_keeps_the_3x3_patterns() -> None:
    ds = datasets.dataset_for(DEFAULT)
    ref = data.make_dataset()
    assert np.array_equal(ds.x, ref.x) and np.array_equal(ds.y, ref.y)
    tr, te = datasets.train_test(DEFAULT, seed=0)
    assert np.array_equal(te.x, data.split(ref, seed=0)[1].x)


@pytest.mark.parametrize("widths", [(16, 8, 1), (16, 8, 4), (12, 6, 3), (64, 16, 10)])
def test_parametric_patterns_fit_the_topology(widths: tuple[int, int, int]) -> None:
    topo = Topology(widths)
    ds = datasets.dataset_for(topo)
    r, c = datasets.pattern_grid(topo.n_in)
    assert r * c == topo.n_in and 3 <= r <= c
    assert ds.x.shape[1] == topo.n_in and set(np.unique(ds.x)) <= {0, 1}
    assert set(np.unique(ds.y)) == set(range(topo.n_classes))
    assert np.unique(ds.x, axis=0).shape[0] == len(ds)  # no pattern in two classes or twice
    protos = ds.flipped == data.PROTOTYPE
    for label in range(topo.n_classes):
        assert np.any(protos & (ds.y == label))
    # every distortion is one flip away from its prototype
    by_origin = {int(o): ds.x[i] for i, o in enumerate(ds.origin) if protos[i]}
    for i in np.flatnonzero(~protos):
        if int(ds.origin[i]) in by_origin:
            diff = np.flatnonzero(ds.x[i] != by_origin[int(ds.origin[i])])
            assert diff.tolist() == [ds.flipped[i]]
    tr, te = datasets.train_test(topo, seed=1)
    assert len(tr) + len(te) == len(ds) and np.all(te.flipped != data.PROTOTYPE)
    assert set(np.unique(te.y)) == set(range(topo.n_classes))


def test_the_4x4_families_are_drawn_where_documented() -> None:
    ds = datasets.dataset_for(Topology((16, 4, 10)))
    img = {int(lab): ds.x[(ds.y == lab) & (ds.flipped == data.PROTOTYPE)] for lab in range(10)}
    grid = [p.reshape(4, 4) for p in img[0]]  # hbar: full rows
    assert sorted(int(np.flatnonzero(g.sum(axis=1) == 4)[0]) for g in grid) == [0, 1, 2, 3]
    assert any(np.array_equal(p.reshape(4, 4), np.eye(4)) for p in img[2])  # diag
    assert any(np.array_equal(p.reshape(4, 4), np.fliplr(np.eye(4))) for p in img[3])
    frame = np.ones((4, 4))
    frame[1:3, 1:3] = 0
    assert np.array_equal(img[5][0].reshape(4, 4), frame)
    assert np.array_equal(img[6][0].reshape(4, 4), 1 - frame)  # center
    assert img[9].shape[0] == 2 and np.array_equal(img[9][0] + img[9][1], np.ones(16))


@pytest.mark.parametrize(
    ("widths", "name", "match"),
    [
        ((7, 3, 1), "patterns", "N_IN = 7 has none"),
        ((8, 3, 1), "patterns", "9, 12, 15, 16"),
        ((16, 4, 11), "patterns", "at most 10 classes"),
        ((9, 3, 1), "digits", "needs N_IN = 64 .* e.g. --topology 64,16,10"),
        ((64, 16, 2), "digits", "N_OUT = 10"),
        ((9, 3, 1), "mnist", "allowed: \\['patterns', 'digits'\\]"),
    ],
)
def test_a_dataset_that_does_not_fit_is_a_named_error(widths, name, match) -> None:
    with pytest.raises(datasets.DatasetError, match=match):
        datasets.dataset_for(Topology(widths), name)
    assert issubclass(datasets.DatasetError, UsageError)


def test_digits_grey_levels_and_stratified_80_20_split() -> None:
    pytest.importorskip("sklearn", reason="scikit-learn (a cosim dependency) is not installed")
    topo = Topology((64, 16, 10))
    ds = datasets.dataset_for(topo, "digits")
    assert ds.x.shape == (1797, 64) and ds.x.min() == 0.0 and ds.x.max() == 1.0
    assert np.allclose(ds.x * 16, np.round(ds.x * 16))  # 17 grey levels
    v = data.to_voltages(ds.x, 0.1)
    assert v.max() == pytest.approx(0.1) and v.min() == 0.0
    tr, te = datasets.train_test(topo, "digits", seed=0)
    assert len(te) == sum(round(0.2 * n) for n in np.bincount(ds.y))
    assert np.all(np.abs(np.bincount(te.y) / np.bincount(ds.y) - 0.2) < 0.02)
    assert not set(tr.origin) & set(te.origin) and len(tr) + len(te) == 1797
    _, te2 = datasets.train_test(topo, "digits", seed=0)
    _, te3 = datasets.train_test(topo, "digits", seed=1)
    assert np.array_equal(te.origin, te2.origin) and not np.array_equal(te.origin, te3.origin)


def test_digits_come_from_a_cached_copy_without_importing_sklearn(tmp_path: Path) -> None:
    """The first load stores scikit-learn's digits in the build cache; a fresh process then
    reads that copy (the same arrays) and never imports scikit-learn."""
    from sklearn.datasets import load_digits

    env = {**os.environ, "COSIM_BUILD_DIR": str(tmp_path)}
    code = (
        "import sys, numpy as np; from cosim.learn import datasets as d; "
        "x, y = d._load_digits(); print(d.digits_cache().is_file(), 'sklearn' in sys.modules); "
        f"np.save({str(tmp_path / 'x.npy')!r}, x); np.save({str(tmp_path / 'y.npy')!r}, y)"
    )
    runs = [
        subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
        for _ in range(2)
    ]
    assert [r.stdout.split() for r in runs] == [["True", "True"], ["True", "False"]], runs
    bunch = load_digits()
    assert np.array_equal(np.load(tmp_path / "x.npy"), bunch.data)
    assert np.array_equal(np.load(tmp_path / "y.npy"), bunch.target)
