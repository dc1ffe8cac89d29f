"""End-to-end co-simulation: Icarus + cocotb + (ngspice with Verilog-A | NumPy twin).

Each run programs a few devices of the real crossbar through the real controller and infers a
few test images; the checks compare what the waveforms say (through cosim.analysis.metrics) with
what
the controller's own registers say.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import vcd_oracle

from cosim.circuit import mss
from cosim.circuit.devices import load_card
from cosim.circuit.va import model_path
from cosim.config import SimConfig
from cosim.crossbar import card_circuit, device_params
from cosim.errors import UsageError
from cosim.harness.contract import default_harness
from cosim.run.sim import SimFailed, run_sim
from cosim.topology import DEFAULT
from cosim.twin import infer, program

pytestmark = pytest.mark.sim

DEVICES = (0, 13, 27)


def _run(out: Path, **overrides: object) -> dict:
    options: dict = {"devices": DEVICES, "test_images": 3, **overrides}
    return run_sim(SimConfig(out_dir=out, **options), log=lambda _msg: None)


@pytest.fixture(scope="module")
def numpy_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("np")
    return out, _run(out, backend="numpy")


@pytest.fixture(scope="module")
def ngspice_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("ng")
    return out, _run(out, backend="ngspice")


def _host(out: Path) -> dict:
    """host.json without the run-specific CPU and wall times."""
    host = json.loads((out / "host.json").read_text())
    host.pop("cpu_s", None)
    host.pop("wall_s", None)
    return host


def _check_run(out: Path, summary: dict) -> None:
    for name in ("training.vcd", "training.gtkw", "summary.json", "digital.vcd", "analog.vcd"):
        assert (out / name).stat().st_size > 0, name
    assert json.loads((out / "summary.json").read_text()) == summary
    host = _host(out)
    for key in (
        "card",
        "reset_pulse",
        "training_time_s",
        "energy_J",
        "energy_device_J",
        "pulses_total",
        "accuracy",
    ):
        assert key in summary
    assert summary["training_time_s"] > 0
    assert summary["energy_J"] > summary["energy_device_J"] > 0
    reset = 1 if summary["reset_pulse"] else 0
    for k, (name, dev) in enumerate(summary["devices"].items()):
        if k in DEVICES:
            # Pulses counted from the waveforms = the controller's own counter (+ reset pulse).
            assert dev["pulses"] == host["pulses_register"][k] + reset, name
            assert dev["reads"] >= 1
        else:
            assert dev["pulses"] == 0 and not dev["programmed"], name
    # The class read from the analog output trace at each ADC sample = the controller's bit.
    bits = [inf["class"] for inf in host["inferences"]]
    labels = [inf["label"] for inf in host["inferences"]]
    assert summary["accuracy"] == pytest.approx(
        sum(b == y for b, y in zip(bits, labels, strict=True)) / len(labels)
    )


def test_numpy_backend_run(numpy_run: tuple[Path, dict]) -> None:
    _check_run(*numpy_run)


@pytest.mark.spice
def test_ngspice_backend_run(ngspice_run: tuple[Path, dict]) -> None:
    out, summary = ngspice_run
    _check_run(out, summary)
    assert _host(out)["backend_stats"]["points"] > 100  # every accepted ngspice point recorded


@pytest.mark.spice
def test_backends_agree_on_programming(
    numpy_run: tuple[Path, dict], ngspice_run: tuple[Path, dict]
) -> None:
    (_, np_sum), (_, ng_sum) = numpy_run, ngspice_run
    for k, name in enumerate(np_sum["devices"]):
        if k in DEVICES:
            a, b = np_sum["devices"][name], ng_sum["devices"][name]
            # measured (seed 1, Cr): equal pulse counts, conductances 0.012-0.027 % apart; none
            # of these devices reads near a window edge, where the backends may decide apart
            assert a["pulses"] == b["pulses"], name
            assert b["g_final_S"] == pytest.approx(a["g_final_S"], rel=1e-3), name
            assert (a["ok"], a["error_rel"] < 0) == (b["ok"], b["error_rel"] < 0), name


@pytest.mark.skipif(shutil.which("vcd2fst") is None, reason="vcd2fst (gtkwave) not installed")
def test_merged_vcd_converts_to_fst(numpy_run: tuple[Path, dict], tmp_path: Path) -> None:
    out, _ = numpy_run
    fst = tmp_path / "t.fst"
    subprocess.run(["vcd2fst", str(out / "training.vcd"), str(fst)], check=True)
    assert fst.stat().st_size > 0
    gtkw = (out / "training.gtkw").read_text()
    assert "xbar_top.phase" in gtkw and "analog.selected.x" in gtkw  # the curated view


def test_reset_off_has_no_reset_pulses(tmp_path: Path) -> None:
    summary = _run(tmp_path, backend="numpy", reset_pulse=False)
    assert summary["reset_pulse"] is False
    assert all("reset" not in d["pulses_by_phase"] for d in summary["devices"].values())


@pytest.mark.parametrize(
    "overrides",
    [{"card": "nope"}, {"backend": "xyce"}, {"input_noise": 2.0}, {"devices": (31,)}],
    ids=["card", "backend", "noise", "devices"],
)
def test_bad_config_fails_before_simulating(tmp_path: Path, overrides: dict) -> None:
    with pytest.raises(UsageError):
        _run(tmp_path / "out", **overrides)
    assert not (tmp_path / "out").exists()


@pytest.mark.spice
def test_ngspice_failure_keeps_readable_vcd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A purely algebraic high-gain op-amp cannot leave saturation in Newton: a real failure."""
    from cosim.analysis.metrics import measure

    bad = tmp_path / "va"
    bad.mkdir()
    text = model_path("neuron.va").read_text()
    pole = "        I(s) <+ ddt(tau_p * V(s));\n"
    assert pole in text
    (bad / "neuron.va").write_text(text.replace(pole, ""))
    monkeypatch.setenv("COSIM_VA_PATH", str(bad))
    with pytest.raises(SimFailed, match="(?i)timestep too small"):
        _run(tmp_path / "out", backend="ngspice")
    assert not (tmp_path / "out").exists()  # a failed run publishes nothing as results
    report = measure(tmp_path / "out.partial" / "training.vcd")
    assert report.t_end_s > 0 and report.energy_J is not None and report.energy_J > 0


