"""Pusher with the atomic executor: TFX's Pusher contract (model, model_blessing, infra_blessing), plus the
statistics of the data the model was trained on, which travel inside the pushed version folder so that
drift and skew checks compare with what the served model learned from (components/drift_check)."""
from typing import Optional

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import component_spec, standard_artifacts
from tfx.types import standard_component_specs as keys
from tfx.types.standard_component_specs import PusherSpec

from components.atomic_pusher.executor import EVALUATION_KEY, REFERENCE_KEY, TRAINING_STATISTICS_KEY, Executor
from pipelines.shared.artifact_types import ReferenceArtifact


class AtomicPusherSpec(PusherSpec):
    INPUTS = {**PusherSpec.INPUTS,
              TRAINING_STATISTICS_KEY: component_spec.ChannelParameter(type=standard_artifacts.ExampleStatistics,
                                                                       optional=True),
              # With evaluation.reference.on_gap: stop, a model too far short of the reference is not pushed.
              REFERENCE_KEY: component_spec.ChannelParameter(type=ReferenceArtifact, optional=True),
              EVALUATION_KEY: component_spec.ChannelParameter(type=standard_artifacts.ModelEvaluation, optional=True)}


class AtomicPusher(base_component.BaseComponent):
    SPEC_CLASS = AtomicPusherSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

    def __init__(self, model: types.BaseChannel, model_blessing: types.BaseChannel,
                 infra_blessing: types.BaseChannel, push_destination,
                 training_statistics: Optional[types.BaseChannel] = None,
                 reference: Optional[types.BaseChannel] = None, evaluation: Optional[types.BaseChannel] = None):
        super().__init__(spec=AtomicPusherSpec(**{
            keys.MODEL_KEY: model, keys.MODEL_BLESSING_KEY: model_blessing, keys.INFRA_BLESSING_KEY: infra_blessing,
            keys.PUSH_DESTINATION_KEY: push_destination, TRAINING_STATISTICS_KEY: training_statistics,
            REFERENCE_KEY: reference, EVALUATION_KEY: evaluation,
            keys.PUSHED_MODEL_KEY: types.Channel(type=standard_artifacts.PushedModel)}))
