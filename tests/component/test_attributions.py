"""Integrated gradients on the model's body: completeness for each head, and the right feature found."""
import numpy as np
import pytest
import tensorflow as tf

from components.modules import attributions as A
from components.modules import model as M
from pipelines.config import TrainingConfig

pytestmark = pytest.mark.component

ROWS = 256
COLORS = ["red", "green", "blue", "grey"]  # a string feature: vocabulary ids 0..3, one OOV bucket


class FakeTransformOutput:
    def vocabulary_size_by_name(self, name):
        assert name == "color"
        return len(COLORS)


def config(label: dict) -> TrainingConfig:
    return TrainingConfig.model_validate({
        "label": label,
        "features": [{"name": "signal", "kind": "numeric"},
                     {"name": "noise", "kind": "numeric", "missing_indicator": True},
                     {"name": "color", "kind": "string_categorical"},
                     {"name": "hour", "kind": "int_categorical", "min": 0, "max": 5}],
        "model": {"hidden_units": [16, 8], "learning_rate": 0.02},
    })


def synthetic(seed: int = 0) -> dict:
    """Transformed features as Transform would give them: z-scored numbers, ids."""
    rng = np.random.default_rng(seed)
    return {"signal_xf": tf.constant(rng.normal(size=ROWS), tf.float32),
            "noise_xf": tf.constant(rng.normal(size=ROWS), tf.float32),
            "noise_missing_xf": tf.constant(rng.integers(0, 2, ROWS), tf.float32),
            "color_xf": tf.constant(rng.integers(0, len(COLORS), ROWS), tf.int64),
            "hour_xf": tf.constant(rng.integers(0, 6, ROWS), tf.int64)}


def trained(cfg: TrainingConfig, x: dict, y, epochs: int = 40):
    tf.keras.utils.set_random_seed(0)
    model = M.build_model(cfg, FakeTransformOutput(), cfg.model.hidden_units, cfg.model.learning_rate)
    model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
    widths = M.input_widths(cfg, FakeTransformOutput())
    baseline = M.attribution_baseline(tf.data.Dataset.from_tensor_slices((x, y)).batch(64), widths)
    return model, widths, baseline


def explain(cfg, model, widths, baseline, x):
    inputs = A.encode(x, widths)
    starts = {k: tf.constant(v) for k, v in baseline.items()}
    by_input, output, at_baseline, target = A.integrated_gradients(
        model.get_layer(M.BODY), inputs, starts, multiclass=cfg.label.head == "multiclass")
    return A.by_feature(by_input, M.feature_parts(cfg)).numpy(), output.numpy(), at_baseline.numpy(), target


def assert_complete(attributions, output, at_baseline):
    """Attributions add up to f(x) - f(baseline): within 2% of the largest change (or 1e-3) on every row,
    0.5% on average (A.COMPLETENESS_TOLERANCE)."""
    gap = np.abs(attributions.sum(axis=1) - (output - at_baseline))
    scale = max(np.abs(output - at_baseline).max(), 0.05)
    assert gap.max() <= A.COMPLETENESS_TOLERANCE * scale and gap.mean() <= 0.005 * scale, (gap.max(), gap.mean())


def test_binary_label_on_one_feature_is_attributed_to_it():
    cfg = config({"kind": "binary_threshold", "name": "y", "column": "v", "greater_than": 0})
    x = synthetic()
    y = tf.cast(x["signal_xf"] > 0, tf.int64)[:, tf.newaxis]
    model, widths, baseline = trained(cfg, x, y)
    attributions, output, at_baseline, _ = explain(cfg, model, widths, baseline, x)
    assert attributions.shape == (ROWS, 4)
    assert_complete(attributions, output, at_baseline)
    importance = dict(zip(M.feature_parts(cfg), np.abs(attributions).mean(axis=0)))
    assert max(importance, key=importance.get) == "signal"
    assert importance["noise"] < 0.1 * importance["signal"], importance  # value and missing indicator together


def test_multiclass_attributions_explain_the_predicted_class_and_are_complete():
    cfg = config({"kind": "classes", "name": "y", "column": "c", "classes": ["a", "b", "c"]})
    x = synthetic(1)
    y = tf.constant(np.digitize(x["signal_xf"].numpy(), [-0.5, 0.5]), tf.int64)  # three bands of signal
    model, widths, baseline = trained(cfg, x, y)
    attributions, output, at_baseline, target = explain(cfg, model, widths, baseline, x)
    probabilities = model(x).numpy()
    np.testing.assert_array_equal(target.numpy(), probabilities.argmax(axis=1))
    np.testing.assert_allclose(output, probabilities.max(axis=1), rtol=1e-5)
    assert_complete(attributions, output, at_baseline)
    importance = np.abs(attributions).mean(axis=0)
    assert importance.argmax() == 0


def test_regression_attributions_are_in_the_target_units_and_complete():
    cfg = config({"kind": "regression", "name": "y", "column": "v"})
    x = synthetic(2)
    colors = x["color_xf"].numpy()
    y = tf.constant(100.0 + 20.0 * (colors == 2), tf.float32)[:, tf.newaxis]  # "blue" costs 20 more
    tf.keras.utils.set_random_seed(0)
    model = M.build_model(cfg, FakeTransformOutput(), [16], 0.02, label_scale=(float(tf.reduce_mean(y)),
                                                                               float(tf.math.reduce_std(y))))
    model.fit(x, y, epochs=60, batch_size=32, verbose=0)
    widths = M.input_widths(cfg, FakeTransformOutput())
    baseline = M.attribution_baseline(tf.data.Dataset.from_tensor_slices((x, y)).batch(64), widths)
    attributions, output, at_baseline, _ = explain(cfg, model, widths, baseline, x)
    assert_complete(attributions, output, at_baseline)
    by_color = attributions[:, 2]
    # A blue row's color raises the value by about 20 * (1 - share of blue) against the mixed baseline.
    assert by_color[colors == 2].mean() > 10 and by_color[colors != 2].mean() < 0
    assert np.abs(attributions).mean(axis=0).argmax() == 2
