"""Surfer command files (``.sucl``): the rows of a :class:`~cosim.waves.gtkw.View` for Surfer.

Surfer runs a command file given with ``--command-file`` (``surfer training.vcd
--command-file training.sucl``): one command per line.  The file adds a divider per group and
the group's signals by their full names (only those the VCD has) and zooms to fit.  Surfer
reads the same VCD/FST files; its translate filters and markers differ, so phase names and
markers stay GTKWave-only.
"""

from __future__ import annotations

from pathlib import Path

from cosim.waves.columns import header_of
from cosim.waves.gtkw import View

__all__ = ["write_surfer_commands"]


def write_surfer_commands(vcd_path: str | Path, sucl_path: str | Path, view: View) -> Path:
    """Write a Surfer command file showing ``view``'s rows of ``vcd_path``."""
    names = header_of(vcd_path).by_name()
    lines = []
    for group in view.groups:
        present = [row.name for row in group.rows if row.name in names]
        if present:
            lines.append(f"divider_add {group.name}")
            lines += [f"variable_add {name}" for name in present]
    lines.append("zoom_fit")
    path = Path(sucl_path)
    path.write_text("\n".join(lines) + "\n")
    return path
