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

import pytest

from cosim.circuit.va import model_path
from cosim.config import SimConfig
from cosim.errors import UsageError
from cosim.run.sim import SimFailed, run_sim

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
    return json.loads((out / "host.json").read_text())


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
            assert abs(a["pulses"] - b["pulses"]) <= 2, name  # borderline reads may differ
            assert b["g_final_S"] == pytest.approx(a["g_final_S"], rel=0.1), name


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
