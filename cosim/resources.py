"""Where the package's data lives: the HDL, the Verilog-A models and cards, the build cache.

``hdl/`` and ``va_models/`` sit at the top of the repository and ship inside the wheel as the
data packages ``cosim.hdl`` and ``cosim.va_models`` (see ``pyproject.toml``).  Every module
finds them through :func:`data_dir` — in an installed wheel, in an editable install and in a
plain checkout on ``PYTHONPATH`` alike.  Build artefacts (compiled OSDI, ``vvp`` images) never
go into the installed package: they go to :func:`cache_dir`.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from cosim.errors import UsageError

__all__ = ["data_dir", "hdl_dir", "va_models_dir", "cards_dir", "cache_dir"]

_DATA = ("hdl", "va_models")


@cache
def data_dir(name: str) -> Path:
    """Directory of the data package ``name`` (``"hdl"`` or ``"va_models"``).

    Raises:
        UsageError: unknown name, or the directory is missing (a broken installation).
    """
    if name not in _DATA:
        raise UsageError(f"unknown data directory {name!r}; known: {', '.join(_DATA)}")
    here = Path(__file__).resolve().parent
    # an installed wheel: the data packages sit inside cosim/; a checkout (editable install
    # or PYTHONPATH): hdl/ and va_models/ at the top of the repository
    for path in (here / name, here.parent / name):
        if path.is_dir():
            return path
    raise UsageError(
        f"cosim's data directory {name!r} is missing (looked in {here / name} and "
        f"{here.parent / name}); reinstall the package"
    )


def hdl_dir() -> Path:
    """The Verilog sources: ``xbar_ctrl.v``, ``xbar_regs.vh`` and ``behav/``."""
    return data_dir("hdl")


def va_models_dir() -> Path:
    """The Verilog-A models (``*.va``) and ``cards/``."""
    return data_dir("va_models")


def cards_dir() -> Path:
    """The built-in device cards (``*.toml``)."""
    return va_models_dir() / "cards"


def cache_dir() -> Path:
    """Where build artefacts go: ``$COSIM_BUILD_DIR``, else ``build/`` of a checkout, else
    ``$XDG_CACHE_HOME/cosim`` (``~/.cache/cosim``) — never inside an installed package."""
    override = os.environ.get("COSIM_BUILD_DIR")
    if override:
        return Path(override).expanduser().resolve()
    root = Path(__file__).resolve().parents[1]
    if (root / "pyproject.toml").is_file() and (root / "hdl").is_dir():
        return root / "build"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser().resolve() / "cosim"
