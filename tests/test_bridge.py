"""Runs the lockstep bridge's unit bench (tests/sim/bridge) in Icarus through cocotb's runner.

The bench (``bridge_tests.py``) drives the real bridge from a scripted HDL top
(``bridge_top.v``) into a recording analog backend; see its docstring for what is checked.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent / "sim" / "bridge"

pytestmark = [
    pytest.mark.sim,
    pytest.mark.skipif(shutil.which("iverilog") is None, reason="iverilog not on PATH"),
]


@pytest.mark.parametrize(
    "testcase",
    [
        "test_bridge_hold_sample_merge",
        "test_backend_error_stops_the_test",
        "test_watch_sees_every_change",
    ],
)
@pytest.mark.parametrize("engine", ["python", "c"])
def test_bridge_bench(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: str, testcase: str
) -> None:
    """Each bench test on both engines (each in its own simulation: the schedule starts at 0):
    the cocotb one, and the compiled one with the backend (in Python) replayed from its log at
    each sample."""
    from cocotb_tools.runner import get_results, get_runner

    if engine == "c" and shutil.which("cc") is None:
        pytest.skip("no C compiler for the compiled bridge")
    monkeypatch.setenv("COSIM_SYNC", engine)
    monkeypatch.setenv("BRIDGE_ENGINE", engine)  # the bench checks that it ran on this one

    monkeypatch.syspath_prepend(str(BENCH))
    runner = get_runner("icarus")
    runner.build(
        sources=[BENCH / "bridge_top.v"],
        hdl_toplevel="bridge_top",
        build_dir=tmp_path,
        always=True,
    )
    results = runner.test(
        test_module="bridge_tests",
        testcase=testcase,
        hdl_toplevel="bridge_top",
        build_dir=tmp_path,
        test_dir=tmp_path,
    )
    n_tests, n_failed = get_results(results)
    assert n_tests == 1 and n_failed == 0, f"bridge bench failed; see the log above ({results})"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0),
        ("1", 1),
        ("X", None),
        ("0110", 6),
        ("01HL", 6),
        ("10Z1", None),
        ("1" * 1184, 2**1184 - 1),
    ],
)
def test_logic_int_reads_cocotb_values_of_any_width(text: str, expected: int | None) -> None:
    from cocotb.types import Logic, LogicArray

    from cosim.bench.lockstep import logic_int

    value = Logic(text) if len(text) == 1 else LogicArray(text)
    assert logic_int(value) == expected
