"""The libngspice wrapper: the only module of :mod:`cosim` that uses ctypes.

One :class:`NgSpice` object drives one loaded copy of the ngspice shared library in the
foreground (no background thread): it loads ``.osdi`` models and netlists, runs analyses,
copies vectors out to NumPy, feeds ``external`` sources from Python and advances a transient
in lockstep with :meth:`NgSpice.advance_to`.

libngspice keeps **one global simulator per loaded library file**. Hence at most one live
:class:`NgSpice` may use a given library at a time (a second one raises
:class:`NgspiceBusyError`); pass ``private_copy=True`` to load a private copy of the ``.so``
under another file name, which gives an independent simulator in the same process. A closed
instance hands its library back for reuse. The library itself is never unloaded (unloading
libngspice is not safe), so the small registry of loaded libraries below is the only
module-level state, and it is forced by libngspice.

Every ngspice failure raises a specific :class:`NgspiceError` subclass carrying ngspice's
own message lines and the command that failed. ngspice reports errors only as text (its
command functions return 0 even on failure), so the classification below matches the
messages ngspice 46 prints; after any of them the object stays usable and the next circuit
works.

Facts used here (from the project's toolchain notes, TOOLCHAIN.md, re-checked with ngspice
46): never send ``quit`` (the library is unusable afterwards), keep every callback object
referenced, copy vector data out at once, force ``LC_NUMERIC=C``, ``set num_threads=1`` on
small machines, and restore Python's SIGINT handler after ``ngSpice_Init`` (the Debian 46
build leaves it alone; others may not). Found while writing this module: a ``stop when time
>= t`` makes ngspice add a breakpoint at ``t``, which restarts the integration there (order 1,
a tenth of the step: ~5 accepted points per sync). The lockstep therefore steers the step with
the per-step sync callback (``GetSyncData``, as spicebind does) and pauses through a permanent
``stop when cosim_sync > 0.5`` on an injected ``external`` source that reads 1 once the target
is reached (a node condition sets no breakpoint). Registering that callback changes how ngspice
ends a transient (sharedsync() moves the last step 1.1 delmin short of tstop and then halves
towards it until "timestep too small"), so the callback also lands the last step on tstop. A
``stop`` condition stays until ``delete``; a stop request left over when a run ends at a stop
pauses the next run at its first point (handled in ``_go``); loading an ``.osdi`` while a
circuit is loaded makes the later ``remcirc`` crash. The SendData callback is always
registered (fixed at ``ngSpice_Init``); without a hook it costs about 6 % per accepted point.
Version and OSDI are checked when a Verilog-A model is loaded, not before: a deck of built-in
devices runs on any libngspice with the shared API.

Interrupts: a foreground analysis runs inside one C call, so Python's own SIGINT handler could
only raise inside a ctypes callback, where ctypes prints and drops the exception ("Exception
ignored on calling ctypes callback function") and the run goes on.  While a command runs,
:class:`NgSpice` therefore replaces the Python handlers of SIGINT and SIGTERM (Python handlers
or SIG_DFL, never an ignored signal) by one that only records the signal; the next SendData
callback (every accepted time point) halts the transient — through the sync source (it reads 1
at once, so the permanent stop condition pauses the run) or, in a circuit without it, by adding
``stop when time > 0`` (a command re-entered from the callback is accepted) — and once the
command returns the original handler is called, which raises :class:`KeyboardInterrupt` (or the
command line's :class:`cosim.errors.Interrupted`).  The transient stays paused where it was.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import ctypes.util
import functools
import locale
import math
import os
import re
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # NumPy is imported when a vector is copied out, not at start-up
    import numpy as np

from cosim.errors import UsageError
from cosim.spice.build import ENV_SYNC, helper_library
from cosim.spice.errors import (
    ANALYSES,
    FORBIDDEN,
    NETLIST_SIGNS,
    CommandError,
    ConvergenceError,
    LibraryError,
    NetlistError,
    NgspiceBusyError,
    NgspiceError,
    NoCircuitError,
    OsdiLoadError,
    SimulationError,
    SingularMatrixError,
    TimestepTooSmallError,
    UnknownCommandError,
    UnknownDeviceError,
    UnknownSourceError,
    UnknownVectorError,
    command_error,
)

__all__ = [
    "MIN_VERSION",
    "CommandError",
    "ConvergenceError",
    "DataHook",
    "LibraryError",
    "NetlistError",
    "NgSpice",
    "NgspiceBusyError",
    "NgspiceError",
    "NoCircuitError",
    "OsdiLoadError",
    "plot_vector_name",
    "declare",
    "load_sync_helper",
    "Signatures",
    "SimulationError",
    "SingularMatrixError",
    "SourceFunction",
    "TimestepTooSmallError",
    "UnknownCommandError",
    "UnknownDeviceError",
    "UnknownSourceError",
    "UnknownVectorError",
]

MIN_VERSION = 46
"""Oldest ngspice release whose shared library is accepted (first with OSDI in Debian)."""

ENV_LIBRARY = "COSIM_LIBNGSPICE"
"""Environment variable naming the libngspice file to load instead of the system one."""

_SYNC_NODE = "cosim_sync"
_SYNC_SOURCE = "vcosim_sync"
_SYNC_SOURCE_B = _SYNC_SOURCE.encode()
_INF = float("inf")
#: What ngspice prints (on stderr) when the sync source pauses a run.
_PAUSE_LINES = ("condition met: stop", "pause requested", "simulation interrupted")

_WAIT_S = 0.05  # the compiled helper's wait returns this often, so that Ctrl-C is seen
_CS_RUNNING, _CS_BLOCKED, _CS_DONE, _CS_TIMEOUT = 0, 1, 2, 3
#: What ngspice prints when the next command joins an ended background thread (not output).
_BG_JOINED = "Background thread stopped with timeout"

_FIX = "install ngspice and libngspice0 >= 46 from <codename>-backports: make setup"

SourceFunction = Callable[[float], float]
"""``f(t_s) -> value`` giving an ``external`` source's voltage (V) or current (A) at t_s."""

DataHook = Callable[[float, Mapping[str, float]], None]
"""Called once per accepted time point with ``(t_s, {vector name: value})``."""


# --- C interface (sharedspice.h) -----------------------------------------------------------


class _VectorInfo(ctypes.Structure):
    _fields_ = [
        ("v_name", ctypes.c_char_p),
        ("v_type", ctypes.c_int),
        ("v_flags", ctypes.c_short),
        ("v_realdata", ctypes.POINTER(ctypes.c_double)),
        ("v_compdata", ctypes.POINTER(ctypes.c_double)),
        ("v_length", ctypes.c_int),
    ]


class _VecValues(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("creal", ctypes.c_double),
        ("cimag", ctypes.c_double),
        ("is_scale", ctypes.c_bool),
        ("is_complex", ctypes.c_bool),
    ]


class _VecValuesAll(ctypes.Structure):
    _fields_ = [
        ("veccount", ctypes.c_int),
        ("vecindex", ctypes.c_int),
        ("vecsa", ctypes.POINTER(ctypes.POINTER(_VecValues))),
    ]


class _VecInfo(ctypes.Structure):
    _fields_ = [
        ("number", ctypes.c_int),
        ("vecname", ctypes.c_char_p),
        ("is_real", ctypes.c_bool),
        ("pdvec", ctypes.c_void_p),
        ("pdvecscale", ctypes.c_void_p),
    ]


