"""Drift and skew logic without a pipeline: distances, verdicts, config comparators, the served model's
statistics, serving-log decoding."""
import json
import math

import numpy as np
import pytest
from tensorflow_metadata.proto.v0 import statistics_pb2

from pipelines.config import ConfigError, load_config
from pipelines.shared import artifact_files, data_files, distances, serving_layout


def quantiles(edges: list[float], counts: list[float]) -> statistics_pb2.Histogram:
    histogram = statistics_pb2.Histogram(type=statistics_pb2.Histogram.QUANTILES)
    for low, high, count in zip(edges, edges[1:], counts):
        histogram.buckets.add(low_value=low, high_value=high, sample_count=count)
    return histogram


def test_jensen_shannon_is_0_for_the_same_distribution_and_grows_with_a_shift():
    deciles = quantiles([float(i) for i in range(11)], [10] * 10)
    assert distances.jensen_shannon_on_quantiles(deciles, deciles) == pytest.approx(0.0)
    # The same distribution described by other buckets is still the same distribution.
    coarser = quantiles([0.0, 5.0, 10.0], [50, 50])
    assert distances.jensen_shannon_on_quantiles(deciles, coarser) == pytest.approx(0.0, abs=1e-9)
    # All values beyond the reference's range fall in its top decile's bin: at most about 0.76, not 1.
    far = quantiles([100.0, 110.0], [100])
    assert distances.jensen_shannon_on_quantiles(deciles, far) == pytest.approx(0.758, abs=1e-3)
    shifts = [distances.jensen_shannon_on_quantiles(deciles, quantiles([s + i for i in range(11)], [10] * 10))
              for s in (0.5, 2.0, 5.0)]
    assert 0 < shifts[0] < shifts[1] < shifts[2] < 1


def test_point_masses_in_quantiles_are_kept_apart_from_their_neighbours():
    # Half the values are exactly 1.0 (as fares are), the rest spread over [1, 2].
    reference = quantiles([1.0, 1.0, 2.0], [50, 50])
    assert distances.jensen_shannon_on_quantiles(reference, reference) == pytest.approx(0.0)
    all_at_one = quantiles([1.0, 1.0], [100])
    assert distances.jensen_shannon_on_quantiles(reference, all_at_one) > 0.3


def test_the_examples_fraction_is_a_minimum_and_every_distance_a_maximum():
    assert distances.Comparison("fare", distances.JENSEN_SHANNON, 0.2, 0.1).exceeded
    assert not distances.Comparison("fare", distances.JENSEN_SHANNON, 0.1, 0.1).exceeded
    assert distances.Comparison("(examples)", distances.EXAMPLES_FRACTION, 0.05, 0.1).exceeded
    assert not distances.Comparison("(examples)", distances.EXAMPLES_FRACTION, 2.0, 0.1).exceeded
    assert distances.Comparison("gone", distances.L_INFINITY, math.inf, 0.1).exceeded  # not measured: not missed
    lines = distances.format_comparisons([distances.Comparison("fare", distances.JENSEN_SHANNON, 0.2, 0.1)])
    assert "DRIFTED" in lines[1] and "0.2000" in lines[1]


def test_comparisons_are_written_and_read_back(tmp_path):
    comparisons = [distances.Comparison("fare", distances.JENSEN_SHANNON, 0.25, 0.1),
                   distances.Comparison("gone", distances.L_INFINITY, math.inf, 0.1)]
    distances.write_result(str(tmp_path), comparisons, None)
    assert distances.read_comparisons(str(tmp_path)) == comparisons
    assert [row["exceeded"] for row in json.loads((tmp_path / distances.COMPARISONS_FILE).read_text())] == [True, True]


