"""Device cards: M-SDC memristor parameters (TOML), their validation, and seeded D2D variation.

A card (``va_models/cards/<name>.toml``) holds the generalized mean MSS parameters of one device
type (the ``[model]`` table, keys = the Verilog-A parameter names of ``mss_memristor``), the
initial resistance, the device-to-device spread, the size of the stochastic (cycle-to-cycle)
variant and a recommended pulse scheme.  :func:`load_card` reads and validates a card; every
error names the card file, the field and the allowed range.  :func:`draw_variation` draws
per-device multipliers of ``r_on, r_off, v_on, v_off, tau`` from an explicit seed; they are
passed to the Verilog-A model as instance parameters ``m_*`` and to the NumPy twin.

Equations, sources and the derivation of every card number: ``docs/device-model.md``.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, overload

import numpy as np
from numpy.typing import NDArray

from cosim.errors import UsageError
from cosim.resources import cards_dir

__all__ = [
    "CARDS_DIR",
    "CardError",
    "MIN_OFF_ON_RATIO",
    "Z_CLIP",
    "DeviceCard",
    "MSSParams",
    "Operation",
    "Spread",
    "Variation",
    "draw_variation",
    "known_cards",
    "load_card",
    "nominal_variation",
    "resistance_from_x",
    "x_from_resistance",
]

#: Directory of the project's device cards.
CARDS_DIR = cards_dir()

_INF = math.inf


class CardError(UsageError):
    """A device card is missing, unknown, malformed or holds a value outside its range."""


@dataclass(frozen=True)
class MSSParams:
    """Generalized mean MSS model parameters (the ``mss_memristor`` model parameters).

    Attributes:
        r_on: ON (fully set, x = 1) resistance of the memristive branch (Ω).
        r_off: OFF (fully reset, x = 0) resistance of the memristive branch (Ω).
        v_on: set threshold, positive (V): switching ON becomes likely above +v_on.
        v_off: reset threshold, positive number (V): switching OFF becomes likely below −v_off.
        tau: switching time constant: the fastest rate of change of x is 1/tau (s).
        t_eff: effective temperature giving the threshold sharpness V_T = k·t_eff/q (K).
        phi: fraction of the current carried by the memristive branch (1, 0..1).
        alpha_f: forward Schottky-branch prefactor (A).
        alpha_r: reverse Schottky-branch prefactor (A).
        beta_f: forward Schottky-branch exponent (1/V).
        beta_r: reverse Schottky-branch exponent (1/V).
    """

    r_on: float
    r_off: float
    v_on: float
    v_off: float
    tau: float
    t_eff: float
    phi: float
    alpha_f: float
    alpha_r: float
    beta_f: float
    beta_r: float

    def va_params(self) -> dict[str, float]:
        """The Verilog-A model parameters ``{name: value}`` (SI units), in declaration order."""
        return {f.name: float(getattr(self, f.name)) for f in fields(self)}

    @property
    def v_t_V(self) -> float:
        """Thermal voltage k·t_eff/q (V)."""
        return _K_B * self.t_eff / _Q_E


@dataclass(frozen=True)
class Spread:
    """Device-to-device variation of a card (the ``[spread]`` table).

    Attributes:
        r_on_sigma_ln: standard deviation of ln(r_on) (1): r_on is lognormal around nominal.
        r_off_sigma_ln: standard deviation of ln(r_off) (1).
        v_on_sigma_V: standard deviation of v_on, normal around nominal (V).
        v_off_sigma_V: standard deviation of v_off, normal around nominal (V).
        tau_sigma_ln: standard deviation of ln(tau) (1).
        v_floor_frac: lower clip of both thresholds as a fraction of nominal (1), so that no
            drawn device becomes volatile.
    """

    r_on_sigma_ln: float
    r_off_sigma_ln: float
    v_on_sigma_V: float
    v_off_sigma_V: float
    tau_sigma_ln: float
    v_floor_frac: float


@dataclass(frozen=True)
class Pulses:
    """The pulses of a write-verify scheme in physical units — defined once, shared by a card's
    recommended scheme (:class:`Operation`) and the controller's (``PulseScheme``).

    Attributes:
        v_write_V: write (set, G up) pulse amplitude at the source, positive (V).
        t_write_s: write pulse width (s).
        v_erase_V: erase (reset, G down) pulse amplitude at the source, negative (V).
        t_erase_s: erase pulse width (s).
        v_reset_V: amplitude of the full reset before programming, negative (V).
        t_reset_s: width of the full reset pulse (s).
        v_read_V: read voltage at the source, positive (V).
        t_read_s: read pulse width (s).
        t_gap_s: idle time (0 V) after every pulse (s).
    """

    v_write_V: float
    t_write_s: float
    v_erase_V: float
    t_erase_s: float
    v_reset_V: float
    t_reset_s: float
    v_read_V: float
    t_read_s: float
    t_gap_s: float

    def pulses(self) -> Pulses:
        """Just the pulse fields (of a subclass instance)."""
        return Pulses(**{f.name: getattr(self, f.name) for f in fields(Pulses)})


@dataclass(frozen=True)
class Operation(Pulses):
    """Recommended pulse scheme of a card (the ``[operation]`` table); device seen alone.

    Attributes (besides :class:`Pulses`):
        r_series_ohm: series (compliance) resistor between source and device (Ω).
        g_min_S: lowest conductance the scheme programs reliably (device alone) (S).
        g_max_S: highest conductance the scheme programs reliably (device alone) (S).
    """

    r_series_ohm: float
    g_min_S: float
    g_max_S: float


@dataclass(frozen=True)
class DeviceCard:
    """One validated device card.

    Attributes:
        name: card name (the file stem, e.g. ``"Cr"``).
        path: the TOML file.
        summary: one-line description.
        provenance: where every number comes from ([M]/[S]/[D]/[I] tags, see DEVICES.md).
        model: the nominal MSS parameters.
        r_init_ohm: initial (as-fabricated) resistance of the memristive branch (Ω).
        x0: initial state derived from ``r_init_ohm`` (1, 0..1).
        spread: device-to-device variation.
        n_switches: number of metastable switches of the stochastic variant (1).
        operation: recommended pulse scheme.
    """

    name: str
    path: Path
    summary: str
    provenance: str
    model: MSSParams
    r_init_ohm: float
    x0: float
    spread: Spread
    n_switches: int
    operation: Operation


# ----------------------------------------------------------------------------- conversions

_K_B = 1.380649e-23  # J/K
_Q_E = 1.602176634e-19  # C

FloatOrArray = float | NDArray[np.float64]


@overload
def x_from_resistance(r_ohm: float, params: MSSParams) -> float: ...
@overload
def x_from_resistance(r_ohm: NDArray[np.float64], params: MSSParams) -> NDArray[np.float64]: ...
def x_from_resistance(r_ohm: FloatOrArray, params: MSSParams) -> FloatOrArray:
    """State x whose memristive-branch resistance is ``r_ohm`` (1).

    x = (1/R − 1/R_off) / (1/R_on − 1/R_off),
    equal to PAPER.md's x₀ = R_on (R − R_off) / (R (R_on − R_off)).

    Raises:
        UsageError: ``r_ohm`` lies outside [r_on, r_off].
    """
    r = np.asarray(r_ohm, dtype=float)
    lo, hi = params.r_on, params.r_off
    if np.any(~((r >= lo * (1 - 1e-12)) & (r <= hi * (1 + 1e-12)))):
        raise UsageError(f"resistance {r_ohm} Ω outside the model's range [{lo:g}, {hi:g}] Ω")
    x = np.clip((1.0 / r - 1.0 / hi) / (1.0 / lo - 1.0 / hi), 0.0, 1.0)
    return float(x) if x.ndim == 0 else x


@overload
def resistance_from_x(x: float, params: MSSParams) -> float: ...
@overload
def resistance_from_x(x: NDArray[np.float64], params: MSSParams) -> NDArray[np.float64]: ...
def resistance_from_x(x: FloatOrArray, params: MSSParams) -> FloatOrArray:
    """Memristive-branch resistance 1/G(x), G(x) = x/R_on + (1 − x)/R_off (Ω).

    Raises:
        UsageError: ``x`` lies outside [0, 1].
    """
    xa = np.asarray(x, dtype=float)
    if np.any(~((xa >= 0.0) & (xa <= 1.0))):
        raise UsageError(f"state x = {x} outside [0, 1]")
    r = 1.0 / (xa / params.r_on + (1.0 - xa) / params.r_off)
    return float(r) if r.ndim == 0 else r


# ----------------------------------------------------------------------------- loading

# (low, high, low inclusive, high inclusive) per field; units in the dataclass docstrings.
_MODEL_RANGES: dict[str, tuple[float, float, bool, bool]] = {
    "r_on": (0.0, _INF, False, False),
    "r_off": (0.0, _INF, False, False),
    "v_on": (0.0, 10.0, False, True),
    "v_off": (0.0, 10.0, False, True),
    "tau": (0.0, 1e3, False, True),
    "t_eff": (0.0, 1e4, False, True),
    "phi": (0.0, 1.0, True, True),
    "alpha_f": (0.0, 1.0, True, True),
    "alpha_r": (0.0, 1.0, True, True),
    "beta_f": (0.0, 100.0, True, True),
    "beta_r": (0.0, 100.0, True, True),
}
_SPREAD_RANGES: dict[str, tuple[float, float, bool, bool]] = {
    "r_on_sigma_ln": (0.0, 3.0, True, True),
    "r_off_sigma_ln": (0.0, 3.0, True, True),
    "v_on_sigma_V": (0.0, 1.0, True, True),
    "v_off_sigma_V": (0.0, 1.0, True, True),
    "tau_sigma_ln": (0.0, 3.0, True, True),
    "v_floor_frac": (0.0, 1.0, False, True),
}
_OPERATION_RANGES: dict[str, tuple[float, float, bool, bool]] = {
    "v_write_V": (0.0, 10.0, False, True),
    "t_write_s": (0.0, 1.0, False, True),
    "v_erase_V": (-10.0, 0.0, True, False),
    "t_erase_s": (0.0, 1.0, False, True),
    "v_reset_V": (-10.0, 0.0, True, False),
    "t_reset_s": (0.0, 1.0, False, True),
    "v_read_V": (0.0, 1.0, False, True),
    "t_read_s": (0.0, 1.0, False, True),
    "t_gap_s": (0.0, 1.0, True, True),
    "r_series_ohm": (0.0, 1e9, True, True),
    "g_min_S": (0.0, _INF, False, False),
    "g_max_S": (0.0, _INF, False, False),
}
_TOP_KEYS = {"name", "summary", "provenance", "model", "initial", "spread", "stochastic"}
_TOP_KEYS.add("operation")


def known_cards() -> list[str]:
    """Names of the cards in ``va_models/cards/`` (file stems), sorted."""
    return sorted(p.stem for p in CARDS_DIR.glob("*.toml"))


def _range_text(lo: float, hi: float, lo_in: bool, hi_in: bool) -> str:
    return f"{'[' if lo_in else '('}{lo:g}, {hi:g}{']' if hi_in else ')'}"


class _Reader:
    """Checks one card's tables, raising CardError that names the file and the field."""

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path = path
        self.data = data

    def fail(self, field: str, message: str) -> CardError:
        return CardError(f"device card {self.path}: field {field!r}: {message}")

    def string(self, key: str) -> str:
        if key not in self.data:
            raise self.fail(key, "missing (a string is required)")
        value = self.data[key]
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, f"must be a non-empty string, got {value!r}")
        return value.strip()

    def table(self, key: str, expected: set[str]) -> dict[str, Any]:
        if key not in self.data:
            raise self.fail(key, f"missing table [{key}] with keys {sorted(expected)}")
        table = self.data[key]
        if not isinstance(table, dict):
            raise self.fail(key, f"must be a table [{key}], got {type(table).__name__}")
        unknown = sorted(set(table) - expected)
        if unknown:
            raise self.fail(f"{key}.{unknown[0]}", f"unknown key; allowed: {sorted(expected)}")
        missing = sorted(expected - set(table))
        if missing:
            raise self.fail(f"{key}.{missing[0]}", f"missing; required keys: {sorted(expected)}")
        return table

    def number(self, table: str, key: str, rng: tuple[float, float, bool, bool]) -> float:
        value = self.data[table][key]
        where = f"{table}.{key}"
        allowed = _range_text(*rng)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(where, f"must be a number in {allowed}, got {value!r}")
        v = float(value)
        lo, hi, lo_in, hi_in = rng
        ok = math.isfinite(v) and (v >= lo if lo_in else v > lo) and (v <= hi if hi_in else v < hi)
        if not ok:
            raise self.fail(where, f"value {value!r} outside the allowed range {allowed}")
        return v

    def numbers(self, table: str, ranges: dict[str, tuple[float, float, bool, bool]]) -> dict:
        self.table(table, set(ranges))
        return {k: self.number(table, k, r) for k, r in ranges.items()}


