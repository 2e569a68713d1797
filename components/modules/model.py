"""Trainer's run_fn and Tuner's tuner_fn: a wide & deep Keras model built from the config's feature specs.

The exported SavedModel has three signatures, each taking serialized raw tf.Examples:
- `serving_default` (the features only) -> `outputs`: the model's output (a probability, the class
  probabilities, or the predicted value), and for class labels `classes` (names as in the data) with
  `scores` (one per class, in that order); the transform graph is applied inside;
- `evaluation` -> `outputs` alone, which TFMA evaluates;
- `transform_features` -> transformed features, which TFMA uses to compute the label;
- `explain` -> `attributions` ([rows, features]: integrated gradients summed to each raw feature, in
  `feature_names` order), `output` and `baseline_output` (the explained value at the row and at the
  average training example: attributions add up to their difference) and `explained_class`.
"""
from __future__ import annotations

import keras_tuner
import tensorflow as tf
import tensorflow_transform as tft
from tfx.components.trainer.fn_args_utils import FnArgs
from tfx.components.tuner.component import TunerFnResult
from tfx_bsl.public import tfxio

from components.modules import attributions
from components.modules import features as F
from components.modules.keras2 import use_tf_keras
from pipelines.config import BINARY, MULTICLASS, REGRESSION, TrainingConfig, training_config_from_json
from pipelines.config.data import ClassesLabel

use_tf_keras()
keras = tf.keras


BODY = "body"  # the model after its one-hot encoding: a function of floats, which attributions differentiate


def input_widths(cfg: TrainingConfig, tf_transform_output) -> dict[str, int | None]:
    """Each model input (a transformed feature, or a missing indicator) with its number of ids when it is
    categorical, or None when it is a number."""
    widths: dict[str, int | None] = {}
    for feature in cfg.features:
        key = F.transformed_name(feature.name)
        if not feature.categorical:
            widths[key] = None
            if getattr(feature, "missing_indicator", False):
                widths[F.missing_indicator_name(feature)] = None
            continue
        vocabulary_size = (tf_transform_output.vocabulary_size_by_name(F.vocabulary_name(feature))
                           if feature.has_vocabulary else None)
        widths[key] = feature.cardinality(vocabulary_size)
    return widths


def feature_parts(cfg: TrainingConfig) -> dict[str, list[str]]:
    """Raw feature name -> the model inputs that carry it (its value, and its missing indicator)."""
    return {f.name: [F.transformed_name(f.name)]
            + ([F.missing_indicator_name(f)] if getattr(f, "missing_indicator", False) else [])
            for f in cfg.features}


def build_model(cfg: TrainingConfig, tf_transform_output, hidden_units: list[int], learning_rate: float,
                label_scale: tuple[float, float] = (0.0, 1.0)):
    """Wide part: one-hot categorical ids; deep part: numeric values and embeddings of the ids.
    `label_scale`: a regression target's (mean, standard deviation), so the network learns values near 0
    whatever the target's units, and the model still outputs the target itself.
    The ids are one-hot encoded before the `body`, whose inputs are all floats (attributions.py)."""
    widths = input_widths(cfg, tf_transform_output)
    inputs = {key: keras.Input(shape=(), name=key, dtype=tf.float32 if width is None else tf.int64)
              for key, width in widths.items()}
    encoded = {key: keras.layers.Reshape((1,))(inputs[key]) if width is None
               else keras.layers.CategoryEncoding(num_tokens=width, output_mode="one_hot")(inputs[key])
               for key, width in widths.items()}
    model = keras.Model(inputs=inputs, outputs=build_body(cfg, widths, hidden_units, label_scale)(encoded))
    head = cfg.label.head
    if head == BINARY:
        loss, metric = "binary_crossentropy", keras.metrics.BinaryAccuracy(name="accuracy")
    elif head == MULTICLASS:
        loss, metric = "sparse_categorical_crossentropy", keras.metrics.SparseCategoricalAccuracy(name="accuracy")
    else:
        loss, metric = "mean_squared_error", keras.metrics.MeanAbsoluteError(name="mae")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss, metrics=[metric])
    return model


