"""FeatureImportance: what the trained model relies on, from its `explain` signature on a sample of the
eval split: mean |attribution| per raw feature, overall and per slice, and partial-dependence curves for
the most important features. One JSON file (pipelines/shared/importance.py) in an artifact with lineage,
read by the run report, `mlops runs --compare` and `mlops monitor`.
"""

import json
import os

from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types.artifact import Artifact
from tfx.types.standard_artifacts import Examples, Model

from components.feature_importance import summary as S
from pipelines.config.parts import FeatureImportancePart
from pipelines.shared import artifact_files, importance
from pipelines.shared.prediction_tables import example_value

EVAL_SPLIT = "eval"
EVALUATION_SIGNATURE = "evaluation"  # the Trainer's other SavedModel signatures (components/modules/model.py)
TRANSFORM_SIGNATURE = "transform_features"
BATCH = 256


class FeatureImportanceArtifact(Artifact):
    TYPE_NAME = "mlops.FeatureImportance"  # <namespace>.<Title>: what Kubeflow's compiler accepts for a custom type


def eval_records(examples_uri: str, limit: int) -> list[bytes]:
    """The first `limit` serialized examples of the eval split."""
    import tensorflow as tf

    files = artifact_files.glob(os.path.join(examples_uri, f"Split-{EVAL_SPLIT}", "*.gz"))
    return [r.numpy() for r in tf.data.TFRecordDataset(files, compression_type="GZIP").take(limit)]


def eval_rows(examples) -> int | None:
    """How many examples the eval split holds, as ExampleGen counted them."""
    counts = examples.get_string_custom_property(artifact_files.LABEL_COUNTS_PROPERTY)
    return json.loads(counts).get(EVAL_SPLIT, {}).get("examples") if counts else None


def with_value(example, name: str, value, kind: str) -> bytes:
    """A copy of the example with `name` set to `value` (`kind`: the tf.Example list it is stored in)."""
    copy = type(example)()
    copy.CopyFrom(example)
    feature = copy.features.feature[name]
    feature.Clear()
    if kind == "bytes_list":
        feature.bytes_list.value.append(str(value).encode())
    elif kind == "int64_list":
        feature.int64_list.value.append(int(value))
    else:
        feature.float_list.value.append(float(value))
    return copy.SerializeToString()


def partial_dependence(evaluate, examples: list, name: str, categorical: bool, points: int) -> dict | None:
    """The model's mean output with every sampled row's `name` set to each grid value."""
    kinds = {e.features.feature[name].WhichOneof("kind") for e in examples if example_value(e, name) is not None}
    values = S.grid([example_value(e, name) for e in examples], categorical, points)
    if not values or len(kinds) != 1:
        return None
    (kind,) = kinds
    curve = []
    for value in values:
        outputs = evaluate([with_value(e, name, value, kind) for e in examples])
        means = outputs.mean(axis=0)
        curve.append({"value": value, "mean_output": [float(m) for m in means] if len(means) > 1 else float(means[0])})
    return {"feature": name, "categorical": categorical, "points": curve}


@component
def FeatureImportance(model: InputArtifact[Model], examples: InputArtifact[Examples],
                      feature_importance: OutputArtifact[FeatureImportanceArtifact], config: Parameter[str]) -> None:
    import numpy as np
    import tensorflow as tf
    from tensorflow.core.example import example_pb2

    part = FeatureImportancePart.model_validate_json(config)
    records = eval_records(examples.uri, part.max_rows)
    if not records:
        raise ValueError(f"the eval split of {examples.uri} holds no example to explain")
    loaded = tf.saved_model.load(os.path.join(model.uri, "Format-Serving"))
    found = importance.explain_in_batches(loaded.signatures[importance.EXPLAIN_SIGNATURE], records)
    names, attributions = found["feature_names"], found["attributions"]

    parsed = [example_pb2.Example.FromString(r) for r in records]
    columns = {c: [example_value(e, c) for e in parsed] for spec in part.slices for c in spec}
    slices = S.by_slice(attributions, names, part.slices, columns)

    def evaluate(serialized: list[bytes]):
        signature = loaded.signatures[EVALUATION_SIGNATURE]
        return np.concatenate([signature(examples=tf.constant(serialized[i:i + BATCH]))["outputs"].numpy()
                               for i in range(0, len(serialized), BATCH)])

    # No curve for a personal feature: its points would be its values.
    ranked = [name for name in importance.ranking(importance.mean_absolute(attributions, names)) if name not in part.hidden]
    top = ranked[:part.dependence_features]
    dependence = [curve for name in top
                  if (curve := partial_dependence(evaluate, parsed[:part.dependence_rows], name,
                                                  name in part.categorical, part.dependence_points))]
    summary = S.summary(names, attributions, found["output"], found["baseline_output"], found["explained_class"],
                        slices, dependence, part.label_kind, rows_available=eval_rows(examples))
    if part.classes:
        summary["classes"] = part.classes
    if part.label_kind == "regression":  # predicted against actual, for the report's residuals
        transform = loaded.signatures[TRANSFORM_SIGNATURE]
        actual = np.concatenate([transform(examples=tf.constant(records[i:i + BATCH]))[part.label].numpy().reshape(-1)
                                 for i in range(0, len(records), BATCH)])
        summary["predictions"] = {"actual": [float(v) for v in actual], "predicted": [float(v) for v in found["output"]]}
    importance.write(summary, feature_importance.uri)
    feature_importance.set_int_custom_property("rows", summary["rows"])
    feature_importance.set_string_custom_property("top_features", ", ".join(importance.ranking(summary["importance"])[:3]))
