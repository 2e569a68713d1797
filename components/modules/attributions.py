"""Integrated gradients through the model's differentiable body, summed back to raw feature names.

Gradients cannot pass a vocabulary lookup or an integer id, so the model is split (model.py): ids are
one-hot encoded first, and everything after that (`body`) is a function of floats: each numeric value,
each missing indicator, each categorical feature's one-hot vector. Attributions are computed on those
inputs and each raw feature gets the sum of its parts (a one-hot vector's entries, a value and its
missing indicator).

Baseline: the average encoded training example: every numeric input at its training mean and every
categorical input as the mix of its categories' training shares. An attribution says how much a
feature moved the explained output away from the baseline's output; they add up to
f(x) - f(baseline) (completeness), up to the error of the integral's trapezoid rule.

What is explained: a binary model's probability of the positive class, a regression's value, and a
multiclass model's probability of the class it predicts for the row.
"""
from __future__ import annotations

import tensorflow as tf

STEPS = 256  # trapezoid steps: completeness within 1-2% of the largest |f(x) - f(baseline)| on sharp models (tests)


# Tests check that completeness holds within this share of the largest |f(x) - f(baseline)| on every row;
# each run records the gap it measured (components/feature_importance).
COMPLETENESS_TOLERANCE = 0.02


def encode(transformed: dict, widths: dict[str, int | None]) -> dict:
    """The body's inputs from transformed features: `widths[key]` is a categorical input's number of ids
    (one-hot encoded) or None for a number (a [batch, 1] column)."""
    encoded = {}
    for key, width in widths.items():
        value = transformed[key]
        if width is None:
            encoded[key] = tf.reshape(tf.cast(value, tf.float32), [-1, 1])
        else:
            encoded[key] = tf.one_hot(tf.reshape(tf.cast(value, tf.int64), [-1]), width, dtype=tf.float32)
    return encoded


def explained_output(outputs, target=None):
    """[batch] values: the one output column, or each row's `target` column (a multiclass model)."""
    if target is None:
        return outputs[:, 0]
    return tf.gather(outputs, target, axis=1, batch_dims=1)


def integrated_gradients(body, inputs: dict, baseline: dict, multiclass: bool, steps: int = STEPS):
    """Per body input, [batch] attributions (one number per row: the sum over the input's width), with the
    explained output at the row and at the baseline, and the class explained (multiclass; else None)."""
    keys = sorted(inputs)
    batch = tf.shape(inputs[keys[0]])[0]
    outputs = body(inputs)
    target = tf.argmax(outputs, axis=1, output_type=tf.int32) if multiclass else None
    alphas = tf.linspace(0.0, 1.0, steps + 1)  # [steps + 1]

    # Every row at every alpha in one batch of batch * (steps + 1) rows, row-major by example.
    starts = {k: tf.broadcast_to(baseline[k], tf.shape(inputs[k])) for k in keys}
    path = {k: tf.reshape(starts[k][:, tf.newaxis, :] + alphas[tf.newaxis, :, tf.newaxis]
                          * (inputs[k] - starts[k])[:, tf.newaxis, :], [-1, tf.shape(inputs[k])[1]]) for k in keys}
    path_target = tf.repeat(target, steps + 1) if multiclass else None
    with tf.GradientTape() as tape:
        tape.watch(path)
        explained = explained_output(body(path), path_target)
    gradients = tape.gradient(explained, path)

    weights = tf.concat([[0.5], tf.ones([steps - 1]), [0.5]], axis=0) / steps  # the trapezoid rule on [0, 1]
    attributions = {}
    for k in keys:
        per_step = tf.reshape(gradients[k], [batch, steps + 1, -1])
        average = tf.reduce_sum(per_step * weights[tf.newaxis, :, tf.newaxis], axis=1)
        attributions[k] = tf.reduce_sum(average * (inputs[k] - starts[k]), axis=1)
    at_baseline = explained_output(body({k: starts[k] for k in keys}), target)
    return attributions, explained_output(outputs, target), at_baseline, target


def by_feature(attributions: dict, parts: dict[str, list[str]]) -> tf.Tensor:
    """[batch, features] in the order of `parts` (raw feature name -> the body inputs that are its parts)."""
    return tf.stack([tf.add_n([attributions[key] for key in keys]) for keys in parts.values()], axis=1)
