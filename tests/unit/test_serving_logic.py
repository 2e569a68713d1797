"""Delivery's plain logic: label transitions, rollout rules, routing by key, the server's config, and
predictions as a table."""
import os

import pyarrow.parquet as pq
import pytest
from pyarrow import csv

from pipelines.shared import prediction_tables
from pipelines.shared import version_labels as labels
from pipelines.shared.version_labels import Reload, ServingState


def test_a_canary_is_loaded_before_its_label_points_at_it():
    current = ServingState({"stable": 1})
    target = labels.start_canary(current, 2, percent=10, mode="canary")
    assert labels.transition(current, target) == [
        Reload((1, 2), {"stable": 1}, wait_for=(2,)),   # load 2; no label on it yet
        Reload((1, 2), {"stable": 1, "canary": 2})]     # then label it


def test_promote_moves_stable_then_unloads_the_old_version():
    current = ServingState({"stable": 1, "canary": 2}, 10)
    target = labels.promote(current)
    assert target == ServingState({"stable": 2})
    assert labels.transition(current, target) == [Reload((1, 2), {"stable": 2}), Reload((2,), {"stable": 2})]


def test_rollback_to_an_unloaded_version_takes_three_reloads_and_ends_a_canary():
    current = ServingState({"stable": 2, "canary": 3}, 50)
    target = labels.rollback(current, 1)
    steps = labels.transition(current, target)
    assert steps == [Reload((1, 2, 3), {"stable": 2, "canary": 3}, wait_for=(1,)),
                     Reload((1, 2, 3), {"stable": 1}), Reload((1,), {"stable": 1})]
    # Every step keeps each label on a version that is loaded (or waited for) in that step.
    for step in steps:
        assert set(step.labels.values()) <= set(step.versions)


def test_blue_green_is_a_promote_of_any_version_and_abort_drops_the_canary():
    assert labels.promote(ServingState({"stable": 1}), 5) == ServingState({"stable": 5})
    assert labels.abort(ServingState({"stable": 1, "canary": 2}, 10)) == ServingState({"stable": 1})
    assert labels.transition(ServingState({"stable": 1}), ServingState({"stable": 1})) == []


@pytest.mark.parametrize("step, message", [
    (lambda: labels.promote(ServingState({"stable": 1})), "no canary to promote"),
    (lambda: labels.abort(ServingState({"stable": 1})), "no canary to abort"),
    (lambda: labels.start_canary(ServingState({"stable": 1}), 1, 10, "canary"), "already the stable one"),
    (lambda: labels.start_canary(ServingState({"stable": 1}), 2, 101, "canary"), "0..100"),
    (lambda: labels.start_canary(ServingState(), 2, 10, "canary"), "nothing is served yet"),
])
def test_rollout_steps_that_do_not_fit_the_state_are_refused(step, message):
    with pytest.raises(labels.RolloutError, match=message):
        step()


@pytest.mark.parametrize("percent", [0, 10, 50, 100])
def test_the_canary_share_over_1000_keys_is_the_percent_within_3_points(percent):
    share = sum(labels.routes_to_canary(f"user-{i}", percent) for i in range(1000)) / 10
    assert abs(share - percent) <= 3, share


def test_a_key_always_meets_the_same_label_and_a_larger_share_keeps_the_earlier_keys():
    assert labels.bucket("user-7") == labels.bucket("user-7")  # sha256: not Python's per-process salted hash
    at_10 = {i for i in range(1000) if labels.routes_to_canary(f"user-{i}", 10)}
    at_50 = {i for i in range(1000) if labels.routes_to_canary(f"user-{i}", 50)}
    assert at_10 < at_50  # widening a canary never moves a user back to stable


def test_the_server_config_pins_versions_and_labels_and_logs_only_when_asked(project, tmp_path):
    from pipelines.config import load_config
    from pipelines.serving.server import models_config

    cfg = load_config(project / "configs" / "taxi.yaml", [f"output_root={tmp_path}", "serving.request_log.sampling_rate=0.25"])
    config = models_config(cfg, (1, 2), {"stable": 1, "canary": 2}, log_requests=True)
    (model,) = config.model_config_list.config
    assert model.name == "taxi" and model.base_path == cfg.serving_dir
    assert list(model.model_version_policy.specific.versions) == [1, 2]
    assert dict(model.version_labels) == {"stable": 1, "canary": 2}
    assert model.logging_config.sampling_config.sampling_rate == 0.25
    assert model.logging_config.log_collector_config.filename_prefix == str(tmp_path / "request_logs" / "taxi")
    assert not models_config(cfg, (1,), {"stable": 1}, log_requests=False).model_config_list.config[0].HasField(
        "logging_config")  # TF Serving's open-source binary refuses a logging config without a collector plugin