def _digital_vars(out: Path) -> set[str]:
    from cosim.waves.read import read_header

    return {v.name for v in read_header(out / "digital.vcd").vars}


def test_digital_dump_ports_only_by_default(numpy_run: tuple[Path, dict], tmp_path: Path) -> None:
    out, _ = numpy_run
    names = _digital_vars(out)
    assert {"xbar_top.phase", "xbar_top.sel", "xbar_top.v_prog", "xbar_top.v_sense"} <= names
    assert "xbar_top.clk" not in names
    full = _digital_vars(_run_dump_all(tmp_path))
    assert "xbar_top.clk" in full and len(full) > 2 * len(names)


def _run_dump_all(out: Path) -> Path:
    _run(out, backend="numpy", devices=(0,), test_images=1, dump_all=True)
    return out


def test_custom_card_file_is_used_in_the_summary(tmp_path: Path) -> None:
    """A card file named like a built-in card (``Cr.toml`` elsewhere) is the card summarized."""
    from cosim.circuit.devices import load_card
    from cosim.waves.read import read_traces

    text = load_card("Cr").path.read_text()
    assert "\nr_on = 5000.0\n" in text
    card = tmp_path / "mine" / "Cr.toml"
    card.parent.mkdir()
    card.write_text(text.replace("\nr_on = 5000.0\n", "\nr_on = 4000.0\n"))
    out = tmp_path / "out"
    summary = _run(out, backend="numpy", card=str(card), devices=(0,), test_images=1)
    traces, _ = read_traces(out / "training.vcd", ["analog.w1_0_0.g"])
    g_recorded = float(traces["analog.w1_0_0.g"][1][-1])
    assert summary["devices"]["w1_0_0"]["g_final_S"] == pytest.approx(g_recorded, abs=2e-9)


