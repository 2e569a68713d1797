"""Plain logic of the ML Metadata readers: version numbers, slice order, TFMA's files read without TFMA."""
import subprocess
import sys

import pytest

from pipelines.metadata.evaluation import read_evaluation, read_metric_table
from pipelines.metadata.registry import next_version
from pipelines.metadata.runs import slice_order


def test_summary_orders_slices_overall_first_then_numerically():
    names = ["trip_start_hour=10", "payment_type=Cash", "overall", "trip_start_hour=2", "payment_type=Card"]
    assert sorted(names, key=slice_order) == ["overall", "payment_type=Card", "payment_type=Cash",
                                               "trip_start_hour=2", "trip_start_hour=10"]


def test_version_numbers_follow_the_serving_contract_model_and_pipeline():
    from pipelines.metadata.registry import Contract

    a = Contract((("age", "FLOAT"), ("city", "BYTES")), '{"kind": "classes"}', "schema-a")
    assert next_version(None, None, None, a, 7) == (1, 0, 0)
    assert next_version((1, 0, 0), a, 7, a, 7) == (1, 0, 1)  # same model pushed again
    assert next_version((1, 0, 1), a, 7, a, 9) == (1, 1, 0)  # retrained, same contract
    dropped = Contract((("age", "FLOAT"),), a.label, "schema-b")
    assert next_version((1, 1, 0), a, 9, dropped, 11) == (1, 2, 0)  # an input removed: old requests still work
    assert next_version((1, 1, 0), a, 9, Contract(a.inputs, a.label, "schema-c"), 11) == (1, 2, 0)  # schema edited
    added = Contract(a.inputs + (("income", "FLOAT"),), a.label, "schema-d")
    assert next_version((1, 2, 0), dropped, 11, added, 12) == (2, 0, 0)  # a new required input
    retyped = Contract((("age", "INT"), ("city", "BYTES")), a.label, "schema-e")
    assert next_version((2, 0, 0), a, 12, retyped, 13) == (3, 0, 0)  # an input's type changed
    relabelled = Contract(a.inputs, '{"kind": "regression"}', "schema-a")
    assert next_version((3, 0, 0), a, 13, relabelled, 14) == (4, 0, 0)  # the answer means something else


def write_tfrecords(path, records):
    import tensorflow as tf

    with tf.io.TFRecordWriter(str(path)) as writer:
        for record in records:
            writer.write(record)


def test_evaluation_metrics_and_failed_thresholds_are_read_from_tfmas_files(tmp_path):
    from tensorflow_model_analysis.proto import metrics_for_slice_pb2, validation_result_pb2

    overall = metrics_for_slice_pb2.MetricsForSlice()
    kv = overall.metric_keys_and_values.add()
    kv.key.name, kv.value.double_value.value = "binary_accuracy", 0.75
    diff = overall.metric_keys_and_values.add()  # the difference to the baseline is not a metric of the model
    diff.key.name, diff.key.is_diff, diff.value.double_value.value = "binary_accuracy", True, -0.25
    baseline = overall.metric_keys_and_values.add()
    baseline.key.name, baseline.key.model_name, baseline.value.double_value.value = "binary_accuracy", "baseline", 1.0
    cash = metrics_for_slice_pb2.MetricsForSlice()
    cash.slice_key.single_slice_keys.add(column="payment_type", bytes_value=b"Cash")
    cash_kv = cash.metric_keys_and_values.add()
    cash_kv.key.name, cash_kv.value.double_value.value = "binary_accuracy", 0.5
    write_tfrecords(tmp_path / "metrics-00000-of-00001.tfrecord",
                    [overall.SerializeToString(), cash.SerializeToString()])

    validation = validation_result_pb2.ValidationResult(validation_ok=False)
    failure = validation.metric_validations_per_slice.add().failures.add()
    failure.metric_key.name, failure.metric_value.double_value.value = "binary_accuracy", 0.75
    failure.metric_threshold.value_threshold.lower_bound.value = 0.9
    write_tfrecords(tmp_path / "validations.tfrecord", [validation.SerializeToString()])

    metrics, reasons = read_evaluation(str(tmp_path))
    assert metrics == {"overall": {"binary_accuracy": 0.75}, "payment_type=Cash": {"binary_accuracy": 0.5}}
    assert reasons == ["binary_accuracy = 0.75 on overall: needs >= 0.9"]
    # The report's table keeps all three: candidate, baseline and their difference.
    assert read_metric_table(str(tmp_path)) == {
        "overall": {"binary_accuracy": {"candidate": 0.75, "change": -0.25, "baseline": 1.0}},
        "payment_type=Cash": {"binary_accuracy": {"candidate": 0.5}}}