class _VecInfoAll(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("title", ctypes.c_char_p),
        ("date", ctypes.c_char_p),
        ("type", ctypes.c_char_p),
        ("veccount", ctypes.c_int),
        ("vecs", ctypes.POINTER(ctypes.POINTER(_VecInfo))),
    ]


_c_int, _c_bool, _vp, _c_char_p = ctypes.c_int, ctypes.c_bool, ctypes.c_void_p, ctypes.c_char_p
_SendChar = ctypes.CFUNCTYPE(_c_int, _c_char_p, _c_int, _vp)
_ControlledExit = ctypes.CFUNCTYPE(_c_int, _c_int, _c_bool, _c_bool, _c_int, _vp)
_SendData = ctypes.CFUNCTYPE(_c_int, ctypes.POINTER(_VecValuesAll), _c_int, _c_int, _vp)
_SendInitData = ctypes.CFUNCTYPE(_c_int, ctypes.POINTER(_VecInfoAll), _c_int, _vp)
_BGThreadRunning = ctypes.CFUNCTYPE(_c_int, _c_bool, _c_int, _vp)
_GetSrcData = ctypes.CFUNCTYPE(
    _c_int, ctypes.POINTER(ctypes.c_double), ctypes.c_double, _c_char_p, _c_int, _vp
)
_GetSyncData = ctypes.CFUNCTYPE(
    _c_int,
    ctypes.c_double,
    ctypes.POINTER(ctypes.c_double),
    ctypes.c_double,
    _c_int,
    _c_int,
    _c_int,
    _vp,
)


Signatures = Mapping[str, tuple[list[Any], Any]]
"""C function name → (argument types, result type), for :func:`declare`."""

_P = ctypes.POINTER
_dbl = ctypes.c_double
_NGSPICE: Signatures = {
    "ngSpice_Init": (
        [_SendChar, _vp, _ControlledExit, _SendData, _SendInitData, _BGThreadRunning, _vp],
        _c_int,
    ),
    "ngSpice_Init_Sync": ([_GetSrcData, _GetSrcData, _GetSyncData, _P(_c_int), _vp], _c_int),
    "ngSpice_Command": ([_c_char_p], _c_int),
    "ngSpice_Circ": ([_P(_c_char_p)], _c_int),
    "ngGet_Vec_Info": ([_c_char_p], _P(_VectorInfo)),
    "ngSpice_SetBkpt": ([_dbl], _c_bool),
    "ngSpice_CurPlot": ([], _c_char_p),
    "ngSpice_AllVecs": ([_c_char_p], _P(_c_char_p)),
    "ngSpice_running": ([], _c_bool),
}
#: The compiled lockstep helper (``synchelper.c``).
_HELPER: Signatures = {
    "cs_new": ([_vp, _vp, _vp, _vp], _vp),
    "cs_free": ([_vp], None),
    "cs_set_source": ([_vp, _c_char_p, _dbl], _c_int),
    "cs_clear_source": ([_vp, _c_char_p], None),
    "cs_clear_all": ([_vp, _c_char_p], None),
    **dict.fromkeys(("cs_reset", "cs_set_target", "cs_break", "cs_start"), ([_vp, _dbl], None)),
    "cs_set_forward": ([_vp, _c_int], None),
    "cs_wait": ([_vp, _dbl, _P(_dbl)], _c_int),
    "cs_advance": ([_vp, _dbl, _dbl, _P(_dbl)], _c_int),
    **dict.fromkeys(
        ("cs_halt", "cs_release", "cs_lines_clear", "cs_quantities_clear"), ([_vp], None)
    ),
    **dict.fromkeys(("cs_line_count", "cs_unknown_source"), ([_vp], _c_int)),
    **dict.fromkeys(("cs_now", "cs_thread_cpu"), ([_vp], _dbl)),
    "cs_line": ([_vp, _c_int], _c_char_p),
    "cs_set_vpi": ([_vp, _c_int], None),
    "cs_quantity": ([_vp, _c_char_p, _dbl], _c_int),
    "cs_quantity_found": ([_vp, _c_int], _c_int),
    "cs_find": ([_vp, _c_char_p], _c_int),
}


def declare(lib: Any, signatures: Signatures) -> None:
    """Declare the argument and result types of ``lib``'s functions named in ``signatures``."""
    for name, (args, result) in signatures.items():
        function = getattr(lib, name)
        function.argtypes, function.restype = args, result


def _load_helper(path: str | None) -> ctypes.CDLL | None:
    """The compiled lockstep helper (``synchelper.c``, see :mod:`cosim.spice.build`)."""
    if path is None:
        return None
    helper = ctypes.CDLL(path)
    declare(helper, _HELPER)
    return helper


@functools.cache
def load_sync_helper() -> tuple[Any, str]:
    """The compiled lockstep helper on its own, without libngspice (for the VPI bridge with an
    analog side in Python): the library (loaded once), or None and the reason it is not
    available."""
    path, reason = helper_library()
    if path is None:
        return None, reason
    try:
        return _load_helper(str(path)), reason
    except OSError as exc:
        return None, f"cannot load the helper: {exc}"


