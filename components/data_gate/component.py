"""DataGate: fails when ExampleValidator found anomalies or a split has no example, or when the new data
drifted from the served model's training data, so nothing downstream (Transform on) runs.

TFX's ExampleValidator only records anomalies; a pipeline goes on to train on bad data.
"""

from tfx.dsl.component.experimental.annotations import InputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types.standard_artifacts import ExampleAnomalies, ExampleStatistics

from components.data_gate import logic


@component
def DataGate(anomalies: InputArtifact[ExampleAnomalies], statistics: InputArtifact[ExampleStatistics],
             drift: InputArtifact[ExampleAnomalies] = None, check_anomalies: Parameter[int] = 1) -> None:
    """`drift`: DriftCheck's record, given when drift stops the run; `check_anomalies`: 0 when anomalies only warn."""
    if check_anomalies:
        logic.check(anomalies.uri, statistics.uri)
    if drift is not None:
        logic.check_drift(drift.uri)
