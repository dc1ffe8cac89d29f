"""The programming policy: the pulse scheme in volts/seconds, the verify window and the
adaptive pulse widths exactly as ``hdl/xbar_ctrl.v`` applies them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from cosim.circuit.devices import DeviceCard, Pulses
from cosim.errors import UsageError
from cosim.harness.converters import HarnessParams
from cosim.harness.regmap import load_register_map


@dataclass(frozen=True)
class PulseScheme(Pulses):
    """A write-verify scheme: the pulses (:class:`cosim.circuit.devices.Pulses`, V and s) and
    the controller's settings; see docs/controller.md.

    Attributes (besides the pulses):
        t_read_sample_s: from read-pulse start to the ``adc_sample`` rise (0 < it < t_read_s).
        reset_enabled: apply the reset pulse before programming each device.
        tolerance_codes: verify window half-width (sense-ADC codes); with
            ``tolerance_shift`` the floor of the relative window (``REG_TOL``).
        max_pulses: write+erase pulses allowed per device before it is flagged failed.
        adaptive: halve the write and erase widths of the current device at every direction
            reversal (``REG_ADAPT``); see :func:`halve_width_cycles`.
        t_min_pulse_s: smallest width adaptation may reach (``REG_MIN_CYC``); 0 means one
            clock period.  Ignored unless ``adaptive``.
        t_step_wait_s: host/microcontroller latency per verify step (s): after every verify
            read's ADC result the controller idles this long (phase idle, nothing selected)
            before it decides.  A whole number of clock periods, < 2**32 cycles
            (``REG_STEP_WAIT``/``REG_STEP_WAIT_HI``); 0 = no wait.
        tolerance_shift: relative verify window ``REG_TOL_SHIFT`` (0..15): the half-width is
            ``max(tolerance_codes, target >> tolerance_shift)``; 0 = off (absolute window).
            See :func:`verify_window`.
    """

    t_read_sample_s: float
    reset_enabled: bool
    tolerance_codes: int
    max_pulses: int
    adaptive: bool = False
    t_min_pulse_s: float = 0.0
    t_step_wait_s: float = 0.0
    tolerance_shift: int = 0

    def registers(self, params: HarnessParams) -> dict[str, int]:
        """Register values (name → bus value) of this scheme for a harness."""
        dac = params.pulse_dac
        rd = params.cycles(self.t_read_s, "t_read_s", minimum=2)
        sample = params.cycles(self.t_read_sample_s, "t_read_sample_s")
        if sample >= rd:
            raise UsageError(f"t_read_sample_s={self.t_read_sample_s} must be < t_read_s")
        for name in ("tolerance_codes", "max_pulses"):
            if not 0 <= getattr(self, name) <= 0xFFFF:
                raise UsageError(f"{name}={getattr(self, name)} must be in 0..65535")
        if not 0 <= self.tolerance_shift <= _TOL_SHIFT_MAX:
            raise UsageError(
                f"tolerance_shift={self.tolerance_shift} must be in 0..{_TOL_SHIFT_MAX} "
                "(REG_TOL_SHIFT, 0 = absolute window)"
            )
        wait = params.cycles(self.t_step_wait_s, "t_step_wait_s", minimum=0, maximum=2**32 - 1)
        return {
            "REG_WRITE_CODE": dac.bus_value(dac.volts_to_code(self.v_write_V)),
            "REG_WRITE_CYC": params.cycles(self.t_write_s, "t_write_s"),
            "REG_ERASE_CODE": dac.bus_value(dac.volts_to_code(self.v_erase_V)),
            "REG_ERASE_CYC": params.cycles(self.t_erase_s, "t_erase_s"),
            "REG_RESET_CODE": dac.bus_value(dac.volts_to_code(self.v_reset_V)),
            "REG_RESET_CYC": params.cycles(self.t_reset_s, "t_reset_s"),
            "REG_READ_CODE": dac.bus_value(dac.volts_to_code(self.v_read_V)),
            "REG_READ_CYC": rd,
            "REG_READ_SAMPLE": sample,
            "REG_GAP_CYC": params.cycles(self.t_gap_s, "t_gap_s"),
            "REG_RESET_EN": int(self.reset_enabled),
            "REG_TOL": self.tolerance_codes,
            "REG_TOL_SHIFT": self.tolerance_shift,
            "REG_MAX_PULSES": self.max_pulses,
            "REG_ADAPT": int(self.adaptive) << load_register_map()["ADAPT_EN"],
            "REG_MIN_CYC": params.cycles(self.t_min_pulse_s, "t_min_pulse_s", minimum=0),
            "REG_STEP_WAIT": wait & 0xFFFF,
            "REG_STEP_WAIT_HI": wait >> 16,
        }


_TOL_SHIFT_MAX = 15  # REG_TOL_SHIFT holds 4 bits (tol_shift_r in hdl/xbar_ctrl.v)


def verify_window(target_code: int, tol: int, shift: int) -> int:
    """Verify window half-width (sense-ADC codes) of one device, as ``win_x`` in the controller.

    ``max(tol, target_code >> shift)`` if ``shift`` > 0, else ``tol``: the ``REG_TOL`` floor
    and the relative window of ``REG_TOL_SHIFT`` (shift 5 → 1/32 = 3.125 % of the target).
    A read code ``c`` is in the window (device flagged ok) iff
    ``abs(c - target_code) <= verify_window(target_code, tol, shift)``; below it the
    controller writes, above it it erases.  The one Python statement of this rule: monitors,
    result checks and the NumPy twin (:mod:`cosim.twin.program`) all call it.

    Args:
        target_code: target sense-ADC code (>= 0).
        tol: the ``REG_TOL`` value (codes, >= 0).
        shift: the ``REG_TOL_SHIFT`` value (0..15; 0 = off).

    Raises:
        UsageError: a negative argument or a shift outside 0..15.
    """
    t, k, s = int(target_code), int(tol), int(shift)
    if t < 0 or k < 0 or not 0 <= s <= _TOL_SHIFT_MAX:
        raise UsageError(
            f"verify_window(target_code={t}, tol={k}, shift={s}): need target_code >= 0, "
            f"tol >= 0, shift in 0..{_TOL_SHIFT_MAX}"
        )
    return max(k, t >> s) if s else k


def halve_width_cycles(width_cyc: int, min_cyc: int) -> int:
    """Width after one direction reversal: ``max(w // 2, min(w, m))`` with ``m = max(min_cyc, 1)``.

    The same integer rule as ``wcur_next``/``ecur_next`` in ``hdl/xbar_ctrl.v``: the width
    halves (rounding down) but never goes below the minimum, and a width already below the
    minimum is kept (adaptation never lengthens a pulse).

    Args:
        width_cyc: current width (clock cycles, >= 1).
        min_cyc: the ``REG_MIN_CYC`` register value (0 acts as 1).
    """
    m = max(min_cyc, 1)
    return max(width_cyc // 2, min(width_cyc, m))


def adaptive_widths_cycles(
    write_cyc: int, erase_cyc: int, min_cyc: int
) -> tuple[tuple[int, int], ...]:
    """(write, erase) widths in cycles after 0, 1, 2 … reversals, up to the fixed point.

    Entry ``n`` holds the widths the controller uses for a device after its ``n``-th direction
    reversal; beyond the last entry the widths stay at the last entry.  Register values of 0
    act as 1 (as in the controller).
    """
    w, e = max(write_cyc, 1), max(erase_cyc, 1)
    levels = [(w, e)]
    while True:
        nxt = (halve_width_cycles(w, min_cyc), halve_width_cycles(e, min_cyc))
        if nxt == (w, e):
            return tuple(levels)
        w, e = nxt
        levels.append(nxt)


class PulseWidths(dict[int, int]):
    """Pulse width (clock cycles) by phase code, plus the adaptation setting.

    For write and erase the value is the width of a device's first pulses; with
    ``adaptive_min_cycles`` set (adaptation on, the ``REG_MIN_CYC`` value) later pulses of a
    device follow :func:`adaptive_widths_cycles`.

    Args:
        widths: phase code → width in cycles.
        adaptive_min_cycles: ``REG_MIN_CYC`` if adaptive mode is on, else None.
    """

    def __init__(self, widths: Mapping[int, int], adaptive_min_cycles: int | None = None):
        super().__init__(widths)
        self.adaptive_min_cycles = adaptive_min_cycles


#: Relative verify window ``REG_TOL_SHIFT``: half-width ``target >> 5`` = 3.125 % of the target.
TOLERANCE_SHIFT = 5
#: Floor of the verify window (``REG_TOL``, sense-ADC codes) for small target codes.
TOLERANCE_FLOOR_CODES = 1
MAX_PULSES = 200


def verify_tolerance(target_codes: Any) -> int:
    """The ``REG_TOL`` value (codes) for these target codes: the floor of the relative window.

    The window of device k is ``policy.verify_window(code_k, tol, TOLERANCE_SHIFT)``, i.e.
    ``max(TOLERANCE_FLOOR_CODES, code_k >> TOLERANCE_SHIFT)``: every device ends within
    3.125 % of its target read code, whatever the spread of the targets (one absolute window
    sized on the smallest target left the largest ones a window too narrow to hit).

    Raises:
        UsageError: no target codes.
    """

    if len(target_codes) == 0:
        raise UsageError("verify_tolerance: no target codes given")
    return TOLERANCE_FLOOR_CODES


def pulse_scheme(
    card: DeviceCard,
    reset_enabled: bool,
    tolerance_codes: int,
    t_step_wait_s: float = 0.0,
    tolerance_shift: int = TOLERANCE_SHIFT,
) -> PulseScheme:
    """The controller's pulse scheme for a card (from its ``[operation]`` table).

    Adaptive write-verify is on: at every direction reversal of a device the write and erase
    widths halve, down to one clock period of the harness (1 µs), see docs/controller.md.
    ``t_step_wait_s`` is the host/MCU latency after every verify read (``REG_STEP_WAIT``).
    The verify window is relative (``REG_TOL_SHIFT = tolerance_shift``) with ``REG_TOL =
    tolerance_codes`` as its floor (:func:`cosim.harness.verify_window`).
    """

    op = card.operation
    return PulseScheme(
        **asdict(op.pulses()),
        t_read_sample_s=op.t_read_s / 2,
        reset_enabled=reset_enabled,
        tolerance_codes=tolerance_codes,
        max_pulses=MAX_PULSES,
        adaptive=True,
        t_min_pulse_s=1e-6,
        t_step_wait_s=t_step_wait_s,
        tolerance_shift=tolerance_shift,
    )