def test_comparators_by_kind_with_overrides_and_errors_that_name_the_field(project):
    cfg = load_config(project / "configs" / "taxi.yaml", ["drift.numeric.jensen_shannon=0.2",
                                                          "drift.features.company.l_infinity=0.3",
                                                          "drift.features.trip_seconds=null"])
    comparators = cfg.comparators("drift")
    assert comparators["fare"] == ("jensen_shannon", 0.2) and comparators["pickup_latitude"] == ("jensen_shannon", 0.2)
    assert comparators["company"] == ("l_infinity", 0.3) and comparators["trip_start_day"] == ("l_infinity", 0.1)
    assert "trip_seconds" not in comparators
    assert cfg.comparators("skew")["fare"] == ("jensen_shannon", 0.1)  # skew has its own thresholds

    for override, message in (("drift.features.fare.l_infinity=0.2", "drift.features.fare: l_infinity compares"),
                              ("skew.features.nope.jensen_shannon=0.2", "skew.features.nope: not a feature"),
                              ("drift.numeric.l_infinity=0.2", "drift.numeric: l_infinity compares"),
                              ("drift.categorical.jensen_shannon=0.1", "drift.categorical: jensen_shannon is"),
                              ("drift.on_drift=off", "drift.on_drift"),
                              ("data.span_window=2", "has no {SPAN}"),
                              ("data.pattern=day-{YYYY}/*.csv", "the only placeholder is {SPAN}")):
        with pytest.raises(ConfigError, match=message.replace("{", r"\{").replace("}", r"\}")):
            load_config(project / "configs" / "taxi.yaml", [override])
    with pytest.raises(ConfigError, match="give exactly one of"):
        load_config(project / "configs" / "taxi.yaml", ["drift.features.company.l_infinity=0.2",
                                                        "drift.features.company.jensen_shannon=0.2"])


def test_spans_are_found_by_number_and_a_window_skips_gaps(tmp_path):
    for name in ("span-1/a.csv", "span-1/b.csv", "span-02/a.csv", "span-7/a.csv", "span-x/a.csv", "other/a.csv"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("id\n1\n")
    found = data_files.files_by_span(str(tmp_path), "span-{SPAN}/*.csv")
    assert list(found) == [1, 2, 7] and [p.split("/")[-1] for p in found[1]] == ["a.csv", "b.csv"]
    assert list(data_files.window(found, newest=7, size=2)) == [2, 7]
    assert list(data_files.window(found, newest=2, size=5)) == [1, 2]


def test_the_served_version_carries_its_training_statistics_and_older_versions_are_said_to_lack_them(tmp_path):
    statistics = tmp_path / "statistics" / "Split-train"
    statistics.mkdir(parents=True)
    proto = statistics_pb2.DatasetFeatureStatisticsList()
    proto.datasets.add(num_examples=42)
    (statistics / artifact_files.STATISTICS_FILE).write_bytes(proto.SerializeToString())
    serving = tmp_path / "serving"
    assert serving_layout.read_served_statistics(str(serving)) is None  # nothing served yet
    (serving / "100").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="carries no training statistics"):
        serving_layout.read_served_statistics(str(serving))
    (serving / "200").mkdir()
    serving_layout.attach_training_statistics(str(tmp_path / "statistics"), str(serving / "200"), {"statistics_id": 9})
    served = serving_layout.read_served_statistics(str(serving))
    assert served.version == "200" and distances.num_examples(served.statistics) == 42
    assert served.source == {"statistics_id": 9, "statistics_uri": str(tmp_path / "statistics")}


def test_prediction_logs_give_back_the_examples_each_request_carried():
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_log_pb2

    from pipelines.monitor import examples_in_prediction_log

    examples = [tf.train.Example(features=tf.train.Features(feature={
        "fare": tf.train.Feature(float_list=tf.train.FloatList(value=[v]))})) for v in (1.0, 2.0)]
    predict = prediction_log_pb2.PredictionLog()
    predict.predict_log.request.inputs["examples"].CopyFrom(
        tf.make_tensor_proto([e.SerializeToString() for e in examples]))
    assert examples_in_prediction_log(predict.SerializeToString()) == [e.SerializeToString() for e in examples]
    classify = prediction_log_pb2.PredictionLog()
    classify.classify_log.request.input.example_list.examples.extend(examples)
    assert examples_in_prediction_log(classify.SerializeToString()) == [e.SerializeToString() for e in examples]
    with pytest.raises(ValueError, match="session_run"):
        session = prediction_log_pb2.PredictionLog()
        session.session_run_log.SetInParent()
        examples_in_prediction_log(session.SerializeToString())


