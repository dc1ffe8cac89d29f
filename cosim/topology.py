"""The network's shape: layer widths, device and neuron names, the device ↔ select-bit order.

One :class:`Topology` is the single source of every size and name pattern in the package: the
netlist, the NumPy backend, the twin, training, data shapes, the metrics' pulse attribution,
the ``.gtkw`` view, the monitors, the host driver and the summary all derive theirs from it.
The HDL takes the same widths as the Verilog parameters ``N_IN``, ``N_HID``, ``N_OUT`` of
``hdl/xbar_ctrl.v`` and ``hdl/behav/xbar_top.v`` and uses the same device order.

A two-layer network ``N_IN → N_HID → N_OUT`` has one memristor per weight:

* layer 1: device ``w1_<i>_<j>`` (input ``i`` → hidden neuron ``j``) at select bit
  ``k = i·N_HID + j``;
* layer 2: device ``w2_<j>_<o>`` (hidden ``j`` → output ``o``) at select bit
  ``k = N_IN·N_HID + j·N_OUT + o``; with one output neuron the name is ``w2_<j>``.

Neurons: hidden ``h<j>``, outputs ``out<o>`` (``out`` when there is one), in that order
(neuron index ``n``: hidden first).  The paper's network, 9 → 3 → 1 (30 devices), is
:data:`DEFAULT`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from cosim.errors import UsageError

__all__ = ["Topology", "TopologyError", "DEFAULT", "MAX_DEVICES", "parse_topology"]

#: Largest array the register map addresses (16-bit device index, ``REG_DEV_IDX``).
MAX_DEVICES = 65535

_NAME = re.compile(r"^w(?P<layer>[12])_(?P<a>\d+)(?:_(?P<b>\d+))?$")


class TopologyError(UsageError):
    """A network shape that cannot be built (the message says what fits)."""


@dataclass(frozen=True)
class Topology:
    """Layer widths of a two-layer crossbar network.

    Attributes:
        widths: ``(N_IN, N_HID, N_OUT)``, each ≥ 1.

    Raises:
        TopologyError: not three widths, a width below 1, or more devices than the register
            map addresses.
    """

    widths: tuple[int, int, int]

    def __post_init__(self) -> None:
        w = tuple(self.widths)
        if len(w) != 3:
            raise TopologyError(
                f"topology {_fmt(w)}: need exactly three layer widths N_IN,N_HID,N_OUT "
                "(a two-layer network, e.g. 9,3,1 or 64,16,10)"
            )
        if any(not isinstance(n, int) or n < 1 for n in w):
            raise TopologyError(f"topology {_fmt(w)}: every layer width must be an integer ≥ 1")
        n_dev = w[0] * w[1] + w[1] * w[2]
        if n_dev > MAX_DEVICES:
            raise TopologyError(
                f"topology {_fmt(w)} has {n_dev} devices; the register map addresses at most "
                f"{MAX_DEVICES} (N_IN·N_HID + N_HID·N_OUT)"
            )
        object.__setattr__(self, "widths", w)

    # ------------------------------------------------------------------ sizes
    @property
    def n_in(self) -> int:
        """Inputs (input DACs, rows of layer 1)."""
        return self.widths[0]

    @property
    def n_hid(self) -> int:
        """Hidden neurons."""
        return self.widths[1]

    @property
    def n_out(self) -> int:
        """Output neurons (1: a binary threshold class; more: arg-max)."""
        return self.widths[2]

    @property
    def n_layer1(self) -> int:
        """Devices of layer 1 (``N_IN·N_HID``)."""
        return self.n_in * self.n_hid

    @property
    def n_layer2(self) -> int:
        """Devices of layer 2 (``N_HID·N_OUT``)."""
        return self.n_hid * self.n_out

    @property
    def n_dev(self) -> int:
        """Memristors (select lines)."""
        return self.n_layer1 + self.n_layer2

    @property
    def n_neurons(self) -> int:
        """Neurons (hidden + output)."""
        return self.n_hid + self.n_out

    @property
    def n_classes(self) -> int:
        """Classes the network tells apart: 2 with one output neuron, else ``N_OUT``."""
        return 2 if self.n_out == 1 else self.n_out

    @property
    def layers(self) -> tuple[slice, slice]:
        """Select-bit ranges of layer 1 and layer 2."""
        return slice(0, self.n_layer1), slice(self.n_layer1, self.n_dev)

    # ------------------------------------------------------------------ names
    @cached_property
    def device_names(self) -> tuple[str, ...]:
        """Device names in select-bit order."""
        l1 = [f"w1_{i}_{j}" for i in range(self.n_in) for j in range(self.n_hid)]
        if self.n_out == 1:
            l2 = [f"w2_{j}" for j in range(self.n_hid)]
        else:
            l2 = [f"w2_{j}_{o}" for j in range(self.n_hid) for o in range(self.n_out)]
        return tuple(l1 + l2)

    @cached_property
    def _index(self) -> dict[str, int]:
        return {name: k for k, name in enumerate(self.device_names)}

    def device_index(self, name: str) -> int:
        """Select bit of a device name (inverse of :attr:`device_names`).

        Raises:
            KeyError: not a device of this topology (the message gives the patterns).
        """
        try:
            return self._index[name]
        except KeyError:
            raise KeyError(f"unknown device {name!r}; {self.describe_names()}") from None

    def position(self, k: int) -> tuple[int, int, int]:
        """``(layer, row, column)`` of device ``k``: ``(1, i, j)`` or ``(2, j, o)``."""
        if not 0 <= k < self.n_dev:
            raise IndexError(f"device index {k} outside 0..{self.n_dev - 1}")
        if k < self.n_layer1:
            return 1, k // self.n_hid, k % self.n_hid
        r = k - self.n_layer1
        return 2, r // self.n_out, r % self.n_out

    def parse_device(self, name: str) -> int | None:
        """Select bit of a device name, or None when ``name`` is not one of this topology's."""
        return self._index.get(name)

    def describe_names(self) -> str:
        """The name patterns, for messages."""
        l2 = f"w2_<0..{self.n_hid - 1}>"
        if self.n_out > 1:
            l2 += f"_<0..{self.n_out - 1}>"
        return f"devices are w1_<0..{self.n_in - 1}>_<0..{self.n_hid - 1}> and {l2}"

    @cached_property
    def hidden_names(self) -> tuple[str, ...]:
        """Hidden neuron names ``h0 … h<N_HID-1>``."""
        return tuple(f"h{j}" for j in range(self.n_hid))

    @cached_property
    def output_names(self) -> tuple[str, ...]:
        """Output neuron names: ``out`` (one output) or ``out0 … out<N_OUT-1>``."""
        if self.n_out == 1:
            return ("out",)
        return tuple(f"out{o}" for o in range(self.n_out))

    @property
    def neuron_names(self) -> tuple[str, ...]:
        """Neuron names, hidden first (neuron index ``n``)."""
        return self.hidden_names + self.output_names

    @cached_property
    def input_names(self) -> tuple[str, ...]:
        """Input line names ``in0 … in<N_IN-1>``."""
        return tuple(f"in{i}" for i in range(self.n_in))

    @classmethod
    def from_device_names(cls, names: list[str] | tuple[str, ...]) -> Topology:
        """The topology whose devices are exactly ``names`` (e.g. read back from a VCD).

        Raises:
            TopologyError: the names are not the complete device set of any topology.
        """
        l1: set[tuple[int, int]] = set()
        l2: set[tuple[int, int]] = set()
        for name in names:
            m = _NAME.match(name)
            if not m:
                continue
            a, b = int(m["a"]), m["b"]
            if m["layer"] == "1" and b is not None:
                l1.add((a, int(b)))
            elif m["layer"] == "2":
                l2.add((a, int(b) if b is not None else 0))
        if not l1 or not l2:
            raise TopologyError(f"no complete set of w1_*/w2_* devices among {len(names)} names")
        n_in = 1 + max(i for i, _ in l1)
        n_hid = 1 + max(j for _, j in l1)
        n_out = 1 + max(o for _, o in l2)
        topo = cls((n_in, n_hid, n_out))
        if set(topo.device_names) != {n for n in names if _NAME.match(n)}:
            raise TopologyError(
                f"the device names do not form a complete {topo} network ({topo.describe_names()})"
            )
        return topo

    # ------------------------------------------------------------------ text
    def __str__(self) -> str:
        return _fmt(self.widths)

    def hdl_parameters(self) -> dict[str, int]:
        """The Verilog parameters of the controller and the harness."""
        return {"N_IN": self.n_in, "N_HID": self.n_hid, "N_OUT": self.n_out}


def _fmt(widths: tuple[object, ...]) -> str:
    return ",".join(str(n) for n in widths)


def parse_topology(text: str | Topology | tuple[int, ...] | list[int]) -> Topology:
    """A topology from ``"16,8,2"`` (or ``"16→8→2"``, ``"16x8x2"``), a tuple, or itself.

    Raises:
        TopologyError: not three positive integers, or too many devices.
    """
    if isinstance(text, Topology):
        return text
    if isinstance(text, str):
        parts = [p for p in re.split(r"\s*(?:,|→|->|x|X)\s*", text.strip()) if p != ""]
        try:
            values = tuple(int(p) for p in parts)
        except ValueError:
            raise TopologyError(
                f"topology {text!r}: expected layer widths like 9,3,1 (N_IN,N_HID,N_OUT)"
            ) from None
    else:
        values = tuple(int(n) for n in text)
    return Topology(values)  # type: ignore[arg-type]


#: The paper's network: 9 inputs (3×3 pixels), 3 hidden neurons, 1 output neuron; 30 devices.
DEFAULT = Topology((9, 3, 1))
