"""Exception types shared across the package.

Every error the package raises on purpose derives from :class:`CosimError`, so that the
command line can turn it into a one-line message and exit status 2 without a traceback.
"""

from __future__ import annotations

__all__ = ["CosimError", "UsageError"]


class CosimError(Exception):
    """Base class of all errors raised on purpose by :mod:`cosim`."""


class UsageError(CosimError):
    """Bad user input (unknown name, bad number, bad option): exit status 2 on the CLI."""
