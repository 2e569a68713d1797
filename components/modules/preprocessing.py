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
        outputs[F.transformed_name(feature.name)] = TRANSFORMS[feature.kind](feature, inputs[feature.name])
        if getattr(feature, "missing_indicator", False):
            outputs[F.missing_indicator_name(feature)] = tf.cast(tf.logical_not(present(inputs[feature.name])),
                                                                 tf.float32)
    outputs[cfg.label.name] = transform_label(cfg.label, inputs)
    return outputs


# Every analyzer below reads the values present and nothing computed from another analyzer's result, so
# that Transform analyzes the training data in one pass (an analyzer of the imputed column would wait for
# the fill value: a second analysis phase, for which TFX's Transform reads the training split again).


def present_values(raw):
    """[n] float32: the values present in a numeric column."""
    return tf.cast(raw.values if isinstance(raw, tf.sparse.SparseTensor) else tf.reshape(raw, [-1]), tf.float32)


def fill_value(feature, values, mean=None):
    """What fills a missing cell: `default` when set, else the mean (`mean` when the caller has it) or median
    of the values present in the analyzed (training) data, which Transform computes once and the serving
    graph keeps as a constant; 0 for an entirely empty column."""
    if feature.default is not None:
        return tf.constant(feature.default, tf.float32)
    if feature.impute == "mean":
        fill = tft.mean(values) if mean is None else mean
    else:  # the one boundary of two quantile buckets
        fill = tf.reshape(tft.quantiles(values, num_buckets=2, epsilon=0.001), [-1])[0]
    return tf.where(tf.math.is_finite(fill), fill, 0.0)


def imputed(feature, raw, mean=None):
    """A numeric column as float32 with its missing cells filled (fill_value), and that fill."""
    fill = fill_value(feature, present_values(raw), mean)
    return tf.where(present(raw), tf.cast(dense_column(raw, 0), tf.float32), fill), fill


def transform_numeric(feature, raw):
    """The imputed column scaled as TFT's scale_to_z_score or scale_to_0_1 would scale it, with the imputed
    column's statistics derived from those of the values present and the share of cells filled."""
    values = present_values(raw)
    needs_mean = feature.scaling == "z_score" or (feature.default is None and feature.impute == "mean")
    mean_present = tft.mean(values) if needs_mean else None
    value, fill = imputed(feature, raw, mean_present)
    share = tf.cast(tft.mean(tf.cast(present(raw), tf.float32)), tf.float64)  # of the cells, present
    fill64 = tf.cast(fill, tf.float64)
    if feature.scaling == "z_score":
        mean_present, var_present = tf.cast(mean_present, tf.float64), tf.cast(tft.var(values), tf.float64)
        mean = tf.where(share > 0, share * mean_present + (1 - share) * fill64, fill64)
        var = tf.where(share > 0, share * (var_present + tf.square(mean_present - mean))
                       + (1 - share) * tf.square(fill64 - mean), 0.0)
        deviation, std = tf.cast(value, tf.float64) - mean, tf.sqrt(var)
        return tf.cast(tf.where(std > 0, deviation / std, deviation), tf.float32)
    # min and max in one analyzer: the largest of -x and of x.
    negative_min, high = tf.unstack(tf.cast(tft.max(tf.stack([-values, values], axis=1), reduce_instance_dims=False),
                                            tf.float64))
    low = -negative_min
    low = tf.where(share > 0, tf.where(share < 1, tf.minimum(low, fill64), low), fill64)
    high = tf.where(share > 0, tf.where(share < 1, tf.maximum(high, fill64), high), fill64)
    # One distinct value (or none): TFT's sigmoid, continuous and within (0, 1).
    return tf.where(low < high, tf.cast((tf.cast(value, tf.float64) - low) / (high - low), tf.float32),
                    tf.math.sigmoid(value))


def transform_bucketized(feature, raw):
    """Quantile buckets of the values present (TFT's bucketize epsilon); a filled cell in its fill's bucket."""
    value, _ = imputed(feature, raw)
    boundaries = tft.quantiles(present_values(raw), feature.buckets, epsilon=min(1.0 / feature.buckets, 0.01))
    return tft.apply_buckets(value, boundaries)


MISSING_TOKEN = "__missing__"  # a missing string cell's own vocabulary entry, never a real value's


def transform_string_categorical(feature, raw):
    return tft.compute_and_apply_vocabulary(
        dense_column(raw, MISSING_TOKEN), top_k=feature.top_k, num_oov_buckets=feature.oov_buckets,
        vocab_filename=F.vocabulary_name(feature))


def transform_int_categorical(feature, raw):
    value = tf.cast(dense_column(raw, feature.min if feature.default is None else feature.default), tf.int64)
    in_range = tf.logical_and(value >= feature.min, value <= feature.max)
    ids = tf.where(in_range, value - feature.min, tf.constant(feature.outside_id, tf.int64))
    if feature.default is not None:
        return ids
    return tf.where(present(raw), ids, tf.constant(feature.missing_id, tf.int64))


# One transform per feature kind of pipelines.config.Feature (a test runs every kind through it).
TRANSFORMS = {
    "numeric": transform_numeric,
    "bucketized": transform_bucketized,
    "string_categorical": transform_string_categorical,
    "int_categorical": transform_int_categorical,
}


def transform_label(label, inputs):
    if label.kind == "binary_threshold":
        value = tf.cast(dense_column(inputs[label.column], 0), tf.float32)
        threshold = tf.constant(label.greater_than, tf.float32)
        if label.relative_to:
            threshold = threshold * tf.cast(dense_column(inputs[label.relative_to], 0), tf.float32)
        return tf.cast(value > threshold, tf.int64)
    if label.kind == "regression":
        return tf.cast(dense_column(inputs[label.column], 0), tf.float32)
    # classes: the index of the value in label.classes (the schema's domain rejects others).
    raw = inputs[label.column]
    value = dense_column(raw, "" if raw.dtype == tf.string else 0)
    matches = tf.stack([tf.equal(value, class_constant(name, value.dtype, label.column)) for name in label.classes],
                       axis=1)
    return tf.argmax(tf.cast(matches, tf.int64), axis=1)


def class_constant(name, dtype, column: str):
    """A class as written in the config, in the column's type: "Adelie", 2 or true (read as 1)."""
    if dtype == tf.string:
        return tf.constant(str(name))
    try:
        return tf.cast(tf.constant(float(name)), dtype)
    except ValueError:
        raise ValueError(f"label.classes: {name!r} is not a number, but column {column!r} holds numbers") from None


def present(raw):
    """[batch] booleans: whether each row has a value in the column."""
    if isinstance(raw, tf.sparse.SparseTensor):
        marks = tf.SparseTensor(raw.indices, tf.ones_like(raw.values, tf.int32), [raw.dense_shape[0], 1])
        return tf.squeeze(tf.sparse.to_dense(marks, default_value=0), axis=1) > 0
    return tf.ones(tf.shape(dense_column(raw, 0))[:1], tf.bool)


def dense_column(raw, default):
    """A raw column as a [batch] dense tensor, missing cells replaced by `default`."""
    if isinstance(raw, tf.sparse.SparseTensor):
        fill = default if raw.dtype == tf.string else tf.cast(default, raw.dtype)
        raw = tf.sparse.to_dense(
            tf.SparseTensor(raw.indices, raw.values, [raw.dense_shape[0], 1]), default_value=fill)
    if raw.shape.rank == 2:
        raw = tf.squeeze(raw, axis=1)
    return raw
