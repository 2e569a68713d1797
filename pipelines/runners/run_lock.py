"""Which processes are running a pipeline now: one file per running process in <pipeline_root>/.runs/,
held with flock for as long as the process lives.

The kernel releases a process's flock when the process ends, however it ends (SIGKILL included), so a
lock file nobody holds belongs to a run that is over. PIDs are not trusted: they are reused.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
import uuid
from typing import Optional, TextIO

SUFFIX = ".lock"


def lock_dir(pipeline_root: str) -> str:
    return os.path.join(pipeline_root, ".runs")


class RunLock:
    """This process's claim: `with RunLock(directory) as lock: lock.others()`."""

    def __init__(self, directory: str, what: str = ""):
        self.directory, self.what = directory, what
        self.path: Optional[str] = None
        self.started: float = 0.0
        self._file: Optional[TextIO] = None

    def __enter__(self) -> "RunLock":
        os.makedirs(self.directory, exist_ok=True)
        name = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        # Locked under a name others ignore, then renamed: nobody can see the file before it is held.
        claiming = os.path.join(self.directory, name + ".claiming")
        self._file = held = open(claiming, "w")
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self.started = time.time()
        json.dump({"pid": os.getpid(), "host": socket.gethostname(), "started": self.started, "what": self.what}, held)
        held.flush()
        self.path = os.path.join(self.directory, name + SUFFIX)
        os.rename(claiming, self.path)
        return self

    def __exit__(self, *exc) -> None:
        if self.path is not None:
            with contextlib.suppress(FileNotFoundError):  # the output folder was deleted during the run
                os.remove(self.path)
        if self._file is not None:
            self._file.close()  # releases the lock

    def others(self) -> list[dict]:
        """The other processes holding a lock here (each lock file's content); removes stale files."""
        return live_runs(self.directory, exclude=self.path, remove_stale=True)

    def earlier(self) -> list[dict]:
        """The other holders that claimed before this one: of two runs started together, exactly one sees
        none (ties broken by process id)."""
        mine = (self.started, os.getpid())
        return [o for o in self.others() if (o.get("started", 0.0), o.get("pid", 0)) < mine]


def live_runs(directory: str, exclude: Optional[str] = None, remove_stale: bool = False) -> list[dict]:
    """What the processes that hold a lock in `directory` wrote in it; read-only unless `remove_stale`."""
    if not os.path.isdir(directory):
        return []
    alive = []
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        if not name.endswith(SUFFIX) or path == exclude:
            continue
        try:
            with open(path) as f:
                try:
                    fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
                except BlockingIOError:  # held: its process is alive
                    f.seek(0)
                    alive.append(_content(f.read()))
                    continue
                if remove_stale:
                    os.remove(path)
        except FileNotFoundError:  # removed meanwhile by its owner or another cleaner
            continue
    return alive


def _content(text: str) -> dict:
    try:
        return json.loads(text)
    except ValueError:
        return {}
