"""The wide & deep model builder: inputs from the feature specs, outputs by label kind."""
import numpy as np
import pytest
import tensorflow as tf

from components.modules import model as M
from pipelines.config import load_config

pytestmark = pytest.mark.component


class FakeTransformOutput:
    """Only what build_model asks of a TFTransformOutput."""

    def __init__(self, sizes):
        self.sizes = sizes

    def vocabulary_size_by_name(self, name):
        return self.sizes[name]


def batch_for(cfg, n, vocabulary_sizes):
    from components.modules import features as F

    batch = {}
    for feature in cfg.features:
        key = F.transformed_name(feature.name)
        if feature.categorical:
            size = feature.cardinality(vocabulary_sizes.get(feature.name))
            batch[key] = tf.constant(np.arange(n) % size, tf.int64)
        else:
            batch[key] = tf.constant(np.linspace(-1, 1, n), tf.float32)
    return batch


def test_binary_taxi_model(project):
    cfg = load_config(project / "configs" / "taxi.yaml")
    sizes = {"payment_type": 7, "company": 100}
    model = M.build_model(cfg, FakeTransformOutput(sizes), hidden_units=[16, 8], learning_rate=0.01)
    assert sorted(model.input_names) == sorted(f.name + "_xf" for f in cfg.features)
    predictions = model(batch_for(cfg, 5, sizes)).numpy()
    assert predictions.shape == (5, 1)
    assert ((predictions > 0) & (predictions < 1)).all()
    # The body (after one-hot encoding): one Dense per hidden layer and the output, and one bias-free Dense
    # per categorical feature: its embedding, sized by the vocabulary plus the OOV buckets for company.
    body = model.get_layer(M.BODY)
    dense = [layer for layer in body.layers if isinstance(layer, tf.keras.layers.Dense)]
    assert [layer.units for layer in dense if layer.use_bias] == [16, 8, 1]
    embeddings = {layer.kernel.shape[0] for layer in dense if not layer.use_bias}
    assert {110, 26} <= embeddings and all(layer.units == cfg.model.embedding_dim for layer in dense if not layer.use_bias)


def test_multiclass_penguin_model_learns(project):
    cfg = load_config(project / "configs" / "penguin.yaml")
    sizes = {"island": 3, "sex": 2}
    model = M.build_model(cfg, FakeTransformOutput(sizes), hidden_units=[8], learning_rate=0.05)
    x = batch_for(cfg, 30, sizes)
    y = tf.constant((np.arange(30) % 3), tf.int64)  # learnable from the categorical ids
    model.fit(x, y, epochs=60, verbose=0)
    probabilities = model(x).numpy()
    assert probabilities.shape == (30, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert (probabilities.argmax(axis=1) == y.numpy()).mean() > 0.9


def test_regression_model_predicts_a_value(project):
    cfg = load_config(project / "configs" / "taxi.yaml",
                      ["label={kind: regression, name: tip, column: tips}", "evaluation.metrics=[MeanSquaredError]",
                       "evaluation.thresholds=[{metric: MeanSquaredError, upper_bound: 100}]"])
    sizes = {"payment_type": 7, "company": 100}
    x = batch_for(cfg, 40, sizes)
    y = tf.reshape(tf.cast(x["trip_start_hour_xf"], tf.float32) * 30.0 + 500.0, [-1, 1])  # far outside [0, 1]
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    mean, std = M.label_scale(cfg, dataset)
    assert abs(mean - float(tf.reduce_mean(y))) < 1e-3 and abs(std - float(tf.math.reduce_std(y))) < 1e-3
    # With the target's scale built in, the default learning rate reaches values in the hundreds.
    model = M.build_model(cfg, FakeTransformOutput(sizes), hidden_units=[8], learning_rate=0.001,
                          label_scale=(mean, std))
    model.fit(x, y, epochs=100, verbose=0)
    predictions = model(x).numpy()
    assert predictions.shape == (40, 1) and model.loss == "mean_squared_error"
    assert np.abs(predictions - y.numpy()).mean() < 0.5 * np.abs(y.numpy() - mean).mean()  # beats the mean


def test_hyperparameters_come_from_the_tuner_when_it_ran(project):
    import keras_tuner

    cfg = load_config(project / "configs" / "taxi.yaml")
    assert M.hyperparameters_from(cfg, None) == ([64, 32], 0.001)
    hp = keras_tuner.HyperParameters()
    hp.Choice("hidden_units", ["128-64"])
    hp.Choice("learning_rate", [0.01])
    assert M.hyperparameters_from(cfg, hp.get_config()) == ([128, 64], 0.01)


def test_keras_tuner_accepts_the_tf_keras_model(project, tmp_path):
    # keras-tuner binds to Keras 3 when imported (TF 2.16 installs it); the model module rebinds it.
    import keras_tuner

    cfg = load_config(project / "configs" / "penguin.yaml")
    sizes = {"island": 3, "sex": 2}

    def build(hp):
        return M.build_model(cfg, FakeTransformOutput(sizes), [hp.Choice("units", [4, 8])], 0.01)

    tuner = keras_tuner.RandomSearch(build, max_trials=2, objective="loss", directory=str(tmp_path), project_name="t")
    tuner.search(batch_for(cfg, 12, sizes), tf.constant(np.arange(12) % 3, tf.int64), epochs=1, verbose=0)
    assert tuner.get_best_hyperparameters()[0].get("units") in (4, 8)