def build_body(cfg: TrainingConfig, widths: dict[str, int | None], hidden_units: list[int],
               label_scale: tuple[float, float]):
    """Numbers as [batch, 1], categories as one-hot [batch, ids]. An embedding is a bias-free Dense layer on
    the one-hot vector (the same function as a lookup, initialised as Keras initialises embeddings), so that
    gradients reach every category."""
    inputs = {key: keras.Input(shape=(1 if width is None else width,), name=key, dtype=tf.float32)
              for key, width in widths.items()}
    wide = [inputs[key] for key, width in widths.items() if width is not None]
    deep = [inputs[key] if width is None else
            keras.layers.Dense(cfg.model.embedding_dim, use_bias=False,
                               kernel_initializer=keras.initializers.RandomUniform(-0.05, 0.05))(inputs[key])
            for key, width in widths.items()]
    x = keras.layers.concatenate(deep) if len(deep) > 1 else deep[0]
    for units in hidden_units:
        x = keras.layers.Dense(units, activation="relu")(x)
    if wide:
        x = keras.layers.concatenate([x] + wide)

    head = cfg.label.head
    if head == BINARY:
        outputs = keras.layers.Dense(1, activation="sigmoid")(x)
    elif head == MULTICLASS:
        assert isinstance(cfg.label, ClassesLabel)  # the only label with more than two values
        outputs = keras.layers.Dense(len(cfg.label.classes), activation="softmax")(x)
    else:  # regression: the value itself
        outputs = keras.layers.Rescaling(scale=label_scale[1], offset=label_scale[0])(keras.layers.Dense(1)(x))
    return keras.Model(inputs=inputs, outputs=outputs, name=BODY)


def make_dataset(file_pattern, data_accessor, tf_transform_output, tft_layer, cfg: TrainingConfig, batch_size: int):
    """Batches of raw examples put through the transform graph (`tft_layer`), as the served model puts each
    request: (transformed features, label). Transform writes no transformed copy of the data."""
    raw = data_accessor.tf_dataset_factory(
        file_pattern, tfxio.TensorFlowDatasetOptions(batch_size=batch_size), tf_transform_output.raw_metadata.schema)

    def transformed(raw_features):
        features = tft_layer(raw_features)
        label = features.pop(cfg.label.name)
        if cfg.label.head in (BINARY, REGRESSION):
            # Match the [batch, 1] output; a [batch] label would broadcast to [batch, batch].
            label = tf.reshape(label, [-1, 1])
        return features, label

    return raw.map(transformed, num_parallel_calls=tf.data.AUTOTUNE).repeat()


def export_signatures(model, tf_transform_output, tft_layer, cfg: TrainingConfig, baseline: dict):
    """`baseline`: the body's inputs at the average training example (attribution_baseline)."""
    model.tft_layer = tft_layer  # tracked, so saved with the model
    raw_spec = tf_transform_output.raw_feature_spec()
    # Requests carry the model's raw features only: not the label's columns, not unused columns.
    serving_spec = {f.name: raw_spec[f.name] for f in cfg.features}
    feature_keys = list(model.input_names)  # the transformed features and any missing indicators

    @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name="examples")])
    def predict(serialized):  # traced once; serve and evaluate call it
        transformed = model.tft_layer(tf.io.parse_example(serialized, serving_spec))
        return model({k: transformed[k] for k in feature_keys})

    @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name="examples")])
    def serve(serialized):
        outputs = {"outputs": predict(serialized)}
        if cfg.label.kind == "classes":  # what a client wants: each class name with its score
            scores = outputs["outputs"]
            if cfg.label.head == BINARY:  # one sigmoid: the score of the second class
                scores = tf.concat([1 - scores, scores], axis=1)
            names = tf.constant([str(c) for c in cfg.label.classes])
            outputs["classes"] = tf.tile(names[tf.newaxis, :], [tf.shape(scores)[0], 1])
            outputs["scores"] = scores
        return outputs

    @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name="examples")])
    def evaluate(serialized):  # TFMA's view: the model's output alone
        return {"outputs": predict(serialized)}

    @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name="examples")])
    def transform(serialized):
        return model.tft_layer(tf.io.parse_example(serialized, raw_spec))

    widths, parts = input_widths(cfg, tf_transform_output), feature_parts(cfg)
    body = model.get_layer(BODY)
    starts = {key: tf.constant(value, tf.float32) for key, value in baseline.items()}
    multiclass = cfg.label.head == MULTICLASS
    names = tf.constant(list(parts))
    # What `output` is: a class's probability (its name), or the label's value or probability of being true.
    explained_classes = tf.constant([str(c) for c in cfg.label.classes] if cfg.label.kind == "classes"
                                    else [cfg.label.name])

    @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name="examples")])
    def explain(serialized):
        transformed = model.tft_layer(tf.io.parse_example(serialized, serving_spec))
        inputs = attributions.encode(transformed, widths)
        by_input, output, at_baseline, target = attributions.integrated_gradients(body, inputs, starts, multiclass)
        rows = tf.shape(serialized)[0]
        if multiclass:
            explained = tf.gather(explained_classes, target)
        else:  # a binary model's positive class (the second), or the label itself
            explained = tf.fill([rows], explained_classes[-1])
        return {"attributions": attributions.by_feature(by_input, parts),
                "feature_names": tf.tile(names[tf.newaxis, :], [rows, 1]),
                "output": output, "baseline_output": at_baseline, "explained_class": explained}

    return {F.SERVING_SIGNATURE: serve.get_concrete_function(), F.EVALUATION_SIGNATURE: evaluate.get_concrete_function(),
            F.TRANSFORM_SIGNATURE: transform.get_concrete_function(), F.EXPLAIN_SIGNATURE: explain.get_concrete_function()}


