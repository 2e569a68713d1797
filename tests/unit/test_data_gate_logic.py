"""Reading ExampleValidator's anomalies, and the gate's message."""
from tensorflow_metadata.proto.v0 import anomalies_pb2

from components.data_gate import logic as gate


def write_anomalies(directory, split, proto):
    split_dir = directory / f"Split-{split}"
    split_dir.mkdir(parents=True)
    (split_dir / gate.ANOMALIES_FILE).write_bytes(proto.SerializeToString())


def test_anomalies_are_read_per_split_with_feature_and_description(tmp_path):
    proto = anomalies_pb2.Anomalies()
    proto.anomaly_info["payment_type"].short_description = "Unexpected string values"
    proto.anomaly_info["fare"].description = "Expected data of type: FLOAT but got BYTES"
    write_anomalies(tmp_path, "train", proto)
    write_anomalies(tmp_path, "eval", anomalies_pb2.Anomalies())

    found = gate.read_anomalies(str(tmp_path))
    assert [str(a) for a in found] == [
        "[train] fare: Expected data of type: FLOAT but got BYTES",
        "[train] payment_type: Unexpected string values",
    ]
    message = gate.gate_message(found)
    assert message.startswith("the data has 2 anomalies; nothing is trained")
    assert "  [train] payment_type: Unexpected string values" in message


def test_no_anomalies_means_an_open_gate(tmp_path):
    write_anomalies(tmp_path, "train", anomalies_pb2.Anomalies())
    assert gate.read_anomalies(str(tmp_path)) == []