class RefusingServer:
    """A ModelServerAdmin whose server refuses the reloads numbered in `refused` (from 1)."""

    def __init__(self, refused: set):
        self.refused, self.configs = refused, []

    def reload(self, config) -> None:
        from pipelines.serving.server import ServingError

        self.configs.append(config)
        if len(self.configs) in self.refused:
            raise ServingError(f"reload {len(self.configs)} refused")

    def wait_available(self, versions, timeout_seconds) -> None:
        """Every version it accepted is available at once."""


@pytest.mark.parametrize("refused, message", [
    ({2}, "reload 2 refused"),  # the previous labels went back: the first error alone
    ({1, 2}, "reload 1 refused; putting the previous labels back also failed: reload 2 refused")])
def test_a_failed_move_puts_the_previous_labels_back_and_says_so_when_that_fails_too(project, tmp_path, refused,
                                                                                      message):
    from pipelines.config import load_config
    from pipelines.serving.server import ServingError, apply

    cfg = load_config(project / "configs" / "taxi.yaml", [f"output_root={tmp_path}"])
    stable = ServingState({"stable": 1})
    server = RefusingServer(refused)
    with pytest.raises(ServingError) as refused:
        apply(server, cfg, stable, labels.start_canary(stable, 2, 10, "canary"), log_requests=False)
    assert str(refused.value) == message
    restored = server.configs[-1].model_config_list.config[0]
    assert list(restored.model_version_policy.specific.versions) == [1] and dict(restored.version_labels) == {
        "stable": 1}

def test_class_scores_become_a_predicted_class_and_one_column_per_class():
    row = prediction_tables.prediction_columns({"outputs": [0.8], "classes": [b"no", b"yes"], "scores": [0.2, 0.8]})
    assert row == {"predicted_class": "yes", "score_no": 0.2, "score_yes": 0.8}
    assert prediction_tables.prediction_columns({"outputs": [3.5]}) == {"outputs": 3.5}
    assert prediction_tables.prediction_columns({"outputs": [0.1, 0.9]}) == {"outputs_0": 0.1, "outputs_1": 0.9}


def test_an_example_id_is_read_whatever_its_type():
    import tensorflow as tf

    example = tf.train.Example()
    example.features.feature["trip"].bytes_list.value.append(b"t-1")
    example.features.feature["n"].int64_list.value.append(7)
    serialized = example.SerializeToString()
    assert prediction_tables.feature_value(serialized, "trip") == "t-1"
    assert prediction_tables.feature_value(serialized, "n") == 7
    assert prediction_tables.feature_value(serialized, "missing") is None


@pytest.mark.parametrize("file_format", ["csv", "parquet"])
def test_predictions_are_written_whole_in_either_format(tmp_path, file_format):
    rows = [{"id": "a", "outputs": 0.5}, {"id": "b", "outputs": 0.25}]
    path = prediction_tables.write_table(rows, str(tmp_path / f"p.{file_format}"), file_format)
    table = csv.read_csv(path) if file_format == "csv" else pq.read_table(path)
    assert table.to_pylist() == rows
    assert [p.name for p in tmp_path.iterdir()] == [f"p.{file_format}"]  # no temporary file left


def test_examples_without_predictions_are_an_error_not_an_empty_file():
    with pytest.raises(prediction_tables.NoPredictions, match="not blessed"):
        prediction_tables.check_predictions([], examples=12)
    prediction_tables.check_predictions([], examples=0)  # nothing to score is not an error


def test_csv_output_neutralizes_cells_a_spreadsheet_would_run_unless_asked_for_raw_values(tmp_path):
    from pyarrow import csv

    from pipelines.shared.prediction_tables import write_table

    hostile = ["=HYPERLINK(\"http://x\",\"y\")", "+cmd|' /C calc'!A1", "@SUM(A1:A9)", "-2+3", "\tx", "\rx", "plain"]
    rows = [{"id": v, "score": 0.5} for v in hostile] + [{"id": "n", "score": -1.0}]  # numbers stay numbers
    write_table(rows, str(tmp_path / "safe.csv"), "csv")
    written = csv.read_csv(tmp_path / "safe.csv").to_pylist()
    assert [r["id"] for r in written] == [f"'{v}" for v in hostile[:-1]] + ["plain", "n"]
    assert written[-1]["score"] == -1.0
    write_table(rows, str(tmp_path / "raw.csv"), "csv", raw_csv=True)
    assert [r["id"] for r in csv.read_csv(tmp_path / "raw.csv").to_pylist()][:3] == hostile[:3]
    write_table(rows, str(tmp_path / "p.parquet"), "parquet")  # Parquet is typed: no formula is run from it
    import pyarrow.parquet as pq

    assert pq.read_table(tmp_path / "p.parquet").column("id").to_pylist()[0] == hostile[0]


