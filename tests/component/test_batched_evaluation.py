"""Batched evaluation gives TFMA's numbers: each metric's computations run once on TFMA's per-example
inputs and once on batches of the same rows (`components/evaluator`), and every metric, plot and derived
value must agree; slice groups must match TFMA's own slice keys row by row."""
import json

import numpy as np
import pytest
import tensorflow_model_analysis as tfma
from tensorflow_model_analysis import constants
from tensorflow_model_analysis.evaluators import metrics_plots_and_validations_evaluator as evaluator_lib
from tensorflow_model_analysis.extractors import slice_key_extractor
from tensorflow_model_analysis.metrics import calibration_histogram, metric_specs, metric_types
from tensorflow_model_analysis.slicer import slicer_lib as slicer
from tensorflow_model_analysis.utils import util

from components.evaluator import batches, extractors
from components.evaluator import eval_config as batched_evaluation

pytestmark = pytest.mark.component

BINARY = [("ExampleCount", None), ("BinaryAccuracy", None), ("AUC", {"num_thresholds": 200}),
          ("AUCPrecisionRecall", {"num_thresholds": 200}), ("Precision", None), ("Recall", None),
          ("FallOut", {"thresholds": [0.3], "name": "false_positive_rate@0.3"}),
          ("MissRate", {"thresholds": [0.5], "name": "false_negative_rate@0.5"}),
          ("ConfusionMatrixAtThresholds", {"thresholds": [0.3, 0.5]}), ("CalibrationPlot", {"num_buckets": 10})]


def config(metrics, model_names=("",), batched=False) -> tfma.EvalConfig:
    specs = [tfma.ModelSpec(name=name, label_key="label", is_baseline=name == "baseline") for name in model_names]
    metric_configs = [tfma.MetricConfig(class_name=name, config=json.dumps(c) if c else "") for name, c in metrics]
    if batched:
        metric_configs = [batched_evaluation.batched(m) for m in metric_configs]
    names = [name for name in model_names if name]  # as TFX fills them in when a baseline is given
    return tfma.EvalConfig(model_specs=specs, metrics_specs=[tfma.MetricsSpec(metrics=metric_configs, model_names=names)])


def evaluate(eval_config: tfma.EvalConfig, inputs: list) -> dict:
    """What TFMA's evaluator computes for one slice: combiners over the inputs, then derived metrics."""
    separated = evaluator_lib._filter_and_separate_computations(  # TFMA's own de-duplication by key
        metric_specs.to_computations(list(eval_config.metrics_specs), eval_config=eval_config))
    results: dict = {}
    for c in separated.non_derived_computations:
        accumulator = c.combiner.create_accumulator()
        for element in inputs:
            accumulator = c.combiner.add_input(accumulator, element)
        accumulator = c.combiner.merge_accumulators([c.combiner.create_accumulator(), accumulator])
        results.update(c.combiner.extract_output(accumulator))
    for c in separated.derived_computations:
        results.update(c.result(results))
    return results


def per_example_and_batched(metrics, columns: dict, model_names=("",), sizes=(1, 7, 64, 300)):
    """(TFMA's results on per-example inputs, the batched results) for the same rows in batches of `sizes`."""
    rows = len(columns["labels"])
    per_example = [metric_types.StandardMetricInputs(row) for row in util.split_extracts(columns)]
    batched_inputs, start, i = [], 0, 0
    while start < rows:
        stop = min(rows, start + sizes[i % len(sizes)])
        batched_inputs.append(metric_types.StandardMetricInputs(
            {k: batches.take_rows(v, np.arange(start, stop)) for k, v in columns.items()}))
        start, i = stop, i + 1
    return (evaluate(config(metrics, model_names), per_example),
            evaluate(config(metrics, model_names, batched=True), batched_inputs))


def leaves(value, path=""):
    """Numbers of a metric value (floats, protos, histograms), by path."""
    if isinstance(value, (int, float, np.number)):
        return {path: float(value)}
    if isinstance(value, np.ndarray):
        return {f"{path}[{i}]": float(v) for i, v in enumerate(value.flatten())}
    if isinstance(value, (list, tuple)):
        return {k: v for i, item in enumerate(value) for k, v in leaves(item, f"{path}[{i}]").items()}
    if hasattr(value, "ListFields"):
        return leaves(json.loads(__import__("google.protobuf.json_format", fromlist=["x"]).MessageToJson(value)), path)
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in leaves(item, f"{path}.{key}").items()}
    if hasattr(value, "__dict__"):
        return leaves(vars(value), path)
    if isinstance(value, str):
        return {}
    return leaves(value._asdict(), path) if hasattr(value, "_asdict") else {}


def assert_same(expected: dict, actual: dict):
    assert set(map(str, expected)) == set(map(str, actual))
    by_name = {str(k): v for k, v in actual.items()}
    for key, value in expected.items():
        want, got = leaves(value), leaves(by_name[str(key)])
        assert want.keys() == got.keys(), key
        for path in want:
            assert got[path] == pytest.approx(want[path], rel=1e-9, abs=1e-9, nan_ok=True), (str(key), path)


