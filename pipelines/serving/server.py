"""`mlops serve` and the rollout commands: one model server for the serving directory, TF Serving's binary
when there is one, else the project's stand-in (pipelines/model_server/stand_in.py); both
answer TF Serving's gRPC API, so everything here is the same code for both.

The labels come from ML Metadata (the latest rollout); the server gets them as a `models.config`
(ModelServerConfig, written atomically) at start-up and through HandleReloadConfigRequest afterwards.
There is one reload mechanism: the gRPC call (the binary is not asked to poll the file).
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from typing import Optional

from pipelines.config import PipelineConfig
from pipelines.metadata import registry, rollouts
from pipelines.metadata.reader import MetadataReader
from pipelines.model_server.platforms import LOCAL_PROCESS, TF_SERVING_BINARY
from pipelines.model_server.processes import stand_in_command
from pipelines.shared import serving_layout, version_labels
from pipelines.shared.errors import MlopsError
from pipelines.shared.version_labels import ServingState

BINARY, STAND_IN = TF_SERVING_BINARY, LOCAL_PROCESS
RPC_TIMEOUT_SECONDS = 30


class ServingError(MlopsError, RuntimeError):
    """Serving or a rollout cannot go on; the message says why and what to do."""


# --- the config the server reads -----------------------------------------------------


def models_config_path(cfg: PipelineConfig) -> str:
    return os.path.join(cfg.output_dir, "models.config")


def models_config(cfg: PipelineConfig, versions, version_labels: dict, log_requests: bool):
    """A ModelServerConfig: these versions (a `specific` policy, so that a new push is not served before a
    rollout says so) and labels; with log_requests, TF Serving's logging_config for the stand-in's request log."""
    from tensorflow_serving.config import model_server_config_pb2

    config = model_server_config_pb2.ModelServerConfig()
    model = config.model_config_list.config.add(name=cfg.name, base_path=cfg.serving_dir, model_platform="tensorflow")
    model.model_version_policy.specific.versions.extend(versions)
    for label, version in sorted(version_labels.items()):
        model.version_labels[label] = version
    rate = cfg.serving.request_log.sampling_rate
    if log_requests and rate > 0:
        model.logging_config.sampling_config.sampling_rate = rate
        model.logging_config.log_collector_config.type = "tfrecord"
        model.logging_config.log_collector_config.filename_prefix = os.path.join(cfg.request_log_dir, cfg.name)
    return config


def write_models_config(path: str, config) -> None:
    """Written to a temporary file and renamed over the old one: a reader never sees half a config."""
    os.replace(stage_models_config(path, config), path)


def stage_models_config(path: str, config) -> str:
    """The config written beside `path` under a temporary name (proof that `path` can be written); the
    caller renames it into place or removes it."""
    from google.protobuf import text_format

    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".models.config-")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text_format.MessageToString(config))
    except BaseException:
        os.remove(temporary)
        raise
    return temporary


# --- talking to a running server -------------------------------------------------------


class ModelServerAdmin:
    """ModelService calls: version states, and HandleReloadConfigRequest."""

    def __init__(self, endpoint: str, model_name: str):
        import grpc
        from tensorflow_serving.apis import model_service_pb2_grpc

        self.endpoint, self.model_name = endpoint, model_name
        self._channel = grpc.insecure_channel(endpoint)
        self._stub = model_service_pb2_grpc.ModelServiceStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    def states(self) -> dict[int, str]:
        """version -> AVAILABLE, LOADING, END, ...; {} when the server does not know the model."""
        import grpc
        from tensorflow_serving.apis import get_model_status_pb2

        request = get_model_status_pb2.GetModelStatusRequest()
        request.model_spec.name = self.model_name
        try:
            response = self._stub.GetModelStatus(request, timeout=RPC_TIMEOUT_SECONDS)
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                return {}
            raise
        names = get_model_status_pb2.ModelVersionStatus.State
        return {status.version: names.Name(status.state) for status in response.model_version_status}

    def answers(self) -> bool:
        import grpc

        try:
            self.states()
            return True
        except grpc.RpcError:
            return False

    def reload(self, config) -> None:
        import grpc
        from tensorflow_serving.apis import model_management_pb2

        try:
            self._stub.HandleReloadConfigRequest(model_management_pb2.ReloadConfigRequest(config=config),
                                                 timeout=RPC_TIMEOUT_SECONDS)
        except grpc.RpcError as error:
            raise ServingError(f"the model server refused the config: {error.details()}") from None

    def wait_available(self, versions, timeout_seconds: float) -> None:
        deadline = time.time() + timeout_seconds
        while True:
            states = self.states()
            waiting = [v for v in versions if states.get(v) != "AVAILABLE"]
            if not waiting:
                return
            failed = [v for v in waiting if states.get(v) == "END"]
            if failed or time.time() > deadline:
                why = "failed to load" if failed else f"not AVAILABLE after {timeout_seconds} s"
                raise ServingError(f"version folder {', '.join(map(str, failed or waiting))} {why} "
                                   f"(states: {states})")
            time.sleep(0.2)


def endpoint(cfg: PipelineConfig) -> str:
    return f"{cfg.serving.host}:{cfg.serving.port}"


def apply(admin: ModelServerAdmin, cfg: PipelineConfig, current: ServingState, target: ServingState,
          log_requests: bool) -> None:
    """Moves a running server from `current` to `target` in TF Serving's two-step protocol (version_labels.transition);
    on a failure, puts `current` back and raises."""
    try:
        for step in version_labels.transition(current, target):
            admin.reload(models_config(cfg, step.versions, step.labels, log_requests))
            admin.wait_available(step.wait_for, cfg.serving.load_timeout_seconds)
    except ServingError as failure:
        try:
            admin.reload(models_config(cfg, current.versions, current.labels, log_requests))
        except ServingError as restoring:  # both matter: why the move failed, and that the server was left mid-way
            raise ServingError(f"{failure}; putting the previous labels back also failed: {restoring}") from failure
        raise


# --- rollouts -----------------------------------------------------------------------


@dataclass
class RolloutResult:
    state: ServingState
    live: bool  # applied to a running server (else recorded for the next `mlops serve`)
    names: dict  # version folder -> registry version ("1.1.0")


def serving_state(reader: MetadataReader, cfg: PipelineConfig) -> tuple[ServingState, bool]:
    """The latest rollout's state, or (first serving) stable on the highest pushed folder; True when new."""
    state = rollouts.current_state(reader)
    if state is not None:
        return state, False
    highest = registry.highest_folder(cfg.serving_dir)
    if highest is None:
        raise ServingError(f"nothing to serve: no pushed model in {cfg.serving_dir} (run the pipeline first)")
    return version_labels.first_serving(highest), True


