"""What the benchmark scripts share: timing one whole preflight process."""

from __future__ import annotations

import subprocess
import time


def timed(argv: list[str], env: dict[str, str]) -> float:
    """Wall seconds of one run of ``argv`` (output discarded; bounded at 120 s)."""
    started = time.perf_counter()
    subprocess.run(
        argv,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
        timeout=120,
    )
    return time.perf_counter() - started


def measured(argv: list[str], env: dict[str, str]) -> tuple[float, int, float]:
    """Wall seconds, peak open sockets and peak RSS (MiB) of one run of ``argv``.

    Sockets are counted from /proc/PID/fd every 5 ms (a sample can miss a socket that lives
    less than that, never count one that does not exist); RSS is the kernel's high-water mark
    from wait4()."""
    import os
    import threading
    from pathlib import Path

    started = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        fds = Path(f"/proc/{proc.pid}/fd")
        while not done.is_set():
            count = 0
            try:
                for fd in fds.iterdir():
                    try:
                        if os.readlink(fd).startswith("socket:"):
                            count += 1
                    except OSError:
                        continue
            except OSError:
                pass
            peak = max(peak, count)
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        _, _, usage = os.wait4(proc.pid, 0)
    finally:
        done.set()
        sampler.join()
    proc.returncode = 0  # reaped by wait4: keep Popen from waiting again
    wall = time.perf_counter() - started
    return wall, peak, usage.ru_maxrss / 1024