def test_a_truncated_evaluation_file_is_an_error_not_a_wrong_answer(tmp_path):
    write_tfrecords(tmp_path / "metrics.tfrecord", [b"x" * 100])
    data = (tmp_path / "metrics.tfrecord").read_bytes()
    (tmp_path / "metrics.tfrecord").write_bytes(data[:50])
    with pytest.raises(ValueError, match="truncated"):
        read_evaluation(str(tmp_path))


def test_tfmas_protos_load_without_tensorflow():
    check = ("import sys; from pipelines.metadata.evaluation import tfma_protos; p = tfma_protos(); "
             "p.metrics_for_slice_pb2.MetricsForSlice(); assert 'tensorflow' not in sys.modules; "
             # the real package still imports afterwards, and reuses the same proto modules
             "import tensorflow_model_analysis; from tensorflow_model_analysis.proto import metrics_for_slice_pb2 as m; "
             "assert m is p.metrics_for_slice_pb2 and tensorflow_model_analysis.EvalConfig")
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.parametrize("direction, sign", [("HIGHER_IS_BETTER", ">="), ("LOWER_IS_BETTER", "<=")])
def test_change_thresholds_read_in_their_own_direction(direction, sign):
    from tensorflow_model_analysis.proto import config_pb2

    from pipelines.metadata.evaluation import threshold_text

    threshold = config_pb2.MetricThreshold()
    threshold.change_threshold.direction = config_pb2.MetricDirection.Value(direction)
    threshold.change_threshold.absolute.value = 0.29
    assert threshold_text(threshold) == f"change against the baseline needs {sign} 0.29"


def test_value_thresholds_read_both_bounds():
    from tensorflow_model_analysis.proto import config_pb2

    from pipelines.metadata.evaluation import threshold_text

    threshold = config_pb2.MetricThreshold()
    threshold.value_threshold.lower_bound.value = 0.6
    threshold.value_threshold.upper_bound.value = 0.9
    assert threshold_text(threshold) == "needs >= 0.6, needs <= 0.9"


