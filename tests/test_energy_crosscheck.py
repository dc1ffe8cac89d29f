"""Energy from our VCD integration agrees with ngspice's own ``.meas tran … INTEG`` (0.12 %).

One small circuit per card — source → series resistor → ``mss_memristor`` (the compiled
Verilog-A model), driven by the card's own write, read and erase pulses — is simulated once in
libngspice.  The run is recorded the way the co-simulation records it (a data hook writing
:class:`cosim.waves.AnalogVcdWriter`, as :class:`cosim.bench.lockstep.NgspiceBackend` does) and
measured with :func:`cosim.analysis.metrics.measure`; ngspice measures the same integrals itself
with
``.meas tran NAME INTEG par('expression')`` (ngspice manual, chapter "Measurements after AC, DC
and Transient Analysis", general forms for INTEG and ``par('expression')``).  The ``.meas``
results exist only as ngspice's printed output, so they are read from it.

Measured (ngspice 46, 2026-11-28): the VCD figures are 0.014–0.118 % below ngspice's (W source
−0.118 %, device −0.099 %; Cr −0.101 %, −0.113 %; C −0.014 %, −0.019 %): the hold rule is a
left-Riemann sum on ngspice's accepted time points; INTEG integrates by its own rule.  The test
allows 0.12 %, the figure docs/reproduction.md quotes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import pytest

from cosim.analysis import metrics
from cosim.circuit import devices, va
from cosim.spice.ngspice import NgSpice
from cosim.waves.write import AnalogVcdWriter

pytestmark = pytest.mark.spice

MODEL_NAMES = (
    *("r_on", "r_off", "v_on", "v_off", "tau", "t_eff", "phi"),
    *("alpha_f", "alpha_r", "beta_f", "beta_r"),
)
EDGE_S = 10e-9
DEVICE = "w1_0_0"
HOOK = ("v(src)", "v(dev)", "i(vsrc)", "v(n1#x)")
#: Agreement claimed in docs/reproduction.md ("within 0.12 %"), measured 0.118 % at worst.
REL_TOL = 1.2e-3


def _pulse_train(op: devices.Operation) -> tuple[list[float], list[float]]:
    """Writes, reads, erases, a read: each pulse followed by an equal gap (PWL points)."""
    t, v, now = [0.0], [0.0], 0.0
    plan = (
        (op.v_write_V, op.t_write_s, 5),
        (op.v_read_V, op.t_read_s, 2),
        (op.v_erase_V, op.t_erase_s, 3),
        (op.v_read_V, op.t_read_s, 1),
    )
    for amp, width, count in plan:
        for _ in range(count):
            t += [now + EDGE_S, now + width, now + width + EDGE_S, now + 2 * width]
            v += [amp, amp, 0.0, 0.0]
            now += 2 * width
    return t, v


def _netlist(card: devices.DeviceCard, t: list[float], v: list[float]) -> str:
    op = card.operation
    t_stop = t[-1]
    tmax = min(op.t_write_s, op.t_erase_s, op.t_read_s) / 50
    pwl = " ".join(f"{a!r} {b!r}" for a, b in zip(t, v, strict=True))
    model = " ".join(f"{n}={float(getattr(card.model, n))!r}" for n in MODEL_NAMES)
    return "\n".join(
        [
            "* energy cross-check",
            f"Vsrc src 0 PWL({pwl})",
            f"Rs src dev {op.r_series_ohm!r}",
            f"N1 dev 0 mssdev x0={card.x0!r}",
            f".model mssdev mss_memristor {model}",
            # i(vsrc) flows into the + terminal: the source delivers -v·i
            f".meas tran e_src integ par('-v(src)*i(vsrc)') from=0 to={t_stop!r}",
            f".meas tran e_dev integ par('-v(dev)*i(vsrc)') from=0 to={t_stop!r}",
            f".tran {tmax!r} {t_stop!r} 0 {tmax!r}",
            ".end",
        ]
    )


def _meas(lines: list[str], name: str) -> float:
    pattern = re.compile(rf"^{name}\s*=\s*(\S+)", re.IGNORECASE)
    found = [float(m.group(1)) for ln in lines if (m := pattern.match(ln.strip()))]
    assert len(found) == 1, f"ngspice printed no single {name!r} measurement:\n" + "\n".join(lines)
    return found[0]


@pytest.mark.parametrize("name", ["W", "Cr", "C"], ids=["W", "Cr", "C"])
def test_vcd_energy_matches_ngspice_integ(name: str, tmp_path: Path) -> None:
    card = devices.load_card(name)
    t, v = _pulse_train(card.operation)
    vcd = tmp_path / f"crosscheck-{name}.vcd"
    writer = AnalogVcdWriter(vcd, [DEVICE], ["src"], [])

    def hook(t_s: float, values: Mapping[str, float]) -> None:
        i_A = -values["i(vsrc)"]
        writer.write(
            t_s,
            {
                f"{DEVICE}.v": values["v(dev)"],
                f"{DEVICE}.i": i_A,
                f"{DEVICE}.x": values["v(n1#x)"],
                "supply.src.v": values["v(src)"],
                "supply.src.i": i_A,
            },
        )

    with NgSpice() as spice:
        spice.load_osdi(va.compile_va(va.model_path("mss")))
        spice.load_circuit(_netlist(card, t, v))
        spice.set_data_hook(hook, HOOK)
        spice.run()
        writer.close()
        output = spice.recent_output(200)
        x_end = float(spice.vector("v(n1#x)")[-1])
        x_max = float(spice.vector("v(n1#x)").max())
    e_src_ng, e_dev_ng = _meas(output, "e_src"), _meas(output, "e_dev")

    report = metrics.measure(vcd)
    assert report.t_end_s == pytest.approx(t[-1], rel=1e-9)
    # the pulses did program the device (set, then erase), so the energy is not just ohmic
    assert x_max - card.x0 > 0.05 and x_max - x_end > 0.05, (card.x0, x_max, x_end)
    assert report.energy_J is not None and report.energy_device_J is not None
    assert report.supplies["src"] == pytest.approx(report.energy_J)
    assert report.energy_J == pytest.approx(e_src_ng, rel=REL_TOL)
    assert report.energy_device_J == pytest.approx(e_dev_ng, rel=REL_TOL)
    # the device takes a real share of the source's energy (the rest heats the resistor)
    assert 0.05 < report.energy_device_J / report.energy_J < 0.95
