"""The package's architecture as a test: layers, no import circles, no hidden imports.

The layers (lowest first) are documented in ``docs/architecture.md``.  A module may import
modules of its own layer or below, never above; the module graph has no cycle; ``cosim``
modules are imported at module level only (a function-local import is how a circle hides;
the sub-commands of ``cosim.cli`` are the one exception, for start-up time);
ctypes appears only in the libngspice wrapper and in the set-up of the compiled bridge
(``cosim.spice.vpisync``: the same helper library, configured from the bench; kept out of the
1200-line wrapper because it is a concept of its own) and cocotb at module level only in
``cosim.bench``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "cosim"

#: Layer of each top-level part of the package, lowest first (docs/architecture.md).
LAYERS: dict[str, int] = {
    "cosim": 0,
    "cosim.errors": 0,
    "cosim.resources": 0,
    "cosim.spice": 1,
    "cosim.waves": 1,
    "cosim.topology": 2,
    "cosim.circuit": 3,
    "cosim.design": 3,
    "cosim.harness": 4,
    "cosim.backends": 4,
    "cosim.learn": 4,
    "cosim.crossbar": 5,
    "cosim.config": 5,
    "cosim.twin": 5,
    "cosim.bench": 6,
    "cosim.analysis": 6,
    "cosim.run": 7,
    "cosim.cli": 8,
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PKG.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> int:
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        key = ".".join(parts[:n])
        if key in LAYERS:
            return LAYERS[key]
    raise AssertionError(f"{module} belongs to no layer; add its part to LAYERS and the docs")


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def _imports(path: Path, modules: dict[str, Path]) -> list[tuple[str, int, bool]]:
    """``(imported cosim module, line, at module level)`` of one file."""
    tree = ast.parse(path.read_text(), str(path))
    top = {id(node) for node in tree.body}
    for node in tree.body:  # `if TYPE_CHECKING:` blocks count as module level
        if isinstance(node, ast.If):
            top |= {id(n) for n in ast.walk(node)}
    out = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            if name.startswith("cosim") and name in modules:
                out.append((name, node.lineno, id(node) in top))
    return out


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {
        m: {dep for dep, _, _ in _imports(p, modules) if dep != m and not m.startswith(dep + ".")}
        for m, p in modules.items()
    }


def test_every_module_has_a_layer() -> None:
    for module in _modules():
        _layer(module)


def test_no_upward_import() -> None:
    modules = _modules()
    bad = [
        f"{m} (layer {_layer(m)}) imports {dep} (layer {_layer(dep)}) at line {line}"
        for m, p in modules.items()
        for dep, line, _ in _imports(p, modules)
        if _layer(dep) > _layer(m)
    ]
    assert not bad, "\n".join(bad)


def test_no_function_local_cosim_import() -> None:
    """Except in ``cosim.cli``: a sub-command imports its implementation when it runs, so
    that ``cosim --help`` does not load NumPy, SciPy and Dask (the cycle test still sees
    those imports)."""
    modules = _modules()
    bad = [
        f"{p.relative_to(PKG.parent)}:{line} imports {dep} inside a function"
        for m, p in modules.items()
        for dep, line, top in _imports(p, modules)
        if not top and not m.startswith("cosim.cli")
    ]
    assert not bad, "\n".join(bad)


def test_no_import_cycle() -> None:
    graph = _graph()
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for dep in sorted(graph.get(m, ())):
            if state.get(dep) == 1:
                return stack[stack.index(dep) :] + [dep]
            if dep not in state and (cycle := visit(dep)):
                return cycle
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (cycle := visit(m)):
            pytest.fail("import cycle: " + " -> ".join(cycle))


def _module_level_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_ctypes_only_in_the_libngspice_wrapper() -> None:
    users = [m for m, p in _modules().items() if "ctypes" in _module_level_imports(p)]
    # cosim.spice.vpisync: the compiled VPI bridge's set-up (the sync helper's other half)
    assert users == ["cosim.spice.ngspice", "cosim.spice.vpisync"], users


def test_cocotb_at_module_level_only_in_the_bench() -> None:
    users = [
        m
        for m, p in _modules().items()
        if "cocotb" in _module_level_imports(p) and not m.startswith("cosim.bench")
    ]
    assert not users, users


def test_every_subpackage_ships_in_the_wheel() -> None:
    import tomllib

    listed = set(
        tomllib.loads((PKG.parent / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {_module_name(p) for p in PKG.rglob("__init__.py")}
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"
    assert {"cosim.hdl", "cosim.va_models", "cosim.va_models.cards"} <= listed