class _Library:
    """One loaded libngspice file, initialised once, with callbacks that reach its owner.

    The CFUNCTYPE objects live as long as this object, which lives in ``_LIBRARIES`` for
    the rest of the process (libngspice cannot be unloaded safely).
    """

    def __init__(self, path: str) -> None:
        self.path = path
        try:
            self.lib = ctypes.CDLL(path)
            declare(self.lib, _NGSPICE)
        except (OSError, AttributeError) as exc:
            raise LibraryError(f"cannot load libngspice {path!r}: {exc}; {_FIX}") from exc
        self.owner: NgSpice | None = None
        self.banner: list[str] = []
        self.version = 0
        self.exit_request: tuple[int, bool] | None = None
        self.osdi_ok = False
        path_or_none, self.sync_reason = helper_library()
        if path_or_none is None and os.environ.get(ENV_SYNC, "").strip().lower() == "c":
            raise LibraryError(f"{ENV_SYNC}=c but {self.sync_reason}")
        try:
            self.helper = _load_helper(None if path_or_none is None else str(path_or_none))
        except OSError as exc:
            self.helper, self.sync_reason = None, f"cannot load the helper: {exc}"
        self._callbacks = (
            _SendChar(self._send_char),
            _ControlledExit(self._controlled_exit),
            _SendData(self._send_data),
            _SendInitData(self._send_init_data),
            _BGThreadRunning(lambda running, ident, user: 0),
            _GetSrcData(self._get_source),
            _GetSrcData(self._get_source),
            _GetSyncData(self._sync),
        )
        self._ident = ctypes.c_int(0)
        self._initialise()

    def _initialise(self) -> None:
        os.environ["LC_NUMERIC"] = "C"
        in_main = threading.current_thread() is threading.main_thread()
        old_sigint = signal.getsignal(signal.SIGINT) if in_main else None
        send_char, exit_cb, data_cb, init_cb, bg_cb, vsrc_cb, isrc_cb, sync_cb = self._callbacks
        user = None
        helper = self.helper
        self.cs: int | None = None
        if helper is not None:
            # The helper's C callbacks take ngspice's place; they pass on to the Python ones.
            def addr(function: Any) -> int:
                return ctypes.cast(function, _vp).value or 0

            self.cs = user = helper.cs_new(
                addr(self.lib.ngSpice_SetBkpt), addr(vsrc_cb), addr(data_cb), addr(send_char)
            )
            send_char = _SendChar(addr(helper.cs_send_char))
            data_cb = _SendData(addr(helper.cs_send_data))
            bg_cb = _BGThreadRunning(addr(helper.cs_bg_running))
            vsrc_cb = isrc_cb = _GetSrcData(addr(helper.cs_source))
            sync_cb = _GetSyncData(addr(helper.cs_sync))
            self._c_callbacks = (send_char, data_cb, bg_cb, vsrc_cb, sync_cb)
        status = self.lib.ngSpice_Init(send_char, None, exit_cb, data_cb, init_cb, bg_cb, user)
        self.lib.ngSpice_Init_Sync(vsrc_cb, isrc_cb, sync_cb, ctypes.byref(self._ident), user)
        if old_sigint is not None:
            signal.signal(signal.SIGINT, old_sigint)
        locale.setlocale(locale.LC_NUMERIC, "C")
        if status != 0:
            raise LibraryError(f"ngSpice_Init failed with status {status}; {_FIX}")

    # The callbacks run on the caller's thread (foreground commands only). They must never
    # raise: ctypes would print and drop the exception. Owners store errors for later.

    def _send_char(self, text: bytes, ident: int, user: int | None) -> int:
        line = text.decode("utf-8", "replace")
        if self.owner is None:
            self.banner.append(line)
        else:
            self.owner._on_output(line)
        return 0

    def _controlled_exit(self, status: int, unload: bool, quit_: bool, ident: int, u: int) -> int:
        self.exit_request = (status, quit_)
        return 0

    def _send_data(self, data: ctypes._Pointer[_VecValuesAll], n: int, ident: int, u: int) -> int:
        owner = self.owner
        if owner is not None:
            if owner._hook is not None:
                owner._on_data(data)
            if owner._signal is not None and not owner._halt_sent:
                owner._halt()
        return 0

    def _send_init_data(self, info: ctypes._Pointer[_VecInfoAll], ident: int, u: int) -> int:
        if self.owner is not None:
            self.owner._on_init_data(info)
        return 0

    def _get_source(
        self, out: ctypes._Pointer[ctypes.c_double], t: float, name: bytes, *_: object
    ) -> int:
        owner = self.owner
        if owner is not None:
            if name == _SYNC_SOURCE_B:
                out[0] = 1.0 if t >= owner._target_reached_s else 0.0
            else:
                out[0] = owner._source_value(name, t)
        return 0

    def _sync(
        self,
        t: float,
        delta: ctypes._Pointer[ctypes.c_double],
        old: float,
        redo: int,
        ident: int,
        loc: int,
        user: int | None,
    ) -> int:
        """ngspice's per-step sync (``GetSyncData``): steer the next step onto the target.

        ngspice calls it after choosing each step: ``loc == 0`` after its own breakpoint
        handling, ``loc == 1`` after a point was accepted (``redo == 0``, a ``loc == 0`` call
        follows) or rejected (``redo == 1``, the retry follows directly). The callback only
        shortens the step: the step after a sync is ngspice's own choice, so a sync is no
        breakpoint (no order reset, no cut steps). A gap a little longer than one step is split
        in two equal steps instead of leaving a sliver. Near the ``.tran`` end it lands the
        step exactly on it: ngspice's sharedsync() would otherwise move it 1.1 delmin short
        and halve towards the end until "timestep too small".
        """
        owner = self.owner
        if owner is None:
            return 0
        step = delta[0]
        if owner._break_s < _INF:
            self.lib.ngSpice_SetBkpt(owner._break_s)
            owner._break_s = _INF
        if loc == 1 and not redo:
            owner._next_step_s = step
        elif loc == 0 and t == owner._restart_s:
            # ngspice restarted at the jump's breakpoint (order 1, the right thing) and cut
            # the step to a tenth of the one its error control had chosen: take that back.
            owner._restart_s = _INF
            step = max(step, owner._next_step_s)
        if loc == 0 or redo:
            gap = owner._target_s - t
            if gap > owner._target_tol_s:
                if step >= gap:
                    step = gap
                elif step > 0.5 * gap:
                    step = 0.5 * gap
        end = owner._tstop_s
        remaining = end - t
        if step > remaining or (
            loc == 0 and 2.0 * step >= remaining and remaining < owner._target_s - t
        ):
            step = remaining
            while step > 0.0 and t + step > end:
                step = math.nextafter(step, 0.0)
        delta[0] = step
        return 0

    def probe(self, command: str) -> list[str]:
        """Run a command while no :class:`NgSpice` owns the library; return its output."""
        start = len(self.banner)
        self.lib.ngSpice_Command(command.encode())
        return self.banner[start:]


_LIBRARIES: dict[int, _Library] = {}  # dlopen handle -> library: the state libngspice forces
_REGISTRY_LOCK = threading.Lock()


class _DlInfo(ctypes.Structure):
    _fields_ = [("fname", _c_char_p), ("fbase", _vp), ("sname", _c_char_p), ("saddr", _vp)]


def _default_library() -> str:
    """Library to load: ``$COSIM_LIBNGSPICE``, else the system's libngspice."""
    return os.environ.get(ENV_LIBRARY) or ctypes.util.find_library("ngspice") or "libngspice.so.0"


def _library_file(name: str) -> str:
    """Absolute file name of the library ``dlopen(name)`` loads (via ``dladdr``)."""
    if os.sep in name:
        return os.path.realpath(name)
    try:
        lib = ctypes.CDLL(name)
    except OSError as exc:
        raise LibraryError(f"cannot load libngspice {name!r}: {exc}; {_FIX}") from exc
    info = _DlInfo()
    libc = ctypes.CDLL(None)
    address = ctypes.cast(lib.ngSpice_Command, _vp)
    if not libc.dladdr(address, ctypes.byref(info)) or not info.fname:
        raise LibraryError(f"cannot find the file of {name!r}; set {ENV_LIBRARY}=/path/to/it")
    return os.path.realpath(info.fname.decode())


def _acquire(name: str, private_copy: bool, owner: NgSpice) -> _Library:
    """Load (once) and initialise the library, and make ``owner`` its only user."""
    with _REGISTRY_LOCK:
        tmpdir = None
        if private_copy:
            source = _library_file(name)
            tmpdir = tempfile.mkdtemp(prefix="cosim-ngspice-")
            name = os.path.join(tmpdir, f"libngspice-copy{len(_LIBRARIES)}.so")
            shutil.copyfile(source, name)
        try:
            try:
                handle = ctypes.CDLL(name)._handle
            except OSError as exc:
                raise LibraryError(
                    f"cannot load libngspice {name!r}: {exc}; {_FIX} "
                    f"(or point {ENV_LIBRARY} at a libngspice.so >= {MIN_VERSION})"
                ) from exc
            state = _LIBRARIES.get(handle)
            if state is None:
                state = _LIBRARIES[handle] = _Library(name)
        finally:
            if tmpdir is not None:  # the mapping stays valid after the file is removed
                shutil.rmtree(tmpdir, ignore_errors=True)
        if state.owner is not None:
            raise NgspiceBusyError(
                f"libngspice {state.path!r} is already used by a live NgSpice (one global "
                "simulator per loaded library): close() it, or pass private_copy=True"
            )
        state.owner = owner
        return state