def binary_columns(rows=1000, seed=0, fractional=False):
    rng = np.random.default_rng(seed)
    labels = rng.random(rows).round(1) if fractional else rng.integers(0, 2, rows)
    predictions = rng.random(rows).astype(np.float32)
    predictions[:6] = [0.0, 1.0, 0.5, 0.3, 0.99995, 0.00005]  # bucket and threshold edges
    return {"labels": labels.reshape(rows, 1), "predictions": predictions.reshape(rows, 1), "example_weights": None}


def test_binary_metrics_match_per_example_tfma():
    expected, actual = per_example_and_batched(BINARY, binary_columns())
    assert any(k.name == "auc" for k in expected) and any(k.name == "false_positive_rate@0.3" for k in expected)
    assert_same(expected, actual)


def test_fractional_labels_match():
    assert_same(*per_example_and_batched(BINARY, binary_columns(fractional=True)))


def test_a_candidate_and_its_baseline_match():
    """Two models: predictions keyed by model name, one label array (as TFMA gives them with a baseline)."""
    columns = binary_columns(seed=1)
    other = binary_columns(seed=2)["predictions"]
    columns["predictions"] = {"candidate": columns["predictions"], "baseline": other}
    expected, actual = per_example_and_batched(BINARY, columns, model_names=("candidate", "baseline"))
    assert {k.model_name for k in expected} == {"candidate", "baseline"}
    assert_same(expected, actual)


def test_rows_tfma_would_refuse_go_to_tfma():
    """A NaN prediction makes TFMA's histogram fail; batched, that batch takes TFMA's own path: same error."""
    columns = binary_columns(rows=50)
    columns["predictions"][10] = np.nan
    with pytest.raises(ValueError):
        per_example_and_batched([("AUC", None)], columns)
    with pytest.raises(ValueError):
        evaluate(config([("AUC", None)], batched=True),
                 [metric_types.StandardMetricInputs({k: v for k, v in columns.items()})])


def test_other_label_kinds_go_row_by_row_with_the_same_result():
    rng = np.random.default_rng(3)
    multiclass = {"labels": rng.integers(0, 3, (400, 1)), "predictions": rng.dirichlet([1, 1, 1], 400).astype(np.float32),
                  "example_weights": None}
    assert_same(*per_example_and_batched([("ExampleCount", None), ("MultiClassConfusionMatrixPlot", None)], multiclass))
    regression = {"labels": rng.normal(size=(400, 1)), "predictions": rng.normal(size=(400, 1)).astype(np.float32),
                  "example_weights": None}
    assert_same(*per_example_and_batched([("ExampleCount", None), ("MeanSquaredError", None),
                                          ("MeanAbsoluteError", None), ("MeanLabel", None)], regression))


def test_histogram_buckets_are_tfmas():
    combiner = calibration_histogram._CalibrationHistogramCombiner(
        key=metric_types.PlotKey("h"), eval_config=None, aggregation_type=None, class_weights=None,
        example_weighted=False, num_buckets=10000, left=0.0, right=1.0, prediction_based_bucketing=True,
        fractional_labels=True)
    predictions = np.array([-1.0, -1e-9, 0.0, 1e-4, 0.5, 0.99999, 1.0, 1.5, np.float32(0.3)], dtype=np.float64)
    ids = batches.histogram_sums(np.zeros_like(predictions), predictions, 10000, 0.0, 1.0, False)[0]
    assert sorted(set(combiner._bucket_index(float(p)) for p in predictions)) == list(ids)


def test_slice_groups_are_tfmas_slice_keys():
    """SliceBatchesFn's groups against TFMA's SliceKeyExtractor on each row: raw and transformed features,
    a row without the slice column, two slicing specs and the overall slice."""
    eval_config = tfma.EvalConfig(model_specs=[tfma.ModelSpec()], slicing_specs=[
        tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=["hour"]), tfma.SlicingSpec(feature_keys=["hour", "kind"])])
    rows = 40
    rng = np.random.default_rng(4)
    batch = {
        constants.FEATURES_KEY: {"hour": rng.integers(0, 4, (rows, 1)), "kind": np.array([[b"a"], [b"b"]] * (rows // 2)),
                                 "other": rng.random((rows, 1))},
        constants.TRANSFORMED_FEATURES_KEY: {"kind": rng.integers(0, 2, (rows, 1))},
        constants.LABELS_KEY: rng.integers(0, 2, (rows, 1)),
        constants.PREDICTIONS_KEY: rng.random((rows, 1)).astype(np.float32),
        constants.EXAMPLE_WEIGHTS_KEY: None,
    }
    parts = list(extractors.SliceBatchesFn(eval_config).process(batch))
    grouped = {tuple(part[constants.SLICE_KEY_TYPES_KEY])[0]: part for part in parts}
    specs = [slicer.SingleSliceSpec(spec=s) for s in eval_config.slicing_specs]
    expected: dict = {}
    for i, row in enumerate(util.split_extracts(batch)):
        keyed = slice_key_extractor.ExtractSliceKeysFn(eval_config, False).process(row, specs)[0]
        for key in keyed[constants.SLICE_KEY_TYPES_KEY]:
            expected.setdefault(key, []).append(i)
    assert set(grouped) == set(expected) and () in grouped
    for key, members in expected.items():
        np.testing.assert_array_equal(grouped[key][constants.LABELS_KEY], batch[constants.LABELS_KEY][members])
        np.testing.assert_array_equal(grouped[key][constants.PREDICTIONS_KEY], batch[constants.PREDICTIONS_KEY][members])
