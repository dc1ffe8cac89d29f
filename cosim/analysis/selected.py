"""The "selected device" traces: V, I, x, G of whichever device the controller selects.

Computed while merging the digital and analog VCDs (:class:`cosim.waves.merge.Derived`): when a
bit of ``<top>.sel`` rises, ``<scope>.selected.*`` take that device's current values and then
follow its changes; ``<scope>.selected.dev`` is its index (select-bit order, names through the
view's translate filter).  When no device is selected the traces keep following the last one,
so its state stays in view between pulses.  One set of rows follows programming across the
whole array (docs/waveforms.md).

The network's shape is read from the analog device names in the file (:func:`topology_of`),
so any ``N_IN → N_HID → N_OUT`` works.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from cosim.topology import Topology, TopologyError
from cosim.waves.merge import Derived

__all__ = ["QUANTITIES", "SELECTED", "selected_device_signals", "topology_of", "selected_index"]

#: Per-device quantities the selected traces mirror (those present are used).
QUANTITIES = ("v", "i", "x", "g")
#: Sub-scope of the analog scope holding the derived traces.
SELECTED = "selected"

_DEVICE = re.compile(r"^w1_(\d+)_(\d+)$|^w2_(\d+)(?:_(\d+))?$")


def topology_of(names: Collection[str], scope: str = "analog") -> Topology | None:
    """The network whose devices the file records (``<scope>.<device>.i``), or None.

    Layer widths come from the largest indices of ``w1_<i>_<j>`` and ``w2_<j>[_<o>]``; the
    result must name exactly the devices found.
    """
    prefix = f"{scope}."
    found = set()
    for name in names:
        if name.startswith(prefix) and name.endswith(".i") and name.count(".") == 2:
            found.add(name[len(prefix) : -2])
    n_in = n_hid = n_out = 0
    layer2_pairs = False
    for dev in found:
        m = _DEVICE.match(dev)
        if m is None:
            continue
        if m.group(1) is not None:
            n_in, n_hid = max(n_in, int(m.group(1)) + 1), max(n_hid, int(m.group(2)) + 1)
        else:
            n_hid = max(n_hid, int(m.group(3)) + 1)
            layer2_pairs |= m.group(4) is not None
            n_out = max(n_out, int(m.group(4)) + 1 if m.group(4) is not None else 1)
    try:
        topo = Topology((n_in, n_hid, n_out))
    except TopologyError:
        return None
    if layer2_pairs and n_out == 1:
        return None
    return topo if set(topo.device_names) <= found else None


def selected_index(value: float | str) -> int | None:
    """Device index of a one-hot select value (the highest set bit), None when none is set."""
    if not isinstance(value, str) or "1" not in value:
        return None
    return len(value) - 1 - value.index("1")


def selected_device_signals(
    names: Collection[str], *, top: str = "xbar_top", scope: str = "analog"
) -> Derived | None:
    """The derived ``<scope>.selected.*`` signals for a merge, or None when the files lack the
    select vector or the devices."""
    sel = f"{top}.sel"
    topo = topology_of(names, scope)
    if sel not in names or topo is None:
        return None
    quantities = [q for q in QUANTITIES if f"{scope}.{topo.device_names[0]}.{q}" in names]
    out = {q: f"{scope}.{SELECTED}.{q}" for q in quantities}
    members = [{out[q]: f"{scope}.{dev}.{q}" for q in quantities} for dev in topo.device_names]
    dev_name = f"{scope}.{SELECTED}.dev"
    variables: dict[str, tuple[str, int | None]] = {dev_name: ("integer", 32)}
    variables.update({name: ("real", None) for name in out.values()})
    return Derived(
        vars=variables, selector=sel, pick=selected_index, members=members, index=dev_name
    )