def test_a_metric_undefined_on_a_one_class_slice_is_nan_and_fails_as_na(tmp_path):
    import math

    from tensorflow_model_analysis.proto import metrics_for_slice_pb2, validation_result_pb2

    from pipelines.metadata.runs import RunSummary, format_summary

    def slice_with(column_value, auc, tp, fp, tn, fn):
        per_slice = metrics_for_slice_pb2.MetricsForSlice()
        if column_value:
            per_slice.slice_key.single_slice_keys.add(column="payment_type", bytes_value=column_value)
        for name, value in (("auc", auc), ("example_count", tp + fp + tn + fn), ("false_positive_rate@0.5", 0.0),
                            ("false_negative_rate@0.5", 0.0), ("binary_accuracy", 0.9)):
            kv = per_slice.metric_keys_and_values.add()
            kv.key.name, kv.value.double_value.value = name, value
        matrix = per_slice.metric_keys_and_values.add()
        matrix.key.name = "confusion_matrix_at_thresholds"
        m = matrix.value.confusion_matrix_at_thresholds.matrices.add()
        m.threshold, m.true_positives, m.false_positives, m.true_negatives, m.false_negatives = 0.5, tp, fp, tn, fn
        return per_slice.SerializeToString()

    write_tfrecords(tmp_path / "metrics.tfrecord", [slice_with(b"", 0.8, 5, 2, 10, 3),
                                                    slice_with(b"Cash", 0.0, 0, 1, 30, 0)])  # no positive label
    validation = validation_result_pb2.ValidationResult(validation_ok=False)
    per_slice = validation.metric_validations_per_slice.add()
    per_slice.slice_key.single_slice_keys.add(column="payment_type", bytes_value=b"Cash")
    failure = per_slice.failures.add()
    failure.metric_key.name, failure.metric_value.double_value.value = "auc", 0.0
    failure.metric_threshold.value_threshold.lower_bound.value = 0.6
    write_tfrecords(tmp_path / "validations.tfrecord", [validation.SerializeToString()])

    metrics, reasons = read_evaluation(str(tmp_path))
    cash = metrics["payment_type=Cash"]
    assert math.isnan(cash["auc"]) and math.isnan(cash["false_negative_rate@0.5"])
    assert cash["false_positive_rate@0.5"] == 0.0 and cash["binary_accuracy"] == 0.9  # defined: kept
    assert metrics["overall"]["auc"] == 0.8
    assert reasons == ["auc = n/a on payment_type=Cash (undefined there): needs >= 0.6"]
    text = format_summary(RunSummary("p", "r", [], metrics=metrics))
    cash_line = next(line for line in text.splitlines() if "payment_type=Cash" in line)
    assert "n/a" in cash_line and " 0 " not in cash_line


def test_no_example_leaves_only_the_count_defined():
    from pipelines.metadata.evaluation import undefined_metrics

    assert undefined_metrics(["example_count", "mean_squared_error"], 0, None, None) == {
        "mean_squared_error": "the slice has no example"}
    assert undefined_metrics(["auc", "specificity", "recall"], 10, 10, 0) == {
        "auc": "the slice holds one class only", "specificity": "the slice has no negative label"}


def test_a_model_that_removes_nearly_all_of_the_trivial_error_is_flagged():
    from pipelines.metadata.runs import TOO_GOOD_SKILL, skill_over_trivial

    # 90% negatives: 0.99 accuracy removes 90% of the trivial error; 0.999 removes 99%.
    assert skill_over_trivial({"binary_accuracy": 0.99}, 10, 90, None, None)[1] == pytest.approx(0.9)
    assert skill_over_trivial({"binary_accuracy": 0.999}, 10, 90, None, None)[1] >= TOO_GOOD_SKILL
    # Regression: a mean squared error of 0.3 against a label variance of 840 (wage from its own log).
    name, skill = skill_over_trivial({"mean_squared_error": 0.3}, None, None, None, 840.0)
    assert name == "mean_squared_error" and skill >= TOO_GOOD_SKILL
    assert skill_over_trivial({"sparse_categorical_accuracy": 0.55}, None, None, 0.3, None)[1] < TOO_GOOD_SKILL
    assert skill_over_trivial({"example_count": 5}, None, None, None, None) is None


def test_opening_a_store_retries_a_deadlock_of_two_processes_creating_it(tmp_path, monkeypatch):
    import ml_metadata as mlmd

    from pipelines.config import DEFAULT_CONFIG, load_config
    from pipelines.metadata import store

    cfg = load_config(DEFAULT_CONFIG, [f"output_root={tmp_path}"])
    real, calls = mlmd.MetadataStore, []

    def racing(config):
        calls.append(config)
        if len(calls) == 1:  # MariaDB's words when two processes create MLMD's tables at once
            raise RuntimeError("mysql_query aborted: errno: Deadlock found when trying to get lock; "
                               "try restarting transaction")
        return real(config)

    monkeypatch.setattr(mlmd, "MetadataStore", racing)
    monkeypatch.setattr(store.time, "sleep", lambda seconds: None)
    assert store.open_store(cfg) is not None and len(calls) == 2


