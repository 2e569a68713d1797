"""preprocessing_fn, generated from feature specs, run through tf.Transform's Beam implementation."""
import math

import pytest
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

from components.modules.preprocessing import preprocessing_fn
from pipelines.config import FeaturesConfig

pytestmark = pytest.mark.component


def config(label, features) -> str:
    return FeaturesConfig.model_validate({"label": label, "features": features}).model_dump_json()


def run_transform(rows, feature_spec, cfg_json, tmp_path):
    metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(feature_spec))
    with tft_beam.Context(temp_dir=str(tmp_path)):
        (transformed, _), transform_fn = (rows, metadata) | tft_beam.AnalyzeAndTransformDataset(
            lambda inputs: preprocessing_fn(inputs, {"config": cfg_json}), output_record_batches=False)
    return sorted(transformed, key=lambda r: r["fare_xf"]), transform_fn


def test_each_feature_kind_and_a_binary_threshold_label(tmp_path):
    cfg_json = config(
        {"kind": "binary_threshold", "name": "big_tipper", "column": "tips", "greater_than": 0.2, "relative_to": "fare"},
        [{"name": "fare", "kind": "numeric", "scaling": "z_score"},
         {"name": "miles", "kind": "numeric", "scaling": "min_max"},
         {"name": "lat", "kind": "bucketized", "buckets": 2},
         {"name": "payment", "kind": "string_categorical", "oov_buckets": 1},
         {"name": "hour", "kind": "int_categorical", "min": 0, "max": 23}])
    spec = {
        "fare": tf.io.FixedLenFeature([], tf.float32),
        "miles": tf.io.VarLenFeature(tf.float32),  # optional column: missing cells take the training mean
        "lat": tf.io.FixedLenFeature([], tf.float32),
        "payment": tf.io.FixedLenFeature([], tf.string),
        "hour": tf.io.VarLenFeature(tf.int64),
        "tips": tf.io.FixedLenFeature([], tf.float32),
    }
    rows = [
        {"fare": 10.0, "miles": [2.0], "lat": 1.0, "payment": b"Cash", "hour": [5], "tips": 0.0},
        {"fare": 20.0, "miles": [4.0], "lat": 2.0, "payment": b"Card", "hour": [30], "tips": 5.0},
        {"fare": 30.0, "miles": [], "lat": 3.0, "payment": b"Card", "hour": [], "tips": 6.1},
        {"fare": 40.0, "miles": [1.0], "lat": 4.0, "payment": b"Card", "hour": [23], "tips": 8.0}  # 8.0 is not > 8.0,
    ]
    out, _ = run_transform(rows, spec, cfg_json, tmp_path)

    std = math.sqrt(sum((x - 25.0) ** 2 for x in (10, 20, 30, 40)) / 4)
    assert [round(r["fare_xf"], 5) for r in out] == [round((x - 25.0) / std, 5) for x in (10, 20, 30, 40)]
    # min-max over 2, 4, the mean 7/3 (missing) and 1
    assert [round(r["miles_xf"], 5) for r in out] == [round(v, 5) for v in (1 / 3, 1.0, (7 / 3 - 1) / 3, 0.0)]
    assert [r["lat_xf"] for r in out] == [0, 0, 1, 1]  # two quantile buckets
    assert [r["payment_xf"] for r in out] == [1, 0, 0, 0]  # most frequent value gets id 0
    assert [r["hour_xf"] for r in out] == [5, 24, 25, 23]  # out of range: 24; missing: its own id, 25
    assert [r["big_tipper"] for r in out] == [0, 1, 1, 0]  # tips > 0.2 * fare, strictly: 6.1 > 6.0, 8.0 = 8.0


def test_classes_label_is_the_index_in_the_configured_order(tmp_path):
    cfg_json = config({"kind": "classes", "name": "species_id", "column": "species",
                       "classes": ["Adelie", "Chinstrap", "Gentoo"]},
                      [{"name": "fare", "kind": "numeric"}])
    spec = {"fare": tf.io.FixedLenFeature([], tf.float32), "species": tf.io.FixedLenFeature([], tf.string)}
    rows = [{"fare": float(i), "species": s} for i, s in enumerate([b"Gentoo", b"Adelie", b"Chinstrap"])]
    out, _ = run_transform(rows, spec, cfg_json, tmp_path)
    assert [r["species_id"] for r in out] == [2, 0, 1]


