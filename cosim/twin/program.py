"""The algorithm-level twin of on-chip programming: write-verify as ``hdl/xbar_ctrl.v`` does it.

:func:`write_verify` replays the controller's algorithm (optional reset pulse, read, compare
with the target code ± verify window (``policy.verify_window``), write or erase pulse,
adaptive width halving at direction reversals, give up after ``max_pulses``) on the NumPy MSS
model, vectorized over devices and Monte Carlo trials.  Every controller step (select setup,
pulse, hold and gap, at the voltages and widths the pulse DAC and the clock actually produce)
is precomputed per device as a map "state before → state after" on a state grid
(:func:`build_tables`), so that one pulse of many devices costs one interpolation.

:func:`crossbar_twin` sets the twin up for exactly the crossbar a co-simulation run programs
(``cosim.run.sim.run_sim``): the same card, seeded device variation, targets, sense gain, target
codes, verify window and pulse scheme as the cocotb host in :mod:`cosim.bench.training`.
``tests/test_twin_vs_cosim.py`` compares the two.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cosim.circuit import mss
from cosim.circuit.devices import DeviceCard, load_card
from cosim.circuit.network import CircuitSpec
from cosim.crossbar import make_crossbar
from cosim.harness import policy
from cosim.harness.contract import default_harness
from cosim.harness.converters import HarnessParams, conductance_to_sense_code
from cosim.harness.policy import PulseScheme, adaptive_widths_cycles, verify_window
from cosim.harness.regmap import load_register_map
from cosim.topology import DEFAULT, Topology

__all__ = [
    "ProgramSetup",
    "PulseTables",
    "ProgramOutcome",
    "CrossbarTwin",
    "build_tables",
    "write_verify",
    "sense_gain_ohm",
    "card_program_setup",
    "crossbar_twin",
]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class ProgramSetup:
    """Everything the write-verify twin needs to act like the controller in ``xbar_top``.

    Attributes:
        scheme: the pulse scheme in physical units (the same object the cocotb host loads).
        harness: clock and converter parameters of the harness (pulse DAC, sense ADC).
        r_path_ohm: resistance in series with the device on the programming/read path: series
            (compliance) resistor + select-switch on-resistance (Ω).
        r_sense_ohm: transimpedance of the sense amplifier (Ω): ``v_sense = I_read · r_sense``.
        sel_setup_cyc: cycles from select on to pulse on (``SEL_SETUP_CYC`` of the register map).
        sel_hold_cyc: cycles from pulse off to select off (``SEL_HOLD_CYC``).
    """

    scheme: PulseScheme
    harness: HarnessParams
    r_path_ohm: float
    r_sense_ohm: float
    sel_setup_cyc: int
    sel_hold_cyc: int

    @classmethod
    def create(
        cls, scheme: PulseScheme, harness: HarnessParams, r_path_ohm: float, r_sense_ohm: float
    ) -> ProgramSetup:
        """A setup whose select setup/hold cycles come from ``hdl/xbar_regs.vh``."""
        regs = load_register_map()
        return cls(
            scheme, harness, r_path_ohm, r_sense_ohm, regs["SEL_SETUP_CYC"], regs["SEL_HOLD_CYC"]
        )

    def timing(self) -> dict[str, float]:
        """Effective voltages (V) and durations (s) exactly as the controller applies them.

        Voltages are the pulse-DAC outputs of the register codes; widths follow the register
        rules of ``hdl/xbar_ctrl.v`` (0 → 1 cycle, read ≥ 2 cycles, sample clamped into the
        read pulse, gap 0 → 1 cycle).
        """
        regs = self.scheme.registers(self.harness)
        dac = self.harness.pulse_dac
        t_clk = self.harness.clk_period_s

        def volts(name: str) -> float:
            raw = regs[name]
            code = raw - (1 << dac.bits) if raw >= 1 << (dac.bits - 1) else raw
            return dac.code_to_volts(code)

        read_cyc = max(regs["REG_READ_CYC"], 2)
        sample = regs["REG_READ_SAMPLE"] or 1
        sample = min(sample, read_cyc - 1)
        return {
            "v_write_V": volts("REG_WRITE_CODE"),
            "t_write_s": max(regs["REG_WRITE_CYC"], 1) * t_clk,
            "v_erase_V": volts("REG_ERASE_CODE"),
            "t_erase_s": max(regs["REG_ERASE_CYC"], 1) * t_clk,
            "v_reset_V": volts("REG_RESET_CODE"),
            "t_reset_s": max(regs["REG_RESET_CYC"], 1) * t_clk,
            "v_read_V": volts("REG_READ_CODE"),
            "t_read_s": read_cyc * t_clk,
            "t_sample_s": sample * t_clk,
            "t_setup_s": self.sel_setup_cyc * t_clk,
            "t_after_s": (self.sel_hold_cyc + max(regs["REG_GAP_CYC"], 1)) * t_clk,
            # host/MCU latency after every verify read (REG_STEP_WAIT/_HI, 0 = none)
            "t_step_wait_s": (regs["REG_STEP_WAIT"] + (regs["REG_STEP_WAIT_HI"] << 16)) * t_clk,
        }

    def width_levels(self) -> tuple[tuple[float, float], ...]:
        """``(t_write_s, t_erase_s)`` after 0, 1, 2 … direction reversals of a device.

        One entry (the configured widths) without adaptation; with ``scheme.adaptive`` the
        controller's halving rule (:func:`cosim.harness.adaptive_widths_cycles`) up to its
        fixed point, which holds for all further reversals.
        """
        regs = self.scheme.registers(self.harness)
        t_clk = self.harness.clk_period_s
        w, e = max(regs["REG_WRITE_CYC"], 1), max(regs["REG_ERASE_CYC"], 1)
        levels = (
            adaptive_widths_cycles(w, e, regs["REG_MIN_CYC"]) if self.scheme.adaptive else ((w, e),)
        )
        return tuple((wc * t_clk, ec * t_clk) for wc, ec in levels)

    def sense_codes(self, i_read_A: ArrayLike) -> NDArray[np.int64]:
        """Sense-ADC codes of read currents (vectorized :meth:`AdcSpec.quantize`)."""
        adc = self.harness.sense_adc
        offset = 2 ** (adc.bits - 1) if adc.bipolar else 0
        v = np.asarray(i_read_A, dtype=float) * self.r_sense_ohm
        code = np.floor(v / adc.lsb_V + offset + 0.5)
        return np.clip(code, 0, 2**adc.bits - 1).astype(np.int64)

    def target_codes(self, g_S: ArrayLike) -> NDArray[np.int64]:
        """Target codes of conductances (as :func:`conductance_to_sense_code`, vectorized)."""
        g = np.asarray(g_S, dtype=float)
        v_read = self.timing()["v_read_V"]
        return self.sense_codes(v_read / (self.r_path_ohm + 1.0 / g))


@dataclass(frozen=True)
class PulseTables:
    """Per-device maps "state before → state after" of every controller step.

    ``inc[kind]`` has shape ``(n_devices, n_grid)``: the increment ``M(x) − x`` on a uniform grid
    of x in [0, 1]; a step is applied by linear interpolation of the increment.  Kinds:
    ``reset``/``write``/``erase`` (select setup at 0 V, the pulse, hold + gap at 0 V),
    ``read_pre`` (select setup, read pulse up to the ADC sample), ``read_post`` (rest of the
    read pulse, hold + gap) and ``read`` (the whole read, integrated in one go).  With adaptive
    widths, ``write@n``/``erase@n`` are the steps after ``n`` ≥ 1 direction reversals
    (:meth:`ProgramSetup.width_levels`).  ``i_read_A`` (same shape) is the read current at the
    ADC sample as a function of the state before the read.
    """

    params: mss.MSSArrays
    inc: dict[str, FloatArray]
    setup: ProgramSetup
    i_read_A: FloatArray

    @property
    def pulse_stack(self) -> FloatArray:
        """Write then erase increments of every width level, shape ``(2·n_levels, n_dev,
        n_grid)``: index ``level`` for a write, ``n_levels + level`` for an erase."""
        keys = [self.key("write", lv) for lv in range(self.n_levels)]
        keys += [self.key("erase", lv) for lv in range(self.n_levels)]
        return np.stack([self.inc[k] for k in keys])

    @property
    def n_grid(self) -> int:
        """Grid points per table row."""
        return int(self.inc["write"].shape[1])

    @property
    def n_levels(self) -> int:
        """Distinct write/erase width levels (1 without adaptation)."""
        return sum(1 for k in self.inc if k.startswith("write"))

    @staticmethod
    def key(kind: str, level: int) -> str:
        """Table name of a write/erase step after ``level`` reversals."""
        return kind if level == 0 else f"{kind}@{level}"


def build_tables(params: mss.MSSArrays, setup: ProgramSetup, n_grid: int = 513) -> PulseTables:
    """Integrate every controller step of every device in ``params`` (1-D) on a state grid."""
    flat = params.broadcast_flat(params.shape)
    d = flat.r_on.size
    col = mss.MSSArrays(**{k: v[:, None] for k, v in vars(flat).items()})
    grid = np.broadcast_to(np.linspace(0.0, 1.0, n_grid), (d, n_grid))
    t = setup.timing()
    rp = setup.r_path_ohm

    def run(x: FloatArray, *segments: tuple[float, float]) -> FloatArray:
        for v, dt in segments:
            if dt > 0:
                x = mss.apply_pulse(col, x, v, dt, rp)
        return x

    rest_s = t["t_after_s"]
    t_rest_read = t["t_read_s"] - t["t_sample_s"]
    steps = {
        "reset": ((0.0, t["t_setup_s"]), (t["v_reset_V"], t["t_reset_s"]), (0.0, rest_s)),
        "write": ((0.0, t["t_setup_s"]), (t["v_write_V"], t["t_write_s"]), (0.0, rest_s)),
        "erase": ((0.0, t["t_setup_s"]), (t["v_erase_V"], t["t_erase_s"]), (0.0, rest_s)),
        "read_pre": ((0.0, t["t_setup_s"]), (t["v_read_V"], t["t_sample_s"])),
        "read_post": ((t["v_read_V"], t_rest_read), (0.0, rest_s + t["t_step_wait_s"])),
        "read": (
            (0.0, t["t_setup_s"]),
            (t["v_read_V"], t["t_read_s"]),
            (0.0, rest_s + t["t_step_wait_s"]),  # deselected through the step wait too
        ),
    }
    for n, (t_w, t_e) in enumerate(setup.width_levels()[1:], 1):
        steps[PulseTables.key("write", n)] = (
            (0.0, t["t_setup_s"]),
            (t["v_write_V"], t_w),
            (0.0, rest_s),
        )
        steps[PulseTables.key("erase", n)] = (
            (0.0, t["t_setup_s"]),
            (t["v_erase_V"], t_e),
            (0.0, rest_s),
        )
    inc = {k: run(grid.copy(), *segs) - grid for k, segs in steps.items()}
    x_sample = grid + inc["read_pre"]
    i_read = np.asarray(mss.read_current(col, x_sample, t["v_read_V"], rp), dtype=float)
    return PulseTables(flat, inc, setup, np.broadcast_to(i_read, grid.shape).copy())


@dataclass(frozen=True)
class ProgramOutcome:
    """Result of :func:`write_verify` (arrays of the devices' shape).

    Attributes:
        pulses: write + erase pulses applied (the controller's pulse counter).
        ok: ended inside the verify window.  failed: flagged failed after ``max_pulses``.
        codes: last verify (sense-ADC) code.  x: final state.  g_S: final conductance G(x).
        t_pulses_s: summed widths of the write/erase pulses applied (adaptive widths included;
            select setup, hold and gaps not included), for time estimates.
    """

    pulses: NDArray[np.int64]
    ok: NDArray[np.bool_]
    failed: NDArray[np.bool_]
    codes: NDArray[np.int64]
    x: FloatArray
    g_S: FloatArray
    t_pulses_s: FloatArray | None = None


def _step(
    table: FloatArray,
    idx: tuple[Any, ...],
    x: FloatArray,
    rng: np.random.Generator | None,
    n_sw: FloatArray | None,
) -> FloatArray:
    """Apply the step ``table[*idx, :]`` (increments on the grid) to states ``x``, with the
    stochastic MSS's binomial switching noise when ``rng`` and ``n_sw`` are given."""
    n_grid = table.shape[-1]
    pos = np.clip(x, 0.0, 1.0) * (n_grid - 1)
    i = np.minimum(pos.astype(np.intp), n_grid - 2)
    lo = table[(*idx, i)]
    delta = lo + (table[(*idx, i + 1)] - lo) * (pos - i)
    if rng is not None and n_sw is not None:
        room = np.where(delta > 0, 1.0 - x, x)
        var = np.abs(delta) * np.clip(1.0 - np.abs(delta) / np.maximum(room, 1e-12), 0.0, 1.0)
        delta = delta + np.sqrt(var / n_sw) * rng.standard_normal(x.shape)
    return np.clip(x + delta, 0.0, 1.0)


def write_verify(
    tables: PulseTables,
    rows: ArrayLike,
    x0: ArrayLike,
    target_codes: ArrayLike,
    *,
    rng: np.random.Generator | None = None,
    n_switches: ArrayLike | None = None,
) -> ProgramOutcome:
    """Program devices by write-verify exactly as ``hdl/xbar_ctrl.v`` does, vectorized.

    Per device: optional reset pulse → read → if ``|code − target| ≤ window`` flag ok (window
    from :func:`cosim.harness.verify_window` with the scheme's ``tolerance_codes`` and
    ``tolerance_shift``, as ``REG_TOL``/``REG_TOL_SHIFT`` in the controller); else if
    ``max_pulses`` pulses were applied flag failed; else a write pulse (code too low) or an erase
    pulse (code too high), count it, read again.  With ``scheme.adaptive`` a pulse whose
    direction differs from the device's previous write/erase is a reversal: it and all later
    pulses of the device use the next width level (:meth:`ProgramSetup.width_levels`), as in
    the controller.  Devices are independent (one is selected at a time; the others see no
    voltage), so all devices and trials advance together; finished devices leave the working
    set at once, so the cost of a long tail (a device ping-ponging to ``max_pulses``) is a few
    small array operations per pulse.

    Args:
        tables: step maps of the device parameter sets (:func:`build_tables`).
        rows: for every device, its row in ``tables`` (any shape S).
        x0: initial states (broadcast to S).
        target_codes: target sense-ADC codes (broadcast to S).
        rng: randomness of cycle-to-cycle switching noise (``None``: mean model).
        n_switches: switches per device N of the stochastic MSS (broadcast to S); each pulse
            then adds Gaussian noise with the binomial variance ``|Δx|(1 − |Δx|/room)/N``.
    """
    r = np.asarray(rows, dtype=np.intp)
    shape = r.shape
    x = np.broadcast_to(np.asarray(x0, dtype=float), shape).astype(float).ravel()
    tgt = np.broadcast_to(np.asarray(target_codes), shape).astype(np.int64).ravel()
    r = r.ravel()
    n_sw = None
    if n_switches is not None:
        n_sw = np.broadcast_to(np.asarray(n_switches, dtype=float), shape).ravel()
    setup = tables.setup
    sch = setup.scheme
    n_levels = tables.n_levels
    top = n_levels - 1
    stack = tables.pulse_stack  # write@0..top, erase@0..top
    adc = setup.harness.sense_adc
    offset = 2 ** (adc.bits - 1) if adc.bipolar else 0
    code_max = 2**adc.bits - 1
    # read current → "code + 0.5 before flooring", per device row and grid point
    code_table = tables.i_read_A * (setup.r_sense_ohm / adc.lsb_V) + (offset + 0.5)
    read_table = tables.inc["read"]
    n_grid = tables.n_grid
    n = x.size
    pulses = np.zeros(n, dtype=np.int64)
    t_pulses = np.zeros(n)
    widths = np.array(setup.width_levels(), dtype=float).T.ravel()  # write@0..top, erase@0..top
    codes = np.zeros(n, dtype=np.int64)
    ok = np.zeros(n, dtype=bool)
    failed = np.zeros(n, dtype=bool)
    if sch.reset_enabled:
        x = _step(tables.inc["reset"], (r,), x, rng, n_sw)
    x_out = x.copy()
    # working set (compact): index, row, state, target, window, pulses, level, last direction, N
    ia, ra, xa, ta, wa = np.arange(n), r, x, tgt, _windows(tgt, sch)
    pa = np.zeros(n, dtype=np.int64)
    sa = np.zeros(n)  # summed pulse widths (s)
    la = np.zeros(n, dtype=np.intp)  # width level = reversals so far (saturating)
    da = np.zeros(n, dtype=np.int8)  # +1 last pulse a write, -1 an erase, 0 none yet
    na = n_sw
    while ia.size:
        pos = np.clip(xa, 0.0, 1.0) * (n_grid - 1)
        gi = np.minimum(pos.astype(np.intp), n_grid - 2)
        gf = pos - gi
        lo = code_table[ra, gi]
        code = np.clip(np.floor(lo + (code_table[ra, gi + 1] - lo) * gf), 0, code_max)
        code = code.astype(np.int64)
        lo = read_table[ra, gi]
        xa = np.clip(xa + lo + (read_table[ra, gi + 1] - lo) * gf, 0.0, 1.0)
        low = code + wa < ta
        good = ~low & (code <= ta + wa)
        done = good | (pa >= sch.max_pulses)
        if done.any():
            idx = ia[done]
            codes[idx] = code[done]
            x_out[idx] = xa[done]
            pulses[idx] = pa[done]
            t_pulses[idx] = sa[done]
            ok[idx] = good[done]
            failed[idx] = ~good[done]
            keep = ~done
            ia, ra, xa, ta, wa, pa, sa, la, da, low = (
                v[keep] for v in (ia, ra, xa, ta, wa, pa, sa, la, da, low)
            )
            na = None if na is None else na[keep]
            if not ia.size:
                break
        if sch.adaptive:
            d = np.where(low, 1, -1).astype(np.int8)
            la = np.minimum(la + ((da != 0) & (da != d)), top)
            da = d
        kind = np.where(low, la, n_levels + la)
        xa = _step(stack, (kind, ra), xa, rng, na)
        sa += widths[kind]
        pa += 1
    g = mss.conductance(mss.MSSArrays(**{k: v[r] for k, v in vars(tables.params).items()}), x_out)
    return ProgramOutcome(
        pulses.reshape(shape),
        ok.reshape(shape),
        failed.reshape(shape),
        codes.reshape(shape),
        x_out.reshape(shape),
        np.asarray(g, dtype=float).reshape(shape),
        t_pulses.reshape(shape),
    )


def _windows(target_codes: NDArray[np.int64], scheme: PulseScheme) -> NDArray[np.int64]:
    """Verify window half-width of every target code (:func:`policy.verify_window`)."""
    values, inverse = np.unique(target_codes, return_inverse=True)
    wins = np.array(
        [verify_window(int(t), scheme.tolerance_codes, scheme.tolerance_shift) for t in values],
        dtype=np.int64,
    )
    return wins[inverse.reshape(target_codes.shape)]


def sense_gain_ohm(card: DeviceCard, spec: CircuitSpec, harness: HarnessParams) -> float:
    """Transimpedance of the sense amplifier that the co-simulation bench uses (Ω).

    The highest read current of the card's window lands at 90 % of the sense-ADC range (the
    bench sets it on the crossbar before programming, ``cosim.bench.training``).
    """
    op = card.operation
    i_max = op.v_read_V / (spec.r_read_path_ohm + 1.0 / op.g_max_S)
    return 0.9 * harness.sense_adc.fs_V / i_max


def card_program_setup(
    card: DeviceCard,
    spec: CircuitSpec,
    g_target_S: ArrayLike,
    harness: HarnessParams,
    *,
    reset_pulse: bool = True,
    t_step_wait_s: float = 0.0,
) -> tuple[ProgramSetup, NDArray[np.int64]]:
    """The controller set-up and target codes the cocotb host would use for these targets.

    Sense gain (:func:`sense_gain_ohm`), target codes
    (:func:`cosim.harness.conductance_to_sense_code` at the card's read voltage through the
    read path), verify window ``policy.verify_tolerance(codes)`` (``REG_TOL`` floor) with the
    relative ``policy.TOLERANCE_SHIFT`` and the pulse scheme of
    :func:`cosim.harness.policy.pulse_scheme` (adaptive widths, ``MAX_PULSES``).

    Args:
        card: the device card.
        spec: circuit constants (read path; its ``r_sense_ohm`` is replaced).
        g_target_S: target device conductances (S), any shape.
        harness: clock and converters of the harness (:func:`default_harness`).
        reset_pulse: apply the reset pulse before programming each device.
        t_step_wait_s: host/microcontroller wait after every verify read (s).

    Returns:
        ``(setup, target_codes)``, codes of the shape of ``g_target_S``.
    """

    op = card.operation
    r_sense = sense_gain_ohm(card, spec, harness)
    g = np.asarray(g_target_S, dtype=float)
    codes = np.array(
        [
            conductance_to_sense_code(
                float(gk),
                v_read_V=op.v_read_V,
                r_sense_ohm=r_sense,
                adc=harness.sense_adc,
                r_path_ohm=spec.r_read_path_ohm,
            )
            for gk in g.ravel()
        ],
        dtype=np.int64,
    ).reshape(g.shape)
    tol = policy.verify_tolerance(codes)
    scheme = policy.pulse_scheme(card, reset_pulse, tol, t_step_wait_s)
    setup = ProgramSetup.create(scheme, harness, spec.r_read_path_ohm, r_sense)
    return setup, codes


@dataclass(frozen=True)
class CrossbarTwin:
    """The twin of one co-simulation crossbar (same card, seed, variation, targets, codes).

    Attributes:
        xbar: the crossbar (:func:`cosim.crossbar.make_crossbar`) with the bench's sense gain.
        setup: controller set-up (scheme with the bench's tolerance, timing, read path).
        target_codes: target sense codes per device, select-line order (``N_DEV``,).
        tables: step maps of the devices.
    """

    xbar: Any
    setup: ProgramSetup
    target_codes: NDArray[np.int64]
    tables: PulseTables

    def program(
        self,
        devices: ArrayLike | None = None,
        *,
        rng: np.random.Generator | None = None,
        n_switches: float | None = None,
    ) -> ProgramOutcome:
        """Program ``devices`` (indices, default all) from the card's initial state.

        Args:
            devices: device indices (select-line order).
            rng: cycle-to-cycle noise source (``None``: the mean model, as in the
                co-simulation's Verilog-A model).
            n_switches: switches per device of the stochastic MSS (default: the card's).
        """
        idx = np.arange(self.target_codes.size) if devices is None else np.asarray(devices)
        n_sw = None
        if rng is not None:
            n_sw = float(n_switches if n_switches is not None else self.xbar.card.n_switches)
        return write_verify(
            self.tables,
            idx,
            self.xbar.x0[idx],
            self.target_codes[idx],
            rng=rng,
            n_switches=n_sw,
        )


def crossbar_twin(
    card: str | DeviceCard,
    seed: int,
    *,
    reset_pulse: bool = True,
    harness: HarnessParams | None = None,
    n_grid: int = 513,
    topology: Topology = DEFAULT,
    dataset: str = "patterns",
) -> CrossbarTwin:
    """The twin of the crossbar that ``cosim sim --card CARD --seed SEED`` programs.

    Args:
        card: card name, path or loaded card.
        seed: the run's seed (device variation and training).
        reset_pulse: as ``SimConfig.reset_pulse``.
        harness: harness parameters (default: the defaults of ``hdl/behav/xbar_top.v``).
        n_grid: state-grid points of the step tables.
        topology, dataset: as ``SimConfig.topology`` / ``SimConfig.dataset``.
    """

    c = card if isinstance(card, DeviceCard) else load_card(card)
    hp = harness or default_harness()
    xbar = make_crossbar(c, seed, topology, dataset)
    setup, codes = card_program_setup(c, xbar.spec, xbar.g_target_S, hp, reset_pulse=reset_pulse)
    xbar = replace(xbar, spec=replace(xbar.spec, r_sense_ohm=setup.r_sense_ohm))
    return CrossbarTwin(xbar, setup, codes, build_tables(xbar.params, setup, n_grid))
