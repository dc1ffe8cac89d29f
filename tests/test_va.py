"""cosim.circuit.va (openvaf-r compile cache) and the mss_memristor model run in `ngspice -b`."""

from __future__ import annotations

import math
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from cosim.circuit import devices, va
from cosim.errors import UsageError

K_B, Q_E = 1.380649e-23, 1.602176634e-19


@pytest.fixture
def build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private build directory (COSIM_BUILD_DIR) for this test."""
    out = tmp_path / "build"
    monkeypatch.setenv("COSIM_BUILD_DIR", str(out))
    return out


def test_model_path_accepts_stem_and_file_name() -> None:
    assert va.model_path("mss") == va.model_path("mss.va") == va.VA_MODELS_DIR / "mss.va"
    with pytest.raises(UsageError, match=r"known models:.*mss\.va"):
        va.model_path("nope")


def test_compile_then_cache_hit(build: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    osdi = va.compile_va(va.model_path("mss"))
    assert osdi.parent == build / "osdi" and osdi.read_bytes()[:4] == b"\x7fELF"
    stat = osdi.stat()

    def no_compiler(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"compiler run on a cache hit: {args}")

    monkeypatch.setattr(va.subprocess, "run", no_compiler)  # version string is memoized
    assert va.compile_va(va.model_path("mss")) == osdi
    assert osdi.stat().st_mtime_ns == stat.st_mtime_ns
    assert [p.name for p in osdi.parent.iterdir()] == [osdi.name]  # no temporary left


def test_key_covers_source_includes_and_flags(tmp_path: Path) -> None:
    inc = tmp_path / "params.vams"
    inc.write_text("`define R0 1.0e3\n")
    src = tmp_path / "res.va"
    body = '`include "disciplines.vams"\n`include "params.vams"\nmodule res(p, n);\n'
    body += "inout p, n; electrical p, n;\nanalog I(p, n) <+ V(p, n) / `R0;\nendmodule\n"
    src.write_text(body)
    key = va.cache_key(src)
    assert va.cache_key(src) == key
    assert va.cache_key(src, target_cpu="native") != key
    inc.write_text("`define R0 2.0e3\n")
    key_inc = va.cache_key(src)
    assert key_inc != key
    src.write_text(body + "// comment\n")
    assert va.cache_key(src) not in (key, key_inc)


def test_concurrent_compiles_give_one_valid_file(build: Path, tmp_path: Path) -> None:
    src = tmp_path / "mss_copy.va"
    shutil.copy(va.model_path("mss"), src)
    with ThreadPoolExecutor(4) as pool:
        outs = list(pool.map(lambda _: va.compile_va(src), range(4)))
    assert len(set(outs)) == 1
    assert [p.name for p in (build / "osdi").iterdir()] == [outs[0].name]
    assert outs[0].read_bytes()[:4] == b"\x7fELF"


def test_compile_error_carries_file_and_line(build: Path, tmp_path: Path) -> None:
    src = tmp_path / "bad.va"
    src.write_text(
        '`include "disciplines.vams"\nmodule bad(p, n);\ninout p, n; electrical p, n;\n'
        "analog begin\n    I(p, n) <+ V(p, n) / r_undefined;\nend\nendmodule\n"
    )
    with pytest.raises(va.VerilogACompileError) as err:
        va.compile_va(src)
    e = err.value
    assert e.file == src and e.line == 5 and e.column is not None
    assert str(e).startswith(f"{src}:5:")
    assert "r_undefined" in str(e) and "\x1b[" not in str(e)
    assert not (build / "osdi").exists() or not any((build / "osdi").iterdir())


def test_missing_source_is_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        va.compile_va(tmp_path / "none.va")


# ----------------------------------------------------------------------------- ngspice -b


def _fmt(params: dict[str, float]) -> str:
    return " ".join(f"{k}={v!r}" for k, v in params.items())


def run_ngspice(
    tmp: Path, model: dict[str, float], inst: dict[str, float], source: str, tran: str
) -> np.ndarray:
    """Run ``ngspice -b``: V1 p 0 <source>, N1 p 0 (mss_memristor); rows time, v, i, x."""
    if shutil.which("ngspice") is None:
        pytest.skip("ngspice not installed")
    osdi = va.compile_va(va.model_path("mss"))
    out = tmp / "out.txt"
    deck = tmp / "deck.cir"
    deck.write_text(
        "* mss_memristor test\n.control\nset num_threads=1\n"
        f"pre_osdi {osdi}\n.endc\n"
        f"V1 p 0 {source}\nN1 p 0 mssm {_fmt(inst)}\n.model mssm mss_memristor {_fmt(model)}\n"
        f".tran {tran}\n.control\nrun\nlet idev = -i(v1)\nset wr_singlescale\n"
        f"wrdata {out} v(p) idev v(n1#x)\n.endc\n.end\n"
    )
    proc = subprocess.run(
        ["ngspice", "-b", str(deck)], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0 and out.is_file(), proc.stdout + proc.stderr
    return np.loadtxt(out)


def g_of(p: dict[str, float], x: float) -> float:
    return x / p["r_on"] + (1.0 - x) / p["r_off"]


@pytest.mark.spice
@pytest.mark.parametrize("x0", [0.25, 0.7], ids=["x0=0.25", "x0=0.7"])
def test_ideal_device_is_a_resistor(build: Path, tmp_path: Path, x0: float) -> None:
    """φ = 1, τ huge: I = V·G(x0), and the instance multiplier m_r_on acts."""
    model = devices.load_card("W").model.va_params() | {"tau": 1e6}
    inst = {"x0": x0, "m_r_on": 2.0}
    data = run_ngspice(tmp_path, model, inst, "sin(0 0.8 1k)", "10u 2m 0 10u")
    t, v, i, x = data.T
    g = g_of(model | {"r_on": 2.0 * model["r_on"]}, x0)
    assert np.max(np.abs(v)) == pytest.approx(0.8, rel=1e-3)
    np.testing.assert_allclose(i, v * g, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(x, x0, atol=1e-6)


def mss_reference(p: dict[str, float], x0: float, v_of_t, t_s: np.ndarray) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Independent scipy integration of the mean MSS state under a known device voltage."""
    vt = K_B * p["t_eff"] / Q_E

    def sig(u: float) -> float:
        return 0.5 * (1.0 + math.tanh(0.5 * u))

    def f(t: float, y: np.ndarray) -> list[float]:
        v = v_of_t(t)
        a, b = sig((v - p["v_on"]) / vt), sig(-(v + p["v_off"]) / vt)
        return [(a * (1 - y[0]) - b * y[0]) / p["tau"]]

    sol = solve_ivp(f, (0, t_s[-1]), [x0], t_eval=t_s, rtol=1e-10, atol=1e-12, max_step=1e-5)
    return sol.y[0]


