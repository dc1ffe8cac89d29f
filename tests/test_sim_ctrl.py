"""Runs the cocotb unit bench of the controller (tests/sim/ctrl) through cocotb_tools.runner.

The cocotb tests are discovered from ``ctrl_tests.py`` itself (every function decorated with
``cocotb.test()``), so a new bench test runs without being listed here.  One pytest case per
cocotb test function runs all its ``cocotb.parametrize`` variants in its own build directory
(pytest's ``tmp_path``: two runs in one checkout never share files) and leaves a VCD there
(written by the extra root xbar_dump; the vvp dumper is switched to VCD by giving ``-vcd``
after cocotb's ``-none`` through SIM_CMD_SUFFIX).
"""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

import pytest

from cosim.resources import hdl_dir
from cosim.run.sim import hdl_sources

BENCH = Path(__file__).resolve().parent / "sim" / "ctrl"
MODULE = "ctrl_tests"


def _is_cocotb(dec: ast.expr, name: str) -> bool:
    call = dec.func if isinstance(dec, ast.Call) else dec
    return (
        isinstance(call, ast.Attribute)
        and call.attr == name
        and isinstance(call.value, ast.Name)
        and call.value.id == "cocotb"
    )


def discover(path: Path) -> dict[str, int | None]:
    """cocotb test function → number of its parametrized variants (None: not literal)."""
    found: dict[str, int | None] = {}
    for node in ast.parse(path.read_text()).body:
        if not isinstance(node, ast.AsyncFunctionDef | ast.FunctionDef):
            continue
        if not any(_is_cocotb(d, "test") for d in node.decorator_list):
            continue
        count: int | None = 1
        for dec in node.decorator_list:
            if _is_cocotb(dec, "parametrize") and isinstance(dec, ast.Call):
                for value in [*dec.args, *(kw.value for kw in dec.keywords)]:
                    if isinstance(value, ast.List | ast.Tuple) and count is not None:
                        count *= len(value.elts)
                    else:
                        count = None
        found[node.name] = count
    return found


CASES = discover(BENCH / f"{MODULE}.py")

pytestmark = [
    pytest.mark.sim,
    pytest.mark.skipif(shutil.which("iverilog") is None, reason="iverilog not on PATH"),
]


def test_discovery_sees_every_cocotb_test() -> None:
    text = (BENCH / f"{MODULE}.py").read_text()
    assert len(CASES) == len(re.findall(r"^@cocotb\.test\(", text, re.MULTILINE)) >= 10
    assert CASES["test_program_converges"] == 2 and CASES["test_register_roundtrip"] == 1


@pytest.mark.parametrize("case", list(CASES))
def test_ctrl_bench(case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cocotb_tools.runner import get_results, get_runner

    build_dir = tmp_path / "build"
    vcd = build_dir / "xbar_top.vcd"
    monkeypatch.syspath_prepend(str(BENCH))
    monkeypatch.setenv("SIM_CMD_SUFFIX", "-vcd")
    runner = get_runner("icarus")
    runner.build(
        sources=hdl_sources(),
        hdl_toplevel="xbar_top",
        includes=[hdl_dir().parent],
        build_args=["-s", "xbar_dump"],
        build_dir=build_dir,
        always=True,
    )
    results = runner.test(
        test_module=MODULE,
        hdl_toplevel="xbar_top",
        test_filter=rf"\.{re.escape(case)}(/|$)",
        plusargs=[f"+vcd={vcd}"],
        build_dir=build_dir,
        test_dir=build_dir,
    )
    n_tests, n_failed = get_results(results)
    want = CASES[case]
    assert n_tests == want if want is not None else n_tests >= 1, (case, n_tests, want)
    assert n_failed == 0, f"cocotb test {case} failed; see the log above and {results}"
    header, sep, _ = vcd.read_text().partition("$enddefinitions")
    assert sep, f"{vcd} is not a VCD (no $enddefinitions)"
    for name in ("v_prog", "v_sense", "v", "adc_sample", "sel", "phase"):
        assert re.search(rf"\$var \w+ \d+ \S+ {name} ", header), f"{name} missing from {vcd}"
    for scope in ("g_in[8]", "g_nrn[3]"):  # input DAC and neuron ADC reals in generate scopes
        assert f"$scope begin {scope} $end" in header, f"{scope} missing from {vcd}"