def roll_out(reader: MetadataReader, cfg: PipelineConfig, action: str, version: Optional[str] = None,
             percent: int = 0, mode: str = "canary") -> RolloutResult:
    """canary | promote | abort | rollback: applied to the running server (if one answers), then written to
    models.config and recorded in ML Metadata. Nothing is recorded when the server refuses."""
    versions = registry.model_versions(reader, cfg.serving_dir, with_metrics=False)
    current, _ = serving_state(reader, cfg)
    folder = None
    if version is not None:
        folder = registry.find(versions, version).folder
        if not os.path.isdir(os.path.join(cfg.serving_dir, str(folder))):
            raise ServingError(f"version {version}'s folder {folder} is gone from {cfg.serving_dir}")
    def named() -> int:
        if folder is None:
            raise ServingError(f"{action} needs a VERSION (see `mlops models`)")
        return folder

    steps = {"canary": lambda: version_labels.start_canary(current, named(), percent, mode),
             "promote": lambda: version_labels.promote(current, folder),
             "abort": lambda: version_labels.abort(current),
             "rollback": lambda: version_labels.rollback(current, named())}
    try:
        target = steps[action]()
    except version_labels.RolloutError as error:
        raise ServingError(str(error)) from None
    log_requests = logs_requests(cfg)
    by_folder = {v.folder: v for v in versions}
    pushed_by_label = _pushed_by_label(reader, target, by_folder)
    path = models_config_path(cfg)
    # All or nothing: what can be checked is checked before the server is touched (models.config is staged
    # beside its place, which proves it can be written); a later failure puts everything back as it was.
    try:
        staged = stage_models_config(path, models_config(cfg, target.versions, target.labels, log_requests))
    except OSError as error:
        raise ServingError(f"{action} not done: cannot write {path} ({error.strerror or error}); {AS_BEFORE}") from None
    previous = open(path, "rb").read() if os.path.exists(path) else None
    admin = ModelServerAdmin(endpoint(cfg), cfg.name)
    live = False
    try:
        live = admin.answers()
        if live:
            apply(admin, cfg, current, target, log_requests)  # on a failure it puts `current` back itself
        os.replace(staged, path)
        rollouts.record_rollout(reader, action, target, pushed_by_label)
        if version_labels.STABLE in target.labels:  # what the drift check compares with
            serving_layout.write_served_version(cfg.serving_dir, target.labels[version_labels.STABLE])
    except Exception as error:  # noqa: BLE001 - whatever failed, the three places must agree again
        raise ServingError(_undo(admin, cfg, action, error, live, current, target, log_requests, path, previous,
                                 staged)) from None
    finally:
        admin.close()
    return RolloutResult(target, live, {f: by_folder[f].version for f in target.versions if f in by_folder})


