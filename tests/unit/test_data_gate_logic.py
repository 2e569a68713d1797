"""Reading ExampleValidator's anomalies, and the gate's message."""
import pytest
from tensorflow_metadata.proto.v0 import anomalies_pb2, statistics_pb2

from components.data_gate import gate
from pipelines.shared import artifact_files
from pipelines.shared.anomalies import empty_splits, read_anomalies


def write_anomalies(directory, split, proto):
    split_dir = directory / f"Split-{split}"
    split_dir.mkdir(parents=True)
    (split_dir / artifact_files.ANOMALIES_FILE).write_bytes(proto.SerializeToString())


def test_anomalies_are_read_per_split_with_feature_and_description(tmp_path):
    proto = anomalies_pb2.Anomalies()
    proto.anomaly_info["payment_type"].short_description = "Unexpected string values"
    proto.anomaly_info["fare"].description = "Expected data of type: FLOAT but got BYTES"
    write_anomalies(tmp_path, "train", proto)
    write_anomalies(tmp_path, "eval", anomalies_pb2.Anomalies())

    found = read_anomalies(str(tmp_path))
    assert [str(a) for a in found] == [
        "[train] fare: Expected data of type: FLOAT but got BYTES",
        "[train] payment_type: Unexpected string values",
    ]
    message = gate.gate_message(found)
    assert message.startswith("the data has 2 anomalies; nothing is trained")
    assert "  [train] payment_type: Unexpected string values" in message


def test_no_anomalies_means_an_open_gate(tmp_path):
    write_anomalies(tmp_path, "train", anomalies_pb2.Anomalies())
    assert read_anomalies(str(tmp_path)) == []


def write_statistics(directory, split, num_examples):
    split_dir = directory / f"Split-{split}"
    split_dir.mkdir(parents=True)
    proto = statistics_pb2.DatasetFeatureStatisticsList()
    proto.datasets.add(num_examples=num_examples)
    (split_dir / artifact_files.STATISTICS_FILE).write_bytes(proto.SerializeToString())


def test_the_gate_opens_only_on_clean_complete_data(tmp_path):
    anomalies, statistics = tmp_path / "anomalies", tmp_path / "statistics"
    write_anomalies(anomalies, "train", anomalies_pb2.Anomalies())
    write_statistics(statistics, "train", 100)
    gate.check(str(anomalies), str(statistics))  # no anomaly, rows in every split: open


def test_an_empty_split_closes_the_gate_with_a_named_anomaly(tmp_path):
    anomalies, statistics = tmp_path / "anomalies", tmp_path / "statistics"
    write_anomalies(anomalies, "train", anomalies_pb2.Anomalies())
    write_anomalies(anomalies, "eval", anomalies_pb2.Anomalies())
    write_statistics(statistics, "train", 100)
    write_statistics(statistics, "eval", 0)
    assert [str(a) for a in empty_splits(str(statistics))] == [
        "[eval] (dataset): no examples: the data has no rows for this split"]
    with pytest.raises(gate.AnomaliesFound, match=r"\[eval\] \(dataset\): no examples"):
        gate.check(str(anomalies), str(statistics))


def test_the_gate_fails_closed_when_the_files_are_missing(tmp_path):
    anomalies, statistics = tmp_path / "anomalies", tmp_path / "statistics"
    anomalies.mkdir()
    write_statistics(statistics, "train", 100)
    with pytest.raises(gate.AnomaliesFound, match="found no SchemaDiff.pb .* cannot tell that the data is good"):
        gate.check(str(anomalies), str(statistics))
    write_anomalies(anomalies, "train", anomalies_pb2.Anomalies())
    with pytest.raises(gate.AnomaliesFound, match="found no FeatureStats.pb"):
        gate.check(str(anomalies), str(tmp_path / "nothing"))


def test_the_gate_reads_an_object_store_as_on_kubeflow():
    """Through TFX's file system layer (ram:// stands in for gs://): anomalies, statistics and the drift record."""
    import json

    from tfx.dsl.io import fileio

    from pipelines.shared import distances

    root = "ram://gate-test"
    proto = anomalies_pb2.Anomalies()
    proto.anomaly_info["fare"].short_description = "Out-of-range values"
    statistics = statistics_pb2.DatasetFeatureStatisticsList()
    statistics.datasets.add(num_examples=5)
    for folder, name, message in (("anomalies", artifact_files.ANOMALIES_FILE, proto),
                                  ("statistics", artifact_files.STATISTICS_FILE, statistics)):
        fileio.makedirs(f"{root}/{folder}/Split-train")
        with fileio.open(f"{root}/{folder}/Split-train/{name}", "wb") as f:
            f.write(message.SerializeToString())
    with pytest.raises(gate.AnomaliesFound, match=r"\[train\] fare: Out-of-range values"):
        gate.check(f"{root}/anomalies", f"{root}/statistics")

    fileio.makedirs(f"{root}/drift")
    with fileio.open(f"{root}/drift/{distances.COMPARISONS_FILE}", "w") as f:
        f.write(json.dumps([{"feature": "fare", "measure": "jensen_shannon", "value": 0.3, "threshold": 0.1}]))
    with pytest.raises(gate.DriftFound, match="fare"):
        gate.check_drift(f"{root}/drift")


def test_too_many_missing_labels_over_all_splits_is_an_anomaly_and_a_few_are_not():
    from pipelines.metadata.runs import missing_labels_line

    counts = {"train": {"examples": 1700, "unlabelled": 100}, "eval": {"examples": 800, "unlabelled": 100}}
    # Judged over all rows, as init measured the table: the eval split's 11.1% is chance around 7.4%.
    assert gate.missing_label_anomalies(counts, 0.1, "species") == []
    [anomaly] = gate.missing_label_anomalies(counts, 0.07, "species")
    assert str(anomaly) == ("[all] species: label missing on 200 of 2700 rows (7.4%), more than "
                            "label.max_missing_fraction (0.07); by split: train 100 of 1800 (5.6%), eval 100 of 900 "
                            "(11.1%)")
    assert missing_labels_line(counts) == ("Missing labels: 200 of 2700 rows (7.4%) left out of training and "
                                           "evaluation (train 100 of 1800, eval 100 of 900)")
    assert missing_labels_line({"train": {"examples": 5, "unlabelled": 0}}) == "Missing labels: none"


def test_a_run_stopped_for_missing_labels_names_the_share_the_splits_and_the_limit():
    from pipelines.metadata.runs import GATED, ComponentRun, RunSummary, format_summary

    summary = RunSummary("p", "r", [ComponentRun("DataGate", "failed", 0.1)], outcome=GATED, max_missing_labels=0.05,
                         label_counts={"train": {"examples": 1700, "unlabelled": 100},
                                       "eval": {"examples": 800, "unlabelled": 100}})
    assert format_summary(summary).splitlines()[-1] == (
        "Stopped: the data gate found too many rows without a label (200 of 2700 rows (7.4%) left out of training and "
        "evaluation (train 100 of 1800, eval 100 of 900); label.max_missing_fraction 0.05); nothing was trained or pushed")
