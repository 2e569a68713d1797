"""Reading ExampleValidator's anomalies: plain functions over the files it writes."""
from __future__ import annotations

import glob
import os
from dataclasses import dataclass

from tensorflow_metadata.proto.v0 import anomalies_pb2

ANOMALIES_FILE = "SchemaDiff.pb"  # tfx.components.example_validator.executor.DEFAULT_FILE_NAME


@dataclass(frozen=True)
class Anomaly:
    split: str
    feature: str
    description: str

    def __str__(self) -> str:
        return f"[{self.split}] {self.feature}: {self.description}"


def read_anomalies(anomalies_uri: str) -> list[Anomaly]:
    """Every anomaly of every split under an ExampleAnomalies artifact's URI."""
    found = []
    for path in sorted(glob.glob(os.path.join(anomalies_uri, "Split-*", ANOMALIES_FILE))):
        split = os.path.basename(os.path.dirname(path))[len("Split-"):]
        proto = anomalies_pb2.Anomalies()
        with open(path, "rb") as f:
            proto.ParseFromString(f.read())
        found.extend(anomalies_in(proto, split))
    return found


def anomalies_in(proto: anomalies_pb2.Anomalies, split: str) -> list[Anomaly]:
    found = [Anomaly(split, feature, info.short_description or info.description)
             for feature, info in sorted(proto.anomaly_info.items())]
    if proto.HasField("dataset_anomaly_info"):
        info = proto.dataset_anomaly_info
        found.append(Anomaly(split, "(dataset)", info.short_description or info.description))
    return found


def gate_message(anomalies: list[Anomaly]) -> str:
    lines = [f"the data has {len(anomalies)} anomal{'y' if len(anomalies) == 1 else 'ies'}; "
             "nothing is trained (set on_anomalies: warn to go on regardless):"]
    lines += [f"  {a}" for a in anomalies]
    return "\n".join(lines)


class AnomaliesFound(RuntimeError):
    """Raised by the DataGate component; the message lists each anomaly."""