AS_BEFORE = "the server, models.config and ML Metadata are as before"


def _undo(admin, cfg, action, error, live, current, target, log_requests, path, previous, staged) -> str:
    """Puts models.config and the server back as they were after a failed rollout; the message says what
    failed and where everything stands now."""
    cause = f"{type(error).__name__}: {error}" if not isinstance(error, ServingError) else str(error)
    left = []
    try:
        if os.path.exists(staged):
            os.remove(staged)
        elif previous is not None:
            with open(path, "wb") as f:
                f.write(previous)
        elif os.path.exists(path):
            os.remove(path)
    except OSError as restoring:
        left.append(f"models.config could not be put back ({restoring.strerror or restoring})")
    if live and not isinstance(error, ServingError):  # a ServingError came from apply, which restored already
        try:
            apply(admin, cfg, target, current, log_requests)
        except ServingError as restoring:
            left.append(f"the server could not be put back ({restoring}): it may serve the new labels")
    if left:
        return f"{action} failed: {cause}; " + "; ".join(left)
    return f"{action} not done: {cause}; {AS_BEFORE}"


def _pushed_by_label(reader: MetadataReader, state: ServingState, by_folder: dict) -> dict:
    ids = {label: by_folder[folder].pushed_model_id for label, folder in state.labels.items() if folder in by_folder}
    found = reader.artifacts_by_id(ids.values())
    return {label: found[i] for label, i in ids.items()}


def logs_requests(cfg: PipelineConfig) -> bool:
    """Only the stand-in logs requests: open-source TF Serving rejects a logging_config without a log collector
    plugin."""
    return choose_server(cfg)[0] == STAND_IN


# --- starting the server (`mlops serve`) ------------------------------------------------


def choose_server(cfg: PipelineConfig) -> tuple[str, Optional[str]]:
    """(BINARY, its path) or (STAND_IN, None), as serving.model_server says."""
    from pipelines.model_server.platforms import find_model_server

    binary = find_model_server(cfg.model_server_path)
    if cfg.serving.model_server == BINARY and not binary:
        raise ServingError("serving.model_server is tf_serving_binary but no tensorflow_model_server was found "
                           "(infra_validation.model_server_path, or PATH)")
    if cfg.serving.model_server == STAND_IN or not binary:
        return STAND_IN, None
    return BINARY, binary


def server_command(cfg: PipelineConfig, kind: str, binary: Optional[str], config_path: str) -> list[str]:
    if kind == BINARY and binary:
        return [binary, f"--port={cfg.serving.port}", f"--rest_api_port={cfg.serving.rest_port}",
                f"--model_config_file={config_path}", "--allow_version_labels_for_unavailable_models"]
    log = cfg.serving.request_log
    return stand_in_command(f"--host={cfg.serving.host}", f"--port={cfg.serving.port}",
                            f"--model_config_file={config_path}", "--allow_version_labels_for_unavailable_models",
                            f"--request_log_max_file_mb={log.max_file_mb:g}",
                            f"--request_log_max_total_mb={log.max_total_mb:g}",
                            f"--request_log_keep={json.dumps(logged_features(cfg))}")


def logged_features(cfg: PipelineConfig) -> list[str]:
    """What a request log keeps of each example: the model's features, less the personal and pseudonymised
    ones. A column the model does not take (a dropped name, anything a client adds) is never written."""
    return sorted({f.name for f in cfg.features} - cfg.privacy.hidden)


