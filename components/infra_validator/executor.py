"""TFX's InfraValidator executor, with model servers that need no Docker.

TFX 1.16 creates its runners in one place (`_ValidateOnce`): Docker or Kubernetes. This subclass
picks a platform per run (see platforms.choose_platform) and keeps everything else TFX's: the TF Serving
layout copy of the model, request building from examples, the TF Serving gRPC client, retries and
the INFRA_BLESSED / INFRA_NOT_BLESSED contract Pusher reads. It adds two properties to the blessing:
`platform` (what validated the model) and, when not blessed, `reason`.

Only the model's failures make a "not blessed" verdict: signatures that cannot serve the requests, a
load that fails or times out, a request the model rejects (to `serving_default` or to `explain`, sent the
same examples), an answer that is not a finite number, attributions that do not add up. The
validator's own failures (a copy of the model that fails, a server process that cannot be started, a bug)
fail the component instead, as any other component's would: a verdict on the model would be a lie.
"""
from __future__ import annotations

import time
from typing import Optional

from absl import logging
from tfx.components.infra_validator import error_types
from tfx.components.infra_validator import executor as tfx_executor
from tfx.types import standard_component_specs as keys

from components.infra_validator import runners, verdicts
from pipelines.config.parts import ModelServerPart
from pipelines.model_server import platforms
from pipelines.shared.errors import MlopsError
from pipelines.shared.importance import EXPLAIN_SIGNATURE

PLATFORM_CONFIG_KEY = "platform_config"


class InfraValidatorError(MlopsError, RuntimeError):
    """The validator itself failed, not the model."""


class NonFiniteOutputs(MlopsError, RuntimeError):
    """The model answered NaN or infinity, or attributions that do not add up: a verdict on the model, the
    same on every try."""


class Executor(tfx_executor.Executor):
    def Do(self, input_dict, output_dict, exec_properties) -> None:
        self._settings = settings = ModelServerPart.model_validate_json(exec_properties[PLATFORM_CONFIG_KEY])
        self._model_server = platforms.find_model_server(settings.model_server_path)
        self._platform = platforms.choose_platform(settings.platform, self._model_server,
                                                   platforms.docker_engine_answers, settings.model_server_path)
        self._failures: list[str] = []
        self._setup_error: Optional[BaseException] = None  # the last attempt's, when the server did not start
        self._non_finite: Optional[str] = None  # set once the model answered NaN or infinity: no use retrying
        logging.info("Infra validation platform: %s (%s)", self._platform, platforms.DESCRIPTIONS[self._platform])

        blessing = output_dict[keys.BLESSING_KEY][0]
        blessing.set_string_custom_property("platform", self._platform)
        tfx_properties = {k: v for k, v in exec_properties.items() if k != PLATFORM_CONFIG_KEY}
        super().Do(input_dict, output_dict, tfx_properties)
        if blessing.get_int_custom_property("blessed") != 1:
            blessing.set_string_custom_property("reason", self._failures[-1] if self._failures else "unknown")

    def _Do(self, model, examples, blessing, serving_spec, validation_spec, request_spec):
        try:
            super()._Do(model=model, examples=examples, blessing=blessing, serving_spec=serving_spec,
                        validation_spec=validation_spec, request_spec=request_spec)
        except ValueError as error:  # TFX's request builder rejects the model's signatures with ValueError
            logging.exception("Could not build requests from the model")
            self._failures.append(verdicts.shorten(f"cannot build requests from the model: {error}"))
            tfx_executor._mark_not_blessed(blessing)  # pylint: disable=protected-access

    def _PrepareModelPath(self, model, serving_spec):
        try:
            return super()._PrepareModelPath(model, serving_spec)
        except Exception as error:  # the copy into TF Serving's layout: a disk problem, not the model's
            raise InfraValidatorError(f"could not copy the model for the model server: {error}") from error

    def _ValidateWithRetry(self, **kwargs):
        passed = super()._ValidateWithRetry(**kwargs)  # TFX retries every failure, ours included
        if not passed and self._setup_error is not None:
            raise InfraValidatorError(f"could not start the model server ({self._platform}): "
                                      f"{self._setup_error}") from self._setup_error
        return passed

    def _ValidateOnce(self, model_path, serving_binary, serving_spec, validation_spec, requests):
        if self._platform == platforms.DOCKER:  # TFX's own behaviour
            try:
                return super()._ValidateOnce(model_path=model_path, serving_binary=serving_binary,
                                             serving_spec=serving_spec, validation_spec=validation_spec,
                                             requests=requests)
            except Exception as error:
                self._failures.append(verdicts.failure_reason(error, None, timed_out(error)))
                raise

        if self._non_finite:  # deterministic: TFX's retry loop need not start the server again
            raise NonFiniteOutputs(self._non_finite)
        deadline = time.time() + validation_spec.max_loading_time_seconds
        self._setup_error = None
        try:
            runner = self._make_runner(model_path, serving_spec.model_name, validation_spec.max_loading_time_seconds)
            runner.Start()
        except Exception as error:  # ours, not the model's: _ValidateWithRetry fails the component with it
            self._setup_error = error
            raise
        try:
            runner.WaitUntilRunning(deadline)
            client = serving_binary.MakeClient(runner.GetEndpoint())
            client.WaitUntilModelLoaded(deadline, polling_interval_sec=1)
            if requests:
                client.SendRequests(requests)
                self._non_finite = verdicts.non_finite_outputs(predict_outputs(runner.GetEndpoint(), requests))
                if not self._non_finite:
                    explained = predict_outputs(runner.GetEndpoint(), explain_requests(requests))
                    self._non_finite = (verdicts.non_finite_outputs(explained)
                                        or verdicts.explanation_failures(explained))
                if self._non_finite:
                    raise NonFiniteOutputs(self._non_finite)
        except Exception as error:
            log = runner.GetLogs()
            logging.error("Infra validation on %s failed. Model server log:\n%s", self._platform, log)
            self._failures.append(verdicts.failure_reason(error, log, timed_out(error)))
            raise
        finally:
            runner.Stop()

    def _make_runner(self, model_path: str, model_name: str, max_loading_time_seconds: int):
        if self._platform == platforms.TF_SERVING_BINARY and self._model_server:  # chosen only when found
            return runners.tf_serving_binary_runner(self._model_server, model_path, model_name)
        # The stand-in exits by itself well after the validator's own deadline: a backstop, not a limit.
        return runners.local_process_runner(model_path, model_name, self._settings.memory_limit_mb,
                                            max_lifetime_seconds=max_loading_time_seconds + 600)


def predict_outputs(endpoint: str, requests) -> list[dict]:
    """The outputs of each Predict request, as arrays by name (TFX's client sends them but keeps no answer)."""
    import grpc
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    with grpc.insecure_channel(endpoint) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        return [{name: tf.make_ndarray(tensor) for name, tensor in stub.Predict(request, timeout=60).outputs.items()}
                for request in requests if isinstance(request, predict_pb2.PredictRequest)]


def explain_requests(requests) -> list:
    """The same examples, asked of the `explain` signature (a failed answer fails validation, as any request's)."""
    from tensorflow_serving.apis import predict_pb2

    copies = []
    for request in requests:
        if isinstance(request, predict_pb2.PredictRequest):
            copy = predict_pb2.PredictRequest()
            copy.CopyFrom(request)
            copy.model_spec.signature_name = EXPLAIN_SIGNATURE
            copies.append(copy)
    return copies


def timed_out(error: BaseException) -> bool:
    return isinstance(error, (error_types.DeadlineExceeded, TimeoutError))
