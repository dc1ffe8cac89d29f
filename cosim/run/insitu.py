"""In-situ training on the crossbar (sign / Manhattan rule) compared with program-to-target.

Beyond the paper (arXiv 2408.14680 programs offline-trained targets by write-verify): here the
network learns *on the crossbar*.  Every step

1. reads the current device states as conductances (:meth:`Crossbar.conductance`) and forms the
   weights the circuit actually applies, ``w = r_f · (G_branch − g_ref)`` with the branch
   conductance of device + inference path (:mod:`cosim.circuit.network`);
2. presents a mini-batch of training images (optionally with input noise) and computes the
   gradient of the loss the offline training uses (:func:`cosim.learn.train.train`: logistic loss on
   ``(y − v_o_max/2) / t_loss`` with the smooth-clip surrogate of the neurons);
3. applies the Manhattan rule: every device whose weight gradient magnitude exceeds
   ``threshold · max|gradient|`` gets **one** pulse, a write pulse (``v_write_V``, G up) when the
   loss falls with a larger weight, an erase pulse (``v_erase_V``, G down) otherwise, of width
   ``t_pulse_s``, through the read/programming path (:func:`cosim.circuit.mss.apply_pulse` with
   ``spec.r_read_path_ohm``).  No verify read is needed for the rule, but the controller reads
   the device after a pulse anyway, so the time estimate counts one read per pulse.

The device model is the mean MSS model (no cycle-to-cycle noise), the same as the
program-to-target twin used for the comparison (:func:`cosim.twin.program.crossbar_twin`, with
``rng=None``).  Both are twin-level (NumPy) results, not co-simulations.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit

from cosim.circuit import mss, network
from cosim.circuit.devices import DeviceCard, load_card
from cosim.crossbar import Crossbar, make_crossbar
from cosim.errors import UsageError
from cosim.harness.contract import default_harness
from cosim.learn import data, train
from cosim.topology import DEFAULT
from cosim.twin.program import card_program_setup, crossbar_twin

__all__ = [
    "DEFAULT_T_PULSE_S",
    "InSituConfig",
    "CurvePoint",
    "InSituResult",
    "ProgramResult",
    "Comparison",
    "train_in_situ",
    "program_to_target",
    "compare",
    "accuracy",
    "init_pulses",
]

FloatArray = NDArray[np.float64]

#: Default pulse width: the smallest width of the controller's adaptive scheme (1 µs,
#: ``ProgramSetup.width_levels`` of the default harness).
DEFAULT_T_PULSE_S = 1e-6

#: Input-noise level of the "noisy" accuracy of :func:`compare` (relative to v_read).
NOISY_INPUT = 0.1


@dataclass(frozen=True)
class InSituConfig:
    """Hyper-parameters of :func:`train_in_situ`.

    Attributes:
        epochs: passes over the training set.
        batch: images per update (mini-batch).
        threshold: a device is pulsed when ``|grad| > threshold · max|grad|`` of the step
            (relative, in [0, 1)).
        t_pulse_s: width of every write/erase pulse (s).
        input_noise: relative Gaussian input noise during training (0: clean).
        smooth: width of the smooth activation surrogate relative to each neuron's range.
        t_loss_V: temperature of the logistic loss (V).
        init_pulses: blind (unverified) write pulses given to every layer-1 and every layer-2
            device before training, ``(n1, n2)``; ``None``: :func:`init_pulses` of the card.
    """

    epochs: int = 30
    batch: int = 8
    threshold: float = 0.3
    t_pulse_s: float = DEFAULT_T_PULSE_S
    input_noise: float = 0.0
    smooth: float = train.TrainConfig.smooth
    t_loss_V: float = train.TrainConfig.t_loss_V
    init_pulses: tuple[int, int] | None = None

    def check(self) -> None:
        """Raise :class:`UsageError` naming the offending field."""
        if self.epochs < 0:
            raise UsageError(f"insitu epochs must be >= 0, got {self.epochs!r}")
        if self.batch < 1:
            raise UsageError(f"insitu batch must be >= 1, got {self.batch!r}")
        if not 0.0 <= self.threshold < 1.0:
            raise UsageError(f"insitu threshold must lie in [0, 1), got {self.threshold!r}")
        if self.t_pulse_s <= 0:
            raise UsageError(f"insitu t_pulse_s must be > 0 s, got {self.t_pulse_s!r}")
        if not 0.0 <= self.input_noise <= 1.0:
            raise UsageError(f"insitu input_noise must lie in [0, 1], got {self.input_noise!r}")
        if self.init_pulses is not None and min(self.init_pulses) < 0:
            raise UsageError(f"insitu init_pulses must be >= 0, got {self.init_pulses!r}")


@dataclass(frozen=True)
class CurvePoint:
    """One point of a learning curve: cumulative pulses and accuracies (clean hard-clip forward).

    Attributes:
        pulses: pulses applied so far.  train_acc: training-set accuracy.  test_acc: test-set.
    """

    pulses: int
    train_acc: float
    test_acc: float


@dataclass(frozen=True)
class InSituResult:
    """Outcome of :func:`train_in_situ`.

    Attributes:
        x: final device states (30,).  g_S: final device conductances (S).
        pulses: pulses applied per device (30,).  n_writes, n_erases: totals by kind.
        steps: updates made.  curve: learning curve (initial states, after the blind
            initialisation, then one point per epoch).
        t_program_s: estimated time of the pulses (each: select setup + pulse + hold/gap + the
            controller's read), s.  t_forward_s: estimated time of the forward passes (one read
            pulse per image presented), s.
    """

    x: FloatArray
    g_S: FloatArray
    pulses: NDArray[np.int64]
    n_writes: int
    n_erases: int
    steps: int
    curve: list[CurvePoint] = field(default_factory=list)
    t_program_s: float = 0.0
    t_forward_s: float = 0.0

    @property
    def total_pulses(self) -> int:
        """All pulses applied."""
        return int(self.pulses.sum())


@dataclass(frozen=True)
class ProgramResult:
    """Program-to-target by write-verify (:func:`program_to_target`).

    Attributes:
        g_S: final device conductances (S).  pulses: pulses per device.  ok: devices in window.
        curve: accuracy after each device is programmed, in select-line order (the controller's).
        t_program_s: estimated time: per device a reset pulse and one read, per pulse select
            setup + pulse (configured width) + hold/gap + read (s).
    """

    g_S: FloatArray
    pulses: NDArray[np.int64]
    ok: NDArray[np.bool_]
    curve: list[CurvePoint]
    t_program_s: float

    @property
    def total_pulses(self) -> int:
        """All write/erase pulses (the reset pulses are not counted, as in the controller)."""
        return int(self.pulses.sum())


@dataclass(frozen=True)
class Comparison:
    """:func:`compare` of the two methods on one crossbar (card, seed).

    ``acc`` maps ``"insitu"``/``"program"`` → ``{"clean": …, "noisy": …}`` test accuracies
    (noisy: :data:`NOISY_INPUT` Gaussian input noise, averaged over repeats).
    """

    card: str
    seed: int
    insitu: InSituResult
    program: ProgramResult
    acc: dict[str, dict[str, float]]

    def row(self) -> dict[str, float | int | str]:
        """A flat summary for tables and JSON."""
        return {
            "card": self.card,
            "seed": self.seed,
            "insitu_clean": self.acc["insitu"]["clean"],
            "insitu_noisy": self.acc["insitu"]["noisy"],
            "insitu_pulses": self.insitu.total_pulses,
            "insitu_t_s": self.insitu.t_program_s + self.insitu.t_forward_s,
            "program_clean": self.acc["program"]["clean"],
            "program_noisy": self.acc["program"]["noisy"],
            "program_pulses": self.program.total_pulses,
            "program_t_s": self.program.t_program_s,
        }


def _layers(xbar: Crossbar, x: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Branch conductances (what the columns sum) of states ``x`` as (9×3, 3)."""
    return xbar.split_layers(xbar.branch_conductance(xbar.conductance(x)))


def accuracy(xbar: Crossbar, x: FloatArray, dataset: data.Dataset) -> float:
    """Clean accuracy of the circuit (hard clip) with devices at states ``x``."""
    g1, g2 = _layers(xbar, x)
    _, y = network.forward(xbar.spec, g1, g2, data.to_voltages(dataset.x, xbar.spec.v_read_V))
    return float(np.mean(network.classify(xbar.spec, y) == dataset.y))


def _gradient(
    spec: network.CircuitSpec,
    w1: FloatArray,
    w2: FloatArray,
    v: FloatArray,
    t: FloatArray,
    cfg: InSituConfig,
) -> FloatArray:
    """Gradient of the offline loss w.r.t. all 30 weights (select-line order)."""
    thr = 0.5 * spec.v_o_max_V
    s1, s2 = cfg.smooth * spec.v_h_max_V, cfg.smooth * spec.v_o_max_V
    h, dh = train.smooth_clip(v @ w1, spec.v_h_max_V, s1)
    y, dy = train.smooth_clip(h @ w2, spec.v_o_max_V, s2)
    z = (y - thr) / cfg.t_loss_V
    g_u2 = (expit(z) - t) / (cfg.t_loss_V * z.size) * dy
    g_w2 = g_u2 @ h
    g_w1 = v.T @ (g_u2[:, None] * w2[None, :] * dh)
    return np.concatenate([g_w1.ravel(), g_w2])


def _pulse_time_s(xbar: Crossbar, t_pulse_s: float) -> float:
    """Select setup + pulse + hold/gap + read of the controller (default harness timing)."""
    tm = _timing(xbar)
    return tm["t_setup_s"] + t_pulse_s + tm["t_after_s"] + _read_time_s(tm)


def _read_time_s(tm: dict[str, float]) -> float:
    return tm["t_setup_s"] + tm["t_read_s"] + tm["t_after_s"] + tm["t_step_wait_s"]


def _timing(xbar: Crossbar) -> dict[str, float]:

    setup, _ = card_program_setup(xbar.card, xbar.spec, xbar.g_target_S, default_harness())
    return setup.timing()


def init_pulses(
    xbar: Crossbar, t_pulse_s: float = DEFAULT_T_PULSE_S, *, max_pulses: int = 1000
) -> tuple[int, int]:
    """Blind write pulses that bring the *nominal* device (card parameters, no variation) from
    the initial state to weight 0 (layer 1) and to half the largest weight (layer 2).

    Starting from the reset state every weight sits at the bottom of the window: all hidden
    neurons are cut off and the output cannot exceed 0 V, so every gradient vanishes (it
    carries a factor ``exp(−|u|/s)`` of the smooth clip).  The offline training starts the same
    way (small layer-1, positive layer-2 weights); device-to-device variation of the pulse
    response spreads the blind-initialised weights, which breaks the symmetry of the hidden
    neurons as random initialisation does.
    """
    spec, op = xbar.spec, xbar.card.operation
    nominal = mss.MSSArrays.from_params(xbar.card.model)
    r_f = spec.r_f1_ohm
    targets = (0.0, 0.5 * spec.w_max[1])
    x = np.array([float(xbar.card.x0)])
    out = [-1, -1]
    for n in range(max_pulses + 1):
        gb = 1.0 / (spec.r_infer_path_ohm + 1.0 / float(mss.conductance(nominal, x)[0]))
        w = r_f * (gb - spec.g_ref1_S)
        for k, tgt in enumerate(targets):
            if out[k] < 0 and w >= tgt:
                out[k] = n
        if min(out) >= 0:
            return out[0], out[1]
        x = mss.apply_pulse(nominal, x, op.v_write_V, t_pulse_s, spec.r_read_path_ohm)
    raise UsageError(
        f"card {xbar.card.name}: {max_pulses} write pulses of {t_pulse_s} s do not reach the "
        "initial weights; use a longer t_pulse_s or set init_pulses"
    )


def _as_card(card: str | DeviceCard) -> DeviceCard:
    return card if isinstance(card, DeviceCard) else load_card(card)


def train_in_situ(
    card: str | DeviceCard,
    seed: int,
    *,
    epochs: int = InSituConfig.epochs,
    batch: int = InSituConfig.batch,
    config: InSituConfig | None = None,
    xbar: Crossbar | None = None,
) -> InSituResult:
    """Train the crossbar of ``(card, seed)`` in situ with single Manhattan-rule pulses.

    Starts from the crossbar's initial (reset) states ``x0``.  The image order (a fresh
    permutation every epoch) and the training input noise come from ``numpy.random
    .default_rng(seed)``: the same arguments give identical results.

    Args:
        card: card name, path or loaded card.
        seed: seed of the device draw (:func:`cosim.crossbar.make_crossbar`) and of training.
        epochs: passes over the training set (overrides ``config.epochs``).
        batch: images per update (overrides ``config.batch``).
        config: the other hyper-parameters (threshold, pulse width, input noise …).
        xbar: the crossbar, if already built for ``(card, seed)`` (saves retraining targets).

    Returns:
        Final states and conductances, pulse counts, learning curve and time estimates.

    Raises:
        UsageError: a hyper-parameter is out of range.
    """
    from dataclasses import replace

    cfg = replace(config or InSituConfig(), epochs=epochs, batch=batch)
    cfg.check()
    xb = xbar if xbar is not None else make_crossbar(_as_card(card), seed)
    spec, op = xb.spec, xb.card.operation
    train_set, test_set = data.split(data.make_dataset())
    v_all = data.to_voltages(train_set.x, spec.v_read_V)
    t_all = train_set.y.astype(float)
    rng = np.random.default_rng(seed)
    x = xb.x0.astype(float).copy()
    pulses = np.zeros(x.size, dtype=np.int64)
    curve = [CurvePoint(0, accuracy(xb, x, train_set), accuracy(xb, x, test_set))]
    n1, n2 = cfg.init_pulses if cfg.init_pulses is not None else init_pulses(xb, cfg.t_pulse_s)
    n_init = np.where(np.arange(x.size) < DEFAULT.n_layer1, n1, n2)
    for k in range(int(n_init.max(initial=0))):
        on = n_init > k
        x = mss.apply_pulse(
            xb.params, x, op.v_write_V, np.where(on, cfg.t_pulse_s, 0.0), spec.r_read_path_ohm
        )
        pulses += on
    n_w = int(pulses.sum())
    n_e = steps = 0
    curve.append(CurvePoint(n_w, accuracy(xb, x, train_set), accuracy(xb, x, test_set)))
    for _ in range(cfg.epochs):
        order = rng.permutation(len(train_set))
        for start in range(0, order.size, cfg.batch):
            idx = order[start : start + cfg.batch]
            v = v_all[idx]
            if cfg.input_noise > 0:
                v = data.add_input_noise(v, cfg.input_noise, v_read_V=spec.v_read_V, rng=rng)
            g1, g2 = _layers(xb, x)
            w1, w2 = network.conductances_to_weights(spec, g1, g2)
            grad = _gradient(spec, w1, w2[:, 0], v, t_all[idx], cfg)  # one output neuron
            big = np.abs(grad) > cfg.threshold * np.abs(grad).max(initial=0.0)
            big &= grad != 0.0
            up = big & (grad < 0)
            down = big & (grad > 0)
            v_pulse = np.where(up, op.v_write_V, op.v_erase_V)
            t_pulse = np.where(big, cfg.t_pulse_s, 0.0)
            x = mss.apply_pulse(xb.params, x, v_pulse, t_pulse, spec.r_read_path_ohm)
            pulses += big
            n_w += int(up.sum())
            n_e += int(down.sum())
            steps += 1
        curve.append(
            CurvePoint(int(pulses.sum()), accuracy(xb, x, train_set), accuracy(xb, x, test_set))
        )
    tm = _timing(xb)
    n_images = steps and cfg.epochs * len(train_set)
    return InSituResult(
        x=x,
        g_S=xb.conductance(x),
        pulses=pulses,
        n_writes=n_w,
        n_erases=n_e,
        steps=steps,
        curve=curve,
        t_program_s=int(pulses.sum()) * _pulse_time_s(xb, cfg.t_pulse_s),
        t_forward_s=n_images * tm["t_read_s"],
    )


def program_to_target(card: str | DeviceCard, seed: int) -> tuple[Crossbar, ProgramResult]:
    """Program-to-target by write-verify (:func:`cosim.twin.program.crossbar_twin`, mean model).

    The learning curve follows the controller's order: after device ``k`` is programmed,
    devices ``0..k`` hold their programmed states and the others their initial states.
    """

    twin = crossbar_twin(_as_card(card), seed)
    xb = twin.xbar
    out = twin.program()
    train_set, test_set = data.split(data.make_dataset())
    x = xb.x0.astype(float).copy()
    curve = [CurvePoint(0, accuracy(xb, x, train_set), accuracy(xb, x, test_set))]
    done = 0
    for k in range(x.size):
        x[k] = out.x[k]
        done += int(out.pulses[k])
        curve.append(CurvePoint(done, accuracy(xb, x, train_set), accuracy(xb, x, test_set)))
    tm = twin.setup.timing()
    n_pulses = int(out.pulses.sum())
    t_reset = tm["t_setup_s"] + tm["t_reset_s"] + tm["t_after_s"]
    t_prog = (
        x.size * (t_reset + _read_time_s(tm))
        + n_pulses * (tm["t_setup_s"] + tm["t_write_s"] + tm["t_after_s"])
        + n_pulses * _read_time_s(tm)
    )
    res = ProgramResult(out.g_S, out.pulses, out.ok, curve, t_prog)
    return xb, res


def _test_accuracy(xb: Crossbar, g_S: FloatArray, seed: int, n_repeats: int) -> dict[str, float]:
    _, test_set = data.split(data.make_dataset())
    g1, g2 = xb.split_layers(xb.branch_conductance(g_S))
    rng = np.random.default_rng(seed)
    clean = float(train.evaluate(xb.spec, g1, g2, test_set, rng, mode="mean"))
    ni = train.NonIdealities(input_noise=NOISY_INPUT)
    noisy = train.evaluate(xb.spec, g1, g2, test_set, rng, ni, n_repeats=n_repeats, mode="mean")
    return {"clean": clean, "noisy": float(noisy)}


def compare(
    card: str | DeviceCard,
    seed: int,
    *,
    epochs: int = InSituConfig.epochs,
    config: InSituConfig | None = None,
    n_repeats: int = 50,
) -> Comparison:
    """In-situ training vs program-to-target on the crossbar of ``(card, seed)``.

    Both start from the same drawn devices at their initial states; test accuracy of each
    final network is measured with :func:`cosim.learn.train.evaluate` clean and with
    :data:`NOISY_INPUT` Gaussian input noise (``n_repeats`` presentations per test image).
    """
    c = _as_card(card)
    xb, prog = program_to_target(c, seed)
    cfg = config or InSituConfig()
    ins = train_in_situ(c, seed, epochs=epochs, batch=cfg.batch, config=cfg, xbar=xb)
    acc = {
        "insitu": _test_accuracy(xb, ins.g_S, seed, n_repeats),
        "program": _test_accuracy(xb, prog.g_S, seed, n_repeats),
    }
    return Comparison(c.name, seed, ins, prog, acc)
