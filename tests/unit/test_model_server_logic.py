"""Model server platforms and processes, and the InfraValidator's verdicts: platform choice, polling with a
deadline, failure reasons."""
import pytest

from components.infra_validator.verdicts import failure_reason, non_finite_outputs
from pipelines.model_server.platforms import PlatformUnavailable, choose_platform, find_model_server
from pipelines.model_server.processes import wait_until


def test_auto_platform_prefers_the_binary_then_docker_then_the_local_process():
    def no_docker():
        return False

    def docker():
        return True

    assert choose_platform("auto", "/usr/bin/tensorflow_model_server", docker) == "tf_serving_binary"
    assert choose_platform("auto", None, docker) == "docker"
    assert choose_platform("auto", None, no_docker) == "local_process"
    assert choose_platform("local_process", "/usr/bin/tensorflow_model_server", docker) == "local_process"


def test_a_named_platform_that_is_missing_is_a_setup_error():
    with pytest.raises(PlatformUnavailable, match="/opt/tfs is not an executable file"):
        choose_platform("tf_serving_binary", None, lambda: True, configured_path="/opt/tfs")
    with pytest.raises(PlatformUnavailable, match="no Docker engine answers"):
        choose_platform("docker", "/usr/bin/tensorflow_model_server", lambda: False)


def test_find_model_server_takes_an_executable_path_or_searches_path(tmp_path, monkeypatch):
    binary = tmp_path / "tensorflow_model_server"
    binary.write_text("#!/bin/sh\n")
    assert find_model_server(str(binary)) is None  # not executable
    binary.chmod(0o755)
    assert find_model_server(str(binary)) == str(binary)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_model_server(None) == str(binary)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert find_model_server(None) is None


def test_wait_until_polls_until_ready_or_gives_up_at_the_deadline():
    now = [100.0]
    answers = iter([False, False, True])
    wait_until(lambda: next(answers), deadline=110, what="server", interval_seconds=1,
               clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    assert now[0] == 102.0  # two sleeps, then ready

    with pytest.raises(TimeoutError, match="server: not within the max loading time"):
        wait_until(lambda: False, deadline=105, what="server", interval_seconds=1,
                   clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    assert now[0] == 105.0

    def died():
        raise ChildProcessError("model server exited with code 1")

    with pytest.raises(ChildProcessError):
        wait_until(died, deadline=1e12, what="server")


def test_failure_reason_names_the_failed_request_or_the_server_error():
    import grpc
    from tfx.components.infra_validator import error_types

    class RpcError(grpc.RpcError):
        def details(self):
            return "Feature: fare (data type: float) is required but could not be found."

    try:
        try:
            raise RpcError()
        except RpcError as cause:
            raise error_types.ValidationFailed("Model server failed to respond to the request " + "x" * 5000) from cause
    except error_types.ValidationFailed as error:
        assert failure_reason(error, "") == ("a request failed: Feature: fare (data type: float) is required "
                                             "but could not be found.")

    log = ("2026 E external/local_xla/xla/stream_executor/cuda/cuda_blas.cc:1442] Unable to register cuBLAS factory\n"
           "listening on 127.0.0.1:1234\nLOAD FAILED: OSError: SavedModel file does not exist\n")
    reason = failure_reason(error_types.ValidationFailed("Model server failed to load the model."), log)
    assert reason == ("Model server failed to load the model; the server said: "
                      "LOAD FAILED: OSError: SavedModel file does not exist")
    assert len(failure_reason(RuntimeError("y" * 2000), None)) == 400
    assert failure_reason(TimeoutError("server: not within the max loading time"), None, timed_out=True) == (
        "server: not within the max loading time (infra_validation.max_loading_time_seconds)")


def test_non_finite_answers_are_named_with_how_many_requests_held_them():
    import numpy as np

    assert non_finite_outputs([{"outputs": np.array([[0.2]]), "classes": np.array([[b"A"]])}]) == ""
    answers = [{"outputs": np.array([[np.nan]]), "scores": np.array([[0.1, np.inf]])},
               {"outputs": np.array([[np.nan]]), "scores": np.array([[0.1, 0.9]])}]
    assert non_finite_outputs(answers) == ("the model answers NaN or infinity ('outputs' in 2 of 2 requests, "
                                                 "'scores' in 1 of 2 requests): it would serve no usable prediction")
