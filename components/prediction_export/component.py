"""PredictionExport: BulkInferrer's PredictionLogs as a CSV or Parquet file, one row per example with its ID.

An empty inference result for examples that exist fails the step (BulkInferrer writes nothing for an
unblessed model), so no one mistakes an empty file for "nothing to predict". The file is written whole
before it appears.
"""
import os

from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.dsl.io import fileio
from tfx.types.artifact import Artifact
from tfx.types.standard_artifacts import Examples, InferenceResult, ModelBlessing

from pipelines.config.parts import RawIdsPart
from pipelines.shared import data_files, prediction_tables, pseudonyms

SPLIT = "inference"  # the one split the inference pipeline's ExampleGen writes


class Predictions(Artifact):
    """The predictions file, outside the pipeline root: its path and row count are custom properties."""
    TYPE_NAME = "mlops.Predictions"  # <namespace>.<Title>: what Kubeflow's compiler accepts for a custom type


def _records(pattern: str):
    import tensorflow as tf

    files = sorted(fileio.glob(pattern))
    if files:
        for record in tf.data.TFRecordDataset(files, compression_type="GZIP"):
            yield record.numpy()


@component
def PredictionExport(inference_result: InputArtifact[InferenceResult], examples: InputArtifact[Examples],
                     predictions: OutputArtifact[Predictions], id_column: Parameter[str],
                     file_format: Parameter[str], destination: Parameter[str],
                     model_blessing: InputArtifact[ModelBlessing] = None, raw_ids: Parameter[str] = "",
                     raw_csv: Parameter[int] = 0) -> None:
    """With `model_blessing` (the pipeline's own model): an unblessed model scores nothing and the file is left
    as it was. Without (`mlops predict`, whose model is a served, hence blessed, version): no rows is an error.
    `raw_ids`: a RawIdsPart when the ID column was pseudonymised: the file gets the input's own IDs back.
    `raw_csv`: 1 writes text cells that look like formulas as they are (batch_inference.raw_csv)."""
    if model_blessing is not None and not model_blessing.get_int_custom_property("blessed"):
        predictions.set_string_custom_property("skipped", "the model was not blessed: nothing scored")
        return
    rows = prediction_tables.rows_from_prediction_logs(_records(os.path.join(inference_result.uri, "*.gz")), id_column)
    scored = sum(1 for _ in _records(os.path.join(examples.uri, f"Split-{SPLIT}", "*.gz")))
    prediction_tables.check_predictions(rows, scored)
    if id_column == prediction_tables.ROW_COLUMN:  # numbered rows, in the input's order
        rows.sort(key=lambda row: row[id_column])
    if raw_ids:
        part = RawIdsPart.model_validate_json(raw_ids)
        found = prediction_tables.raw_ids_by_pseudonym(data_files.matching_files(part.input_base, part.pattern),
                                                       id_column, part.null_values,
                                                       pseudonyms.read_key(part.key_env, part.key_file))
        rows = [{**row, id_column: found.get(row[id_column], row[id_column])} for row in rows]
    prediction_tables.write_table(rows, destination, file_format, raw_csv=bool(raw_csv))
    predictions.set_string_custom_property("destination", destination)
    predictions.set_int_custom_property("rows", len(rows))
