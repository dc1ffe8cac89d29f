"""What a SPICE deck offers the bridge: its top-level nodes and its ``external`` sources.

A light reader, not a SPICE parser: it joins ``+`` continuation lines, skips comments,
``.control`` blocks and ``.subckt`` bodies, and takes the node fields of each element by its
letter. It is used to reject a design file that names a node or source the deck does not have,
before any simulator starts (ngspice itself would report an unknown vector only mid-run).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["DeckInfo", "read_deck"]

#: Number of node fields by element letter (others: every field but the last that has no '=').
_NODES = {
    "r": 2, "c": 2, "l": 2, "v": 2, "i": 2, "b": 2, "d": 2, "f": 2, "h": 2, "w": 2,
    "e": 4, "g": 4, "s": 4, "m": 4, "j": 3, "q": 3, "z": 3, "t": 4, "o": 4, "u": 3, "y": 2,
}  # fmt: skip


@dataclass(frozen=True)
class DeckInfo:
    """Names a deck defines at top level (lower case, as ngspice reports them).

    Attributes:
        nodes: node names (``0`` and ``gnd`` included).
        elements: element name → line number (1-based, of the element's first line).
        external: names of ``V``/``I`` sources written with ``external``.
        has_tran: whether the deck has its own ``.tran`` card.
        title: the first line.
    """

    nodes: frozenset[str]
    elements: dict[str, int]
    external: frozenset[str]
    has_tran: bool
    title: str


def _logical_lines(text: str) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(";")[0].rstrip()
        if line.lstrip().startswith("+") and out:
            out[-1] = (out[-1][0], out[-1][1] + " " + line.lstrip()[1:])
        else:
            out.append((number, line))
    return out


def _node_fields(words: list[str]) -> list[str]:
    kind = words[0][0]
    if kind in _NODES:
        return words[1 : 1 + _NODES[kind]]
    plain = [w for w in words[1:] if "=" not in w]
    return plain[:-1]  # subcircuit / OSDI instances: nodes, then the model or subcircuit name


def read_deck(path: Path) -> DeckInfo:
    """Read ``path`` (raises OSError when it cannot be read)."""
    lines = _logical_lines(path.read_text())
    title = lines[0][1] if lines else ""
    nodes = {"0", "gnd"}
    elements: dict[str, int] = {}
    external: set[str] = set()
    has_tran = False
    depth = 0  # inside .subckt / .control
    for number, line in lines[1:]:
        words = line.replace("(", " ").replace(")", " ").replace(",", " ").split()
        if not words or words[0].startswith("*"):
            continue
        head = words[0].lower()
        if head in (".subckt", ".control"):
            depth += 1
            continue
        if head in (".ends", ".endc"):
            depth = max(0, depth - 1)
            continue
        if depth or head.startswith("."):
            has_tran = has_tran or (head == ".tran" and not depth)
            continue
        words = [w.lower() for w in words]
        elements[words[0]] = number
        nodes.update(_node_fields(words))
        if words[0][0] in "vi" and "external" in words:
            external.add(words[0])
    return DeckInfo(frozenset(nodes), elements, frozenset(external), has_tran, title)
