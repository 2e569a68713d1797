"""TFX's StatisticsGen executor, then the hidden columns scrubbed from what it wrote (pipelines/shared/private_statistics.py)."""
from __future__ import annotations

import json
import os

from absl import logging
from tfx.components.statistics_gen import executor as tfx_executor
from tfx.types import artifact_utils
from tfx.types import standard_component_specs as keys

from pipelines.shared import artifact_files, private_statistics
from pipelines.shared.pseudonyms import HIDDEN_COLUMNS


class Executor(tfx_executor.Executor):
    def Do(self, input_dict, output_dict, exec_properties):
        hidden = json.loads(exec_properties.get(HIDDEN_COLUMNS) or "[]")
        super().Do(input_dict, output_dict, {k: v for k, v in exec_properties.items() if k != HIDDEN_COLUMNS})
        from tensorflow_metadata.proto.v0 import statistics_pb2

        statistics = artifact_utils.get_single_instance(output_dict[keys.STATISTICS_KEY])
        for split, proto in artifact_files.per_split(statistics.uri, artifact_files.STATISTICS_FILE,
                                                     statistics_pb2.DatasetFeatureStatisticsList):
            count = private_statistics.scrub(proto, hidden)
            with artifact_files.open_file(os.path.join(statistics.uri, f"Split-{split}",
                                                       artifact_files.STATISTICS_FILE), "wb") as f:
                f.write(proto.SerializeToString())
            logging.info("Statistics of split %s: %d hidden columns hold counts only", split, count)