def port_taken(host: str, port: int) -> bool:
    """Whether something already listens on host:port (any program: a second gRPC server would bind it too,
    SO_REUSEPORT being gRPC's default, and clients would be split between the two)."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a closed server's TIME_WAIT is no owner
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def serve(reader: MetadataReader, cfg: PipelineConfig, on_ready=print) -> int:
    """Starts the server on the latest rollout's labels and waits for it to end (Ctrl-C, SIGTERM)."""
    from pipelines.model_server.processes import stop_process_group

    state, first = serving_state(reader, cfg)
    kind, binary = choose_server(cfg)
    admin = ModelServerAdmin(endpoint(cfg), cfg.name)
    if admin.answers():
        admin.close()
        raise ServingError(f"a model server already answers at {endpoint(cfg)} (serving.port)")
    if port_taken(cfg.serving.host, cfg.serving.port):
        admin.close()
        raise ServingError(f"port {cfg.serving.port} on {cfg.serving.host} is taken by another program "
                           "(serving.port): stop it, or choose another port")
    if kind == STAND_IN and cfg.serving.request_log.sampling_rate > 0:
        check_writable(cfg.request_log_dir)
    config_path = models_config_path(cfg)
    write_models_config(config_path, models_config(cfg, state.versions, state.labels, log_requests=kind == STAND_IN))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "1", "CUDA_VISIBLE_DEVICES": "-1"}
    log_path = os.path.join(cfg.output_dir, "logs", f"serve-{time.strftime('%Y%m%d-%H%M%S')}.log")
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(server_command(cfg, kind, binary, config_path), env=env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    signal.signal(signal.SIGTERM, _interrupt)  # stopped like Ctrl-C: the server is stopped with it
    try:
        deadline = time.time() + cfg.serving.load_timeout_seconds
        while not admin.answers():
            if process.poll() is not None:
                raise ServingError(f"the model server exited with code {process.returncode} (its log: {log_path})")
            if time.time() > deadline:
                raise ServingError(f"the model server did not answer at {endpoint(cfg)} within "
                                   f"{cfg.serving.load_timeout_seconds} s")
            time.sleep(0.2)
        try:
            admin.wait_available(state.versions, cfg.serving.load_timeout_seconds)
        except ServingError as error:
            raise ServingError(f"{error} (the server's log: {log_path})") from None
        by_folder = {v.folder: v for v in registry.model_versions(reader, cfg.serving_dir, with_metrics=False)}
        if first:
            rollouts.record_rollout(reader, "serve", state, _pushed_by_label(reader, state, by_folder))
        on_ready(describe_serving(cfg, kind, state, {f: v.version for f, v in by_folder.items()}, log_path))
        while process.poll() is None:
            time.sleep(0.5)
        raise ServingError(died_message(process.returncode, log_path))
    except KeyboardInterrupt:
        return 0
    finally:
        admin.close()
        if process.poll() is None:
            stop_process_group(process)


def check_writable(folder: str) -> None:
    """The request log's folder exists (made when missing) and takes files; ServingError naming it otherwise."""
    try:
        os.makedirs(folder, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=folder, prefix=".writable-")
        probe.close()
    except OSError as error:
        raise ServingError(f"the request log folder {folder} cannot be written ({error.strerror}): make it writable, "
                           "set serving.request_log.dir to another folder, or sampling_rate: 0") from None


def died_message(returncode: int, log_path: str) -> str:
    """Why the model server ended while serving: its exit code or signal, and the last line of its log."""
    how = f"was killed by {signal.Signals(-returncode).name}" if returncode < 0 else f"exited with code {returncode}"
    if returncode == -signal.SIGKILL:
        how += " (the kernel's out-of-memory killer sends it too)"
    last = ""
    with contextlib.suppress(OSError):
        with open(log_path, "rb") as f:
            lines = [line.strip() for line in f.read()[-4096:].decode("utf-8", "replace").splitlines() if line.strip()]
        last = f"; its log's last line: {lines[-1][:300]}" if lines else ""
    return f"the model server {how} while serving{last} (its log: {log_path})"


def _interrupt(*_):
    raise KeyboardInterrupt


def describe_serving(cfg: PipelineConfig, kind: str, state: ServingState, names: dict, log_path: str) -> str:
    """`names`: version folder -> registry version ("1.1.0")."""
    shown = ", ".join(f"{label}={names.get(folder, '?')} (folder {folder})" for label, folder in sorted(state.labels.items()))
    server = "TF Serving" if kind == BINARY else "the stand-in (TF Serving's gRPC API; no REST)"
    lines = [f"Serving {cfg.name} at {endpoint(cfg)} with {server}: {shown}"]
    if state.canary is not None:
        lines.append(f"  {state.mode}: {state.percent}% of keyed requests" if state.mode == "canary"
                     else f"  shadow: {state.percent}% of keyed requests copied to the canary; answers come from stable")
    if kind == STAND_IN and cfg.serving.request_log.sampling_rate > 0:
        lines.append(f"  request log: {cfg.request_log_dir} ({cfg.serving.request_log.sampling_rate:.0%} of Predict requests)")
    lines += [f"  the server's log: {log_path}", "  Ctrl-C stops it"]
    return "\n".join(lines)
