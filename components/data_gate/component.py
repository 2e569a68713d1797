"""DataGate: fails when ExampleValidator found anomalies or a split has no example, so nothing
downstream (Transform on) runs.

TFX's ExampleValidator only records anomalies; a pipeline goes on to train on bad data.
"""
from tfx.dsl.component.experimental.annotations import InputArtifact
from tfx.dsl.component.experimental.decorators import component
from tfx.types.standard_artifacts import ExampleAnomalies, ExampleStatistics

from components.data_gate import logic


@component
def DataGate(anomalies: InputArtifact[ExampleAnomalies], statistics: InputArtifact[ExampleStatistics]) -> None:
    logic.check(anomalies.uri, statistics.uri)
