"""GTKWave save files (``.gtkw``) for a merged VCD."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from vcd.gtkw import GTKWFlag, GTKWSave

from cosim.waves.read import (
    END_ID,
    UnknownSignalError,
    VcdVar,
    closest_names,
    iter_vcd,
    read_header,
)

__all__ = ["write_gtkw"]


# --------------------------------------------------------------------------- GTKWave


def write_gtkw(
    vcd_path: str | Path,
    gtkw_path: str | Path,
    *,
    device: str | None = None,
    top: str = "xbar_top",
    analog_scope: str = "analog",
) -> Path:
    """Write a GTKWave save file for ``vcd_path`` (digital markers + one device + neurons).

    Shows, when present: ``<top>.phase``, ``start``, ``busy``, ``done``, ``sel``; the device's
    ``v``, ``i``, ``x`` (and ``g``) as interpolated analog traces — ``device`` if given, else
    the first device whose select bit rises in the file, else the first device; and the
    neuron outputs.  Only signals that exist in the VCD are named.

    Raises:
        UnknownSignalError: ``device`` is not a device of ``analog_scope``.
    """
    vcd_path, gtkw_path = Path(vcd_path), Path(gtkw_path)
    header = read_header(vcd_path)
    names = header.by_name()
    prefix = f"{analog_scope}."
    devices = sorted(
        {
            n[len(prefix) :].split(".")[0]
            for n in names
            if n.startswith(prefix) and n.endswith(".i") and n.count(".") == 2
        }
        - {"supply"}
    )
    if device is None:
        first = _first_selected(vcd_path, names.get(f"{top}.sel"))
        device = first if first in devices else (devices[0] if devices else None)
    elif device not in devices:
        raise UnknownSignalError(
            f"{vcd_path}: no device {device!r} in scope {analog_scope!r}; devices: "
            f"{closest_names(device, devices)}"
        )
    analog = GTKWFlag.analog_interpolated | GTKWFlag.analog_fullscale
    with open(gtkw_path, "w") as fh:
        save = GTKWSave(fh)
        save.comment(f"cosim: {vcd_path.name}" + (f", device {device}" if device else ""))
        save.dumpfile(str(vcd_path.resolve()))
        save.savefile(str(gtkw_path.resolve()))
        save.timestart(0)
        save.treeopen(f"{top}.")
        with save.group("control"):
            for sig, fmt in (("phase", "dec"), ("start", "bin"), ("busy", "bin")):
                _trace(save, names, f"{top}.{sig}", fmt)
            _trace(save, names, f"{top}.done", "bin")
            _trace(save, names, f"{top}.sel", "hex")
        if device is not None:
            with save.group(f"device {device}"):
                for q in ("v", "i", "x", "g"):
                    _trace(save, names, f"{prefix}{device}.{q}", "real", analog)
        neurons = sorted(n for n in names if n.startswith(f"{prefix}neuron."))
        if neurons:
            with save.group("neurons"):
                for n in neurons:
                    _trace(save, names, n, "real", analog)
    return gtkw_path


def _first_selected(vcd_path: Path, sel: VcdVar | None) -> str | None:
    """Name of the device whose ``sel`` bit is the first to go high (k = 3·i + j ↔ w1_i_j,
    27 + j ↔ w2_j), or None."""
    if sel is None:
        return None
    stream = iter_vcd(vcd_path, ids=[sel.id])
    next(stream)
    for _, ident, value in stream:  # type: ignore[misc]
        if ident != END_ID and isinstance(value, str) and "1" in value:
            k = len(value) - 1 - value.index("1")  # highest set bit
            stream.close()  # type: ignore[attr-defined]
            return f"w1_{k // 3}_{k % 3}" if k < 27 else f"w2_{k - 27}"
    return None


def _trace(
    save: GTKWSave,
    names: Mapping[str, VcdVar],
    name: str,
    fmt: str,
    flags: GTKWFlag = GTKWFlag.none,
) -> None:
    var = names.get(name)
    if var is None:
        return
    save.trace(name + var.range, datafmt=fmt, extraflags=flags)
