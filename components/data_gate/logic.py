"""The data gate's logic: ExampleValidator's anomalies and StatisticsGen's example counts, read from the
files they write, locally or in an object store. The gate fails closed: files it cannot find stop the run
like anomalies do."""
from __future__ import annotations

import os
from dataclasses import dataclass

from tensorflow_metadata.proto.v0 import anomalies_pb2, statistics_pb2

from components import artifact_files

ANOMALIES_FILE = "SchemaDiff.pb"  # tfx.components.example_validator.executor.DEFAULT_FILE_NAME
STATISTICS_FILE = "FeatureStats.pb"  # tfx.components.statistics_gen.executor.DEFAULT_FILE_NAME


@dataclass(frozen=True)
class Anomaly:
    split: str
    feature: str
    description: str

    def __str__(self) -> str:
        return f"[{self.split}] {self.feature}: {self.description}"


def per_split(uri: str, file_name: str, proto_type) -> list[tuple[str, object]]:
    """(split name, parsed proto) for each Split-<name>/<file_name> under an artifact's URI."""
    parsed = []
    for path in artifact_files.glob(os.path.join(uri, "Split-*", file_name)):
        proto = proto_type()
        with artifact_files.open_file(path, "rb") as f:
            proto.ParseFromString(f.read())
        parsed.append((os.path.basename(os.path.dirname(path))[len("Split-"):], proto))
    return parsed


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


def gate_message(anomalies: list[Anomaly]) -> str:
    lines = [f"the data has {len(anomalies)} anomal{'y' if len(anomalies) == 1 else 'ies'}; "
             "nothing is trained (set on_anomalies: warn to go on regardless):"]
    lines += [f"  {a}" for a in anomalies]
    return "\n".join(lines)


def empty_splits(statistics_uri: str) -> list[Anomaly]:
    """One anomaly per split with no example (ExampleValidator reports none for an empty split)."""
    return [Anomaly(split, "(dataset)", "no examples: the data has no rows for this split")
            for split, proto in per_split(statistics_uri, STATISTICS_FILE, statistics_pb2.DatasetFeatureStatisticsList)
            if sum(dataset.num_examples for dataset in proto.datasets) == 0]


def check(anomalies_uri: str, statistics_uri: str, also: list[Anomaly] = ()) -> None:
    """Raises AnomaliesFound when the data has anomalies or an empty split (or `also` holds some, such as
    too many missing labels), or when what should say so is missing (no anomalies or statistics files): the
    gate never opens on what it cannot read."""
    for uri, name in ((anomalies_uri, ANOMALIES_FILE), (statistics_uri, STATISTICS_FILE)):
        if not artifact_files.glob(os.path.join(uri, "Split-*", name)):
            raise AnomaliesFound(f"the data gate found no {name} under {uri}: it cannot tell that the data is "
                                 "good, so nothing is trained")
    found = read_anomalies(anomalies_uri) + empty_splits(statistics_uri) + list(also)
    if found:
        raise AnomaliesFound(gate_message(found))


def missing_label_anomalies(label_counts: dict, max_fraction: float, label: str) -> list[Anomaly]:
    """One anomaly per split where rows without a label are more than max_fraction of its rows.
    label_counts: ExampleGen's {split: {"examples": written, "unlabelled": left out}}."""
    found = []
    for split, counts in label_counts.items():
        rows = counts["examples"] + counts["unlabelled"]
        if rows and counts["unlabelled"] / rows > max_fraction:
            found.append(Anomaly(split, label, f"label missing on {counts['unlabelled']} of {rows} rows "
                                               f"({counts['unlabelled'] / rows:.1%}), more than "
                                               f"label.max_missing_fraction ({max_fraction:g})"))
    return found


def check_drift(drift_uri: str) -> None:
    """Raises DriftFound when DriftCheck measured a distance above its threshold; its record must exist."""
    from components.drift_check import logic as drift_logic

    if not artifact_files.exists(os.path.join(drift_uri, drift_logic.COMPARISONS_FILE)):
        raise DriftFound(f"the data gate found no drift record under {drift_uri}: it cannot tell that the data "
                         "has not drifted, so nothing is trained")
    drifted = drift_logic.exceeded(drift_logic.read_comparisons(drift_uri))
    if drifted:
        lines = [f"the new data drifted from the data the served model was trained on ({len(drifted)} of the "
                 "compared features); nothing is trained (set drift.on_drift: warn to go on regardless):"]
        raise DriftFound("\n".join(lines + [f"  {line}" for line in drift_logic.format_comparisons(drifted)]))


class AnomaliesFound(RuntimeError):
    """Raised by the DataGate component; the message lists each anomaly."""


class DriftFound(RuntimeError):
    """Raised by the DataGate component; the message lists each drifted feature, its distance and threshold."""
