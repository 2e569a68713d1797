"""Where a model server can run: TF Serving's binary, TF Serving in Docker, or the stand-in in a local process.
The names are the config's values (`infra_validator.platform`, `serving.model_server`)."""
from __future__ import annotations

import os
import shutil
from typing import Callable, Optional

from pipelines.shared.errors import MlopsError

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


class PlatformUnavailable(MlopsError, RuntimeError):
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
