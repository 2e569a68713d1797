"""A model server as a local process: a free loopback port, waiting until it listens, stopping its process group,
and the stand-in's command line."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from typing import Callable

STAND_IN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "stand_in.py")  # run as a script, not imported
STOP_GRACE_SECONDS = 5


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_accepts(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_until(ready: Callable[[], bool], deadline: float, what: str, interval_seconds: float = 0.2,
               clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep) -> None:
    """Polls `ready` until it returns True; `ready` may raise to give up early (e.g. the process died)."""
    while clock() < deadline:
        if ready():
            return
        sleep(interval_seconds)
    raise TimeoutError(f"{what}: not within the max loading time")


def stop_process_group(process: subprocess.Popen) -> None:
    """SIGTERM to the process group, SIGKILL after a grace period; always reaps the child."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=STOP_GRACE_SECONDS)
            break
        except subprocess.TimeoutExpired:
            continue
    process.wait()


def stand_in_command(*flags: str) -> list[str]:
    """The stand-in in its own interpreter in isolated mode (-I: no project path, no user site): TensorFlow only."""
    return [sys.executable, "-I", STAND_IN, *flags]
