"""Plain logic of the InfraValidator: which platform, waiting with a deadline, why a model failed."""
from __future__ import annotations

import os
import shutil
import socket
import time
from typing import Callable, Optional

TF_SERVING_BINARY = "tf_serving_binary"
DOCKER = "docker"
LOCAL_PROCESS = "local_process"
PLATFORMS = (TF_SERVING_BINARY, DOCKER, LOCAL_PROCESS)
MODEL_SERVER_BINARY = "tensorflow_model_server"

DESCRIPTIONS = {
    TF_SERVING_BINARY: "TF Serving (tensorflow_model_server)",
    DOCKER: "TF Serving in Docker",
    LOCAL_PROCESS: "a separate Python process loading the SavedModel with TensorFlow; not a TF Serving check",
}


class PlatformUnavailable(RuntimeError):
    """The configured platform does not exist here: a setup problem, not a verdict on the model."""


def find_model_server(configured_path: Optional[str]) -> Optional[str]:
    """The TF Serving binary: the configured path, else `tensorflow_model_server` on PATH."""
    if configured_path:
        return configured_path if os.access(configured_path, os.X_OK) and os.path.isfile(configured_path) else None
    return shutil.which(MODEL_SERVER_BINARY)


def docker_engine_answers(timeout_seconds: float = 3) -> bool:
    try:
        import docker

        client = docker.from_env(timeout=timeout_seconds)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # no socket, no permission, no engine: all mean "no Docker here"
        return False


def choose_platform(requested: str, model_server: Optional[str], docker_answers: Callable[[], bool],
                    configured_path: Optional[str] = None) -> str:
    """`auto`: the real binary, else Docker if an engine answers, else the local process stand-in."""
    if requested == TF_SERVING_BINARY and not model_server:
        where = configured_path or f"{MODEL_SERVER_BINARY} on PATH"
        raise PlatformUnavailable(f"infra_validation.platform is {TF_SERVING_BINARY} but {where} is not an "
                                  "executable file (see README: getting the TF Serving binary)")
    if requested == DOCKER and not docker_answers():
        raise PlatformUnavailable(f"infra_validation.platform is {DOCKER} but no Docker engine answers")
    if requested in PLATFORMS:
        return requested
    if requested != "auto":
        raise ValueError(f"unknown platform {requested!r}; expected auto or one of {', '.join(PLATFORMS)}")
    if model_server:
        return TF_SERVING_BINARY
    if docker_answers():
        return DOCKER
    return LOCAL_PROCESS


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


def failure_reason(error: BaseException, server_log: Optional[str], timed_out: bool = False) -> str:
    """One line for the run summary: what failed, with the server's own words when it said why."""
    cause = error.__cause__
    if cause is not None and hasattr(cause, "details") and callable(cause.details):  # grpc.RpcError
        reason = f"a request failed: {cause.details()}"
    elif timed_out:
        reason = f"{error} (infra_validation.max_loading_time_seconds)"
    else:
        reason = str(error).splitlines()[0].rstrip(".") if str(error) else type(error).__name__
    said = server_error_line(server_log or "")
    if said and said not in reason:
        reason += f"; the server said: {said}"
    return shorten(reason)


def server_error_line(log: str) -> Optional[str]:
    """The last line of a model server log that reports an error."""
    markers = ("LOAD FAILED", "error", "Error", "Failed", "failed", "Killed", "MemoryError")
    for line in reversed(log.splitlines()):
        if any(marker in line for marker in markers) and "cuBLAS" not in line and "cuda" not in line.lower():
            return line.strip()
    return None


def non_finite_outputs(answers: list[dict]) -> str:
    """Why the model's answers cannot be served: "" when every number in every output is finite, else which
    outputs held NaN or infinity and in how many of the requests (a model trained on an `inf` answers NaN to
    everything; argmax of NaN still names a class, so accuracy alone does not show it)."""
    import numpy as np

    bad: dict[str, int] = {}
    for outputs in answers:
        for name, values in outputs.items():
            array = np.asarray(values)
            if array.dtype.kind in "fc" and not np.isfinite(array).all():
                bad[name] = bad.get(name, 0) + 1
    if not bad:
        return ""
    listed = ", ".join(f"{name!r} in {count} of {len(answers)} requests" for name, count in sorted(bad.items()))
    return f"the model answers NaN or infinity ({listed}): it would serve no usable prediction"


def shorten(text: str, limit: int = 400) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