# ------------------------------------------------------------------ energy split, checked
def _oracle_energies(out: Path, devices: list[str]) -> dict[str, float]:
    """The summary's time and energy figures recomputed from ``training.vcd`` with pyvcd's
    tokenizer and NumPy (tests/vcd_oracle.py), not with cosim.analysis.metrics.  ``devices``:
    the memristors' scope names (other scopes with ``v`` and ``i``, e.g. the derived
    ``analog.selected`` copy of the selected device, are not devices)."""
    waves = vcd_oracle.read(
        out / "training.vcd", ["xbar_top.start", "xbar_top.done"], prefix="analog."
    )
    tr = waves.traces
    t0 = vcd_oracle.first_rise(tr["xbar_top.start"])
    t1 = vcd_oracle.first_rise(tr["xbar_top.done"], t0)
    supplies = vcd_oracle.scopes(waves, "analog.supply", "vi")
    neurons = vcd_oracle.scopes(waves, "analog.neuron", "v")

    def vi(scope: str) -> float:
        return vcd_oracle.integral([tr[f"{scope}.v"], tr[f"{scope}.i"]], t0, t1)

    i2 = sum(vcd_oracle.integral([tr[f"analog.{d}.i"]], t0, t1, power=2) for d in devices)
    by_supply = {s: vi(f"analog.supply.{s}") for s in supplies}
    return {
        "t_s": t1 - t0,
        "device_J": sum(vi(f"analog.{d}") for d in devices),
        "i2_A2s": i2,
        "total_J": sum(by_supply.values()),
        "prog_J": by_supply["prog"],
        "n_opamps": len(neurons),
    }


@pytest.mark.parametrize(
    ("run", "prog_rel"),
    [("numpy_run", 1e-6), pytest.param("ngspice_run", 5e-3, marks=pytest.mark.spice)],
    ids=["numpy", "ngspice"],
)
def test_energy_split_matches_an_independent_integration(
    run: str, prog_rel: float, request: pytest.FixtureRequest
) -> None:
    """Device / series path / peripheral energy of the summary against the waveforms.

    The oracle integrates the training window of ``training.vcd`` itself.  Two physical
    cross-checks: the programming source delivers what the devices and their series paths
    dissipate (ngspice: measured 0.12 % more, the leakage of the 29 open select switches and
    the sense path; NumPy: exact); the rest is the op-amps' quiescent power over the training
    time (CircuitSpec: Iq between vdd and vss per op-amp; measured 1e-7 relative on ngspice).
    """
    out, summary = request.getfixturevalue(run)
    ref = _oracle_energies(out, list(summary["devices"]))
    spec, _, _ = card_circuit(load_card(summary["card"]))
    assert summary["training_time_s"] == pytest.approx(ref["t_s"], rel=1e-12)
    assert summary["energy_J"] == pytest.approx(ref["total_J"], rel=1e-9)
    assert summary["energy_device_J"] == pytest.approx(ref["device_J"], rel=1e-9)
    assert summary["energy_series_J"] == pytest.approx(
        spec.r_read_path_ohm * ref["i2_A2s"], rel=1e-9
    )
    parts = ("energy_device_J", "energy_series_J", "energy_peripheral_J")
    assert sum(summary[k] for k in parts) == pytest.approx(summary["energy_J"], rel=1e-12)
    # physics: what the programming source delivers ends in the devices and their paths
    programming_J = summary["energy_device_J"] + summary["energy_series_J"]
    assert programming_J == pytest.approx(ref["prog_J"], rel=prog_rel)
    assert 0.05 < summary["energy_series_J"] / programming_J < 0.95
    p_quiescent_W = ref["n_opamps"] * spec.opamp_iq_A * (spec.vdd_V - spec.vss_V)
    assert summary["energy_peripheral_J"] == pytest.approx(p_quiescent_W * ref["t_s"], rel=1e-6)


def test_summary_device_figures_follow_the_waveforms(numpy_run: tuple[Path, dict]) -> None:
    """Per device: final conductance = the recorded ``g`` trace, ``error_rel`` against the
    host's target, ``devices_failed`` = programmed devices the controller flagged failed."""
    out, summary = numpy_run
    host = _host(out)
    waves = vcd_oracle.read(out / "training.vcd", prefix="analog.")
    failed = 0
    for k, (name, dev) in enumerate(summary["devices"].items()):
        g_trace = waves.traces[f"analog.{name}.g"].floats()
        assert dev["g_final_S"] == pytest.approx(g_trace[-1], rel=1e-6), name
        assert dev["g_target_S"] == host["g_target_S"][k]
        assert dev["error_rel"] == pytest.approx(g_trace[-1] / host["g_target_S"][k] - 1, abs=1e-5)
        assert dev["ok"] == host["flags_ok"][k]
        failed += dev["programmed"] and host["flags_failed"][k]
    assert summary["devices_failed"] == failed
    assert summary["devices_programmed"] == len(DEVICES)
    assert summary["test_images"] == len(host["inferences"]) == 3
    # per layer: the device rows split by the topology's select-bit ranges
    names = list(summary["devices"])
    for layer, sl in zip(("1", "2"), DEFAULT.layers, strict=True):
        rows = [summary["devices"][n] for n in names[sl]]
        assert summary["by_layer"][layer]["devices"] == len(rows)
        assert summary["by_layer"][layer]["pulses"] == sum(d["pulses"] for d in rows)
    assert sum(r["pulses"] for r in summary["by_layer"].values()) == summary["pulses_total"]
    chip = [i["class"] == i["label"] for i in host["inferences"]]
    assert summary["accuracy_controller"] == pytest.approx(sum(chip) / len(chip))


