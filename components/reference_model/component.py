"""ReferenceModel: a quick gradient-boosted-tree model on the same train split and raw columns as the
Trainer, scored on the same eval split with the same metrics, beside the trivial model. What a model is
measured against: the summary, the report, `mlops models` and `runs --compare` show the three side by side,
and `evaluation.reference.max_gap` can hold back a model that falls too far short. One JSON file
(pipelines/shared/reference_model.py) in an artifact with lineage to the examples it read.
"""

import json
import os
import time

import numpy as np
import pyarrow as pa
from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types.standard_artifacts import Examples

from pipelines.config import features_config_from_json
from pipelines.config.parts import ReferenceModelPart
from pipelines.shared import artifact_files
from pipelines.shared import reference_model as R
from pipelines.shared.artifact_files import LABEL_COUNTS_PROPERTY
from pipelines.shared.artifact_types import ReferenceArtifact
from pipelines.shared.example_columns import first_values

TRAIN, EVAL = "train", "eval"
BATCH_ROWS = 10_000


def column_values(column) -> np.ndarray:
    """One Arrow list column of tf.Example values as one value per row: float (NaN where missing) for
    numbers, str or None otherwise."""
    first = first_values(column)
    if pa.types.is_binary(first.type) or pa.types.is_string(first.type) or pa.types.is_large_binary(first.type):
        try:
            return first.cast(pa.string()).to_numpy(zero_copy_only=False)
        except pa.ArrowInvalid:  # not UTF-8: decoded one by one, undecodable bytes replaced
            return np.array([v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in first.to_pylist()],
                            dtype=object)
    return first.to_numpy(zero_copy_only=False).astype(float)


def read_split(examples, split: str, columns: list[str], max_rows: "int | None" = None, seed: int = 0) -> R.Columns:
    """The named columns of a split, as R.Columns; about `max_rows` of them sampled uniformly when the split
    holds more (ExampleGen counted its rows): records are sampled before they are decoded, which is most of
    the cost. A column absent from every example reads as missing."""
    import tensorflow as tf
    from tfx_bsl.coders import example_coder

    total = json.loads(examples.get_string_custom_property(LABEL_COUNTS_PROPERTY) or "{}").get(split, {}).get("examples")
    rate = min(1.0, max_rows / total) if max_rows and total else 1.0
    rng = np.random.default_rng(seed)
    files = artifact_files.glob(os.path.join(examples.uri, f"Split-{split}", "*.gz"))
    decoder = example_coder.ExamplesToRecordBatchDecoder()
    parts: dict[str, list[np.ndarray]] = {name: [] for name in columns}
    for records in tf.data.TFRecordDataset(files, compression_type="GZIP").batch(BATCH_ROWS).as_numpy_iterator():
        if rate < 1.0:
            records = records[rng.random(len(records)) < rate]
        if not len(records):
            continue
        table = pa.Table.from_batches([decoder.DecodeBatch(list(records))])
        for name in columns:
            parts[name].append(column_values(table.column(name)) if name in table.column_names
                               else np.full(table.num_rows, np.nan))
    values = {name: (np.concatenate([p.astype(object) for p in found]) if any(p.dtype == object for p in found)
                     else np.concatenate(found)) if found else np.array([]) for name, found in parts.items()}
    read = R.Columns(values)
    if max_rows is not None and len(read) > max_rows:
        read = read.take(np.sort(rng.choice(len(read), max_rows, replace=False)))
    return read


def label_values(label, columns: R.Columns) -> np.ndarray:
    """The label as the Trainer learns it (components/modules/preprocessing.py transform_label): 0/1 above a
    threshold, a class's index in label.classes, or the number."""
    raw = columns.values[label.column]
    if label.kind == "binary_threshold":
        threshold = label.greater_than * (columns.values[label.relative_to].astype(float) if label.relative_to else 1.0)
        return (np.nan_to_num(raw.astype(float)) > threshold).astype(int)
    if label.kind == "regression":
        return raw.astype(float)
    return R.class_indices(raw, label.classes, text=raw.dtype == object)


def reference_summary(train: R.Columns, evaluation: R.Columns, features_config, part: ReferenceModelPart) -> dict:
    """Fits the reference on the train rows and scores it, and the trivial model, on the eval rows."""
    label = features_config.label
    head = label.head
    classes = len(getattr(label, "classes", [])) or 2
    y_train, y_eval = label_values(label, train), label_values(label, evaluation)
    names = [f.name for f in features_config.features]
    categorical = [f.name for f in features_config.features if f.kind in ("string_categorical", "int_categorical")]
    started = time.monotonic()
    fitted = R.train_and_score(train, y_train, evaluation, y_eval, names, head, classes, categorical, threads=1)
    return {"head": head, "description": R.DESCRIPTION, "reference": fitted.metrics, "trivial": fitted.trivial,
            "skill": fitted.skill, "rows": {TRAIN: len(train), EVAL: len(evaluation)},
            "seconds": round(time.monotonic() - started, 3), "suspects": part.suspects,
            "max_gap": part.max_gap, "on_gap": part.on_gap}


@component
def ReferenceModel(examples: InputArtifact[Examples], reference: OutputArtifact[ReferenceArtifact],
                   config: Parameter[str]) -> None:
    part = ReferenceModelPart.model_validate_json(config)
    features_config = features_config_from_json(part.features_config)
    columns = sorted({f.name for f in features_config.features} | features_config.label.source_columns)
    train = read_split(examples, TRAIN, columns, part.max_train_rows)
    evaluation = read_split(examples, EVAL, columns)
    try:
        if not len(train) or not len(evaluation):
            raise ValueError(f"{len(train)} train and {len(evaluation)} eval rows")
        summary = reference_summary(train, evaluation, features_config, part)
    except Exception as error:  # a yardstick that cannot be fitted must not stop the model: said in the summary
        summary = {"head": features_config.label.head, "description": R.DESCRIPTION, "reference": {}, "trivial": {},
                   "skill": None, "suspects": part.suspects, "error": f"{type(error).__name__}: {error}"}
    R.write(summary, reference.uri)
    for name, value in summary["reference"].items():
        reference.set_float_custom_property(name, value)