def attribution_baseline(dataset, widths: dict[str, int | None], batches: int = 50) -> dict:
    """The body's inputs averaged over the first training batches: numbers at their mean, categories as the
    shares of their ids ([1, width] each)."""
    totals: dict = {}
    rows = 0
    for features, _ in dataset.take(batches):
        encoded = attributions.encode(features, widths)
        for key, value in encoded.items():
            totals[key] = totals.get(key, 0.0) + tf.reduce_sum(value, axis=0, keepdims=True)
        rows += int(tf.shape(next(iter(encoded.values())))[0])
    return {key: (total / max(rows, 1)).numpy() for key, total in totals.items()}


def hyperparameters_from(cfg: TrainingConfig, tuned: dict | None) -> tuple[list[int], float]:
    """Tuner's best hyperparameters when there are any, else the config's model section."""
    if not tuned:
        return cfg.model.hidden_units, cfg.model.learning_rate
    hp = keras_tuner.HyperParameters.from_config(tuned)
    return F.hidden_units_from_choice(hp.get("hidden_units")), hp.get("learning_rate")


def label_scale(cfg: TrainingConfig, dataset, batches: int = 50) -> tuple[float, float]:
    """Mean and standard deviation of a regression target over the first batches; (0, 1) otherwise."""
    if cfg.label.head != REGRESSION:
        return 0.0, 1.0
    labels = tf.concat([tf.reshape(y, [-1]) for _, y in dataset.take(batches)], axis=0)
    return float(tf.reduce_mean(labels)), max(float(tf.math.reduce_std(labels)), 1e-6)


def run_fn(fn_args: FnArgs):
    cfg = training_config_from_json(fn_args.custom_config["config"])
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
    tft_layer = tf_transform_output.transform_features_layer()
    batch_size = cfg.model.batch_size
    train = make_dataset(fn_args.train_files, fn_args.data_accessor, tf_transform_output, tft_layer, cfg, batch_size)
    evaluation = make_dataset(fn_args.eval_files, fn_args.data_accessor, tf_transform_output, tft_layer, cfg,
                              batch_size)

    hidden_units, learning_rate = hyperparameters_from(cfg, fn_args.hyperparameters)
    model = build_model(cfg, tf_transform_output, hidden_units, learning_rate, label_scale(cfg, train))
    model.fit(train, steps_per_epoch=fn_args.train_steps, validation_data=evaluation,
              validation_steps=fn_args.eval_steps, verbose=2)
    baseline = attribution_baseline(train, input_widths(cfg, tf_transform_output))
    # Without Keras's traces of every layer's call (~1.5 s of the Trainer): the model is still loaded as
    # Keras from its layers' configs, and everything that serves or evaluates it calls the signatures.
    model.save(fn_args.serving_model_dir, save_format="tf", save_traces=False,
               signatures=export_signatures(model, tf_transform_output, tft_layer, cfg, baseline))


def tuner_fn(fn_args: FnArgs) -> TunerFnResult:
    cfg = training_config_from_json(fn_args.custom_config["config"])
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_graph_path)
    tuning = cfg.tuning
    if tuning is None:
        raise ValueError("tuner_fn runs only with tuning.enabled, whose config it receives")
    space = tuning.search_space

    hp = keras_tuner.HyperParameters()
    hp.Choice("hidden_units", [F.hidden_units_to_choice(u) for u in space.hidden_units])
    hp.Choice("learning_rate", space.learning_rate)

    tft_layer = tf_transform_output.transform_features_layer()
    batch_size = cfg.model.batch_size
    train = make_dataset(fn_args.train_files, fn_args.data_accessor, tf_transform_output, tft_layer, cfg, batch_size)
    scale = label_scale(cfg, train)

    def build(hp):
        return build_model(cfg, tf_transform_output, F.hidden_units_from_choice(hp.get("hidden_units")),
                           hp.get("learning_rate"), scale)

    tuner = keras_tuner.RandomSearch(
        build, max_trials=tuning.max_trials, hyperparameters=hp, allow_new_entries=False,
        objective=(keras_tuner.Objective("val_loss", "min") if cfg.label.head == REGRESSION
                   else keras_tuner.Objective("val_accuracy", "max")),
        directory=fn_args.working_dir, project_name="tuning", seed=0)
    return TunerFnResult(tuner=tuner, fit_kwargs={
        "x": train,
        "validation_data": make_dataset(fn_args.eval_files, fn_args.data_accessor, tf_transform_output, tft_layer, cfg,
                                        batch_size),
        "steps_per_epoch": fn_args.train_steps,
        "validation_steps": fn_args.eval_steps,
        "verbose": 2,
    })
