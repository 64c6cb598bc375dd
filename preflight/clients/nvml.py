"""NVML (NVIDIA's management library) through the official binding, ``pynvml`` (nvidia-ml-py).

Generic access only: which questions to ask a GPU and what the answers mean belong to the checks.
What this module settles once for all of them:

- **Lazy**: ``pynvml`` is imported, and ``libnvidia-ml.so.1`` loaded, on first use, so a run
  without GPU checks never touches either.
- **Three kinds of absence told apart**. No NVML library on the host (no NVIDIA driver) is a
  missing need: the check is skipped, with how to supply it. A library that is there but cannot
  start (driver not loaded, library and kernel module of different versions, no permission on
  ``/dev/nvidia*``) is a finding the check reports: the need is met, ``init`` raises
  ``NvmlError`` with a ``kind``. A query that one GPU or one driver does not offer is neither:
  ``call`` returns an ``Unsupported`` marker instead of raising, whether NVML said
  NOT_SUPPORTED, the driver's library lacks the function (older driver), or the installed
  binding lacks its wrapper (older nvidia-ml-py).
- **Bounded waits**: event sampling (``sample_events``) waits in short slices and stops when the
  caller's ``stop`` event is set, so a run's deadline or Ctrl-C is never held by a blocking
  ``nvmlEventSetWait``.
"""

from __future__ import annotations

import contextlib
import ctypes
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

#: the text an unsupported query is recorded as (in details and reports)
NOT_SUPPORTED = "not supported"
LIBRARY = "libnvidia-ml.so.1"

# NVML return codes (nvml.h; stable across driver versions)
ERROR_UNINITIALIZED = 1
ERROR_NOT_SUPPORTED = 3
ERROR_NO_PERMISSION = 4
ERROR_DRIVER_NOT_LOADED = 9
ERROR_TIMEOUT = 10
ERROR_LIBRARY_NOT_FOUND = 12
ERROR_FUNCTION_NOT_FOUND = 13
ERROR_CORRUPTED_INFOROM = 14
ERROR_GPU_IS_LOST = 15
ERROR_RESET_REQUIRED = 16
ERROR_LIB_RM_VERSION_MISMATCH = 18

_KINDS = {
    ERROR_UNINITIALIZED: "uninitialized",
    ERROR_NOT_SUPPORTED: "not-supported",
    ERROR_NO_PERMISSION: "no-permission",
    ERROR_DRIVER_NOT_LOADED: "driver-not-loaded",
    ERROR_TIMEOUT: "timeout",
    ERROR_LIBRARY_NOT_FOUND: "library-not-found",
    ERROR_FUNCTION_NOT_FOUND: "function-not-found",
    ERROR_CORRUPTED_INFOROM: "corrupted-inforom",
    ERROR_GPU_IS_LOST: "gpu-lost",
    ERROR_RESET_REQUIRED: "reset-required",
    ERROR_LIB_RM_VERSION_MISMATCH: "version-mismatch",
}

NO_DRIVER_REASON = f"no NVIDIA driver here (the NVML library {LIBRARY} was not found)"
NO_DRIVER_HOW = (
    "run on a host with an NVIDIA GPU and its driver installed (nvidia-smi works there), or "
    "add --in-cluster to check every GPU node of the cluster from probe pods"
)
NO_BINDING_REASON = "the NVML binding (Python package nvidia-ml-py) is not installed"
NO_BINDING_HOW = "pip install nvidia-ml-py (a dependency of preflight: reinstall preflight)"


@dataclass(frozen=True)
class Unsupported:
    """A query this GPU, driver or binding does not offer: recorded, never a failure.

    It is falsy and prints as ``not supported``; ``why`` says which of the three it was."""

    function: str
    why: str

    def __bool__(self) -> bool:
        return False

    def __str__(self) -> str:
        return NOT_SUPPORTED


class NvmlError(Exception):
    """An NVML call that failed for a reason other than "not supported"."""

    def __init__(self, kind: str, message: str, code: int | None, function: str) -> None:
        super().__init__(message)
        #: uninitialized | no-permission | driver-not-loaded | timeout | library-not-found |
        #: corrupted-inforom | gpu-lost | reset-required | version-mismatch | binding-missing |
        #: error
        self.kind = kind
        self.message = message
        self.code = code
        self.function = function

    def __reduce__(self) -> tuple[Any, ...]:  # picklable across threads/processes
        return (NvmlError, (self.kind, self.message, self.code, self.function))