@pytest.mark.parametrize("classes, dtype, values, expected", [
    ([0, 1, 2], tf.int64, [2, 0, 1], [2, 0, 1]),                       # integer classes, written as in the data
    ([7, 3], tf.int64, [3, 7, 3], [1, 0, 1]),                          # the config's order, not the values' order
    ([False, True], tf.int64, [1, 0, 1], [1, 0, 1]),                   # booleans reach tf.Examples as 0/1
    (["0", "1", "2"], tf.int64, [1, 2, 0], [1, 2, 0]),                 # quoted numbers still match a number column
])
def test_classes_of_any_type_become_their_index(classes, dtype, values, expected, tmp_path):
    cfg_json = config({"kind": "classes", "name": "y", "column": "target", "classes": classes},
                      [{"name": "fare", "kind": "numeric"}])
    spec = {"fare": tf.io.FixedLenFeature([], tf.float32), "target": tf.io.FixedLenFeature([], dtype)}
    rows = [{"fare": float(i), "target": v} for i, v in enumerate(values)]
    out, _ = run_transform(rows, spec, cfg_json, tmp_path)
    assert [r["y"] for r in out] == expected


def test_regression_label_is_the_value_itself(tmp_path):
    cfg_json = config({"kind": "regression", "name": "progression", "column": "target"},
                      [{"name": "fare", "kind": "numeric"}])
    spec = {"fare": tf.io.FixedLenFeature([], tf.float32), "target": tf.io.FixedLenFeature([], tf.float32)}
    rows = [{"fare": float(i), "target": v} for i, v in enumerate([151.0, 75.5, 141.0])]
    out, _ = run_transform(rows, spec, cfg_json, tmp_path)
    assert [r["progression"] for r in out] == [151.0, 75.5, 141.0]


def test_vocabulary_is_stored_under_the_feature_name(tmp_path):
    cfg_json = config({"kind": "binary_threshold", "name": "y", "column": "tips", "greater_than": 0},
                      [{"name": "fare", "kind": "numeric"}, {"name": "payment", "kind": "string_categorical", "oov_buckets": 3}])
    spec = {"fare": tf.io.FixedLenFeature([], tf.float32), "payment": tf.io.FixedLenFeature([], tf.string),
            "tips": tf.io.FixedLenFeature([], tf.float32)}
    rows = [{"fare": 1.0, "payment": b"Cash", "tips": 0.0}, {"fare": 2.0, "payment": b"Card", "tips": 1.0}]
    _, transform_fn = run_transform(rows, spec, cfg_json, tmp_path)
    output_dir = str(tmp_path / "transform_fn")
    _ = transform_fn | tft_beam.WriteTransformFn(output_dir)
    assert tft.TFTransformOutput(output_dir).vocabulary_size_by_name("payment") == 2


@pytest.mark.parametrize("impute, expected", [("mean", 5.0), ("median", 3.0)])
def test_a_missing_number_becomes_the_training_mean_or_median_and_may_be_flagged(impute, expected, tmp_path):
    cfg_json = config({"kind": "regression", "name": "y", "column": "target"},
                      [{"name": "fare", "kind": "numeric"},
                       {"name": "age", "kind": "numeric", "scaling": "min_max", "impute": impute,
                        "missing_indicator": True}])
    spec = {"fare": tf.io.FixedLenFeature([], tf.float32), "age": tf.io.VarLenFeature(tf.float32),
            "target": tf.io.FixedLenFeature([], tf.float32)}
    ages = [[1.0], [2.0], [3.0], [], [4.0], [15.0]]  # mean 5, median 3
    rows = [{"fare": float(i), "age": a, "target": 0.0} for i, a in enumerate(ages)]
    out, _ = run_transform(rows, spec, cfg_json, tmp_path)
    low, high = 1.0, 15.0
    assert round(out[3]["age_xf"], 4) == round((expected - low) / (high - low), 4)  # the row without an age
    assert [r["age_missing_xf"] for r in out] == [0.0, 0.0, 0.0, 1.0, 0.0, 0.0]


