"""The text-copy merge and the NumPy readers against independent references.

* the merge against re-encoding every change through pyvcd (what the merge did before), with
  the selected-device signals derived by a per-change loop: byte for byte;
* :func:`cosim.waves.columns.read_columns` against the streaming reader ``iter_vcd``;
* :func:`cosim.analysis.integrate.integrate` against the streaming loop of ``measure``, on
  random changes (zeros, NaN, several changes at one time, cuts at change times): bit for bit.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Iterator
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from vcd.writer import VCDWriter

from cosim.analysis.integrate import Cuts, integrate
from cosim.analysis.selected import selected_device_signals
from cosim.waves import columns as cols_mod
from cosim.waves.columns import read_columns
from cosim.waves.merge import Derived, merge_vcds
from cosim.waves.read import END_ID, VcdFormatError, iter_vcd

# A digital dump as Icarus writes it: scalars, vectors (one of them the one-hot select), a
# real, an alias (two names, one identifier), $dumpvars, and a $dumpoff/$dumpon stretch.
DIGITAL = """$date today $end
$version Icarus Verilog $end
$timescale 1ps $end
$scope module xbar_top $end
$var wire 1 ! start $end
$var wire 1 " done $end
$var wire 3 # phase [2:0] $end
$var wire 4 $ sel [3:0] $end
$var real 1 % v_prog $end
$scope module u $end
$var wire 1 " q $end
$upscope $end
$upscope $end
$enddefinitions $end
#0
$dumpvars
0!
0"
b0 #
b0 $
r0 %
$end
#1000
1!
b10 #
b1 $
r1.5 %
#2000
b100 #
b10 $
r-0.25 %
#2500
$dumpoff
x!
x"
bx #
bx $
$end
#3000
$dumpon
0!
0"
b11 #
b1000 $
r2 %
$end
#4000
1"
b0 $
#5000
"""

# An analog VCD as pyvcd writes it: 4 devices (2 + 2: a 2→1 network... w1_0_0, w1_1_0, w2_0
# is 2→1→1), reals with 16 significant digits, repeats, changes at the digital's times.
ANALOG_DEVICES = ["w1_0_0", "w1_1_0", "w2_0"]


def write_analog(path: Path, *, seed: int = 1, points: int = 60) -> Path:
    rng = np.random.default_rng(seed)
    with open(path, "w") as fh:
        w = VCDWriter(fh, timescale="1 ps", date="", version="cosim", check_values=False)
        names = [(("analog", d), q) for d in ANALOG_DEVICES for q in ("v", "i", "x")]
        names += [(("analog", "supply", "vdd"), q) for q in ("v", "i")]
        var = [w.register_var(scope, q, "real", init=0.0) for scope, q in names]
        times = np.unique(rng.integers(0, 5000, points))
        for t in times.tolist():
            if t > 0:
                w.flush()  # the header and $dumpvars are out: repeats can be forced
            for k in rng.choice(len(var), size=int(rng.integers(1, 4)), replace=False):
                value = float(rng.choice([0.0, 1e-6 * rng.normal(), rng.normal(), 0.5]))
                if t > 0:
                    var[k].value = object()  # keep repeats (as the analog writer's edges do)
                w.change(var[k], t, value)
        w.close(5200)
    return path


def old_merge(digital: Path, analog: Path, out: Path) -> Path:
    """The merge before the text copy: every change re-encoded through pyvcd, the selected
    traces derived change by change (the reference)."""
    streams = [iter_vcd(digital), iter_vcd(analog)]
    headers: list[Any] = [next(s) for s in streams]
    with open(out, "w") as fh:
        w = VCDWriter(fh, timescale="1 ps", date="", version="cosim merge", check_values=False)
        maps: list[dict[str, Any]] = []
        by_name: dict[str, Any] = {}
        for header in headers:
            mapping: dict[str, Any] = {}
            for v in header.vars:
                *scope, ref = v.name.split(".")
                for depth, stype in enumerate(v.scope_types):
                    w.set_scope_type(scope[: depth + 1], stype)
                if v.id in mapping:
                    w.register_alias(scope, ref + v.range, mapping[v.id])
                else:
                    size = None if v.is_real else v.size
                    mapping[v.id] = w.register_var(scope, ref + v.range, v.type, size)
                by_name[v.name] = mapping[v.id]
            maps.append(mapping)
        derived = selected_device_signals(list(by_name))
        assert derived is not None
        dvars = {}
        for name, (vtype, size) in derived.vars.items():
            *scope, ref = name.split(".")
            dvars[name] = w.register_var(scope, ref, vtype, size)
        source = {
            by_name[src]: (m, dname)
            for m, member in enumerate(derived.members)
            for dname, src in member.items()
        }
        latest: list[dict[str, Any]] = [{} for _ in derived.members]
        current: list[int | None] = [None]
        sel = by_name[derived.selector]

        def update(var: Any, value: Any) -> list[tuple[Any, Any]]:
            if var is sel:
                k = derived.pick(value)
                if k is None or k == current[0] or k >= len(derived.members):
                    return []
                current[0] = k
                return [(dvars[derived.index], k)] + [(dvars[d], v) for d, v in latest[k].items()]
            if var in source:
                m, dname = source[var]
                latest[m][dname] = value
                return [(dvars[dname], value)] if m == current[0] else []
            return []

        ends: list[int] = []

        def scaled(stream: Iterator[Any], mapping: dict[str, Any]) -> Iterator[Any]:
            for t, ident, value in stream:
                if ident == END_ID:
                    ends.append(t)
                else:
                    yield t, mapping[ident], value

        merged = heapq.merge(
            *(scaled(s, m) for s, m in zip(streams, maps, strict=True)), key=itemgetter(0)
        )

        def with_derived() -> Iterator[Any]:
            for t, var, value in merged:
                yield t, var, value
                for dvar, dvalue in update(var, value):
                    yield t, dvar, dvalue

        changes = with_derived()
        first = next(changes, None)
        while first is not None and first[0] == 0:
            w.change(first[1], 0, first[2])
            first = next(changes, None)
        w.flush()
        t_last = 0
        if first is not None:
            for t_last, var, value in itertools.chain([first], changes):
                var.value = object()
                w.change(var, t_last, value)
        w.close(max([t_last, *ends]))
    return out


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    digital = tmp_path / "digital.vcd"
    digital.write_text(DIGITAL)
    return digital, write_analog(tmp_path / "analog.vcd")


def test_merge_is_the_pyvcd_encoding_byte_for_byte(tmp_path: Path, pair: tuple[Path, Path]) -> None:
    new = merge_vcds(*pair, tmp_path / "new.vcd", derive=selected_device_signals)
    ref = old_merge(*pair, tmp_path / "old.vcd")
    assert new.read_bytes() == ref.read_bytes()
    text = new.read_text()
    assert "analog.selected" not in text and "$scope module selected $end" in text
    assert not list(tmp_path.glob(".new.vcd.*"))  # no temporary file left


@pytest.mark.parametrize("seed", [2, 3, 4])
def test_merge_equivalence_on_random_analog(tmp_path: Path, seed: int) -> None:
    digital = tmp_path / "d.vcd"
    digital.write_text(DIGITAL)
    analog = write_analog(tmp_path / "a.vcd", seed=seed, points=200)
    new = merge_vcds(digital, analog, tmp_path / "new.vcd", derive=selected_device_signals)
    assert new.read_bytes() == old_merge(digital, analog, tmp_path / "old.vcd").read_bytes()


def test_merge_of_an_analog_vcd_without_changes(tmp_path: Path, pair: tuple[Path, Path]) -> None:
    digital, analog = pair
    text = analog.read_text()
    empty = tmp_path / "empty.vcd"
    empty.write_text(text[: text.index("$enddefinitions")] + "$enddefinitions $end\n")
    new = merge_vcds(digital, empty, tmp_path / "new.vcd", derive=selected_device_signals)
    assert new.read_bytes() == old_merge(digital, empty, tmp_path / "old.vcd").read_bytes()


def test_merged_columns_are_what_the_file_reads(tmp_path: Path, pair: tuple[Path, Path]) -> None:
    out = merge_vcds(*pair, tmp_path / "m.vcd", derive=selected_device_signals)
    kept = cols_mod.cached(out)
    assert kept is not None
    cols_mod._RECENT.clear()
    fresh = read_columns(out)
    assert fresh.raw == kept.raw and fresh.ids == kept.ids and fresh.t_end == kept.t_end
    for name in ("t", "ident", "line", "id_at", "id_kind"):
        assert np.array_equal(getattr(fresh, name), getattr(kept, name)), name
    out.write_bytes(out.read_bytes() + b"#9999\n")  # a changed file is read again
    assert cols_mod.cached(out) is None and read_columns(out).t_end == 9999


def stream_changes(path: Path) -> tuple[list[tuple[int, str, Any]], int]:
    items = list(iter_vcd(path))[1:]
    return [c for c in items if c[1] != END_ID], items[-1][0]  # type: ignore[misc]


def columns_changes(path: Path, **kw: Any) -> tuple[list[tuple[int, str, Any]], int]:
    c = read_columns(path, **kw)
    rows = np.arange(len(c))
    texts = c.texts(rows)
    real = c.id_kind[c.ident] == cols_mod.KIND_REAL
    values = [float(x) if r else x for x, r in zip(texts, real.tolist(), strict=True)]
    ids = [c.ids[k] for k in c.ident.tolist()]
    return list(zip(c.t.tolist(), ids, values, strict=True)), c.t_end


IRREGULAR = """$timescale 10 ps $end
$scope module top $end
$var wire 1 ! a $end
$var wire 4 " b $end
$var real 1 # r $end
$var wire 1 $ c $end
$upscope $end
$enddefinitions $end
#0 0! B0101 " r1.25 # b1 $
$comment a note
spanning lines $end
#5
  1!