def test_the_summary_says_what_the_model_relies_on_and_names_it_in_a_too_good_note(tmp_path):
    from types import SimpleNamespace

    from pipelines.metadata.runs import ComponentRun, RunSummary, add_importance, format_summary
    from pipelines.shared import importance

    importance.write({"importance": {"wage_log": 0.8, "age": 0.15, "hours": 0.05}}, str(tmp_path))
    summary = RunSummary("p", "run-1", [ComponentRun("FeatureImportance", "complete", 1.0,
                                                     outputs={"feature_importance": [SimpleNamespace(uri=str(tmp_path))]})],
                         too_good="mean_squared_error removes 99.9% of the trivial model's error")
    add_importance(summary)
    text = format_summary(summary)
    assert "Relies most on (share of mean |attribution|): wage_log 80%, age 15%, hours 5%" in text
    assert summary.too_good.endswith("; it relies most on wage_log (80% of the attribution)")


def test_a_models_training_statistics_are_found_whether_it_read_the_examples_or_transformed_ones():
    """Trainer <- examples -> StatisticsGen; a model trained on Transform's transformed examples (as the
    pipeline once wired it) reaches the same statistics one step further up."""
    from ml_metadata.metadata_store import metadata_store
    from ml_metadata.proto import metadata_store_pb2 as pb

    from pipelines.metadata.lineage import training_statistics
    from pipelines.metadata.reader import MetadataReader

    store = metadata_store.MetadataStore(pb.ConnectionConfig(fake_database=pb.FakeDatabaseConfig()))
    artifact_type = store.put_artifact_type(pb.ArtifactType(name="Artifact"))
    execution_type = store.put_execution_type(pb.ExecutionType(name="Execution"))

    def step(inputs: dict, outputs: list[str]) -> dict:
        """An execution reading `inputs` (key -> artifact id) and writing new artifacts under `outputs`."""
        def event(kind, key):
            return pb.Event(type=kind, path=pb.Event.Path(steps=[pb.Event.Path.Step(key=key)]))
        made = [pb.Artifact(type_id=artifact_type, uri=f"/{key}") for key in outputs]
        read = store.get_artifacts_by_id(list(inputs.values()))
        _, ids, _ = store.put_execution(
            pb.Execution(type_id=execution_type),
            [(a, event(pb.Event.INPUT, key)) for a, key in zip(read, inputs)]
            + [(a, event(pb.Event.OUTPUT, key)) for a, key in zip(made, outputs)], [])
        return dict(zip(outputs, ids[len(read):]))

    examples = step({}, ["examples"])["examples"]
    statistics = step({"examples": examples}, ["statistics"])["statistics"]
    reader = MetadataReader(store, "pipeline")
    graph = step({"examples": examples}, ["transform_graph", "transformed_examples"])
    reads_examples = step({"examples": examples, "transform_graph": graph["transform_graph"]}, ["model"])["model"]
    reads_transformed = step({"examples": graph["transformed_examples"]}, ["model"])["model"]
    assert training_statistics(reader, reads_examples).id == statistics
    assert training_statistics(reader, reads_transformed).id == statistics


def test_a_runs_total_counts_components_that_ran_side_by_side_once():
    from pipelines.metadata.runs import ComponentRun, RunSummary

    side_by_side = RunSummary("p", "run-1", [ComponentRun("Trainer", "complete", 10.0, started=100.0),
                                             ComponentRun("Evaluator", "complete", 6.0, started=110.0),
                                             ComponentRun("InfraValidator", "complete", 5.0, started=110.5)])
    assert side_by_side.total_seconds == 16.0
    assert RunSummary("p", "run-1", [ComponentRun("Trainer", "complete", 10.0)]).total_seconds == 10.0