def _library_version(state: _Library) -> int:
    """ngspice's major version (0 if unknown), read once from the banner or ``version -s``."""
    if not state.version:
        text = "\n".join(state.banner[:10])
        match = re.search(r"ngspice-(\d+)", text)
        if match is None:
            match = re.search(r"ngspice-(\d+)", "\n".join(state.probe("version -s")))
        state.version = int(match.group(1)) if match else 0
    return state.version


def _check_osdi(state: _Library, owner: NgSpice) -> None:
    """Raise :class:`LibraryError` unless the library is ngspice >= 46 with OSDI.

    Checked only when a Verilog-A model is loaded: a deck of built-in devices runs on any
    libngspice with the shared API.
    """
    if state.osdi_ok:
        return
    version = _library_version(state)
    if version < MIN_VERSION:
        raise LibraryError(
            f"{state.path!r} is ngspice {version or 'of unknown version'}, "
            f"need >= {MIN_VERSION} with OSDI to load Verilog-A models; {_FIX}"
        )
    if any("no such command" in text for _, text in owner._execute("osdi", check=False)):
        raise LibraryError(f"{state.path!r} (ngspice {version}) was built without OSDI; {_FIX}")
    state.osdi_ok = True


def _spice_number(word: str) -> float:
    """A SPICE number with an optional scale suffix (``1m``, ``2.5u``, ``10meg``)."""
    match = re.fullmatch(r"([-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?)([a-z]*)", word.lower())
    if match is None:
        raise ValueError(word)
    scale = {"t": 1e12, "g": 1e9, "meg": 1e6, "k": 1e3, "m": 1e-3, "u": 1e-6, "n": 1e-9}
    scale |= {"p": 1e-12, "f": 1e-15, "mil": 25.4e-6}
    suffix = match.group(2)
    factor = next((v for k, v in scale.items() if suffix.startswith(k)), 1.0)
    if suffix.startswith("m") and not suffix.startswith(("meg", "mil")):
        factor = 1e-3
    return float(match.group(1)) * factor


def _tran_stop(lines: Sequence[str]) -> float | None:
    """``tstop`` of the netlist's ``.tran`` card (None if there is none or it is unreadable)."""
    for line in lines:
        words = line.split()
        if words and words[0].lower() == ".tran" and len(words) >= 3:
            try:
                return _spice_number(words[2])
            except ValueError:
                return None
    return None


def _with_sync_source(lines: list[str]) -> list[str]:
    """The netlist with the lockstep's sync source before ``.end`` (saved if saves are given).

    ``V cosim_sync 0 dc 0 external``: its value is 1 once the transient reaches the target of
    :meth:`NgSpice.advance_to`, and the permanent ``stop when cosim_sync > 0.5`` pauses there.
    A stop on a node sets no breakpoint, unlike ``stop when time >= t``.
    """
    extra = [f"{_SYNC_SOURCE} {_SYNC_NODE} 0 dc 0 external"]
    if any(line.lstrip().lower().startswith(".save") for line in lines):
        extra.append(f".save v({_SYNC_NODE})")
    return [*lines[:-1], *extra, lines[-1]]


# --- the simulator ------------------------------------------------------------------------


def _hook_name(name: str) -> str:
    """ngspice's plot-vector name for a user name: ``v(a)`` -> ``a``, ``i(v1)`` -> ``v1#branch``."""
    low = name.strip().lower()
    match = re.fullmatch(r"([vi])\((.+)\)", low)
    if match is None:
        return low
    kind, inner = match.groups()
    return inner if kind == "v" else f"{inner}#branch"


def plot_vector_name(name: str) -> str:
    """A vector's name in ngspice's output plot: ``v(a)`` → ``a``, ``i(v1)`` → ``v1#branch``."""
    return _hook_name(name)


