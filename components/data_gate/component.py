"""DataGate: fails when ExampleValidator found anomalies or a split has no example, or when the new data
drifted from the served model's training data, so nothing downstream (Transform on) runs.

TFX's ExampleValidator only records anomalies; a pipeline goes on to train on bad data.
"""
import json

from tfx.dsl.component.experimental.annotations import InputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types.standard_artifacts import ExampleAnomalies, Examples, ExampleStatistics

from components.data_gate import gate
from pipelines.config.parts import DataGatePart
from pipelines.shared import artifact_files, pseudonyms


@component
def DataGate(anomalies: InputArtifact[ExampleAnomalies], statistics: InputArtifact[ExampleStatistics],
             drift: InputArtifact[ExampleAnomalies] = None, examples: InputArtifact[Examples] = None,
             config: Parameter[str] = "{}") -> None:
    """`drift`: DriftCheck's record, given when drift stops the run; `config`: a DataGatePart's JSON;
    `examples`: ExampleGen's, whose count of rows without a label may be at most `max_missing_labels` of a
    split's rows."""
    part = DataGatePart.model_validate_json(config)
    privacy = json.loads(examples.get_string_custom_property(pseudonyms.PRIVACY_PROPERTY) or "{}") if examples else {}
    small_groups = gate.small_group_anomalies(privacy.get("k_anonymity", {}), part.min_k) if part.min_k else []
    if part.check_anomalies:
        label_counts = examples.get_string_custom_property(artifact_files.LABEL_COUNTS_PROPERTY) if examples else ""
        gate.check(anomalies.uri, statistics.uri,
                   gate.missing_label_anomalies(json.loads(label_counts or "{}"), part.max_missing_labels, part.label)
                   + small_groups)
    elif small_groups:
        raise gate.AnomaliesFound(gate.gate_message(small_groups))
    if drift is not None:
        gate.check_drift(drift.uri)
