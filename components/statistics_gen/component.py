"""StatisticsGen: TFX's contract (examples -> statistics, the same stats options and excluded splits) plus
one parameter, the hidden columns, whose statistics hold no value (personal and pseudonymised columns); see
executor.py for where the statistics are computed. Built on BaseComponent with TFX's spec extended, as
components/infra_validator is, so that Kubeflow's compiler takes it as an ordinary component.
"""
from __future__ import annotations

import json
from typing import Optional

from tfx import types
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.types import standard_artifacts, standard_component_specs
from tfx.types.component_spec import ExecutionParameter
from tfx.utils import json_utils

from components.statistics_gen.executor import Executor
from pipelines.shared.pseudonyms import HIDDEN_COLUMNS


class StatisticsGenSpec(standard_component_specs.StatisticsGenSpec):
    PARAMETERS = {**standard_component_specs.StatisticsGenSpec.PARAMETERS,
                  HIDDEN_COLUMNS: ExecutionParameter(type=str)}


class StatisticsGen(base_beam_component.BaseBeamComponent):
    SPEC_CLASS = StatisticsGenSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)

    def __init__(self, examples: types.BaseChannel, hidden_columns: list[str], stats_options=None,
                 exclude_splits: Optional[list[str]] = None):
        super().__init__(spec=StatisticsGenSpec(
            examples=examples,
            stats_options_json=stats_options.to_json() if stats_options else None,
            exclude_splits=json_utils.dumps(exclude_splits or []),
            **{HIDDEN_COLUMNS: json.dumps(sorted(hidden_columns))},
            statistics=types.Channel(type=standard_artifacts.ExampleStatistics)))