class NgSpice:
    """One ngspice simulator (a loaded libngspice), driven in the foreground.

    Use as a context manager or call :meth:`close`; while open, no other instance may use
    the same library file (see the module docstring).

    Args:
        library: libngspice file or name to load. Default: ``$COSIM_LIBNGSPICE``, else the
            system's ``libngspice.so.0``.
        private_copy: Load a private copy of the library, so that this instance is
            independent of any other in the process.
        num_threads: ngspice's ``num_threads`` (its spinit sets 8, which is slow on 2 cores).
        log_lines: How many recent ngspice output lines :meth:`recent_output` keeps.

    Raises:
        LibraryError: libngspice is missing, older than 46, or built without OSDI.
        NgspiceBusyError: Another live instance already uses that library.
    """

    def __init__(
        self,
        library: str | os.PathLike[str] | None = None,
        *,
        private_copy: bool = False,
        num_threads: int = 1,
        log_lines: int = 500,
    ) -> None:
        self._closed = True
        self._log: collections.deque[str] = collections.deque(maxlen=log_lines)
        self._capture: list[tuple[bool, str]] | None = None
        self._callback_error: BaseException | None = None
        self._src_values: dict[bytes, float] = {}
        self._src_funcs: dict[bytes, SourceFunction] = {}
        self._hook: DataHook | None = None
        self._hook_request: tuple[str, ...] | None = None
        self._hook_index: tuple[tuple[str, int], ...] = ()
        self._hook_scale = -1
        self._circuit = False
        self._has_tran = False
        self._tran = "idle"  # "idle" | "paused" | "done"
        self._stop_pending = False
        self._signal: int | None = None  # a SIGINT/SIGTERM received during a command
        self._halt_sent = False
        self._halt_stop = False  # the halt added `stop when time > 0` (no sync source)
        self._analysis = False  # an analysis command is running (a halt is possible)
        self._guarding = False
        self._sync = False  # the loaded circuit has the lockstep sync source
        self._tstop_s = _INF
        self._target_s = _INF  # read by the sync callbacks (see _Library._sync)
        self._target_reached_s = _INF
        self._target_tol_s = 0.0
        self._paused_s = 0.0
        self._next_step_s = 0.0  # the step ngspice chose after the latest accepted point
        self._restart_s = _INF  # time of the latest announced input jump (see break_at)
        self._break_s = _INF  # a breakpoint for ngspice, set at the next sync callback
        name = os.fspath(library) if library is not None else _default_library()
        self._state = _acquire(name, private_copy, self)
        self._lib = self._state.lib
        helper: Any = self._state.helper
        self._helper = helper  # used only when self._cs is set
        self._cs = self._state.cs  # the helper's state (None: the pure-Python lockstep)
        self._bg_blocked = False  # ngspice's thread waits in the helper at a sync time
        self._bg_lines: list[tuple[bool, str]] = []
        self._now = ctypes.c_double(0.0)
        self._now_ref = ctypes.byref(self._now)
        if self._cs is not None:
            helper.cs_clear_all(self._cs, _SYNC_SOURCE_B)
        self._closed = False
        try:
            self.command(f"set num_threads={int(num_threads)}")
        except BaseException:
            self.close()
            raise

    # --- lifetime ----------------------------------------------------------------------

    def __enter__(self) -> NgSpice:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Remove the circuit and all plots and hand the library back. Idempotent."""
        if self._closed:
            return
        try:
            if self._circuit:
                self.remove_circuit()
        finally:
            self._closed = True
            self._hook = None
            self._state.owner = None

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closed

    @property
    def version(self) -> int:
        """ngspice's major version number (e.g. 46; 0 if the library does not say)."""
        return _library_version(self._state)

    @property
    def sync_engine(self) -> str:
        """``"c"`` (the compiled helper runs the lockstep) or ``"python"`` (the fallback)."""
        return "c" if self._cs is not None else "python"

    @property
    def sync_reason(self) -> str:
        """Why :attr:`sync_engine` is what it is (the helper's file, or what was missing)."""
        return self._state.sync_reason

    @property
    def library_path(self) -> str:
        """The library file or name this instance loaded."""
        return self._state.path

    # --- commands ------------------------------------------------------------------------

    def command(self, command: str) -> list[str]:
        """Send one ngspice command and return its output lines.

        Raises:
            UsageError: For ``quit``/``exit``/``bg_*`` (not allowed here).
            NgspiceError: The matching subclass, if ngspice reported a failure.
        """
        verb = command.split(maxsplit=1)[0].lower() if command.strip() else ""
        if verb in FORBIDDEN:
            raise UsageError(f"ngspice command {verb!r} is not allowed: {FORBIDDEN[verb]}")
        if verb in ANALYSES and self._tran == "paused" and verb != "resume":
            raise UsageError(
                f"cannot start {verb!r} while a transient is paused at t = {self.time_s!r} s: "
                "call run() to finish it or remove_circuit()"
            )
        lines = self._execute(command)
        if verb in ANALYSES:
            self._after_analysis(lines)
        return [text for _, text in lines]

    def _execute(self, command: str, *, check: bool = True) -> list[tuple[bool, str]]:
        """Send ``command``; raise callback errors, then (if ``check``) ngspice's errors."""
        if self._closed:
            raise UsageError("this NgSpice object is closed; create a new one")
        if self._bg_blocked:
            self._bg_stop()
        self._capture = []
        self._callback_error = None
        verb = command.split(maxsplit=1)[0].lower() if command.strip() else ""
        try:
            with self._interruptible(verb in ANALYSES):
                self._lib.ngSpice_Command(command.encode())
        finally:
            lines, self._capture = self._capture, None
        self._raise_callback_error()
        if check:
            error = command_error(command, [text for is_err, text in lines if is_err])
            if error is not None:
                if command.split()[0].lower() in ANALYSES:
                    self._end_transient()
                raise error
        return lines

    # --- interrupts (see the module docstring) ------------------------------------------

    @contextlib.contextmanager
    def _interruptible(self, analysis: bool) -> Iterator[None]:
        """Record SIGINT/SIGTERM during a C call; halt an analysis; re-deliver afterwards."""
        if self._guarding or threading.current_thread() is not threading.main_thread():
            yield
            return
        saved: dict[int, object] = {}
        for signum in (signal.SIGINT, signal.SIGTERM):
            old = signal.getsignal(signum)
            if old is None or old == signal.SIG_IGN:
                continue  # ignored (background job) or not set from Python: leave it alone
            saved[signum] = old
            signal.signal(signum, self._on_signal)
        self._guarding, self._signal, self._halt_sent = True, None, False
        self._analysis = analysis
        try:
            yield
        finally:
            self._analysis = False
            for number, previous in saved.items():
                signal.signal(number, previous)  # type: ignore[arg-type]
            self._guarding = False
        received, self._signal = self._signal, None
        if received is not None:
            self._after_halt()
            handler = saved[received]
            if callable(handler):
                handler(received, None)  # default_int_handler raises KeyboardInterrupt
            os.kill(os.getpid(), received)  # SIG_DFL: die as the signal says
            raise KeyboardInterrupt  # pragma: no cover (not reached)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self._signal is None:
            self._signal = signum

    def _halt(self) -> None:
        """Called from the SendData callback: make the running transient pause now."""
        self._halt_sent = True
        if not (self._analysis and self._has_tran):
            return
        if self._sync and self._cs is None:
            self._target_reached_s = -_INF  # the sync source reads 1: the stop pauses the run
        else:
            self._halt_stop = True
            self._lib.ngSpice_Command(b"stop when time > 0")

    def _after_halt(self) -> None:
        """After an interrupted command: undo the halt; the transient stays paused."""
        if not self._halt_sent:
            return
        self._halt_sent = False
        if self._halt_stop:
            self._halt_stop = False
            self._guarding = True  # no nested handler swap for the clean-up command
            try:
                self._lib.ngSpice_Command(b"delete all")
            finally:
                self._guarding = False
            self._stop_pending = False
        if self._sync:
            self._set_target(_INF)
        if self._circuit and self._tran != "done" and self._has_time():
            self._tran = "paused"

    def _raise_callback_error(self) -> None:
        error, self._callback_error = self._callback_error, None
        if error is not None:
            if self._tran == "paused":
                self._end_transient()
            raise error

    def _after_analysis(self, lines: list[tuple[bool, str]]) -> None:
        """Track whether a transient is paused (by a ``stop``) or done."""
        paused = any("simulation interrupted" in text for _, text in lines)
        self._tran = "paused" if paused else ("done" if self._has_time() else "idle")

    def _end_transient(self) -> None:
        if self._bg_blocked:
            self._bg_stop()
        self._tran = "done" if self._tran != "idle" else "idle"
        if self._stop_pending:
            self._stop_pending = False
            self._execute("delete all", check=False)

    def recent_output(self, n: int = 50) -> list[str]:
        """The last ``n`` lines ngspice printed (stdout and stderr, oldest first)."""
        return list(self._log)[-n:]

    def _on_output(self, line: str) -> None:
        is_err = line.startswith("stderr ")
        text = line[7:] if line.startswith(("stdout ", "stderr ")) else line
        self._log.append(text)
        if self._capture is not None and not text.startswith(_BG_JOINED):
            self._capture.append((is_err, text))

    # --- models and circuits -------------------------------------------------------------

    def load_osdi(self, path: str | os.PathLike[str]) -> None:
        """Load a compiled Verilog-A model (``osdi /abs/path``); its instances use prefix N.

        Removes the loaded circuit first: ngspice 46 crashes when it later removes a circuit
        that was parsed before new OSDI device types were added. Load models, then circuits.

        Raises:
            OsdiLoadError: The file is missing or ngspice rejected it.
        """
        file = Path(path).resolve()
        if not file.is_file():
            raise OsdiLoadError(f"OSDI file {str(file)!r} does not exist", f"osdi {file}")
        if any(ch.isspace() for ch in str(file)):
            raise UsageError(
                f"OSDI path {str(file)!r} contains white space, ngspice cannot load it"
            )
        _check_osdi(self._state, self)
        if self._circuit:
            self.remove_circuit()
        self._execute(f"osdi {file}")

    def load_circuit(self, netlist: str | Sequence[str]) -> None:
        """Parse a netlist (first line = title) into ngspice, replacing any loaded circuit.

        Raises:
            NetlistError: ngspice rejected a line; nothing stays loaded.
        """
        if self._circuit:
            self.remove_circuit()
        text = netlist if isinstance(netlist, str) else "\n".join(netlist)
        lines = [line.rstrip() for line in text.splitlines()]
        while lines and not lines[-1]:
            lines.pop()
        if not lines:
            raise UsageError("empty netlist: give a title line, elements and an analysis")
        if lines[-1].lower() != ".end":
            lines.append(".end")
        has_tran = any(line.lstrip().lower().startswith(".tran") for line in lines)
        if has_tran:
            lines = _with_sync_source(lines)
        encoded = [line.encode() for line in lines]
        array = (_c_char_p * (len(encoded) + 1))(*encoded, None)
        self._capture = []
        self._callback_error = None
        self._state.exit_request = None
        try:
            with self._interruptible(False):
                status = self._lib.ngSpice_Circ(array)
        finally:
            captured, self._capture = self._capture, None
        errs = [text for is_err, text in captured if is_err]
        bad = [e for e in errs if any(sign in e.lower() for sign in NETLIST_SIGNS)]
        if status != 0 or self._state.exit_request is not None or bad:
            self._execute("remcirc", check=False)
            self._execute("destroy all", check=False)
            summary = (bad or errs or [f"ngSpice_Circ returned {status}"])[0].strip()
            raise NetlistError(f"netlist rejected: {summary}", "<circuit>", errs)
        self._circuit = True
        self._has_tran = has_tran
        self._tran = "idle"
        self._raise_callback_error()
        self._tstop_s = _tran_stop(lines) or _INF
        if self._cs is not None:
            self._helper.cs_reset(self._cs, self._tstop_s)
        self._set_target(_INF)
        self._sync = has_tran
        if self._sync:  # the helper's sync source reads 1 at a sync, 2 to let its thread go
            level = 0.5 if self._cs is None else 1.5
            self._execute(f"stop when {_SYNC_NODE} > {level}")

    @property
    def circuit_loaded(self) -> bool:
        """True while a circuit is loaded."""
        return self._circuit

    def remove_circuit(self) -> None:
        """Remove the circuit, its stop conditions and all result plots (frees memory)."""
        if self._stop_pending or self._sync:
            self._execute("delete all", check=False)
            self._stop_pending = False
            self._sync = False
        if self._circuit:
            self._execute("remcirc", check=False)
        self._execute("destroy all", check=False)
        self._circuit = False
        self._tran = "idle"

    def alter(self, device: str, value: float | str, parameter: str | None = None) -> None:
        """Change a device (or model) parameter: ``alter device [parameter] = value``.

        Works on a paused transient (unlike ``alterparam``).

        Raises:
            UnknownDeviceError: No such device, model or parameter.
        """
        rhs = repr(float(value)) if isinstance(value, int | float) else str(value)
        target = f"{device} {parameter}" if parameter else device
        self._execute(f"alter {target} = {rhs}")

    # --- analyses ------------------------------------------------------------------------

    def run(self) -> None:
        """Run the netlist's analyses to the end in the foreground (finishes a paused one).

        Raises:
            SimulationError: The matching subclass if the analysis failed.
        """
        self._need_circuit("run")
        if self._bg_blocked:
            self._advance_bg(_INF, None, 0.0)
            return
        self._set_target(_INF)
        if self._tran == "paused":
            self._clear_stop()
            self.command("resume")
        else:
            self.command("run")
        if self._tran == "paused" and self._sync:  # a stale pause request: see _go
            self.command("resume")

    def op(self) -> dict[str, float]:
        """Run an operating point and return every vector's value by name."""
        self._need_circuit("op")
        self.command("op")
        return {name: self.latest(name) for name in self.vector_names()}

    def advance_to(self, t_s: float) -> None:
        """Run (first call) or resume the netlist's ``.tran`` until exactly ``t_s``.

        The per-step sync callback shortens the step that would pass ``t_s`` so that a time
        point lands on it, and the sync source (see :func:`_with_sync_source`) pauses the run
        there. No breakpoint is set and no command string is built: the step after the pause
        is the one ngspice's error control chose. Advancing to the ``.tran`` stop time ends the
        transient normally (``transient_state == "done"``). Calling it with the current time
        does nothing.

        Raises:
            UsageError: ``t_s`` lies before the current time or after the transient's end.
            SimulationError: The matching subclass if the transient failed.
        """
        t_s = float(t_s)
        if self._tran == "paused":  # the lockstep's hot path
            now_s = self._paused_s
            tol_s = 1e-18 + 1e-12 * abs(t_s)
            if t_s - now_s <= tol_s:
                if now_s - t_s <= tol_s:
                    return
                raise UsageError(f"advance_to({t_s!r}): time runs forward, now is {now_s!r} s")
            if t_s > self._tstop_s + tol_s:
                raise UsageError(f"advance_to({t_s!r}): the transient ends at {self._tstop_s!r} s")
            if self._bg_blocked:
                self._advance_bg(t_s, None, tol_s)
            elif self._cs is not None:
                self._advance_bg(t_s, b"bg_resume", tol_s)
            else:
                self._set_target(t_s)
                self._go(b"resume", t_s, tol_s)
            return
        self._need_circuit("advance_to")
        if not self._has_tran:
            raise UsageError("advance_to needs a .tran line in the netlist (none found)")
        tol_s = _time_tolerance(t_s)
        if self._tran == "done":
            now_s = self.time_s
            if abs(t_s - now_s) <= tol_s:
                return
            raise UsageError(
                f"advance_to({t_s!r}): the transient already ended at {now_s!r} s; "
                "load the circuit again to start over"
            )
        if t_s < -tol_s:
            raise UsageError(f"advance_to({t_s!r}): time runs forward, now is 0.0 s")
        if t_s > self._tstop_s + tol_s:
            raise UsageError(f"advance_to({t_s!r}): the transient ends at {self._tstop_s!r} s")
        if self._cs is not None and t_s > tol_s:
            self._advance_bg(t_s, b"bg_run", tol_s)
            return
        if t_s > tol_s:
            self._set_target(t_s)
            self._go(b"run", t_s, tol_s)
            return
        # The operating point: the sync source's dc value pauses on the t = 0 point. (A resume
        # from there restarts the transient, so the dc value must be 0 again before it; the
        # restart takes the sources' values set at t = 0, with either engine.)
        self.alter(_SYNC_SOURCE, 1.0, "dc")
        try:
            self._set_target(0.0)
            self._go(b"run", t_s, tol_s)
        finally:
            self.alter(_SYNC_SOURCE, 0.0, "dc")

    def break_at(self, t_s: float) -> None:
        """Announce that an input jumps at ``t_s`` (call before advancing to it).

        ngspice puts a breakpoint there, as at a source's own edge: the integration restarts at
        ``t_s`` with a first-order step, so trapezoidal integration never mixes the rates before
        and after the jump. Unlike a plain breakpoint, the step after it keeps the size
        ngspice's error control chose (no cut to a tenth; a too-long step is rejected and
        retried as usual).
        """
        if self._tran == "paused" and t_s > self._paused_s:
            # Set from the sync callback once the run is going: a resume from the t = 0 pause
            # restarts the transient and would drop a breakpoint set now.
            if self._cs is not None:
                self._helper.cs_break(self._cs, float(t_s))
            else:
                self._break_s = self._restart_s = float(t_s)

    def _set_target(self, t_s: float) -> None:
        """Where the sync callbacks steer and pause: ``t_s``, or nowhere (inf, or the end)."""
        tol_s = _time_tolerance(t_s)
        if t_s >= self._tstop_s - tol_s - 1e-9 * self._tstop_s:
            t_s = _INF  # ngspice ends the transient there by itself
        self._target_s = t_s
        self._target_tol_s = tol_s
        self._target_reached_s = t_s - tol_s
        if self._cs is not None:
            self._helper.cs_set_target(self._cs, t_s)

    def _advance_bg(self, t_s: float, start: bytes | None, tol_s: float) -> None:
        """The compiled helper's lockstep: ngspice steps in its own thread up to ``t_s``.

        ``start`` is ``bg_run`` (first call) or ``bg_resume`` (after a halt); None releases
        the thread waiting in the helper's sync callback (the hot path: one C call). The
        helper's waits return every ``_WAIT_S`` so that Python's SIGINT handler runs; on an
        interrupt the thread waits at its next accepted point (the transient stays paused
        there) and the exception goes on.
        """
        if start is None:
            try:
                status = self._helper.cs_advance(self._cs, t_s, _WAIT_S, self._now_ref)
            except BaseException:
                self._bg_interrupted()
                raise
            if status == _CS_BLOCKED and self._callback_error is None:
                self._paused_s = self._now.value
                return
            self._bg_wait(status)
        else:
            for _ in range(2):  # a stale stop request pauses a new run at once: resume again
                self._bg_lines = []
                self._capture = self._bg_lines
                self._callback_error = None
                self._helper.cs_start(self._cs, t_s)
                self._bg_blocked = True  # from now on the thread must be released
                self._lib.ngSpice_Command(start)
                self._bg_wait(_CS_TIMEOUT)
                if self._tran != "paused" or self._bg_blocked or self._paused_s >= t_s - tol_s:
                    break
                start = b"bg_resume"
        if self._tran == "paused" and self._paused_s < t_s - tol_s:
            raise UsageError(f"advance_to({t_s!r}): the transient stopped at {self._paused_s!r} s")

    def _bg_wait(self, status: int) -> None:
        """Wait (interruptibly) until the thread waits at the target or ends; settle."""
        idle = 0  # waits in a row without a live ngspice thread (it never started)
        try:
            while status == _CS_TIMEOUT:
                status = self._helper.cs_wait(self._cs, _WAIT_S, self._now_ref)
                idle = 0 if self._lib.ngSpice_running() else idle + 1
                if status == _CS_TIMEOUT and idle >= 20:
                    self._helper.cs_release(self._cs)
                    self._bg_blocked = False
                    self._capture = None
                    lines = "; ".join(text for _, text in self._bg_lines[-3:])
                    raise SimulationError(
                        f"ngspice's background run did not start ({lines or 'no output'})",
                        "bg_run",
                    )
        except SimulationError:
            raise
        except BaseException:
            self._bg_interrupted()
            raise
        self._bg_settle(status)

    def _bg_interrupted(self) -> None:
        """Ctrl-C (or another exception) while ngspice steps: pause at its next point."""
        self._helper.cs_halt(self._cs)
        status = _CS_TIMEOUT
        while status == _CS_TIMEOUT:
            status = self._helper.cs_wait(self._cs, _WAIT_S, self._now_ref)
        self._bg_settle(status)

    def _bg_settle(self, status: int) -> None:
        """After the helper's wait: paused at a sync time, or the thread ended (classify)."""
        if status == _CS_BLOCKED:
            self._bg_blocked = True
            self._tran = "paused"
            self._paused_s = self._now.value
            if self._callback_error is not None:
                self._raise_callback_error()
            return
        self._bg_blocked = False
        lines, self._capture = self._bg_lines, None
        self._raise_callback_error()
        self._classify("run", lines)
        if self._tran == "paused":
            self._paused_s = self.time_s

    def _bg_stop(self) -> None:
        """Let ngspice's thread go and halt it (``bg_halt``): a command may follow.

        The sync source then reads 1, so the permanent stop condition pauses the transient at
        its next accepted point (one step past the sync time) and the thread ends.
        """
        self._bg_blocked = False
        self._helper.cs_release(self._cs)
        status = _CS_TIMEOUT
        while status == _CS_TIMEOUT:
            status = self._helper.cs_wait(self._cs, _WAIT_S, self._now_ref)
        lines, self._capture = self._bg_lines, None
        self._after_analysis(lines)
        if self._tran == "paused":
            self._paused_s = self.time_s

    # --- the compiled bridge (cosim.spice.vpisync) takes over the hot path ---------------

    @property
    def thread_waiting(self) -> bool:
        """ngspice's thread (compiled helper) waits at a sync: the compiled bridge can start."""
        return self._bg_blocked

    def hold_for_vpi(self) -> tuple[Any, int]:
        """The helper library and its state, for the compiled VPI bridge (cosim.spice.vpisync).

        Until :meth:`release_from_vpi` the bridge advances the transient from C.

        Raises:
            UsageError: ngspice's thread does not wait at a sync (see :attr:`thread_waiting`).
        """
        if self._cs is None or not self._bg_blocked:
            raise UsageError(
                "the compiled bridge needs ngspice's thread waiting at a sync "
                f"({self.sync_reason}; transient {self._tran})"
            )
        return self._helper, self._cs

    def release_from_vpi(self) -> None:
        """The compiled bridge stopped: take ngspice's output and time back; report its end.

        Raises:
            SimulationError: The matching subclass if the transient failed meanwhile.
        """
        helper, cs = self._helper, self._cs
        helper.cs_set_vpi(cs, 0)
        for k in range(helper.cs_line_count(cs)):
            self._on_output(helper.cs_line(cs, k).decode("utf-8", "replace"))
        helper.cs_lines_clear(cs)
        helper.cs_quantities_clear(cs)
        status = helper.cs_wait(cs, 0.0, self._now_ref)
        if status == _CS_BLOCKED:
            self._paused_s = self._now.value
        elif self._bg_blocked:
            self._bg_settle(status)

    @property
    def thread_cpu_s(self) -> float:
        """CPU time of ngspice's current background thread (compiled helper; else 0)."""
        return float(self._helper.cs_thread_cpu(self._cs)) if self._cs is not None else 0.0

    def _go(self, command: bytes, t_s: float, tol_s: float) -> None:
        """Run or resume until the target; classify the outcome (cheaply when it is a pause).

        A pause short of the target can only be a stale stop request of an earlier run of
        the library (ngspice keeps it across circuits): one more ``resume`` goes on.
        """
        for _ in range(2):
            lines: list[tuple[bool, str]] = []
            self._capture = lines
            self._callback_error = None
            try:
                with self._interruptible(True):
                    self._lib.ngSpice_Command(command)
            finally:
                self._capture = None
            self._raise_callback_error()
            errs = [text for is_err, text in lines if is_err]
            if errs and all(_is_pause_line(text) for text in errs):
                info = self._lib.ngGet_Vec_Info(b"time")
                if info and info.contents.v_length > 0:
                    now_s = info.contents.v_realdata[info.contents.v_length - 1]
                    if abs(now_s - t_s) <= tol_s:
                        self._tran = "paused"
                        self._paused_s = now_s
                        return
            self._classify(command.decode(), lines)
            if self._tran != "paused" or self.time_s >= t_s - tol_s:
                break
            command = b"resume"
        now_s = self.time_s
        if self._tran == "paused":
            self._paused_s = now_s
        if now_s < t_s - tol_s:
            raise UsageError(f"advance_to({t_s!r}): the transient stopped at {now_s!r} s")

    def _classify(self, command: str, lines: list[tuple[bool, str]]) -> None:
        """The slow path of :meth:`_go`: ngspice's messages decide (errors, end, pause)."""
        errs = [text for is_err, text in lines if is_err and not _is_pause_line(text)]
        error = command_error(command, errs)
        if error is not None:
            self._end_transient()
            raise error
        self._after_analysis(lines)

    def _clear_stop(self) -> None:
        if self._stop_pending:
            self._execute("delete all")
            self._stop_pending = False

    def _need_circuit(self, what: str) -> None:
        if not self._circuit:
            raise NoCircuitError(f"{what} needs a circuit: call load_circuit() first", what)

    @property
    def transient_state(self) -> str:
        """``"idle"`` (not started), ``"paused"`` (by :meth:`advance_to`) or ``"done"``."""
        return self._tran

    @property
    def time_s(self) -> float:
        """Simulation time of the latest accepted transient point (0.0 before the start)."""
        if self._tran == "idle":
            return 0.0
        return self.latest("time")

    # --- vectors ---------------------------------------------------------------------------

    def _vector_info(self, name: str) -> _VectorInfo:
        pointer = self._lib.ngGet_Vec_Info(name.encode())
        if not pointer or pointer.contents.v_length <= 0:
            known = ", ".join(self.vector_names()) or "none (run an analysis first)"
            raise UnknownVectorError(
                f"no vector {name!r} in plot {self.current_plot!r}; known: {known}"
            )
        return pointer.contents

    def latest(self, name: str) -> float:
        """Latest value of a real vector (``v(out)``, ``out``, ``i(v1)``), cheap in lockstep.

        Raises:
            UnknownVectorError: No such vector (the message lists the known ones).
        """
        info = self._vector_info(name)
        if not info.v_realdata:
            raise UsageError(f"vector {name!r} is complex: use vector({name!r})")
        return float(info.v_realdata[info.v_length - 1])

    def vector(self, name: str) -> np.ndarray:
        """A copy of a whole vector (float64, or complex128 for AC results)."""
        import numpy as np

        info = self._vector_info(name)
        n = info.v_length
        if info.v_realdata:
            return np.ctypeslib.as_array(info.v_realdata, shape=(n,)).copy()
        pairs = np.ctypeslib.as_array(info.v_compdata, shape=(2 * n,)).copy()
        return pairs[0::2] + 1j * pairs[1::2]

    def vector_tail(self, name: str, start: int) -> np.ndarray:
        """A copy of a real vector from index ``start`` to its current end.

        Cheap in lockstep (no copy of the part already read): use it to stream a growing
        transient in blocks.
        """
        import numpy as np

        info = self._vector_info(name)
        n = info.v_length
        if not info.v_realdata:
            raise UsageError(f"vector {name!r} is complex: use vector({name!r})")
        if start >= n:
            return np.empty(0)
        address = ctypes.addressof(info.v_realdata.contents) + 8 * start
        return np.frombuffer((ctypes.c_double * (n - start)).from_address(address)).copy()

    @property
    def current_plot(self) -> str:
        """Name of ngspice's current plot (e.g. ``tran1``, ``op1``, ``const``)."""
        name = self._lib.ngSpice_CurPlot()
        return name.decode() if name else ""

    def vector_names(self, plot: str | None = None) -> list[str]:
        """Names of all vectors in ``plot`` (default: the current plot)."""
        names = self._lib.ngSpice_AllVecs((plot or self.current_plot).encode())
        result: list[str] = []
        if names:
            i = 0
            while names[i]:
                result.append(names[i].decode())
                i += 1
        return result

    def _has_time(self) -> bool:
        return "time" in self.vector_names()

    # --- external sources ------------------------------------------------------------------

    def set_source(self, name: str, value: float) -> None:
        """Hold an ``external`` source at ``value`` (V or A) from now on (zero-order hold).

        Write the source as ``V1 a b external`` or ``I1 a b external`` (with ``dc 0 external``
        ngspice does not ask Python during the operating point). Names are case-insensitive.
        """
        key = name.strip().lower().encode()
        if self._src_funcs:
            self._src_funcs.pop(key, None)
        value = float(value)
        self._src_values[key] = value
        if self._cs is not None and self._helper.cs_set_source(self._cs, key, value):
            self._helper.cs_clear_source(self._cs, key)  # table full: Python answers

    def set_source_function(self, name: str, function: SourceFunction) -> None:
        """Drive an ``external`` source with ``function(t_s) -> value`` (V or A)."""
        key = name.strip().lower().encode()
        self._src_values.pop(key, None)
        self._src_funcs[key] = function
        if self._cs is not None:
            self._helper.cs_clear_source(self._cs, key)

    def _source_value(self, name: bytes, t_s: float) -> float:
        value = self._src_values.get(name)
        if value is not None:
            return value
        function = self._src_funcs.get(name)
        if function is not None:
            try:
                return float(function(t_s))
            except BaseException as exc:  # reported after the command returns
                self._callback_error = self._callback_error or exc
                return 0.0
        if self._callback_error is None:
            known = sorted(k.decode() for k in (*self._src_values, *self._src_funcs))
            self._callback_error = UnknownSourceError(
                f"external source {name.decode()!r} has no value: call set_source() or "
                f"set_source_function() first (sources set: {known})",
                "<external source>",
            )
        return 0.0

    # --- streaming every accepted point ------------------------------------------------

    def set_data_hook(self, hook: DataHook | None, vectors: Sequence[str] | None = None) -> None:
        """Call ``hook(t_s, values)`` at every accepted transient point of later runs.

        Args:
            hook: The callable, or None to stop streaming.
            vectors: Names to pass (``v(a)``, ``a``, ``i(v1)``); default: all of the plot.
                Unknown names raise :class:`UnknownVectorError` when the analysis starts.
        """
        self._hook = hook
        if self._cs is not None:
            self._helper.cs_set_forward(self._cs, int(hook is not None))
        self._hook_request = None if vectors is None else tuple(vectors)
        self._hook_index = ()
        self._hook_scale = -1

    def _on_init_data(self, info: ctypes._Pointer[_VecInfoAll]) -> None:
        if self._hook is None:
            return
        plot = info.contents
        names = [plot.vecs[i].contents.vecname.decode().lower() for i in range(plot.veccount)]
        self._hook_scale = names.index("time") if "time" in names else -1
        wanted = self._hook_request
        if wanted is None:
            self._hook_index = tuple((n, i) for i, n in enumerate(names) if n != "time")
            return
        index: list[tuple[str, int]] = []
        for name in wanted:
            plot_name = _hook_name(name)
            if plot_name not in names:
                self._callback_error = self._callback_error or UnknownVectorError(
                    f"data hook: no vector {name!r}; known: {', '.join(names)}", "<data hook>"
                )
                self._hook_scale = -1
                return
            index.append((name, names.index(plot_name)))
        self._hook_index = tuple(index)

    def _on_data(self, data: ctypes._Pointer[_VecValuesAll]) -> None:
        hook = self._hook
        if hook is None or self._hook_scale < 0 or self._callback_error is not None:
            return
        values = data.contents.vecsa
        try:
            hook(
                values[self._hook_scale].contents.creal,
                {name: values[i].contents.creal for name, i in self._hook_index},
            )
        except BaseException as exc:  # reported after the command returns
            self._callback_error = exc


def _is_pause_line(text: str) -> bool:
    return any(sign in text for sign in _PAUSE_LINES)


def _time_tolerance(t_s: float) -> float:
    """How close a lockstep stop must land to the requested time (s)."""
    return 1e-18 + 1e-12 * abs(t_s)
