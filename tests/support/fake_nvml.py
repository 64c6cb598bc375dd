"""A fake ``libnvidia-ml.so.1`` built with gcc, for the real ``pynvml`` binding to load.

``fake_nvml/fake_nvml.c`` implements the NVML C functions preflight's gpu.health calls, with the
real signatures and return codes; what they answer comes from a key=value file named by the
environment variable ``FAKE_NVML_CONFIG`` and read at ``nvmlInit`` (see the C file's header for
the keys). Two ways to use it:

- a subprocess (the CLI end to end): ``env = {"LD_LIBRARY_PATH": lib_dir, "FAKE_NVML_CONFIG":
  path}``; pynvml's ``CDLL("libnvidia-ml.so.1")`` finds it as it would find the driver's;
- in-process: ``use_in_process(lib_path)`` puts a handle to it in place of ``pynvml.nvmlLib``
  and resets the binding's init state and function-pointer cache; ``restore_in_process`` undoes
  that.

Builds are cached per source hash and per set of omitted functions (``omit=``: compiled with
``-DOMIT_<name>``, which is how an older driver's library looks to the binding), under one
directory per test session.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

SOURCE = Path(__file__).parent / "fake_nvml" / "fake_nvml.c"
LIBRARY_NAME = "libnvidia-ml.so.1"
CONFIG_ENV = "FAKE_NVML_CONFIG"


class CompilerMissing(RuntimeError):
    """gcc is not installed: tests that need the fake library skip."""


def build(cache_dir: Path, omit: Iterable[str] = ()) -> Path:
    """``libnvidia-ml.so.1`` compiled from the fake's source into ``cache_dir`` (reused when the
    source and the omitted functions are unchanged)."""
    omitted = sorted(set(omit))
    for name in omitted:
        if not name.isidentifier():
            raise ValueError(f"not a C function name: {name!r}")
    source = SOURCE.read_bytes()
    key = hashlib.sha256(source + "\0".join(omitted).encode()).hexdigest()[:16]
    folder = cache_dir / key
    library = folder / LIBRARY_NAME
    if library.exists():
        return library
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        raise CompilerMissing("gcc is not installed (apt-get install -y gcc)")
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f".{LIBRARY_NAME}.partial"
    command = [
        compiler,
        "-shared",
        "-fPIC",
        "-O1",
        "-Wall",
        "-Werror",
        "-fvisibility=hidden",
        f"-Wl,-soname,{LIBRARY_NAME}",
        *(f"-DOMIT_{name}" for name in omitted),
        "-o",
        str(partial),
        str(SOURCE),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"building the fake NVML library failed:\n{done.stderr}")
    partial.replace(library)  # atomic: a parallel worker never loads a half-written file
    return library


def config_text(config: Mapping[str, Any]) -> str:
    """The configuration file for ``config``: ``count=8``, ``gpus={3: {"ecc_volatile": 2}}``
    (per GPU; ``"*"`` for all), ``xid=[(3, 79, 200)]`` (GPU, XID, delay in ms), ``unsupported=
    ["nvmlDeviceGetRemappedRows"]``; any other key is written as ``key=value``."""
    lines: list[str] = []
    for key, value in config.items():
        if key == "gpus":
            for index, fields in dict(value).items():
                for name, field_value in dict(fields).items():
                    lines.append(f"gpu.{index}.{name}={_text(field_value)}")
        elif key == "xid":
            lines.append("xid=" + ",".join(f"{g}:{x}:{d}" for g, x, d in value))
        else:
            lines.append(f"{key}={_text(value)}")
    return "\n".join(lines) + "\n"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, list | tuple | set):
        return ",".join(str(v) for v in value)
    return str(value)


def use_in_process(library: Path) -> Any:
    """Load ``library`` into this process as pynvml's NVML library; returns the pynvml module.

    pynvml keeps the loaded library in ``nvmlLib``, function pointers in a cache, and an init
    reference count: all three are replaced, so the next ``nvmlInit`` runs against the fake."""
    import ctypes

    import pynvml

    restore_in_process()
    with pynvml.libLoadLock:
        pynvml.nvmlLib = ctypes.CDLL(str(library))
        pynvml._nvmlGetFunctionPointer_cache.clear()
        pynvml._nvmlLib_refcount = 0
    return pynvml


def restore_in_process() -> None:
    """Forget any library pynvml loaded (the next call loads ``libnvidia-ml.so.1`` again)."""
    import pynvml

    with pynvml.libLoadLock:
        pynvml.nvmlLib = None
        pynvml._nvmlGetFunctionPointer_cache.clear()
        pynvml._nvmlLib_refcount = 0