@pytest.mark.spice
def test_knowm_demo_pinched_loop_matches_reference(build: Path, tmp_path: Path) -> None:
    """Knowm's demo: 0.5 V, 100 Hz sine, 40 ms; OP keeps x0; loop pinched at 0 V; hysteresis."""
    card = devices.load_card("knowm-demo")
    p = card.model.va_params()
    x0 = 0.9  # far from the 0-V equilibrium 0.5 the plain OP would give
    data = run_ngspice(tmp_path, p, {"x0": x0}, "sin(0 0.5 100)", "10u 40m 0 10u")
    t, v, i, x = data.T
    assert x[0] == pytest.approx(x0, abs=1e-9)
    x_ref = mss_reference(p, x0, lambda s: 0.5 * math.sin(2 * math.pi * 100 * s), t)
    assert np.max(np.abs(x - x_ref)) < 5e-4
    g = x_ref / p["r_on"] + (1 - x_ref) / p["r_off"]
    i_ref = p["phi"] * v * g + (1 - p["phi"]) * (
        p["alpha_f"] * np.exp(p["beta_f"] * v) - p["alpha_r"] * np.exp(-p["beta_r"] * v)
    )
    peak = np.max(np.abs(i))
    assert np.max(np.abs(i - i_ref)) < 5e-4 * peak
    # pinched: I = 0 wherever V = 0; hysteresis: same V, different I on the two sweeps
    assert np.max(np.abs(i[np.abs(v) < 1e-3])) < 1e-2 * peak
    # each lobe (half period of the last cycle) encloses area: ∮ I dV over it ≠ 0
    for lobe in ((t >= 0.030) & (t <= 0.035), (t >= 0.035) & (t <= 0.040)):
        area = abs(float(np.trapezoid(i[lobe], v[lobe])))
        assert area > 0.01 * peak * 0.5, area
    assert 0.0 <= np.min(x) and np.max(x) <= 1.0 + 1e-6


@pytest.mark.spice
def test_state_clamped_under_strong_set(build: Path, tmp_path: Path) -> None:
    p = devices.load_card("C").model.va_params()
    data = run_ngspice(tmp_path, p, {"x0": 1.0}, "dc 2.0", "10n 50u 0 10n")
    _, v, i, x = data.T
    assert np.all(x <= 1.0 + 1e-6) and np.all(x >= 1.0 - 1e-6)
    np.testing.assert_allclose(i, v / p["r_on"], rtol=1e-5)
