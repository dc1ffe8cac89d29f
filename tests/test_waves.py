"""Tests of cosim.waves: analog writer, streaming reader, merge (vcd2fst as a client), gtkw."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from vcd.gtkw import GTKWFlag
from vcd.reader import TokenKind, tokenize

from cosim.waves.gtkw import Group, Row, View, write_gtkw, write_translate_filter
from cosim.waves.merge import merge_vcds
from cosim.waves.read import (
    END_ID,
    UnknownSignalError,
    VcdFormatError,
    VcdHeader,
    VcdNotFoundError,
    VcdTimeOrderError,
    iter_vcd,
    read_header,
    read_traces,
)
from cosim.waves.write import AnalogVcdWriter

DEVICES = ["w1_0_0", "w2_1"]


def changes_by_name(path: Path) -> dict[str, list[tuple[int, float | str]]]:
    """All changes of a VCD keyed by full name (through iter_vcd)."""
    stream = iter_vcd(path)
    header = next(stream)
    assert isinstance(header, VcdHeader)
    names: dict[str, list[str]] = {}
    for var in header.vars:
        names.setdefault(var.id, []).append(var.name)
    out: dict[str, list[tuple[int, float | str]]] = {v.name: [] for v in header.vars}
    for t, ident, value in stream:  # type: ignore[misc]
        if ident != END_ID:
            for name in names[ident]:
                out[name].append((t, value))
    return out


def write_analog(path: Path, **kw: object) -> Path:
    with AnalogVcdWriter(path, DEVICES, ["vdd"], ["h0"], **kw) as w:  # type: ignore[arg-type]
        for k in range(10):
            w.write(k * 1e-9, {"w1_0_0.v": 0.1 * k, "w1_0_0.i": 1e-6, "supply.vdd.v": 1.0})
        w.write(10e-9, {"neuron.h0.v": 0.5})
    return path


# ---------------------------------------------------------------- writer


def test_writer_roundtrip_and_hold(tmp_path: Path) -> None:
    ch = changes_by_name(write_analog(tmp_path / "a.vcd"))
    assert read_header(tmp_path / "a.vcd").tick_s == 1e-12
    assert ch["analog.w1_0_0.v"] == [(k * 1000, pytest.approx(0.1 * k)) for k in range(10)]
    assert ch["analog.w1_0_0.i"] == [(0, 1e-6)]  # repeats dropped
    assert ch["analog.supply.vdd.v"] == [(0, 1.0)]
    assert ch["analog.neuron.h0.v"] == [(0, 0.0), (10_000, 0.5)]
    assert set(ch) >= {"analog.w2_1.x", "analog.supply.vdd.i"}
    assert "analog.w1_0_0.g" not in ch


def test_writer_same_tick_last_wins(tmp_path: Path) -> None:
    path = tmp_path / "q.vcd"
    with AnalogVcdWriter(path, DEVICES, [], [], timescale="1 ns", conductance=True) as w:
        w.write(1.0e-9, {"w2_1.g": 1.0})
        w.write(1.2e-9, {"w2_1.g": 2.0})  # same 1 ns tick
        w.write(1.4e-9, {"w2_1.g": 3.0})
        w.write(2.0e-9, {"w2_1.g": 4.0})
    assert changes_by_name(path)["analog.w2_1.g"] == [(0, 0.0), (1, 3.0), (2, 4.0)]


def test_writer_unknown_name_lists_known(tmp_path: Path) -> None:
    with AnalogVcdWriter(tmp_path / "u.vcd", DEVICES, ["vdd"], []) as w:
        with pytest.raises(UnknownSignalError, match=r"w1_0_0\.vv.*known:.*w1_0_0\.v"):
            w.write(0.0, {"w1_0_0.vv": 1.0})


def test_writer_time_backwards(tmp_path: Path) -> None:
    with AnalogVcdWriter(tmp_path / "b.vcd", DEVICES, [], []) as w:
        w.write(2e-9, {"w1_0_0.v": 1.0})
        with pytest.raises(VcdTimeOrderError, match="backwards"):
            w.write(1e-9, {"w1_0_0.v": 1.0})


def test_writer_flushes_readable_prefix(tmp_path: Path) -> None:
    """Without close(), a flushed file already parses (a crash keeps the data so far)."""
    path = tmp_path / "crash.vcd"
    w = AnalogVcdWriter(path, DEVICES, [], [], flush_every_s=0.0)
    for k in range(200):
        w.write(k * 1e-9, {"w1_0_0.v": float(k)})
    ch = changes_by_name(path)["analog.w1_0_0.v"]
    assert len(ch) >= 64 and ch[-1][1] == float(len(ch) - 1)
    w.close()
    assert len(changes_by_name(path)["analog.w1_0_0.v"]) == 200


# ---------------------------------------------------------------- reader


def test_reader_errors(tmp_path: Path) -> None:
    with pytest.raises(VcdNotFoundError, match="nope.vcd"):
        next(iter_vcd(tmp_path / "nope.vcd"))
    src = write_analog(tmp_path / "a.vcd").read_text().splitlines(keepends=True)
    end_hdr = next(k for k, line in enumerate(src) if "$enddefinitions" in line)

    (tmp_path / "h.vcd").write_text("".join(src[: end_hdr - 2]))
    with pytest.raises(VcdFormatError, match=r"h\.vcd:\d+: truncated VCD header"):
        read_header(tmp_path / "h.vcd")

    bad = src.copy()
    bad[end_hdr + 4] = "r0.5 zz\n"  # undeclared id
    (tmp_path / "m.vcd").write_text("".join(bad))
    with pytest.raises(VcdFormatError, match=rf"m\.vcd:{end_hdr + 5}: .*undeclared"):
        list(iter_vcd(tmp_path / "m.vcd"))

    bad = src.copy()
    bad[end_hdr + 6] = "hello\n"
    (tmp_path / "g.vcd").write_text("".join(bad))
    with pytest.raises(VcdFormatError, match=rf"g\.vcd:{end_hdr + 7}: malformed"):
        list(iter_vcd(tmp_path / "g.vcd"))


def test_reader_agrees_with_pyvcd_tokenize(tmp_path: Path) -> None:
    path = write_analog(tmp_path / "a.vcd")
    header = read_header(path)
    ref = []
    with open(path, "rb") as fh:
        for tok in tokenize(fh):
            if tok.kind in (TokenKind.CHANGE_REAL, TokenKind.CHANGE_SCALAR):
                ref.append((tok.data.id_code, tok.data.value))
    ours = [(i, v) for _, i, v in list(iter_vcd(path))[1:-1]]  # type: ignore[misc]
    assert ours == ref and len(ref) > len(header.vars)


# ---------------------------------------------------------------- Icarus, merge, gtkw

VERILOG = """`timescale 1ns/1ps
module sub(input wire d, output wire q); assign q = d; endmodule
module xbar_top;
  reg clk = 0, start = 0, done_r = 0, busy = 0; reg [2:0] phase = 0; reg [29:0] sel = 0;
  wire done; sub u(.d(done_r), .q(done));
  always #2 clk = ~clk;
  initial begin
    $dumpfile("dig.vcd"); $dumpvars(0, xbar_top);
    #3 start = 1; busy = 1; #1 start = 0; phase = 1; sel = 30'h10000000;
    #3 phase = 2; #2 phase = 0; sel = 30'bx; #2 done_r = 1; busy = 0; #1 $finish;
  end
endmodule
"""


@pytest.fixture
def digital(tmp_path: Path) -> Path:
    if shutil.which("iverilog") is None:
        pytest.skip("iverilog not installed")
    (tmp_path / "d.v").write_text(VERILOG)
    subprocess.run(["iverilog", "-o", "d.vvp", "d.v"], cwd=tmp_path, check=True)
    subprocess.run(["vvp", "-n", "d.vvp"], cwd=tmp_path, check=True, capture_output=True)
    return tmp_path / "dig.vcd"


@pytest.mark.sim
def test_merge_keeps_both_hierarchies_and_values(tmp_path: Path, digital: Path) -> None:
    analog = write_analog(tmp_path / "a.vcd")
    merged = merge_vcds(digital, analog, tmp_path / "m.vcd")
    d, a, m = changes_by_name(digital), changes_by_name(analog), changes_by_name(merged)
    assert read_header(merged).timescale == "1 ps"
    assert set(m) == set(d) | set(a)
    assert "xbar_top.u.q" in m and m["xbar_top.u.q"] == m["xbar_top.done"]
    for name, ch in {**d, **a}.items():
        # pyvcd's $dumpvars writes each var's value at 0 even if the input had none then
        got = [c for c in m[name] if c[0] > 0 or any(t == 0 for t, _ in ch)]
        assert got == ch, name
    assert [v for _, v in m["xbar_top.sel"]] == ["0", "1" + "0" * 28, "x"]  # bit 28; x state
    times = [t for t, _, _ in list(iter_vcd(merged))[1:]]  # type: ignore[misc]
    assert times == sorted(times) and times[-1] == 12_000  # the digital end ($finish)


@pytest.mark.sim
def test_merged_converts_with_vcd2fst(tmp_path: Path, digital: Path) -> None:
    if shutil.which("vcd2fst") is None or shutil.which("fst2vcd") is None:
        pytest.skip("gtkwave tools (vcd2fst, fst2vcd) not installed")
    merged = merge_vcds(digital, write_analog(tmp_path / "a.vcd"), tmp_path / "m.vcd")
    fst = tmp_path / "m.fst"
    subprocess.run(["vcd2fst", str(merged), str(fst)], check=True, capture_output=True)
    back = subprocess.run(["fst2vcd", str(fst)], check=True, capture_output=True, text=True)
    (tmp_path / "back.vcd").write_text(back.stdout)
    rt = changes_by_name(tmp_path / "back.vcd")
    m = changes_by_name(merged)
    for name in ("analog.w1_0_0.v", "analog.neuron.h0.v", "xbar_top.phase", "xbar_top.start"):
        assert [t for t, _ in rt[name]] == [t for t, _ in m[name]], name
    assert [v for _, v in rt["analog.w1_0_0.v"]] == pytest.approx(
        [v for _, v in m["analog.w1_0_0.v"]]
    )


def test_merge_rejects_duplicate_names(tmp_path: Path) -> None:
    a = write_analog(tmp_path / "a.vcd")
    with pytest.raises(VcdFormatError, match="also declared"):
        merge_vcds(a, a, tmp_path / "m.vcd")


def gtkw_traces(text: str) -> list[str]:
    """Signal names a save file shows (aliases and bit ranges stripped)."""
    out = []
    for line in text.splitlines():
        if not line or line[0] in "[@-*^":
            continue
        line = re.sub(r"^\+\{[^}]*\} ", "", line)
        out.append(re.sub(r"\[[0-9:]+\]$", "", line))
    return out


@pytest.mark.sim
def test_gtkw_names_existing_signals_relative_paths(tmp_path: Path, digital: Path) -> None:
    merged = merge_vcds(digital, write_analog(tmp_path / "a.vcd"), tmp_path / "m.vcd")
    (tmp_path / "view").mkdir()
    write_translate_filter(tmp_path / "view" / "phase.txt", {2: "WRITE", 4: "READ"})
    view = View(
        groups=[
            Group("control", [Row("xbar_top.phase", "phase", "dec", translate="phase.txt")]),
            Group(
                "device",
                [
                    Row("analog.w2_1.v", "V", "real", analog_rows=4),
                    Row("analog.w2_1.nope", "missing"),  # not in the VCD: left out
                ],
            ),
            Group("empty", [Row("analog.nothing.v")]),
        ],
        window_s=(1e-9, 5e-9),
        markers=[(2e-9, "w2_1 start"), (4e-9, "second")],
    )
    gtkw = write_gtkw(merged, tmp_path / "view" / "m.gtkw", view)
    text = gtkw.read_text()
    assert set(gtkw_traces(text)) == {"xbar_top.phase", "analog.w2_1.v"}
    assert '[dumpfile] "../m.vcd"' in text and '[savefile] "m.gtkw"' in text
    assert str(tmp_path) not in text  # no absolute path anywhere
    assert "^1 phase.txt" in text and "-empty" not in text
    assert (tmp_path / "view" / "phase.txt").read_text() == "2 WRITE\n4 READ\n"
    assert "[timestart] 1000" in text
    lines = text.splitlines()
    zoom = next(line for line in lines if line.startswith("*")).split()
    assert zoom[2:5] == ["2000", "4000", "-1"]  # named markers A, B (ticks of 1 ps)
    assert "[markername] Aw2_1 start" in text and "[markername] Bsecond" in text
    # The analog row: step rendering, 4 rows tall (3 stretch blanks after it).
    k = next(n for n, line in enumerate(lines) if line.endswith("analog.w2_1.v"))
    flags = int(lines[k - 1][1:], 16)
    assert flags & int(GTKWFlag.analog_step.value) and not flags & int(
        GTKWFlag.analog_interpolated.value
    )
    assert lines[k + 1 : k + 5] == ["@20200", "-", "-", "-"]


def test_read_traces(tmp_path: Path) -> None:
    traces, t_end_s = read_traces(write_analog(tmp_path / "a.vcd"), ["analog.w1_0_0.v"])
    t, v = traces["analog.w1_0_0.v"]
    assert t == pytest.approx([k * 1e-9 for k in range(10)]) and t_end_s == pytest.approx(1e-8)
    assert v[-1] == pytest.approx(0.9)
    with pytest.raises(UnknownSignalError, match="analog.w1_0_0.v"):
        read_traces(tmp_path / "a.vcd", ["analog.w1_0_0.vv"])


def test_writer_file_ends_on_line_boundary_without_close(tmp_path: Path) -> None:
    """A killed process (no close, no flush) leaves only whole lines on disk."""
    path = tmp_path / "killed.vcd"
    w = AnalogVcdWriter(path, DEVICES, ["vdd"], ["h0"], flush_every_s=1e9)
    try:
        for k in range(60_000):  # > 1 MB of text: the buffer spills at least once
            w.write(k * 1e-9, {"w1_0_0.v": k * 1e-3, "w2_1.i": -k * 1e-3})
        data = path.read_bytes()
        assert len(data) > 500_000 and data.endswith(b"\n")
        assert len(changes_by_name(path)["analog.w1_0_0.v"]) > 1000
    finally:
        w.close()


def test_partial_read_and_merge(tmp_path: Path) -> None:
    full = write_analog(tmp_path / "a.vcd").read_bytes()
    cut = tmp_path / "cut.vcd"
    cut.write_bytes(full[: full.rindex(b"\nr0.9") + 3])
    with pytest.raises(VcdFormatError, match="truncated"):
        list(iter_vcd(cut))
    items = list(iter_vcd(cut, partial=True))
    assert items[-1] == (9000, END_ID, "")
    other = tmp_path / "o.vcd"
    with AnalogVcdWriter(other, ["w2_2"], [], []) as w:
        w.write(3e-9, {"w2_2.x": 0.5})
    with pytest.raises(VcdFormatError):
        merge_vcds(other, cut, tmp_path / "m.vcd")
    m = changes_by_name(merge_vcds(other, cut, tmp_path / "m.vcd", partial=True))
    assert m["analog.w1_0_0.v"][-1] == (8000, pytest.approx(0.8))
    assert m["analog.w2_2.x"] == [(0, 0.0), (3000, 0.5)]


def test_write_block_matches_point_writes_and_honours_deadband(tmp_path: Path) -> None:
    """Block writes (the ngspice lockstep path) record the same trace as point writes."""
    import numpy as np

    from cosim.waves.read import read_traces
    from cosim.waves.write import AnalogVcdWriter

    t = np.linspace(0.0, 1e-6, 401)
    v = 0.5 * np.sin(2e7 * t)
    i = 1e-5 * np.cos(3e7 * t)
    x = 0.5 + 1e-12 * np.sin(1e9 * t)  # a held state with solver-noise-sized wiggle
    paths = [tmp_path / "points.vcd", tmp_path / "block.vcd"]
    for n, path in enumerate(paths):
        with AnalogVcdWriter(path, ["w2_0"], [], []) as w:
            if n == 0:
                for k in range(t.size):
                    values = {"w2_0.v": v[k], "w2_0.i": i[k], "w2_0.x": x[k]}
                    w.write(float(t[k]), {key: float(val) for key, val in values.items()})
            else:
                for part in (slice(0, 200), slice(200, None)):
                    w.write_block(
                        t[part], {"w2_0.v": v[part], "w2_0.i": i[part], "w2_0.x": x[part]}
                    )
    names = ["analog.w2_0.v", "analog.w2_0.i", "analog.w2_0.x"]
    traces = [read_traces(p, names)[0] for p in paths]
    for name, band in (("analog.w2_0.v", 1e-6), ("analog.w2_0.i", 1e-11)):
        for tr in traces:
            ts, vs = np.array(tr[name][0]), np.array(tr[name][1], dtype=float)
            held = vs[np.searchsorted(ts, t, side="right") - 1]  # VCD hold semantics
            truth = v if name.endswith(".v") else i
            assert np.max(np.abs(held - truth)) <= band * (1 + 1e-9)
    # The wiggle of the held state never reaches the file: init value, then 0.5 once.
    for tr in traces:
        assert len(tr["analog.w2_0.x"][0]) <= 2


# ---------------------------------------------------------------- exact edges


#: A device driven by a 1 V pulse on at 10 ns, off at 30 ns: (t, v, i) as a simulator gives
#: them.  The NumPy backend writes the held point and the post-edge point at the edge time;
#: ngspice's post-edge point is its next accepted one (here 1 ps later).
EDGE_ROWS = {
    "points": [
        (0.0, 0.0, 0.0),
        (4e-9, 0.0, 0.0),
        (10e-9, 0.0, 0.0),
        (10e-9, 1.0, 1e-3),
        (16e-9, 1.0, 1.1e-3),
        (22e-9, 1.0, 1.2e-3),
        (30e-9, 1.0, 1.2e-3),
        (30e-9, 0.0, 0.0),
        (40e-9, 0.0, 0.0),
    ],
    "block": [
        (0.0, 0.0, 0.0),
        (4e-9, 0.0, 0.0),
        (10e-9, 0.0, 0.0),
        (10.001e-9, 1.0, 1e-3),
        (16e-9, 1.0, 1.1e-3),
        (22e-9, 1.0, 1.2e-3),
        (30e-9, 1.0, 1.2e-3),
        (30.001e-9, 0.0, 0.0),
        (40e-9, 0.0, 0.0),
    ],
}
EDGES = (10e-9, 30e-9)


def _edge_trace(path: Path, kind: str, *, mark: bool) -> Path:
    """Record :data:`EDGE_ROWS` with or without the edge marks the bridge makes."""
    import numpy as np

    rows = EDGE_ROWS[kind]
    with AnalogVcdWriter(path, ["w2_0"], ["prog"], []) as w:
        if kind == "block":
            cols = np.array(rows)
            w.write_block(
                cols[:, 0],
                {"w2_0.v": cols[:, 1], "w2_0.i": cols[:, 2], "supply.prog.v": cols[:, 1]},
                edges=EDGES if mark else (),
            )
            return path
        for n, (t, v, i) in enumerate(rows):
            w.write(t, {"w2_0.v": v, "w2_0.i": i, "supply.prog.v": v})
            if mark and t in EDGES and rows[n + 1][0] == t:
                w.mark_edge(t)
    return path


@pytest.mark.parametrize("kind", ["points", "block"])
def test_mark_edge_records_held_point_then_post_edge_value(tmp_path: Path, kind: str) -> None:
    ch = changes_by_name(_edge_trace(tmp_path / "e.vcd", kind, mark=True))
    for name in ("analog.w2_0.v", "analog.supply.prog.v"):
        # At each edge the held value, although unchanged since t = 0 (rising edge); then the
        # post-edge value at the same time stamp (points) or at the next point (block).
        at10 = [val for t, val in ch[name] if 10_000 <= t <= 10_001]
        at30 = [val for t, val in ch[name] if 30_000 <= t <= 30_001]
        assert at10 == [0.0, 1.0] and at30 == [1.0, 0.0], (name, ch[name])
        assert (10_000, 0.0) in ch[name] and (30_000, 1.0) in ch[name]
    assert [val for t, val in ch["analog.w2_0.i"] if 30_000 <= t <= 30_001] == [1.2e-3, 0.0]
    # A signal that does not step gets no extra point (the file stays lean).
    assert [t for t, _ in ch["analog.w2_0.x"]] == [0]


@pytest.mark.parametrize("kind", ["points", "block"])
def test_mark_edge_keeps_energy_exact(tmp_path: Path, kind: str) -> None:
    """The held point lasts zero time: the hold-rule energy is that of the piecewise-constant
    truth, with and without the edge marks (docs/energy.md)."""
    from cosim.analysis.metrics import measure

    rows = EDGE_ROWS[kind]
    truth = sum(v * i * (rows[n + 1][0] - t) for n, (t, v, i) in enumerate(rows[:-1]))
    for mark in (False, True):
        report = measure(_edge_trace(tmp_path / f"e{mark}.vcd", kind, mark=mark))
        assert report.energy_device_J == pytest.approx(truth, rel=1e-9), mark


def test_mark_edge_repeats_survive_the_merge(tmp_path: Path) -> None:
    analog = _edge_trace(tmp_path / "a.vcd", "points", mark=True)
    other = tmp_path / "o.vcd"
    with AnalogVcdWriter(other, ["w2_9"], [], []) as w:
        w.write(5e-9, {"w2_9.v": 1.0})
    # The analog scope is declared twice: rename the second one's scope for this test.
    other.write_text(other.read_text().replace("$scope module analog", "$scope module other"))
    m = changes_by_name(merge_vcds(other, analog, tmp_path / "m.vcd"))
    assert [val for t, val in m["analog.w2_0.v"] if t == 10_000] == [0.0, 1.0]  # a repeat
    assert [val for t, val in m["analog.w2_0.i"] if t == 30_000] == [1.2e-3, 0.0]
