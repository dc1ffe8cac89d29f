"""Build the ngspice netlist of an N_IN→N_HID→N_OUT memristor crossbar (any :class:`Topology`).

Topology (see ``docs/circuit.md``; constants in :class:`cosim.circuit.network.CircuitSpec`):

* every device ``k`` sits behind a series resistor ``Rs<k>`` whose free end ``a<k>`` reaches the
  shared programming bus ``pbus`` through its select switch ``Ssel<k>`` (control ``sel<k>``) and
  its input line (``in<i>`` for layer 1, hidden output ``h<j>`` for layer 2) through an
  inference switch ``Sinf<k>`` (common control ``inf``);
* the device's other end is its column line: ``col<j>`` (hidden neuron j) or the output
  column ``colo`` (one output neuron; ``colo<o>`` with several);
* every column gets reference resistors ``1/g_ref`` from the *inverted* inputs (signed weights)
  and a clamp switch to ground that is closed while not inferring (programming current returns
  to ground instead of saturating the neuron);
* neurons are :file:`va_models/neuron.va` instances supplied by ``vdd``/``vss``;
* the programming bus is driven by the external source ``Vprog``; its delivered current is
  sensed by the transimpedance ``Hsense`` (``v(sense) = r_sense · I_prog``).

All sources that the digital side drives are ``external`` (zero-order hold from Python).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cosim.circuit.network import CircuitSpec
from cosim.topology import DEFAULT, Topology

__all__ = ["CrossbarNetlist", "build_crossbar", "with_analysis", "supplies", "neurons"]


def supplies(topology: Topology = DEFAULT) -> dict[str, tuple[str, str]]:
    """Supply and driver sources recorded as ``analog.supply.<name>``: name → (source, node)."""
    return {
        "vdd": ("vdd", "vdd"),
        "vss": ("vss", "vss"),
        "prog": ("vprog", "pbus"),
        **{f"in{i}": (f"vin{i}", f"in{i}") for i in range(topology.n_in)},
        **{f"inn{i}": (f"vinn{i}", f"inn{i}") for i in range(topology.n_in)},
    }


def neurons(topology: Topology = DEFAULT) -> dict[str, str]:
    """Neuron outputs recorded as ``analog.neuron.<name>.v``: name → node (hidden first)."""
    return {name: name for name in topology.neuron_names}


def _output_column(topology: Topology, o: int) -> str:
    return "colo" if topology.n_out == 1 else f"colo{o}"


_SWITCH_MODELS = """\
.model swsel sw vt=0.5 vh=0 ron={ron:.6g} roff={roff:.6g}
.model swclamp sw vt=0.5 vh=0 ron={roff:.6g} roff={clamp:.6g}"""


@dataclass(frozen=True)
class CrossbarNetlist:
    """A crossbar netlist and the names the bridge needs to drive and probe it.

    Attributes:
        text: the netlist (title line first, ``.end`` last), no analysis card.
        osdi: compiled models the netlist instantiates, to load before the circuit.
        devices: device names in select-line order.
        external_sources: names of the ``external`` sources (lower case), all starting at 0 V.
        device_nodes: per device ``(node_a, node_top, node_bottom, x_vector)`` for probing:
            device voltage ``v(top) − v(bottom)``, current ``(v(a) − v(top)) / r_series``.
        series_ohm: per-device series resistance (Ω).
        save: vectors to ``.save`` (everything the bridge reads).
        topology: the network's shape.
        supplies: recorded supplies, name → (source, node) (:func:`supplies`).
        neurons: recorded neuron outputs, name → node (:func:`neurons`).
    """

    text: str
    osdi: tuple[Path, ...]
    devices: tuple[str, ...]
    external_sources: tuple[str, ...]
    device_nodes: Mapping[str, tuple[str, str, str, str]]
    series_ohm: float
    save: tuple[str, ...] = field(default=())
    topology: Topology = DEFAULT
    supplies: Mapping[str, tuple[str, str]] = field(default_factory=supplies)
    neurons: Mapping[str, str] = field(default_factory=neurons)


def _fmt(params: Mapping[str, float]) -> str:
    return " ".join(f"{k}={float(v):.9g}" for k, v in params.items())


def build_crossbar(
    spec: CircuitSpec,
    model_params: Mapping[str, float],
    instance_params: Sequence[Mapping[str, float]],
    *,
    mss_osdi: Path,
    neuron_osdi: Path,
    topology: Topology = DEFAULT,
    title: str | None = None,
    neuron_start: Mapping[str, float] | None = None,
    fixed_sources: Mapping[str, float] | None = None,
    save_list: bool = True,
) -> CrossbarNetlist:
    """Build the crossbar netlist.

    Args:
        spec: circuit constants.
        model_params: ``mss_memristor`` model parameters (the card's ``[model]`` table).
        instance_params: per device (select-line order) instance parameters: ``x0`` and the
            variation multipliers ``m_r_on`` … ``m_tau``.
        mss_osdi: compiled ``mss.va``.
        neuron_osdi: compiled ``neuron.va``.
        topology: the network's shape.
        title: netlist title line (default ``cosim <N_IN>-<N_HID>-<N_OUT> memristor crossbar``).
        neuron_start: per neuron name, the op-amp output its operating point starts from
            (``s0`` with ``op_pin=1`` in :file:`va_models/neuron.va`; see
            :func:`cosim.circuit.network.opamp_outputs`).  Default: the true operating point.
        fixed_sources: driven sources written as constant ``dc`` values instead of
            ``external`` ones (left out of ``external_sources``), for a circuit in which
            they do not change: ngspice asks Python for every external source at every
            Newton iteration.
        save_list: write the ``.save`` line of the probed vectors.  ``False`` lets ngspice
            save every vector, which costs less at thousands of devices: starting a run
            looks every listed name up in the circuit's node list (0.3 s per start at
            1184 devices).

    Returns:
        the netlist with its probe and source names.
    """
    names = topology.device_names
    title = title or f"cosim {str(topology).replace(',', '-')} memristor crossbar"
    if len(instance_params) != len(names):
        raise ValueError(f"need {len(names)} instance parameter sets, got {len(instance_params)}")
    fixed = {k.lower(): float(v) for k, v in (fixed_sources or {}).items()}
    start = dict(neuron_start or {})
    ext: list[str] = []
    driven_names: list[str] = []

    def driven(name: str, node: str) -> str:
        driven_names.append(name)
        if name in fixed:
            return f"{name} {node} 0 dc {fixed[name]:.9g}"
        ext.append(name)
        return f"{name} {node} 0 external"

    def pin(name: str) -> str:
        return f" s0={start[name]:.9g} op_pin=1" if name in start else ""

    lines = [f"* {title}", "* supplies and drivers"]
    lines += [f"vdd vdd 0 dc {spec.vdd_V:.9g}", f"vss vss 0 dc {spec.vss_V:.9g}"]
    lines.append(driven("vprog", "pbus"))
    lines.append(f"hsense sense 0 vprog {-spec.r_sense_ohm:.9g}")
    for i in range(topology.n_in):
        lines.append(driven(f"vin{i}", f"in{i}"))
        lines.append(driven(f"vinn{i}", f"inn{i}"))
    lines.append(driven("vinf", "inf"))
    lines.append(
        _SWITCH_MODELS.format(
            ron=spec.r_switch_on_ohm, roff=spec.r_switch_off_ohm, clamp=spec.r_clamp_on_ohm
        )
    )
    lines.append(f".model mss mss_memristor {_fmt(model_params)}")
    neuron_common = f"gain={spec.opamp_gain:.9g} i_q={spec.opamp_iq_A:.9g}"
    lines.append(
        f".model neur1 neuron_tia r_f={spec.r_f1_ohm:.9g} v_max={spec.v_h_max_V:.9g} "
        + neuron_common
    )
    lines.append(
        f".model neur2 neuron_tia r_f={spec.r_f2_ohm:.9g} v_max={spec.v_o_max_V:.9g} "
        + neuron_common
    )

    nodes: dict[str, tuple[str, str, str, str]] = {}
    lines.append("* memristors: select switch, inference switch, series resistor, device")
    for k, name in enumerate(names):
        layer, row, column = topology.position(k)
        if layer == 1:
            line_in, col = f"in{row}", f"col{column}"
        else:
            line_in, col = topology.hidden_names[row], _output_column(topology, column)
        a, top = f"a{k}", f"t{k}"
        lines.append(driven(f"vsel{k}", f"sel{k}"))
        lines.append(f"ssel{k} pbus {a} sel{k} 0 swsel")
        lines.append(f"sinf{k} {line_in} {a} inf 0 swsel")
        lines.append(f"rs{k} {a} {top} {spec.r_series_ohm:.9g}")
        lines.append(f"n{name} {top} {col} mss {_fmt(instance_params[k])}")
        nodes[name] = (a, top, col, f"n{name}#x")

    lines.append("* reference resistors (signed weights), column clamps and neurons")
    for j, h in enumerate(topology.hidden_names):
        for i in range(topology.n_in):
            lines.append(f"rref1_{i}_{j} inn{i} col{j} {1.0 / spec.g_ref1_S:.9g}")
        lines.append(f"sclamp{j} col{j} 0 inf 0 swclamp")
        lines.append(f"n{h} col{j} {h} hn{j} vdd vss neur1{pin(h)}")
    for o, out in enumerate(topology.output_names):
        col = _output_column(topology, o)
        suffix = "" if topology.n_out == 1 else f"_{o}"
        for j in range(topology.n_hid):
            lines.append(f"rref2_{j}{suffix} hn{j} {col} {1.0 / spec.g_ref2_S:.9g}")
        lines.append(f"sclamp{col[3:]} {col} 0 inf 0 swclamp")
        lines.append(f"n{out} {col} {out} {out}n vdd vss neur2{pin(out)}")

    for what, given, known in (
        ("fixed_sources", fixed, driven_names),
        ("neuron_start", start, topology.neuron_names),
    ):
        unknown = sorted(set(given) - set(known))
        if unknown:
            raise ValueError(f"{what}: no such name {unknown[:3]} (known: {known[:3]}, …)")

    sup, neu = supplies(topology), neurons(topology)
    save = ["v(sense)"]
    save += [f"v({n})" for n in neu.values()]
    for node_a, top, col, x in nodes.values():
        save += [f"v({node_a})", f"v({top})", f"v({col})", f"v({x})"]
    for src, node in sup.values():
        save += [f"i({src})", f"v({node})"]
    save = list(dict.fromkeys(save))
    if save_list:
        lines.append(".save " + " ".join(save))
    lines.append(".end")
    return CrossbarNetlist(
        text="\n".join(lines) + "\n",
        osdi=(Path(mss_osdi), Path(neuron_osdi)),
        devices=tuple(names),
        external_sources=tuple(ext),
        device_nodes=nodes,
        series_ohm=spec.r_series_ohm,
        save=tuple(save),
        topology=topology,
        supplies=sup,
        neurons=neu,
    )


def with_analysis(text: str, card: str) -> str:
    """A netlist text with an analysis card inserted before ``.end``."""
    return text.replace("\n.end\n", f"\n{card}\n.end\n")