def test_serving_data_is_validated_on_the_model_inputs_only(project):
    """A request carries the model's raw features: an ID column or the label, present or not, is no anomaly;
    a feature missing from the requests is one."""
    import pyarrow as pa
    import tensorflow_data_validation as tfdv
    from tensorflow_data_validation.statistics import stats_impl

    from pipelines.monitor import SERVING, model_inputs

    cfg = load_config(project / "configs" / "taxi.yaml")
    names = [f.name for f in cfg.features][:2]
    columns = {name: pa.array([[1.0], [2.0]]) for name in names}
    columns.update({"trip_id": pa.array([[b"a"], [b"b"]]), "tips": pa.array([[0.0], [1.0]])})
    training = pa.RecordBatch.from_arrays(list(columns.values()), list(columns))
    schema = tfdv.infer_schema(stats_impl.generate_statistics_in_memory(training))
    schema.default_environment.extend(["TRAINING", SERVING])

    def anomalies(kept: list[str]) -> dict:
        batch = pa.RecordBatch.from_arrays([columns[name] for name in kept], kept)
        batch, cut = model_inputs(batch, schema, cfg.features)
        statistics = stats_impl.generate_statistics_in_memory(batch)
        found = tfdv.validate_statistics(statistics, cut, environment=SERVING).anomaly_info
        return {name: info.short_description for name, info in found.items()}

    assert anomalies(names) == {}
    assert anomalies([*names, "trip_id", "tips"]) == {}
    assert anomalies(names[:1]) == {names[1]: "Column dropped"}
    # A schema SchemaGen inferred names no environment: the model's features are still checked in SERVING.
    del schema.default_environment[:]
    assert anomalies(names) == {} and anomalies(names[:1]) == {names[1]: "Column dropped"}


def test_skew_on_fewer_serving_examples_than_min_examples_is_judged_by_significance_not_distance():
    from pipelines.monitor import SkewResult, format_result

    comparisons = [distances.Comparison("sex", "l_infinity", 0.1037, 0.1),
                   distances.Comparison("bmi", "jensen_shannon", 0.02, 0.1)]
    few = SkewResult("1", "/logs", 42, comparisons, min_examples=1000, p_values={"sex": 0.03, "bmi": 0.8})
    assert not few.judged and few.skewed == [] and not few.failed  # 0.03 is chance at 0.01 over 2 features
    text = format_result(few)
    assert "judged by significance tests" in text and "SKEWED" not in text and "0.1037" in text
    shifted = SkewResult("1", "/logs", 42, comparisons, min_examples=1000, p_values={"sex": 1e-6, "bmi": 0.8})
    assert [c.feature for c in shifted.skewed] == ["sex"] and shifted.failed and "SKEWED" in format_result(shifted)
    assert SkewResult("1", "/logs", 42, comparisons, anomalies=["[serving] bmi: Column dropped"],
                      min_examples=1000).failed  # the schema still holds, whatever the sample's size
    for enough in (SkewResult("1", "/logs", 1000, comparisons, min_examples=1000),
                   SkewResult("1", "/logs", 42, comparisons, min_examples=None)):
        assert enough.judged and [c.feature for c in enough.skewed] == ["sex"] and enough.failed
        assert "1 of 2 features over their threshold" in format_result(enough) and "DRIFTED" in format_result(enough)