def _kind(code: int | None) -> str:
    return _KINDS.get(code, "error") if code is not None else "error"


class Stop(Protocol):
    """What ends a wait early: a ``threading.Event``, or anything with ``is_set``."""

    def is_set(self) -> bool: ...


@dataclass
class Event:
    """One event NVML delivered during a sampling window."""

    handle_key: int  # ``NvmlClient.handle_key`` of the device it is about
    event_type: int
    data: int  # for XID critical errors: the XID number
    at_s: float  # seconds after the window opened


@dataclass
class EventSampling:
    """What one sampling window saw."""

    window_s: float
    events: list[Event] = field(default_factory=list)
    #: handle key -> Unsupported or NvmlError for devices whose registration failed
    not_registered: dict[int, Unsupported | NvmlError] = field(default_factory=dict)
    #: set when the whole sampling could not run (event sets unsupported, ...)
    failure: Unsupported | NvmlError | None = None
    #: True when ``stop`` ended the window early
    stopped: bool = False
    elapsed_s: float = 0.0


class NvmlClient:
    """One per run (``client_for(ctx)``). Thread-safe: NVML itself is, and the binding's
    library loading and init counting are under its own lock."""

    def __init__(self, module: Any = None) -> None:
        self._module = module
        self._lock = threading.Lock()
        self._inits = 0

    # -- the binding and the library ----------------------------------------------------------

    @property
    def module(self) -> Any:
        """``pynvml``, imported on first use (raises NvmlError kind binding-missing)."""
        if self._module is None:
            try:
                # on first use: NVML's bindings stays out of start-up (docs/ARCHITECTURE.md)
                import pynvml
            except ImportError as exc:
                raise NvmlError("binding-missing", NO_BINDING_REASON, None, "import") from exc
            self._module = pynvml
        return self._module

    def load(self) -> None:
        """Load the NVML library without initializing it (raises NvmlError; kind
        library-not-found when the host has no NVIDIA driver)."""
        nvml = self.module
        loader = getattr(nvml, "_LoadNvmlLibrary", None)
        if loader is None:  # a binding without the loader: init tells the same
            self.init()
            self.shutdown()
            return
        try:
            loader()
        except nvml.NVMLError as exc:
            raise self._error(exc, "load") from None

    def available(self) -> tuple[str, str] | None:
        """None when the NVML library is here (whether or not it will start), else
        (reason, how to supply it)."""
        try:
            self.load()
        except NvmlError as exc:
            if exc.kind == "library-not-found":
                return NO_DRIVER_REASON, NO_DRIVER_HOW
            if exc.kind == "binding-missing":
                return NO_BINDING_REASON, NO_BINDING_HOW
            return None  # the library is here but fails: the check reports that
        return None

    def init(self) -> None:
        """``nvmlInit`` (counted: every ``init`` needs its ``shutdown``); raises NvmlError."""
        nvml = self.module
        try:
            nvml.nvmlInit()
        except nvml.NVMLError as exc:
            raise self._error(exc, "nvmlInit") from None
        with self._lock:
            self._inits += 1

    def shutdown(self) -> None:
        """``nvmlShutdown`` for one ``init``; errors are ignored (nothing left to protect)."""
        with self._lock:
            if self._inits <= 0:
                return
            self._inits -= 1
        with contextlib.suppress(Exception):
            self.module.nvmlShutdown()

    @contextlib.contextmanager
    def session(self) -> Iterator[NvmlClient]:
        """``with client.session():`` init ... shutdown."""
        self.init()
        try:
            yield self
        finally:
            self.shutdown()

    # -- calls ----------------------------------------------------------------------------------

    def call(self, function: str, *args: Any) -> Any:
        """``pynvml.<function>(*args)``; an ``Unsupported`` marker when the GPU, driver or
        binding does not offer it; NvmlError for any other failure."""
        nvml = self.module
        wrapper = getattr(nvml, function, None)
        if wrapper is None:
            return Unsupported(function, "not in this version of the nvidia-ml-py binding")
        try:
            return _text(wrapper(*args))
        except nvml.NVMLError as exc:
            code = getattr(exc, "value", None)
            if code == ERROR_NOT_SUPPORTED:
                return Unsupported(function, "not supported by this GPU or driver")
            if code == ERROR_FUNCTION_NOT_FOUND:
                return Unsupported(function, "not in this driver's NVML library (older driver)")
            raise self._error(exc, function) from None
        except AttributeError:  # a binding whose wrapper needs a newer ctypes structure
            return Unsupported(function, "not in this version of the nvidia-ml-py binding")

    def call_first(self, functions: Sequence[str], *args: Any) -> Any:
        """The first of ``functions`` that is offered (newer name first, then the older one it
        replaced); ``Unsupported`` for the last when none is."""
        result: Any = Unsupported(functions[-1], "not offered")
        for function in functions:
            result = self.call(function, *args)
            if not isinstance(result, Unsupported):
                return result
        return result

    def constant(self, name: str, default: int) -> int:
        """A constant of the binding (``nvmlEventTypeXidCriticalError``), or ``default`` when
        an older binding lacks it."""
        value = getattr(self.module, name, default)
        return int(value) if isinstance(value, int) else default

    @staticmethod
    def handle_key(handle: Any) -> int:
        """A device handle as an int (the pointer), to match event data to devices."""
        return int(ctypes.cast(handle, ctypes.c_void_p).value or 0)

    # -- events ---------------------------------------------------------------------------------

    def sample_events(
        self,
        handles: Sequence[Any],
        event_types: int,
        window_s: float,
        stop: Stop | None = None,
        slice_s: float = 0.25,
    ) -> EventSampling:
        """Register ``handles`` for ``event_types`` and collect what NVML delivers for
        ``window_s`` seconds (waiting in slices of at most ``slice_s``, ending early when
        ``stop`` is set). Only events that happen inside the window are seen: NVML keeps no
        history of them."""
        sampling = EventSampling(window_s)
        started = time.monotonic()
        event_set = self.call("nvmlEventSetCreate")
        if isinstance(event_set, Unsupported):
            sampling.failure = event_set
            return sampling
        try:
            registered = 0
            for handle in handles:
                try:
                    outcome = self.call("nvmlDeviceRegisterEvents", handle, event_types, event_set)
                except NvmlError as exc:
                    outcome = exc
                if isinstance(outcome, Unsupported | NvmlError):
                    sampling.not_registered[self.handle_key(handle)] = outcome
                else:
                    registered += 1
            if not registered:
                return sampling
            ends = started + max(0.0, window_s)
            while True:
                left = ends - time.monotonic()
                if left <= 0:
                    break
                if stop is not None and stop.is_set():
                    sampling.stopped = True
                    break
                wait_ms = max(1, int(min(left, slice_s) * 1000))
                try:
                    data = self.call("nvmlEventSetWait_v2", event_set, wait_ms)
                except NvmlError as exc:
                    if exc.kind == "timeout":
                        continue
                    if exc.kind == "gpu-lost":  # a lost device ends no other's sampling
                        continue
                    sampling.failure = exc
                    break
                if isinstance(data, Unsupported):
                    data = self.call("nvmlEventSetWait", event_set, wait_ms)
                    if isinstance(data, Unsupported):
                        sampling.failure = data
                        break
                sampling.events.append(
                    Event(
                        self.handle_key(data.device),
                        int(data.eventType),
                        int(data.eventData),
                        round(time.monotonic() - started, 3),
                    )
                )
        finally:
            with contextlib.suppress(Exception):
                self.call("nvmlEventSetFree", event_set)
            sampling.elapsed_s = round(time.monotonic() - started, 3)
        return sampling

    # -- errors ---------------------------------------------------------------------------------

    def _error(self, exc: BaseException, function: str) -> NvmlError:
        code = getattr(exc, "value", None)
        try:
            text = str(exc)
        except Exception:  # noqa: BLE001 - str() of an NVMLError asks the library itself
            text = f"NVML error {code}"
        return NvmlError(_kind(code), text, code, function)


def _text(value: Any) -> Any:
    """Strings as str: older bindings return bytes."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def need(client: NvmlClient, in_cluster: bool) -> tuple[str, str] | None:
    """The ``nvml`` need: met when the NVML library is on this host (a library that fails to
    start is the check's finding, not a skip), or when the run goes ``--in-cluster``: then the
    probe pods reach NVML on the nodes."""
    missing = client.available()
    if missing is not None and in_cluster:
        return None
    return missing
