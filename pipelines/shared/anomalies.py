"""TFDV's anomalies and the example counts of StatisticsGen, read as one list of `Anomaly`: what the data gate
stops on and what the run summary, the report and `mlops monitor` list."""
from __future__ import annotations

from dataclasses import dataclass

from tensorflow_metadata.proto.v0 import anomalies_pb2, statistics_pb2

from pipelines.shared.artifact_files import ANOMALIES_FILE, STATISTICS_FILE, per_split


@dataclass(frozen=True)
class Anomaly:
    split: str
    feature: str
    description: str

    def __str__(self) -> str:
        return f"[{self.split}] {self.feature}: {self.description}"


def read_anomalies(anomalies_uri: str) -> list[Anomaly]:
    """Every anomaly of every split under an ExampleAnomalies artifact's URI."""
    return [anomaly for split, proto in per_split(anomalies_uri, ANOMALIES_FILE, anomalies_pb2.Anomalies)
            for anomaly in anomalies_in(proto, split)]


def anomalies_in(proto: anomalies_pb2.Anomalies, split: str) -> list[Anomaly]:
    found = [Anomaly(split, feature, described(info)) for feature, info in sorted(proto.anomaly_info.items())]
    if proto.HasField("dataset_anomaly_info"):
        info = proto.dataset_anomaly_info
        found.append(Anomaly(split, "(dataset)", described(info)))
    return found


def described(info) -> str:
    """TFDV's short description, or its whole one where the short one only says "Multiple errors"."""
    if info.short_description and info.short_description != "Multiple errors":
        return info.short_description
    return info.description or info.short_description


def empty_splits(statistics_uri: str) -> list[Anomaly]:
    """One anomaly per split with no example (ExampleValidator reports none for an empty split)."""
    return [Anomaly(split, "(dataset)", "no examples: the data has no rows for this split")
            for split, proto in per_split(statistics_uri, STATISTICS_FILE, statistics_pb2.DatasetFeatureStatisticsList)
            if sum(dataset.num_examples for dataset in proto.datasets) == 0]