def test_attribution_drift_fails_the_check_only_when_judged_and_below_the_alarm():
    from pipelines.monitor import SkewResult, format_result
    from pipelines.shared.importance import ndcg

    training = {"fare": 0.3, "company": 0.2, "hour": 0.1, "miles": 0.05, "day": 0.01, "month": 0.0}
    moved = {"month": 0.4, "day": 0.3, "fare": 0.01, "company": 0.01, "hour": 0.0, "miles": 0.0}

    def result(serving, examples=1000):
        return SkewResult("1", "/logs", examples, [], min_examples=1000, training_importance=training,
                          serving_importance=serving, attribution_ndcg=ndcg(training, serving), min_attribution_ndcg=0.9)

    calm, drifted, few = result(dict(training)), result(moved), result(moved, examples=50)
    assert not calm.failed and "nDCG@5 1.000 (alarm below 0.9): ok" in format_result(calm)
    assert drifted.attribution_drifted and drifted.failed and "ATTRIBUTION DRIFT" in format_result(drifted)
    assert not few.failed and "not judged" in format_result(few)  # 50 rows: shown, not judged
    table = format_result(drifted).splitlines()
    assert table[table.index(next(line for line in table if "rank" in line)) + 1].split()[1:4:2] == ["fare", "month"]


def test_significance_tests_catch_a_gross_shift_on_a_few_hundred_rows_and_not_chance():
    from pipelines.shared import significance as S

    rng = np.random.default_rng(3)
    training = {"F": 640.0, "M": 660.0}
    assert S.categorical_p_value(training, {"F": 466.0}) < 1e-10  # 466 rows all of one sex
    same = [S.categorical_p_value(training, {"F": float(k), "M": float(300 - k)})
            for k in rng.binomial(300, 640 / 1300, 200)]
    assert np.mean(np.array(same) < 0.01) <= 0.03

    population = np.round(rng.lognormal(1, 0.8, 20000), 1)  # ties, as real columns have
    deciles = np.quantile(population, np.linspace(0.1, 0.9, 9))
    cumulative = [np.mean(population <= q) for q in deciles]
    assert S.numeric_p_value(deciles, cumulative, 20000, population[:300] + 1.5) < 1e-6  # trips 1.5 miles longer
    alarms = [S.numeric_p_value(deciles, cumulative, 20000, rng.choice(population, n)) < 0.01
              for n in (50, 300, 1000) for _ in range(100)]
    assert np.mean(alarms) <= 0.03
    assert S.judged_skewed({"a": 0.004, "b": 0.006}, 0.01) == {"a"}  # 0.01 over two features: 0.005 each


def test_a_request_log_cut_short_is_read_up_to_its_last_whole_record(tmp_path, capsys):
    import tensorflow as tf

    from pipelines import monitor

    def example(x):
        e = tf.train.Example()
        e.features.feature["x"].float_list.value.append(x)
        return e.SerializeToString()

    path = tmp_path / "requests.tfrecord"
    with tf.io.TFRecordWriter(str(path)) as writer:
        for x in (1.0, 2.0, 3.0):
            writer.write(example(x))
    path.write_bytes(path.read_bytes()[:-7])  # the server stopped, or the disk filled, mid-record
    batch = monitor.serving_record_batch([str(path)], monitor.TF_EXAMPLE, [""])
    assert batch.num_rows == 2
    assert "the last record is cut short" in capsys.readouterr().err
    (tmp_path / "garbage.tfrecord").write_bytes(b"not a tfrecord file at all, not even close")
    with pytest.raises(ValueError, match="not a TFRecord file"):
        monitor.serving_record_batch([str(tmp_path / "garbage.tfrecord")], monitor.TF_EXAMPLE, [""])


def test_a_logged_request_whose_example_cannot_be_parsed_is_named(tmp_path):
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_log_pb2

    from pipelines import monitor

    log = prediction_log_pb2.PredictionLog()
    tensor = log.predict_log.request.inputs["examples"]
    tensor.dtype = tf.string.as_datatype_enum
    tensor.string_val.append(b"\xff\xfe not an example")
    with tf.io.TFRecordWriter(str(tmp_path / "log.tfrecord")) as writer:
        writer.write(log.SerializeToString())
    with pytest.raises(ValueError, match=r"example 1 of 1 is not a tf.Example \(first bytes b'\\xff\\xfe"):
        monitor.serving_record_batch([str(tmp_path / "log.tfrecord")], monitor.PREDICTION_LOG, [""])
