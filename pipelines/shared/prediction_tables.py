"""Predictions as a table: one row per scored example, its ID first, then the model's outputs.

Rows come from PredictionLogs (BulkInferrer's output, or answers from a model server): each holds the
request's serialized tf.Example, where the ID column is read, and the outputs for that example.
A class model's `classes` and `scores` become `predicted_class` and one `score_<class>` column per class;
any other output becomes one column, or `<name>_<i>` per value when it has several.
"""
from __future__ import annotations

import os
import tempfile
from typing import Iterable, Optional

import numpy as np
import pyarrow as pa

from pipelines.shared.artifact_files import is_uri
from pipelines.shared.errors import MlopsError

FORMATS = ("csv", "parquet")


class NoPredictions(MlopsError, RuntimeError):
    """Examples went in and no prediction came out."""


def _plain(value):
    return value.decode() if isinstance(value, bytes) else value.item() if hasattr(value, "item") else value


def prediction_columns(outputs: dict) -> dict:
    """One example's outputs (name -> array of its values) as named columns."""
    row = {}
    if "classes" in outputs and "scores" in outputs:
        names = [_plain(name) for name in np.asarray(outputs["classes"]).reshape(-1)]
        scores = np.asarray(outputs["scores"], dtype=float).reshape(-1)
        row["predicted_class"] = names[int(np.argmax(scores))]
        row.update({f"score_{name}": float(score) for name, score in zip(names, scores)})
        outputs = {k: v for k, v in outputs.items() if k not in ("classes", "scores", "outputs")}
    for name, values in sorted(outputs.items()):
        flat = np.asarray(values).reshape(-1)
        if len(flat) == 1:
            row[name] = _plain(flat[0])
        else:
            row.update({f"{name}_{i}": _plain(v) for i, v in enumerate(flat)})
    return row


def feature_value(serialized_example: bytes, column: str):
    """A column's value in a serialized tf.Example (its first value), or None when it is missing."""
    from tensorflow.core.example import example_pb2

    return example_value(example_pb2.Example.FromString(serialized_example), column)


def example_value(example, column: str):
    """A column's first value in a parsed tf.Example, as Python (a str for bytes), or None when it is missing."""
    feature = example.features.feature.get(column)
    if feature is None:
        return None
    kind = feature.WhichOneof("kind")
    values = getattr(feature, kind).value if kind else []
    return _plain(values[0]) if len(values) else None


def rows_from_prediction_logs(records: Iterable[bytes], id_column: str) -> list[dict]:
    """PredictLog records with one example each (as RunInference writes them) -> rows."""
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_log_pb2

    rows = []
    for record in records:
        log = prediction_log_pb2.PredictionLog.FromString(record).predict_log
        (request_input,) = log.request.inputs.values()
        (example,) = request_input.string_val
        outputs = {name: tf.make_ndarray(tensor)[0] for name, tensor in log.response.outputs.items()}
        rows.append({id_column: feature_value(example, id_column), **prediction_columns(outputs)})
    return rows


ROW_COLUMN = "input_row"  # without an ID column, each scored row's number in its input (1, 2, ...), files in order


def raw_ids_by_pseudonym(files: list[str], id_column: str, null_values: list[str], key) -> dict[str, str]:
    """pseudonym -> the input's own ID, for an ID column ExampleGen pseudonymised: the output file joins back on
    the user's IDs, while nothing under the output root holds them."""
    from pipelines.shared import pseudonyms
    from pipelines.shared.csv_tables import read_csv

    found: dict[str, str] = {}
    for path in files:
        ids = read_csv(path, null_values, {id_column: "BYTES"}).column(id_column)
        found.update(zip(pseudonyms.pseudonymize_array(key, ids).to_pylist(), ids.to_pylist()))
    return found


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet may run as a formula (OWASP)


def neutralized(value):
    """A text cell a spreadsheet would run as a formula, prefixed with ' (shown as text); anything else as is."""
    return f"'{value}" if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def write_table(rows: list[dict], path: str, file_format: str, raw_csv: bool = False) -> str:
    """The rows as CSV or Parquet, complete before the file appears (a temporary file, then one rename);
    `path` may be an object-store URI (gs://...), written through TFX's file I/O. CSV text cells that start
    like a formula are neutralized unless `raw_csv`."""
    if file_format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {file_format}")
    if file_format == "csv" and not raw_csv:
        rows = [{name: neutralized(value) for name, value in row.items()} for row in rows]
    table = pa.Table.from_pylist(rows)
    remote = is_uri(path)
    folder = tempfile.gettempdir() if remote else os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}-")
    os.close(fd)
    try:
        if file_format == "csv":
            from pyarrow import csv

            csv.write_csv(table, temporary)
        else:
            import pyarrow.parquet as pq

            pq.write_table(table, temporary)
        if remote:
            from tfx.dsl.io import fileio

            staged = f"{path}.partial"
            fileio.copy(temporary, staged, overwrite=True)
            fileio.rename(staged, path, overwrite=True)
        else:
            os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    return path


def drop_rows_with_ids(path: str, id_column: str, ids: set[str]) -> int:
    """Rewrites a CSV or Parquet table (predict's or explain's output) without the rows whose `id_column` holds
    one of `ids`, whole or not at all; returns the rows dropped (0, and nothing written, when it has none or no
    such column)."""
    import pyarrow.compute as pc
    from pyarrow import csv

    file_format = "parquet" if path.endswith(".parquet") else "csv"
    if file_format == "csv":
        from pipelines.shared.data_files import read_header

        if not os.path.getsize(path) or id_column not in read_header(path):
            return 0
        table = csv.read_csv(path, convert_options=csv.ConvertOptions(column_types={id_column: pa.string()}))
    else:
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        if id_column not in table.column_names:
            return 0
    found = pc.is_in(pc.cast(table.column(id_column), pa.string()), value_set=pa.array(sorted(ids), pa.string()))
    dropped = pc.sum(pc.cast(found, pa.int64())).as_py() or 0
    if dropped:
        write_table(table.filter(pc.invert(pc.fill_null(found, False))).to_pylist(), path, file_format, raw_csv=True)
    return dropped


def check_predictions(rows: list[dict], examples: Optional[int]) -> None:
    if not rows and examples:
        raise NoPredictions(f"{examples} examples were scored and no prediction came out: the model was not "
                            "blessed (BulkInferrer scores blessed models only) or could not be loaded")
