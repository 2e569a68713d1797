"""Plain logic of the custom components: CSV reading, anomalies, baseline choice, evaluation config."""
import pyarrow as pa
import pytest
from tensorflow_metadata.proto.v0 import anomalies_pb2

from components.baseline_resolver.strategy import latest_blessed_other_than
from components.csv_example_gen import logic as csv_logic
from components.data_gate import logic as gate


# --- CSV -> examples ----------------------------------------------------------


def write_csv(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_csv_types_nulls_and_missing_cells(tmp_path):
    import tensorflow as tf

    path = write_csv(tmp_path, "species,mass,count,when\nAdelie,3750.5,3,2019-01-01\nNA,NA,,2019-01-02\n")
    examples = [tf.train.Example.FromString(e) for e in csv_logic.csv_to_examples(path, ["NA", ""])]
    first, second = (e.features.feature for e in examples)
    assert first["species"].bytes_list.value == [b"Adelie"]
    assert first["mass"].float_list.value == [3750.5]
    assert first["count"].int64_list.value == [3]
    assert first["when"].bytes_list.value == [b"2019-01-01"]  # dates stay text
    # Missing cells carry no value (TFDV counts them as missing).
    for name in ("species", "mass", "count"):
        assert second[name].WhichOneof("kind") is None
    assert second["when"].bytes_list.value == [b"2019-01-02"]


def test_a_word_in_a_numeric_column_makes_it_a_string_column(tmp_path):
    path = write_csv(tmp_path, "fare\n1.5\nabc\n")
    batch = csv_logic.table_to_record_batch(csv_logic.read_csv(path, [""]))
    assert batch.schema.field("fare").type == pa.list_(pa.binary())


def test_matching_files_reports_an_empty_match(tmp_path):
    write_csv(tmp_path, "a\n1\n", "one.csv")
    assert csv_logic.matching_files(str(tmp_path), "*.csv") == [str(tmp_path / "one.csv")]
    with pytest.raises(FileNotFoundError, match="no file matches '\\*.tsv'"):
        csv_logic.matching_files(str(tmp_path), "*.tsv")


# --- anomalies ---------------------------------------------------------------


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


# --- baseline for the Evaluator ------------------------------------------------


class FakeArtifact:
    def __init__(self, id, **props):
        self.id, self.props = id, props

    def get_int_custom_property(self, name):
        return self.props.get(name, 0)


def blessing(id, model_id, blessed):
    return FakeArtifact(id, current_model_id=model_id, blessed=int(blessed))


def test_baseline_is_the_newest_blessed_model_other_than_the_candidate():
    models = [FakeArtifact(1), FakeArtifact(2), FakeArtifact(3)]
    blessings = [blessing(10, 1, True), blessing(11, 2, True), blessing(12, 3, False)]
    model, blessing_of = latest_blessed_other_than(models, blessings, candidate_ids={3})
    assert [m.id for m in model] == [2] and [b.id for b in blessing_of] == [11]
    # A re-run whose Trainer came from cache: the candidate is the newest blessed model itself.
    model, _ = latest_blessed_other_than(models, blessings, candidate_ids={2})
    assert [m.id for m in model] == [1]


def test_no_baseline_on_the_first_run():
    assert latest_blessed_other_than([FakeArtifact(1)], [], candidate_ids={1}) == ([], [])


# --- atomic push ----------------------------------------------------------------


def test_publish_moves_a_complete_version_into_place_and_never_overwrites(tmp_path):
    from components.atomic_pusher import logic as push

    serving = tmp_path / "serving"
    staging = push.staging_dir(str(serving))
    assert staging.startswith(str(serving / push.STAGING))
    version = tmp_path / "serving" / push.STAGING / "x" / "1700000000"
    version.mkdir(parents=True)
    (version / "saved_model.pb").write_bytes(b"model")

    final = push.publish(str(version), str(serving))
    assert final == str(serving / "1700000000")
    assert (serving / "1700000000" / "saved_model.pb").read_bytes() == b"model"
    assert not version.exists()

    version.mkdir(parents=True)
    with pytest.raises(FileExistsError, match="never overwritten"):
        push.publish(str(version), str(serving))

    push.discard(str(serving / push.STAGING / "x"))
    assert sorted(p.name for p in serving.iterdir()) == ["1700000000"]  # the staging folder is gone too


def test_summary_orders_slices_overall_first_then_numerically():
    from pipelines.summary import _slice_order

    names = ["trip_start_hour=10", "payment_type=Cash", "overall", "trip_start_hour=2", "payment_type=Card"]
    assert sorted(names, key=_slice_order) == ["overall", "payment_type=Card", "payment_type=Cash",
                                               "trip_start_hour=2", "trip_start_hour=10"]


# --- infra validation -------------------------------------------------------


def test_auto_platform_prefers_the_binary_then_docker_then_the_local_process():
    from components.infra_validator.logic import choose_platform

    def no_docker():
        return False

    def docker():
        return True

    assert choose_platform("auto", "/usr/bin/tensorflow_model_server", docker) == "tf_serving_binary"
    assert choose_platform("auto", None, docker) == "docker"
    assert choose_platform("auto", None, no_docker) == "local_process"
    assert choose_platform("local_process", "/usr/bin/tensorflow_model_server", docker) == "local_process"


def test_a_named_platform_that_is_missing_is_a_setup_error():
    from components.infra_validator.logic import PlatformUnavailable, choose_platform

    with pytest.raises(PlatformUnavailable, match="/opt/tfs is not an executable file"):
        choose_platform("tf_serving_binary", None, lambda: True, configured_path="/opt/tfs")
    with pytest.raises(PlatformUnavailable, match="no Docker engine answers"):
        choose_platform("docker", "/usr/bin/tensorflow_model_server", lambda: False)


def test_find_model_server_takes_an_executable_path_or_searches_path(tmp_path, monkeypatch):
    from components.infra_validator.logic import find_model_server

    binary = tmp_path / "tensorflow_model_server"
    binary.write_text("#!/bin/sh\n")
    assert find_model_server(str(binary)) is None  # not executable
    binary.chmod(0o755)
    assert find_model_server(str(binary)) == str(binary)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_model_server(None) == str(binary)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert find_model_server(None) is None


def test_wait_until_polls_until_ready_or_gives_up_at_the_deadline():
    from components.infra_validator.logic import wait_until

    now = [100.0]
    answers = iter([False, False, True])
    wait_until(lambda: next(answers), deadline=110, what="server", interval_seconds=1,
               clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    assert now[0] == 102.0  # two sleeps, then ready

    with pytest.raises(TimeoutError, match="server: not within the max loading time"):
        wait_until(lambda: False, deadline=105, what="server", interval_seconds=1,
                   clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    assert now[0] == 105.0

    def died():
        raise ChildProcessError("model server exited with code 1")

    with pytest.raises(ChildProcessError):
        wait_until(died, deadline=1e12, what="server")


def test_failure_reason_names_the_failed_request_or_the_server_error():
    import grpc
    from tfx.components.infra_validator import error_types

    from components.infra_validator.logic import failure_reason

    class RpcError(grpc.RpcError):
        def details(self):
            return "Feature: fare (data type: float) is required but could not be found."

    try:
        try:
            raise RpcError()
        except RpcError as cause:
            raise error_types.ValidationFailed("Model server failed to respond to the request " + "x" * 5000) from cause
    except error_types.ValidationFailed as error:
        assert failure_reason(error, "") == ("a request failed: Feature: fare (data type: float) is required "
                                             "but could not be found.")

    log = ("2026 E external/local_xla/xla/stream_executor/cuda/cuda_blas.cc:1442] Unable to register cuBLAS factory\n"
           "listening on 127.0.0.1:1234\nLOAD FAILED: OSError: SavedModel file does not exist\n")
    reason = failure_reason(error_types.ValidationFailed("Model server failed to load the model."), log)
    assert reason == ("Model server failed to load the model; the server said: "
                      "LOAD FAILED: OSError: SavedModel file does not exist")
    assert len(failure_reason(RuntimeError("y" * 2000), None)) == 400
    assert failure_reason(TimeoutError("server: not within the max loading time"), None, timed_out=True) == (
        "server: not within the max loading time (infra_validation.max_loading_time_seconds)")


# --- model registry -----------------------------------------------------------


def test_version_numbers_follow_contract_model_and_pipeline():
    from pipelines.registry import next_version

    assert next_version(None, None, None, "schema-a", 7) == (1, 0, 0)
    assert next_version((1, 0, 0), "schema-a", 7, "schema-a", 7) == (1, 0, 1)  # same model pushed again
    assert next_version((1, 0, 1), "schema-a", 7, "schema-a", 9) == (1, 1, 0)  # retrained, same contract
    assert next_version((1, 1, 0), "schema-a", 9, "schema-b", 11) == (2, 0, 0)  # new data contract