R1e-3 #

#7 X!
"""


@pytest.mark.parametrize("text", [DIGITAL, IRREGULAR], ids=["icarus", "irregular"])
def test_columns_read_what_the_streaming_reader_reads(tmp_path: Path, text: str) -> None:
    path = tmp_path / "x.vcd"
    path.write_text(text)
    assert columns_changes(path) == stream_changes(path)


def test_columns_partial_and_errors(tmp_path: Path) -> None:
    full = write_analog(tmp_path / "a.vcd").read_bytes()
    cut = tmp_path / "cut.vcd"
    cut.write_bytes(full[: full.rindex(b"\nr") + 4])  # cut inside its last line
    with pytest.raises(VcdFormatError, match="truncated"):
        read_columns(cut)
    stream = list(iter_vcd(cut, partial=True))[1:]
    got, t_end = columns_changes(cut, partial=True)
    assert got == [c for c in stream if c[1] != END_ID] and t_end == stream[-1][0]
    bad = tmp_path / "bad.vcd"
    bad.write_text(DIGITAL.replace("b10 $\n", "b10 ?\n"))
    with pytest.raises(VcdFormatError, match=r"bad.vcd:\d+: .*undeclared identifier"):
        read_columns(bad)


def test_failed_merge_keeps_the_earlier_file(tmp_path: Path, pair: tuple[Path, Path]) -> None:
    digital, analog = pair
    out = merge_vcds(digital, analog, tmp_path / "m.vcd")
    before = out.read_bytes()
    bad = tmp_path / "bad.vcd"
    bad.write_text(DIGITAL.replace("#4000", "#junk"))
    with pytest.raises(VcdFormatError, match="bad.vcd"):
        merge_vcds(bad, analog, out)
    assert out.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == [
        "analog.vcd",
        "bad.vcd",
        "digital.vcd",
        "m.vcd",
    ]


def test_derived_needs_sources_of_its_kind(tmp_path: Path, pair: tuple[Path, Path]) -> None:
    def derive(names: Any) -> Derived:
        return Derived(
            vars={"analog.sel.v": ("real", None)},
            selector="xbar_top.sel",
            pick=lambda v: 0,
            members=[{"analog.sel.v": "xbar_top.start"}],  # a 1-bit source for a real
        )

    with pytest.raises(VcdFormatError, match="another kind"):
        merge_vcds(*pair, tmp_path / "m.vcd", derive=derive)


# ---------------------------------------------------------------- integration


def loop_integrate(
    changes: list[tuple[int, int, int, bool, float]],  # row, t, element, is_i, value
    cuts: list[tuple[int, int, int | None]],  # row, t, new bucket (None: no switch)
    first_bucket: int,
    n_el: int,
    n_buckets: int,
    t_end: int,
) -> tuple[np.ndarray, int]:
    """The streaming loop of measure() (blocks, live set, flushes at cuts), as a reference."""
    out = np.zeros((n_buckets, n_el))
    v, i, p, t_last = [0.0] * n_el, [0.0] * n_el, [0.0] * n_el, [0] * n_el
    dirty: set[int] = set()
    live: set[int] = set()
    bucket = first_bucket
    events = sorted(
        [(r, 0, (t, e, ii, val)) for r, t, e, ii, val in changes]
        + [(r, 1, (t, b)) for r, t, b in cuts]
    )
    t_block = 0

    def close() -> None:
        for e in dirty:
            p[e] = v[e] * i[e]
            if p[e] != 0.0:
                live.add(e)
            else:
                live.discard(e)
        dirty.clear()

    def flush(t: int) -> None:
        for e in live:
            if e not in dirty:
                out[bucket, e] += p[e] * (t - t_last[e])
                t_last[e] = t

    for _, kind, data in events:
        t = data[0]
        if t != t_block:
            close()
            t_block = t
        if kind == 0:
            _, e, is_i, value = data
            if e not in dirty:
                out[bucket, e] += p[e] * (t - t_last[e])
                t_last[e] = t
                dirty.add(e)
            (i if is_i else v)[e] = value
        else:
            flush(t)
            if data[1] is not None:
                bucket = data[1]
    close()
    flush(t_end)  # the end of the record, into the bucket current there
    return out, bucket


@pytest.mark.parametrize("pieces", [None, 1, 7])
@pytest.mark.parametrize("seed", range(6))
def test_integrate_is_the_streaming_loop_bit_for_bit(
    seed: int, pieces: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Also with the pieces summed a few at a time (each sum continued from the last group)."""
    if pieces is not None:
        monkeypatch.setattr("cosim.analysis.integrate._PIECES", pieces)
    rng = np.random.default_rng(seed)
    n_el, n_buckets, n_rows = 5, 4, 400
    times = np.sort(rng.integers(0, 60, n_rows))
    changes, cuts = [], []
    for r, t in enumerate(times.tolist()):
        if rng.random() < 0.12:
            cuts.append((r, t, int(rng.integers(0, n_buckets)) if rng.random() < 0.8 else None))
        else:
            value = float(rng.choice([0.0, -0.0, 1.0, rng.normal(), rng.normal() * 1e-6]))
            if rng.random() < 0.01:
                value = math.nan
            changes.append((r, t, int(rng.integers(0, n_el)), bool(rng.random() < 0.5), value))
    t_end = int(times[-1]) + int(rng.integers(0, 3))
    first = 1
    ref, last_bucket = loop_integrate(changes, cuts, first, n_el, n_buckets, t_end)
    bucket_before, b = [], first
    for _, _, new in cuts:
        bucket_before.append(b)
        b = new if new is not None else b
    switches = [(r, nb) for r, _, nb in cuts if nb is not None]
    got = integrate(
        np.array([c[2] for c in changes], np.int64),
        np.array([c[3] for c in changes]),
        np.array([c[0] for c in changes], np.int64),
        np.array([c[1] for c in changes], np.int64),
        np.array([c[4] for c in changes]),
        Cuts(
            row=np.array([c[0] for c in cuts] + [n_rows], np.int64),
            t=np.array([c[1] for c in cuts] + [t_end], np.int64),
            bucket=np.array([*bucket_before, last_bucket], np.int64),
            switch_row=np.array([r for r, _ in switches], np.int64),
            switch_bucket=np.array([nb for _, nb in switches], np.int64),
            first_bucket=first,
        ),
        n_el,
        n_buckets,
    )
    assert np.array_equal(got.view(np.int64), ref.view(np.int64)) or np.array_equal(
        got, ref, equal_nan=True
    )