def _resolve(name_or_path: str | Path) -> Path:
    text = str(name_or_path)
    is_path = isinstance(name_or_path, Path) or "/" in text or text.endswith(".toml")
    if is_path:
        path = Path(name_or_path).expanduser()
        if path.is_dir():
            raise CardError(f"device card {path} is a directory; give a .toml card file")
        if not path.is_file():
            raise CardError(f"device card file {path} does not exist")
        return path.resolve()
    path = CARDS_DIR / f"{text}.toml"
    if not path.is_file():
        raise CardError(
            f"unknown device card {text!r}; known cards: {', '.join(known_cards())} "
            f"(or give the path of a .toml card)"
        )
    return path


def load_card(name_or_path: str | Path) -> DeviceCard:
    """Read and validate a device card by name (``"Cr"``) or by path to a ``.toml`` file.

    Raises:
        CardError: unknown name (the message lists the known cards), unreadable TOML, a missing
            or unknown key, or a value outside its range (the message names the file, the field
            and the allowed range).
    """
    path = _resolve(name_or_path)
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CardError(f"device card {path}: not valid TOML: {exc}") from exc
    rd = _Reader(path, data)
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise rd.fail(unknown[0], f"unknown top-level key; allowed: {sorted(_TOP_KEYS)}")
    name = rd.string("name")
    if name != path.stem:
        raise rd.fail("name", f"must equal the file name stem {path.stem!r}, got {name!r}")
    summary, provenance = rd.string("summary"), rd.string("provenance")

    model = MSSParams(**rd.numbers("model", _MODEL_RANGES))
    if not model.r_off > model.r_on:
        raise rd.fail("model.r_off", f"must exceed model.r_on = {model.r_on:g} Ω")

    rd.table("initial", {"r_init"})
    r_init = rd.number("initial", "r_init", (model.r_on, model.r_off, True, True))
    x0 = x_from_resistance(r_init, model)

    spread = Spread(**rd.numbers("spread", _SPREAD_RANGES))

    rd.table("stochastic", {"n_switches"})
    n_sw = data["stochastic"]["n_switches"]
    if isinstance(n_sw, bool) or not isinstance(n_sw, int) or not 1 <= n_sw <= 10**9:
        raise rd.fail("stochastic.n_switches", f"must be an integer in [1, 1e9], got {n_sw!r}")

    op = Operation(**rd.numbers("operation", _OPERATION_RANGES))
    g_lo, g_hi = 1.0 / model.r_off, 1.0 / model.r_on
    for key in ("g_min_S", "g_max_S"):
        g = getattr(op, key)
        if not g_lo * (1 - 1e-9) <= g <= g_hi * (1 + 1e-9):
            raise rd.fail(
                f"operation.{key}",
                f"value {g:g} S outside the model's window [1/r_off, 1/r_on] = "
                f"[{g_lo:g}, {g_hi:g}] S",
            )
    if not op.g_max_S > op.g_min_S:
        raise rd.fail("operation.g_max_S", f"must exceed operation.g_min_S = {op.g_min_S:g} S")
    if not op.v_read_V < model.v_on:
        raise rd.fail("operation.v_read_V", f"must be below model.v_on = {model.v_on:g} V")
    return DeviceCard(
        name=name,
        path=path,
        summary=summary,
        provenance=provenance,
        model=model,
        r_init_ohm=r_init,
        x0=x0,
        spread=spread,
        n_switches=int(n_sw),
        operation=op,
    )


