"""DataGate: fails when ExampleValidator found anomalies, so nothing downstream (Transform on) runs.

TFX's ExampleValidator only records anomalies; a pipeline goes on to train on bad data.
"""
from tfx.dsl.component.experimental.annotations import InputArtifact
from tfx.dsl.component.experimental.decorators import component
from tfx.types.standard_artifacts import ExampleAnomalies

from components.data_gate import logic


@component
def DataGate(anomalies: InputArtifact[ExampleAnomalies]) -> None:
    found = logic.read_anomalies(anomalies.uri)
    if found:
        raise logic.AnomaliesFound(logic.gate_message(found))
