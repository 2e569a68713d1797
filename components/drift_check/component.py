"""DriftCheck: the new data's statistics against the served model's training statistics, per feature.

Records every compared feature's distance and threshold (an ExampleAnomalies artifact: TFDV's anomalies
proto and comparisons.json), whether or not anything drifted; the DataGate stops the run on drift when
drift.on_drift is `stop`. The served model's statistics are read from the serving folder (logic.py).
"""
import json

from absl import logging
from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types.standard_artifacts import ExampleAnomalies, ExampleStatistics, PushedModel, Schema

from components.drift_check import logic

NOT_COMPARED = "not_compared"  # custom property: why nothing was compared (no served model yet, ...)


@component
def DriftCheck(statistics: InputArtifact[ExampleStatistics], schema: InputArtifact[Schema],
               drift: OutputArtifact[ExampleAnomalies], serving_dir: Parameter[str], config: Parameter[str],
               latest_push: InputArtifact[PushedModel] = None) -> None:
    """`config`: JSON {"comparators": {feature: [measure, threshold]}, "min_examples_fraction": x or null}.
    `latest_push`: the pipeline's latest PushedModel (none before the first push); what is served is read
    from serving_dir, since the latest push may be one that pushed nothing."""
    options = json.loads(config)
    comparators = {name: tuple(value) for name, value in options["comparators"].items()}
    drift.split_names = '["train"]'
    try:
        served = logic.read_served_statistics(serving_dir)
    except FileNotFoundError as error:  # a version pushed before statistics travelled with models
        served, reason = None, str(error)
    else:
        reason = "no model is served yet" if served is None else ""
    if served is None:
        logging.warning("Drift not checked: %s", reason)
        drift.set_string_custom_property(NOT_COMPARED, reason)
        logic.write_result(drift.uri, [], None)
        return
    comparisons, anomalies = logic.compare(logic.read_split_statistics(statistics.uri), served.statistics,
                                           logic.load_schema(schema.uri), comparators, logic.DRIFT,
                                           options.get("min_examples_fraction"))
    logic.write_result(drift.uri, comparisons, anomalies)
    drifted = logic.exceeded(comparisons)
    drift.set_string_custom_property("served_version", served.version)
    drift.set_string_custom_property("served_statistics", served.source.get("statistics_uri", ""))
    drift.set_string_custom_property("drifted", ",".join(c.feature for c in drifted))
    drift.set_int_custom_property("compared", len(comparisons))
    logging.info("Drift against served version %s:\n%s", served.version,
                 "\n".join(logic.format_comparisons(comparisons)))