# ------------------------------------------------------------------ seeds
@pytest.fixture(scope="module")
def numpy_runs_by_seed(
    tmp_path_factory: pytest.TempPathFactory, numpy_run: tuple[Path, dict]
) -> dict[str, tuple[Path, dict]]:
    """``numpy_run`` (seed 1) again with seed 1, and with seed 2 (same devices and images)."""
    runs = {"1": numpy_run}
    for label, seed in (("1again", 1), ("2", 2)):
        out = tmp_path_factory.mktemp(f"np-seed{label}")
        runs[label] = (out, _run(out, backend="numpy", seed=seed))
    return runs


def _initial_g(out: Path, devices: list[str]) -> dict[str, float]:
    """Every device's conductance at t = 0 as the analog side recorded it."""
    waves = vcd_oracle.read(out / "analog.vcd", prefix="analog.")
    return {d: float(waves.traces[f"analog.{d}.g"].floats()[0]) for d in devices}


def _without_run_specifics(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k not in ("wall_time_s", "vcd")}


def test_same_seed_gives_an_identical_run(numpy_runs_by_seed: dict) -> None:
    (a_out, a), (b_out, b) = numpy_runs_by_seed["1"], numpy_runs_by_seed["1again"]
    assert _without_run_specifics(a) == _without_run_specifics(b)
    host_a, host_b = _host(a_out), _host(b_out)
    assert host_a == host_b
    assert _initial_g(a_out, list(a["devices"])) == _initial_g(b_out, list(a["devices"]))
    body = [(o / "analog.vcd").read_text().partition("$enddefinitions")[2] for o in (a_out, b_out)]
    assert body[0] == body[1]


def test_seed_reaches_device_variation_targets_and_input_noise(numpy_runs_by_seed: dict) -> None:
    """``--seed`` draws the device-to-device variation the analog side simulates (recorded
    conductances at t = 0 are the seed's draw and differ from device to device and from seed
    to seed), the trained targets and the inference input noise."""
    (out1, s1), (out2, _) = numpy_runs_by_seed["1"], numpy_runs_by_seed["2"]
    card = load_card(s1["card"])
    g0 = {}
    for seed, out in ((1, out1), (2, out2)):
        recorded = _initial_g(out, list(s1["devices"]))
        _, params = device_params(card, seed)
        x0 = np.full(len(recorded), float(card.x0))
        drawn = np.asarray(mss.conductance(params, x0), dtype=float)
        names = list(s1["devices"])
        np.testing.assert_allclose([recorded[n] for n in names], drawn, rtol=1e-9)
        g0[seed] = drawn
        assert np.unique(drawn).size == drawn.size  # every device drawn on its own
    assert np.all(g0[1] != g0[2]), "devices of seed 1 and seed 2 must differ"
    h1, h2 = _host(out1), _host(out2)
    assert h1["seed"] == 1 and h2["seed"] == 2
    assert h1["target_codes"] != h2["target_codes"]
    # same test images, different input noise
    assert [i["label"] for i in h1["inferences"]] == [i["label"] for i in h2["inferences"]]
    assert [i["in_codes"] for i in h1["inferences"]] != [i["in_codes"] for i in h2["inferences"]]


def test_twin_predicts_the_controllers_classes(numpy_run: tuple[Path, dict]) -> None:
    """The twin (programmed from card and seed alone) at the host's input codes gives the
    class the controller reported for every image (ADC codes, threshold, ties as the RTL)."""
    out, _ = numpy_run
    host = _host(out)
    twin = program.crossbar_twin("Cr", 1, reset_pulse=True)
    g = twin.xbar.conductance(twin.xbar.x0)
    g[list(DEVICES)] = twin.program(DEVICES).g_S
    images = host["inferences"]
    classes = infer.predict_classes(
        twin.xbar, g, [i["in_codes"] for i in images], default_harness()
    )
    assert classes == [i["class"] for i in images]
    assert infer.controller_class([7, 9, 9], 0) == 1  # the lowest index of a tie
