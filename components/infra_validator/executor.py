"""TFX's InfraValidator executor, with model servers that need no Docker.

TFX 1.16 creates its runners in one place (`_ValidateOnce`): Docker or Kubernetes. This subclass
picks a platform per run (see logic.choose_platform) and keeps everything else TFX's: the TF Serving
layout copy of the model, request building from examples, the TF Serving gRPC client, retries and
the INFRA_BLESSED / INFRA_NOT_BLESSED contract Pusher reads. It adds two properties to the blessing:
`platform` (what validated the model) and, when not blessed, `reason`.
"""
from __future__ import annotations

import json
import time

from absl import logging
from tfx.components.infra_validator import error_types
from tfx.components.infra_validator import executor as tfx_executor
from tfx.types import standard_component_specs as keys

from components.infra_validator import logic, runners

PLATFORM_CONFIG_KEY = "platform_config"


class Executor(tfx_executor.Executor):
    def Do(self, input_dict, output_dict, exec_properties):
        settings = json.loads(exec_properties[PLATFORM_CONFIG_KEY])
        self._settings = settings
        self._model_server = logic.find_model_server(settings.get("model_server_path"))
        self._platform = logic.choose_platform(settings["platform"], self._model_server,
                                               logic.docker_engine_answers, settings.get("model_server_path"))
        self._failures: list[str] = []
        logging.info("Infra validation platform: %s (%s)", self._platform, logic.DESCRIPTIONS[self._platform])

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
        except error_types.GracefulShutdown:
            raise
        except Exception as error:  # before any server starts, TFX reads the model's signatures to build requests
            logging.exception("Could not build requests from the model")
            self._failures.append(logic.shorten(f"cannot build requests from the model: {error}"))
            tfx_executor._mark_not_blessed(blessing)  # pylint: disable=protected-access

    def _ValidateOnce(self, model_path, serving_binary, serving_spec, validation_spec, requests):
        if self._platform == logic.DOCKER:  # TFX's own behaviour
            try:
                return super()._ValidateOnce(model_path=model_path, serving_binary=serving_binary,
                                             serving_spec=serving_spec, validation_spec=validation_spec,
                                             requests=requests)
            except Exception as error:
                self._failures.append(logic.failure_reason(error, None, timed_out(error)))
                raise

        deadline = time.time() + validation_spec.max_loading_time_seconds
        runner = self._make_runner(model_path, serving_spec.model_name, validation_spec.max_loading_time_seconds)
        try:
            runner.Start()
            runner.WaitUntilRunning(deadline)
            client = serving_binary.MakeClient(runner.GetEndpoint())
            client.WaitUntilModelLoaded(deadline, polling_interval_sec=1)
            if requests:
                client.SendRequests(requests)
        except Exception as error:
            log = runner.GetLogs()
            logging.error("Infra validation on %s failed. Model server log:\n%s", self._platform, log)
            self._failures.append(logic.failure_reason(error, log, timed_out(error)))
            raise
        finally:
            runner.Stop()

    def _make_runner(self, model_path: str, model_name: str, max_loading_time_seconds: int):
        if self._platform == logic.TF_SERVING_BINARY:
            return runners.tf_serving_binary_runner(self._model_server, model_path, model_name)
        # The stand-in exits by itself well after the validator's own deadline: a backstop, not a limit.
        return runners.local_process_runner(model_path, model_name, self._settings["memory_limit_mb"],
                                            max_lifetime_seconds=max_loading_time_seconds + 600)


def timed_out(error: BaseException) -> bool:
    return isinstance(error, (error_types.DeadlineExceeded, TimeoutError))
