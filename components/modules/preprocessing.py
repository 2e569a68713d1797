"""Transform's preprocessing_fn, generated from the config's feature specs (custom_config)."""
from __future__ import annotations

import tensorflow as tf
import tensorflow_transform as tft

from components.modules import features as F
from components.modules.keras2 import use_tf_keras
from pipelines.config import features_config_from_json

use_tf_keras()


def preprocessing_fn(inputs, custom_config):
    """TFX calls this with the raw features and `custom_config={'config': <config JSON>}`."""
    cfg = features_config_from_json(custom_config["config"])
    outputs = {}
    for feature in cfg.features:
        outputs[F.transformed_name(feature.name)] = transform_feature(feature, inputs[feature.name])
    outputs[cfg.label.name] = transform_label(cfg.label, inputs)
    return outputs


def transform_feature(feature, raw):
    if feature.kind == "numeric":
        value = tf.cast(dense_column(raw, feature.default), tf.float32)
        return tft.scale_to_z_score(value) if feature.scaling == "z_score" else tft.scale_to_0_1(value)
    if feature.kind == "bucketized":
        value = tf.cast(dense_column(raw, feature.default), tf.float32)
        return tft.bucketize(value, feature.buckets)
    if feature.kind == "string_categorical":
        return tft.compute_and_apply_vocabulary(
            dense_column(raw, ""), top_k=feature.top_k, num_oov_buckets=feature.oov_buckets,
            vocab_filename=F.vocabulary_name(feature))
    if feature.kind == "int_categorical":
        outside = feature.max - feature.min + 1
        missing = feature.min - 1 if feature.default is None else feature.default
        value = tf.cast(dense_column(raw, missing), tf.int64)
        in_range = tf.logical_and(value >= feature.min, value <= feature.max)
        return tf.where(in_range, value - feature.min, tf.constant(outside, tf.int64))
    raise ValueError(f"unknown feature kind {feature.kind}")


def transform_label(label, inputs):
    if label.kind == "binary_threshold":
        value = tf.cast(dense_column(inputs[label.column], 0), tf.float32)
        threshold = tf.constant(label.greater_than, tf.float32)
        if label.relative_to:
            threshold = threshold * tf.cast(dense_column(inputs[label.relative_to], 0), tf.float32)
        return tf.cast(value > threshold, tf.int64)
    # classes: the index of the value in label.classes (the schema's domain rejects others).
    value = dense_column(inputs[label.column], "")
    matches = tf.stack([tf.equal(value, name) for name in label.classes], axis=1)
    return tf.argmax(tf.cast(matches, tf.int64), axis=1)


def dense_column(raw, default):
    """A raw column as a [batch] dense tensor, missing cells replaced by `default`."""
    if isinstance(raw, tf.sparse.SparseTensor):
        fill = default if raw.dtype == tf.string else tf.cast(default, raw.dtype)
        raw = tf.sparse.to_dense(
            tf.SparseTensor(raw.indices, raw.values, [raw.dense_shape[0], 1]), default_value=fill)
    if raw.shape.rank == 2:
        raw = tf.squeeze(raw, axis=1)
    return raw
