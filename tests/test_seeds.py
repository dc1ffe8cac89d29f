"""Seeds at the seams: same seed → identical results, different seed → different results.

For the write-verify twin (:func:`cosim.twin.program.crossbar_twin`) and for the chunks of an
accuracy sweep (:func:`cosim.run.sweep.run_chunk`).  The co-simulation's own seed checks are in
``tests/test_cosim.py`` (they need Icarus).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from cosim.run import sweep
from cosim.twin import program


# ------------------------------------------------------------------ twin
@pytest.fixture(scope="module")
def twins() -> dict[str, program.CrossbarTwin]:
    return {
        "1": program.crossbar_twin("Cr", 1),
        "1again": program.crossbar_twin("Cr", 1),
        "2": program.crossbar_twin("Cr", 2),
    }


def _outcome(out: program.ProgramOutcome) -> list[list[float]]:
    return [np.asarray(a, dtype=float).tolist() for a in (out.pulses, out.codes, out.x, out.g_S)]


def test_twin_same_seed_is_identical(twins: dict[str, program.CrossbarTwin]) -> None:
    a, b = twins["1"], twins["1again"]
    np.testing.assert_array_equal(a.target_codes, b.target_codes)
    np.testing.assert_array_equal(a.tables.params.r_on, b.tables.params.r_on)
    assert _outcome(a.program()) == _outcome(b.program())
    noisy = [t.program(rng=np.random.default_rng(5)) for t in (a, b)]
    assert _outcome(noisy[0]) == _outcome(noisy[1])


def test_twin_different_seeds_differ(twins: dict[str, program.CrossbarTwin]) -> None:
    a, b = twins["1"], twins["2"]
    # device-to-device variation: every device redrawn
    for field in ("r_on", "r_off", "tau"):
        pa, pb = getattr(a.tables.params, field), getattr(b.tables.params, field)
        assert np.all(pa != pb), field
    assert not np.array_equal(a.target_codes, b.target_codes)  # trained with the seed
    # the same targets on the other seed's devices program differently
    same_targets = replace(b, target_codes=a.target_codes)
    assert _outcome(a.program()) != _outcome(same_targets.program())
    # cycle-to-cycle noise follows its own generator's seed
    n5, n6 = (a.program(rng=np.random.default_rng(s)) for s in (5, 6))
    assert _outcome(n5) != _outcome(n6)
    assert _outcome(n5) != _outcome(a.program())


# ------------------------------------------------------------------ sweep chunks
def _cfg(**kw: object) -> sweep.SweepConfig:
    base = sweep.SweepConfig(
        cards=("Cr",),
        train_levels=(0.0,),
        g_error_levels=(0.2,),
        input_levels=(0.2,),
        n_trials=16,
        chunk_trials=8,
        n_repeats=2,
        train_steps=100,
        g_error_kinds=("uniform",),
        device_pool=8,
        d2d=False,
        c2c=False,
    )
    return replace(base, **kw)


def _chunks(cfg: sweep.SweepConfig, out: Path) -> list[dict]:
    chunks = sweep.plan(cfg, out)
    assert [c.index for c in chunks] == [0, 1]
    return [sweep.run_chunk(c) for c in chunks]


def test_sweep_chunks_draw_their_own_error_and_noise(tmp_path: Path) -> None:
    """Programming made deterministic (no D2D, no C2C): both chunks program identically, so
    their accuracies differ only through the conductance-error and input-noise streams, which
    must be the chunk's own (seeded with the chunk index)."""
    c0, c1 = _chunks(_cfg(), tmp_path / "a")
    assert c0["pulses_mean"] == c1["pulses_mean"]
    assert len(set(c0["acc"])) > 1, "the trials of a chunk must see different noise"
    assert c0["acc"] != c1["acc"], "chunks 0 and 1 drew the same error/noise stream"
    assert sorted(c0["acc"]) != sorted(c1["acc"])


def test_sweep_chunks_program_their_own_devices(tmp_path: Path) -> None:
    """With D2D and C2C on and no error or noise, chunks differ in their programming."""
    cfg = _cfg(d2d=True, c2c=True, g_error_levels=(0.0,), input_levels=(0.0,))
    c0, c1 = _chunks(cfg, tmp_path / "a")
    assert c0["pulses_mean"] != c1["pulses_mean"]


def test_sweep_seed_same_identical_different_differs(tmp_path: Path) -> None:
    cfg = _cfg(d2d=True, c2c=True)
    first = _chunks(cfg, tmp_path / "a")
    again = _chunks(cfg, tmp_path / "b")
    other = _chunks(replace(cfg, seed=1), tmp_path / "c")
    assert first == again
    for a, b in zip(first, other, strict=True):
        assert a["acc"] != b["acc"] and a["pulses_mean"] != b["pulses_mean"]
