"""Exception types shared across the package.

Every error the package raises on purpose derives from :class:`CosimError`, so that the
command line can turn it into a one-line message without a traceback.  ``exit_status`` is
the status the command line exits with: 2 for bad input (:class:`UsageError` and other
input errors), 1 for a simulation that ran and failed.  :class:`Interrupted` is raised for
SIGINT/SIGTERM once the work in progress was stopped cleanly.
"""

from __future__ import annotations

import signal

__all__ = ["CosimError", "Interrupted", "UsageError", "RunawayError"]


class CosimError(Exception):
    """Base class of all errors raised on purpose by :mod:`cosim`."""

    #: Exit status of the ``cosim`` command for this error (1: a run failed).
    exit_status = 1


class UsageError(CosimError):
    """Bad user input (unknown name, bad number, bad option): exit status 2 on the CLI."""

    exit_status = 2


class RunawayError(CosimError):
    """A simulated quantity left its physical range (a diverging model): names where/when."""


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped the work; ``signum`` says which, the message what was kept.

    A :class:`KeyboardInterrupt`, so that every ``except KeyboardInterrupt`` clean-up also runs
    for SIGTERM.
    """

    def __init__(self, message: str = "", signum: int = signal.SIGINT) -> None:
        super().__init__(message)
        self.signum = int(signum)
