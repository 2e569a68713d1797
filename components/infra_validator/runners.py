"""Model server runners for TFX's InfraValidator that start a local process instead of a container.

Both answer TF Serving's gRPC API on a free loopback port, so TFX's TF Serving client and request
builder are used unchanged. The process runs in its own session and is killed as a group in Stop(),
which TFX's executor calls in a `finally`; the stand-in also exits when its parent is gone.
"""
from __future__ import annotations

import ctypes
import os
import resource
import signal
import subprocess
import sys
import tempfile
from typing import Callable, Optional

from tfx.components.infra_validator import error_types
from tfx.components.infra_validator.model_server_runners import base_runner

from pipelines.model_server import platforms, processes

PR_SET_PDEATHSIG = 1


class ProcessRunner(base_runner.BaseModelServerRunner):
    """Runs `command(port)` as a child process; running = the process listens on the port."""

    def __init__(self, name: str, command: Callable[[int], list[str]], env: Optional[dict] = None,
                 memory_limit_bytes: Optional[int] = None):
        self._name = name
        self._command = command
        self._env = env
        self._memory_limit_bytes = memory_limit_bytes
        self._process: Optional[subprocess.Popen] = None
        self._port: Optional[int] = None
        self._log = None  # the server's output: an unlinked file, so nothing is left behind, even on SIGKILL
        self._endpoint: Optional[str] = None

    def __repr__(self):
        return f"ProcessRunner({self._name}, pid={self._process.pid if self._process else None})"

    def Start(self):
        assert self._process is None, "a model server runner starts once"
        self._port = processes.free_loopback_port()
        self._log = tempfile.TemporaryFile(prefix="model-server-", suffix=".log")
        self._process = subprocess.Popen(
            self._command(self._port), stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            env=self._env, start_new_session=True, preexec_fn=self._in_child)

    def _in_child(self):  # runs in the child, before exec
        if sys.platform.startswith("linux"):  # killed with the validator, even by SIGKILL
            ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if self._memory_limit_bytes:
            resource.setrlimit(resource.RLIMIT_AS, (self._memory_limit_bytes, self._memory_limit_bytes))

    def WaitUntilRunning(self, deadline):
        process, port = self._process, self._port
        assert process is not None and port is not None, "Start() comes first"

        def listening() -> bool:
            if process.poll() is not None:
                raise error_types.JobAborted(f"model server exited with code {process.returncode}")
            return processes.port_accepts(port)

        processes.wait_until(listening, deadline, f"{self._name} did not listen on port {self._port}")
        self._endpoint = f"127.0.0.1:{self._port}"

    def GetEndpoint(self):
        assert self._endpoint, "the model server is not running yet"
        return self._endpoint

    def GetLogs(self) -> Optional[str]:
        if self._log is None or self._log.closed:
            return None
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-20000:]

    def Stop(self):
        if self._process is not None and self._process.poll() is None:
            processes.stop_process_group(self._process)
        if self._log is not None:
            self._log.close()


def tf_serving_binary_runner(binary: str, model_path: str, model_name: str) -> ProcessRunner:
    """The real TF Serving; model_path is <base>/<name>/<version> (the executor's TF Serving layout)."""
    base_path = os.path.dirname(model_path)
    return ProcessRunner(platforms.TF_SERVING_BINARY, lambda port: [
        binary, f"--port={port}", "--rest_api_port=0", f"--model_name={model_name}",
        f"--model_base_path={base_path}"])


def local_process_runner(model_path: str, model_name: str, memory_limit_mb: int,
                         max_lifetime_seconds: float) -> ProcessRunner:
    """The stand-in, with TensorFlow only."""
    base_path = os.path.dirname(model_path)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"),
           "TF_CPP_MIN_LOG_LEVEL": "1", "CUDA_VISIBLE_DEVICES": "-1"}
    return ProcessRunner(platforms.LOCAL_PROCESS, lambda port: processes.stand_in_command(
        f"--port={port}", f"--model_name={model_name}", f"--model_base_path={base_path}",
        f"--max_lifetime_seconds={max_lifetime_seconds}"),
        env=env, memory_limit_bytes=memory_limit_mb * 1024 * 1024)
