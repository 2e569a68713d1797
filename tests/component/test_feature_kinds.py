"""Every feature kind the config declares is transformed by preprocessing_fn and fed to the model.

A kind added to pipelines.config.Feature without a transform (preprocessing.TRANSFORMS) or without
what the model builder needs (`categorical`, `cardinality`) fails here.
"""
import pytest
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

from components.modules import model as M
from components.modules.preprocessing import preprocessing_fn
from pipelines.config import FEATURE_KINDS, FeaturesConfig, TrainingConfig

pytestmark = pytest.mark.component

# One feature of each kind, with the raw column it reads and a few values (a missing one included).
SAMPLES = {
    "numeric": ({"kind": "numeric", "scaling": "min_max"}, tf.float32, [[1.5], [4.0], [], [2.0]]),
    "bucketized": ({"kind": "bucketized", "buckets": 2}, tf.float32, [[1.0], [2.0], [3.0], []]),
    "string_categorical": ({"kind": "string_categorical", "oov_buckets": 1}, tf.string, [[b"a"], [b"b"], [b"a"], []]),
    "int_categorical": ({"kind": "int_categorical", "min": 1, "max": 3}, tf.int64, [[1], [3], [9], []]),
}


def test_every_declared_kind_has_a_sample_here():
    assert set(SAMPLES) == set(FEATURE_KINDS), "add a sample for the new kind to SAMPLES"


@pytest.mark.parametrize("kind", FEATURE_KINDS)
def test_kind_is_transformed_and_fed_to_the_model(kind, tmp_path):
    spec, dtype, values = SAMPLES[kind]
    cfg = TrainingConfig.model_validate({
        "label": {"kind": "binary_threshold", "name": "y", "column": "target", "greater_than": 0.5},
        "features": [{"name": "x", **spec}],
        "model": {"hidden_units": [4]}})
    transform_json = FeaturesConfig(label=cfg.label, features=cfg.features).model_dump_json()  # Transform's part
    feature_spec = {"x": tf.io.VarLenFeature(dtype), "target": tf.io.FixedLenFeature([], tf.float32)}
    rows = [{"x": value, "target": float(i % 2)} for i, value in enumerate(values)]
    metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(feature_spec))
    with tft_beam.Context(temp_dir=str(tmp_path / "tmp")):
        (transformed, _), transform_fn = (rows, metadata) | tft_beam.AnalyzeAndTransformDataset(
            lambda inputs: preprocessing_fn(inputs, {"config": transform_json}), output_record_batches=False)
        _ = transform_fn | tft_beam.WriteTransformFn(str(tmp_path / "transform"))
    assert len(transformed) == len(values) and all("x_xf" in row for row in transformed)

    transform_output = tft.TFTransformOutput(str(tmp_path / "transform"))
    feature = cfg.features[0]
    if feature.categorical:  # ids fall inside the embedding the model builds for the kind
        vocabulary_size = transform_output.vocabulary_size_by_name("x") if feature.has_vocabulary else None
        assert all(0 <= row["x_xf"] < feature.cardinality(vocabulary_size) for row in transformed)
    model = M.build_model(cfg, transform_output, hidden_units=[4], learning_rate=0.01)
    batch = {"x_xf": tf.constant([row["x_xf"] for row in transformed])}
    assert model(batch).shape == (len(values), 1)