def test_a_dead_model_server_is_reported_with_its_signal_and_its_logs_last_line(tmp_path):
    import signal

    from pipelines.serving.server import died_message

    log = tmp_path / "serve.log"
    log.write_text("listening on 127.0.0.1:8500\nF external/tensorflow/core/framework/tensor.cc: Check failed\n\n")
    killed = died_message(-signal.SIGKILL, str(log))
    assert killed.startswith("the model server was killed by SIGKILL (the kernel's out-of-memory killer sends it too)")
    assert "its log's last line: F external/tensorflow/core/framework/tensor.cc: Check failed" in killed
    assert died_message(1, str(tmp_path / "absent.log")) == (
        f"the model server exited with code 1 while serving (its log: {tmp_path / 'absent.log'})")


def test_an_unwritable_request_log_folder_is_named_before_the_server_starts(tmp_path):
    import os

    from pipelines.serving.server import ServingError, check_writable

    check_writable(str(tmp_path / "new" / "logs"))  # made when missing
    locked = tmp_path / "locked"
    locked.mkdir()
    os.chmod(locked, 0o500)
    try:
        if os.access(locked, os.W_OK):  # root writes anywhere: a file in the way instead
            (tmp_path / "file").write_text("")
            locked = tmp_path / "file" / "logs"
        with pytest.raises(ServingError, match=f"the request log folder {locked} cannot be written"):
            check_writable(str(locked))
    finally:
        os.chmod(tmp_path / "locked", 0o700)


def test_a_full_disk_under_the_request_log_costs_nothing_per_request(tmp_path, monkeypatch):
    """Every write fails, as on a full disk: no new file per failure, no listing per request, latency flat."""
    import time

    import tensorflow as tf
    from tensorflow_serving.apis import prediction_log_pb2
    from tensorflow_serving.config import model_server_config_pb2

    from pipelines.model_server import stand_in

    opened = []

    class FullDisk:
        def __init__(self, path):
            opened.append(path)
            open(path, "wb").close()

        def write(self, record):
            raise tf.errors.ResourceExhaustedError(None, None, "No space left on device")

        def close(self):
            raise OSError("No space left on device")

    monkeypatch.setattr(stand_in.tf.io, "TFRecordWriter", FullDisk)
    config = model_server_config_pb2.ModelConfig().logging_config
    config.log_collector_config.filename_prefix = str(tmp_path / "logs" / "m")
    config.sampling_config.sampling_rate = 1.0
    log = stand_in.RequestLog(config)
    record = prediction_log_pb2.PredictionLog()
    timings = []
    for _ in range(3000):
        started = time.perf_counter()
        log.write(record)
        timings.append(time.perf_counter() - started)
    assert len(opened) <= 3 and os.listdir(tmp_path / "logs") == []  # retried after back-offs only; no empty files
    assert log.failures == len(opened) and log.dropped == 3000 - len(opened)
    assert sum(timings[-1000:]) < 0.05  # a dropped record is a clock read and a count


def test_data_to_score_with_nan_or_infinite_numbers_or_no_row_is_refused_before_scoring(project, tmp_path):
    from pipelines.cli.delivery import check_scorable
    from pipelines.config import ConfigError, load_config

    cfg = load_config(project / "configs" / "taxi.yaml")
    header = ",".join(f.name for f in cfg.features)
    row = ",".join("1.5" if f.kind in ("numeric", "bucketized") else "1" if f.kind == "int_categorical" else "Cash"
                   for f in cfg.features)
    cells = row.split(",")
    seconds = [f.name for f in cfg.features].index("trip_seconds")
    optional = ",".join("" if i == seconds else c for i, c in enumerate(cells))
    (tmp_path / "ok.csv").write_text(f"{header}\n{row}\n{optional}\n")  # missing in training too: filled
    check_scorable(cfg, [str(tmp_path / "ok.csv")])
    (tmp_path / "hole.csv").write_text(f"{header}\n{row}\n{row.replace('1.5', '', 1)}\n")
    with pytest.raises(ConfigError, match=r"empty cells in features the schema requires \(never missing in training\): "
                                          "trip_miles on 1 of 2 rows"):
        check_scorable(cfg, [str(tmp_path / "hole.csv")])
    (tmp_path / "inf.csv").write_text(f"{header}\n{row}\n{row.replace('1.5', 'inf', 1)}\n{row.replace('1.5', 'nan', 1)}\n")
    with pytest.raises(ConfigError, match=r"inf.csv: non-finite values \(NaN, inf\): trip_miles on 2 of 3 rows: the "
                                          "model cannot score them"):
        check_scorable(cfg, [str(tmp_path / "inf.csv")])
    (tmp_path / "empty.csv").write_text(f"{header}\n")
    with pytest.raises(ConfigError, match="no row to score"):
        check_scorable(cfg, [str(tmp_path / "empty.csv")])