# ----------------------------------------------------------------------------- variation

#: Drawn r_off is clipped to at least this multiple of the same device's drawn r_on.
MIN_OFF_ON_RATIO = 2.0
#: Standard-normal draws of the variation are truncated at ± this many σ.
Z_CLIP = 3.0


@dataclass(frozen=True)
class Variation:
    """Per-device multipliers of the nominal parameters (device-to-device variation).

    Attributes:
        m_r_on: multipliers of r_on, shape (n,) (1).
        m_r_off: multipliers of r_off, shape (n,) (1).
        m_v_on: multipliers of v_on, shape (n,) (1).
        m_v_off: multipliers of v_off, shape (n,) (1).
        m_tau: multipliers of tau, shape (n,) (1).
        nominal: the card's nominal parameters the multipliers apply to.
    """

    m_r_on: NDArray[np.float64]
    m_r_off: NDArray[np.float64]
    m_v_on: NDArray[np.float64]
    m_v_off: NDArray[np.float64]
    m_tau: NDArray[np.float64]
    nominal: MSSParams | None = None

    def __post_init__(self) -> None:
        shapes = {np.shape(getattr(self, n)) for n in _MULT_NAMES}
        if len(shapes) != 1 or len(next(iter(shapes))) != 1:
            raise UsageError(f"multiplier arrays must share one shape (n,), got {sorted(shapes)}")

    def __len__(self) -> int:
        return int(np.shape(self.m_r_on)[0])

    def instance_params(self, k: int) -> dict[str, float]:
        """Instance parameters ``m_r_on … m_tau`` of device ``k`` for ``mss_memristor``."""
        self._check(k)
        return {n: float(getattr(self, n)[k]) for n in _MULT_NAMES}

    def effective(self, k: int) -> MSSParams:
        """The parameters of device ``k``: the nominal ones times its multipliers.

        Raises:
            UsageError: the variation was built without nominal parameters, or ``k`` is out of
                range.
        """
        self._check(k)
        if self.nominal is None:
            raise UsageError("this Variation has no nominal parameters; use draw_variation(card)")
        values = self.nominal.va_params()
        for name, mult in zip(_MULT_TARGETS, _MULT_NAMES, strict=True):
            values[name] *= float(getattr(self, mult)[k])
        return MSSParams(**values)

    def _check(self, k: int) -> None:
        if not 0 <= k < len(self):
            raise UsageError(f"device index {k} out of range 0..{len(self) - 1}")