def test_a_fixed_default_is_used_as_given_and_a_missing_category_is_its_own_value(tmp_path):
    cfg_json = config({"kind": "regression", "name": "y", "column": "target"},
                      [{"name": "fare", "kind": "numeric", "scaling": "min_max", "default": -10.0},
                       {"name": "payment", "kind": "string_categorical"}])
    spec = {"fare": tf.io.VarLenFeature(tf.float32), "payment": tf.io.VarLenFeature(tf.string),
            "target": tf.io.FixedLenFeature([], tf.float32)}
    rows = [{"fare": [0.0], "payment": [b""], "target": 0.0}, {"fare": [], "payment": [], "target": 1.0},
            {"fare": [10.0], "payment": [b""], "target": 2.0}]
    metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(spec))
    with tft_beam.Context(temp_dir=str(tmp_path)):
        (out, _), _ = (rows, metadata) | tft_beam.AnalyzeAndTransformDataset(
            lambda inputs: preprocessing_fn(inputs, {"config": cfg_json}), output_record_batches=False)
    by_target = {r["y"]: r for r in out}
    assert [round(by_target[t]["fare_xf"], 4) for t in (0.0, 1.0, 2.0)] == [0.5, 0.0, 1.0]  # -10 is the minimum
    # An empty string is a value; a missing cell is another: never merged.
    assert by_target[0.0]["payment_xf"] == by_target[2.0]["payment_xf"] != by_target[1.0]["payment_xf"]


def test_scaling_of_imputed_columns_in_one_analysis_pass(tmp_path, caplog):
    """z-scores and min-max of a column with missing cells are those of the imputed column, computed from the
    statistics of the values present: Transform reads the training data once (no second analysis phase,
    which TFX's deep copy would make a second pass over the whole split). Bucket boundaries are quantiles
    of the values present; a filled cell falls in its fill's bucket."""
    import logging

    import numpy as np

    cfg_json = config({"kind": "regression", "name": "y", "column": "target"},
                      [{"name": "fare", "kind": "numeric"},
                       {"name": "miles", "kind": "numeric", "scaling": "z_score", "impute": "median"},
                       {"name": "lat", "kind": "bucketized", "buckets": 2}])
    spec = {"fare": tf.io.FixedLenFeature([], tf.float32), "miles": tf.io.VarLenFeature(tf.float32),
            "lat": tf.io.VarLenFeature(tf.float32), "target": tf.io.FixedLenFeature([], tf.float32)}
    miles = [[1.0], [], [2.0], [10.0], [], [4.0]]  # median of the present: 2 (or 4: TFT's quantile boundary)
    lats = [[1.0], [2.0], [], [3.0], [4.0], [5.0]]  # boundary of the present values: 3; the fill (mean 3)
    rows = [{"fare": float(i), "miles": m, "lat": la, "target": 0.0} for i, (m, la) in enumerate(zip(miles, lats))]
    metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(spec))
    caplog.set_level(logging.INFO)
    with tft_beam.Context(temp_dir=str(tmp_path), use_deep_copy_optimization=True):  # as TFX's executor
        (out, _), _ = (rows, metadata) | tft_beam.AnalyzeAndTransformDataset(
            lambda inputs: preprocessing_fn(inputs, {"config": cfg_json}), output_record_batches=False)
    out = sorted(out, key=lambda r: r["fare_xf"])
    assert "phase: 1" not in caplog.text

    filled_miles = [r["miles_xf"] for r in out]
    present = [m[0] for m in miles if m]
    for fill in (2.0, 4.0):  # whichever boundary TFT's quantiles chose, the z-scores are of that imputed column
        imputed = np.array([m[0] if m else fill for m in miles])
        if np.allclose(filled_miles, (imputed - imputed.mean()) / imputed.std(), atol=1e-5):
            break
    else:
        raise AssertionError(f"{filled_miles} are not z-scores of {present} imputed with a median")
    buckets = [r["lat_xf"] for r in out]
    assert buckets[0] == buckets[1] == 0 and buckets[4] == buckets[5] == 1  # 1, 2 | 4, 5 around the boundary
    assert buckets[2] == buckets[3]  # the filled cell (mean 3) with the value 3
