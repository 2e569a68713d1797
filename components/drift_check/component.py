"""DriftCheck: the new data's statistics against the served model's training statistics, per feature.

Records every compared feature's distance and threshold (an ExampleAnomalies artifact: TFDV's anomalies
proto and comparisons.json), whether or not anything drifted; the DataGate stops the run on drift when
drift.on_drift is `stop`. The served model's statistics are read from the serving folder (distances.py).
"""
import os

from absl import logging
from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types.standard_artifacts import ExampleAnomalies, ExampleStatistics, PushedModel, Schema

from pipelines.config.parts import DriftCheckPart
from pipelines.shared import distances
from pipelines.shared.artifact_files import load_schema, read_split_statistics
from pipelines.shared.serving_layout import read_served_statistics

NOT_COMPARED = "not_compared"  # custom property: why nothing was compared (no served model yet, ...)


@component
def DriftCheck(statistics: InputArtifact[ExampleStatistics], schema: InputArtifact[Schema],
               drift: OutputArtifact[ExampleAnomalies], serving_dir: Parameter[str], config: Parameter[str],
               latest_push: InputArtifact[PushedModel] = None) -> None:
    """`config`: a DriftCheckPart's JSON.
    `latest_push`: the pipeline's latest PushedModel (none before the first push); what is served is read
    from serving_dir, since the latest push may be one that pushed nothing."""
    part = DriftCheckPart.model_validate_json(config)
    drift.split_names = '["train"]'
    try:
        served = read_served_statistics(serving_dir, os.path.join(serving_dir, part.served_version)
                                        if part.served_version else None)
    except FileNotFoundError as error:  # a version pushed before statistics travelled with models
        served, reason = None, str(error)
    else:
        reason = "no model is served yet" if served is None else ""
    if served is None:
        logging.warning("Drift not checked: %s", reason)
        drift.set_string_custom_property(NOT_COMPARED, reason)
        distances.write_result(drift.uri, [], None)
        return
    comparisons, anomalies = distances.compare(read_split_statistics(statistics.uri), served.statistics,
                                           load_schema(schema.uri), part.comparators, distances.DRIFT,
                                           part.min_examples_fraction)
    distances.write_result(drift.uri, comparisons, anomalies)
    drifted = distances.exceeded(comparisons)
    drift.set_string_custom_property("served_version", served.version)
    drift.set_string_custom_property("served_statistics", served.source.get("statistics_uri", ""))
    drift.set_string_custom_property("drifted", ",".join(c.feature for c in drifted))
    drift.set_int_custom_property("compared", len(comparisons))
    logging.info("Drift against served version %s:\n%s", served.version,
                 "\n".join(distances.format_comparisons(comparisons)))