_MULT_NAMES = ("m_r_on", "m_r_off", "m_v_on", "m_v_off", "m_tau")
_MULT_TARGETS = ("r_on", "r_off", "v_on", "v_off", "tau")


def nominal_variation(n: int, card: DeviceCard | None = None) -> Variation:
    """``n`` devices without variation (all multipliers 1)."""
    if n < 1:
        raise UsageError(f"number of devices must be >= 1, got {n}")
    ones = np.ones(n)
    nominal = card.model if card is not None else None
    return Variation(ones.copy(), ones.copy(), ones.copy(), ones.copy(), ones.copy(), nominal)


def draw_variation(card: DeviceCard, n: int, seed: int) -> Variation:
    """Draw ``n`` devices' multipliers from the card's ``[spread]`` with an explicit seed.

    r_on, r_off and tau are lognormal around nominal (median = nominal), v_on and v_off normal
    around nominal with their σ in volts.  Clipping: thresholds at least ``v_floor_frac`` ×
    nominal (no volatile device); r_off at least ``MIN_OFF_ON_RATIO`` × the device's r_on.
    Device k's values depend only on (seed, k): they are the k-th row of one
    ``standard_normal((n, 5))`` draw, so more devices extend, never reshuffle, a population.
    """
    if n < 1:
        raise UsageError(f"number of devices must be >= 1, got {n}")
    s, m = card.spread, card.model
    z = np.clip(np.random.default_rng(seed).standard_normal((n, 5)), -Z_CLIP, Z_CLIP)
    m_r_on = np.exp(s.r_on_sigma_ln * z[:, 0])
    m_r_off = np.exp(s.r_off_sigma_ln * z[:, 1])
    m_r_off = np.maximum(m_r_off, MIN_OFF_ON_RATIO * m_r_on * m.r_on / m.r_off)
    m_v_on = np.maximum(1.0 + s.v_on_sigma_V * z[:, 2] / m.v_on, s.v_floor_frac)
    m_v_off = np.maximum(1.0 + s.v_off_sigma_V * z[:, 3] / m.v_off, s.v_floor_frac)
    m_tau = np.exp(s.tau_sigma_ln * z[:, 4])
    return Variation(m_r_on, m_r_off, m_v_on, m_v_off, m_tau, m)
