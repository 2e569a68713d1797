"""InfraValidator with TFX's contract (model, examples -> InfraBlessing) and a `platform` choice.

Not a subclass of tfx.components.InfraValidator: TFX's Kubeflow V2 step builder refuses that class
(NotImplementedError); this one compiles as an ordinary Python component.
"""
from __future__ import annotations

from typing import Optional

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.proto import infra_validator_pb2
from tfx.types import standard_artifacts, standard_component_specs
from tfx.types.component_spec import ExecutionParameter

from components.infra_validator.executor import PLATFORM_CONFIG_KEY, Executor
from pipelines.config.parts import ModelServerPart

MODEL_NAME = "candidate"
DOCKER_IMAGE_TAG = "2.16.1"  # tensorflow/serving, matching TensorFlow 2.16 (docker platform only)


class InfraValidatorSpec(standard_component_specs.InfraValidatorSpec):
    PARAMETERS = {**standard_component_specs.InfraValidatorSpec.PARAMETERS,
                  PLATFORM_CONFIG_KEY: ExecutionParameter(type=str)}


def parameters(platform: str = "auto", load_and_query: bool = True, num_examples: int = 10, split: str = "eval",
               max_loading_time_seconds: int = 120, tries: int = 3, model_server_path: Optional[str] = None,
               memory_limit_mb: int = 8192) -> dict:
    """The component's execution parameters: TFX's three specs plus the platform settings."""
    request_spec = None
    if load_and_query:  # requests for the serving_default signature, built from real examples
        request_spec = infra_validator_pb2.RequestSpec(
            tensorflow_serving=infra_validator_pb2.TensorFlowServingRequestSpec(),
            split_name=split, num_examples=num_examples)
    return {
        "serving_spec": infra_validator_pb2.ServingSpec(
            model_name=MODEL_NAME,
            tensorflow_serving=infra_validator_pb2.TensorFlowServing(tags=[DOCKER_IMAGE_TAG]),
            local_docker=infra_validator_pb2.LocalDockerConfig()),
        "validation_spec": infra_validator_pb2.ValidationSpec(
            max_loading_time_seconds=max_loading_time_seconds, num_tries=tries),
        "request_spec": request_spec,
        PLATFORM_CONFIG_KEY: ModelServerPart(platform=platform, model_server_path=model_server_path,
                                             memory_limit_mb=memory_limit_mb).model_dump_json(),
    }


class InfraValidator(base_component.BaseComponent):
    SPEC_CLASS = InfraValidatorSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

    def __init__(self, model: types.BaseChannel, examples: types.BaseChannel, **settings):
        """`settings`: see parameters(); without load_and_query, `examples` is not an input."""
        params = parameters(**settings)
        super().__init__(spec=InfraValidatorSpec(
            model=model, examples=examples if params["request_spec"] else None,
            blessing=types.Channel(type=standard_artifacts.InfraBlessing), **params))
