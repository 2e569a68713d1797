"""`mlops explain`: per-row attributions for new data, from the served stable version's `explain` signature,
written the way `mlops predict` writes predictions: one row per input row, its ID first.

Columns: the ID, `explained_class` (what `output` is the value or probability of), `output`,
`baseline_output` (the same value for the average training example) and `attribution_<feature>` for each of
the model's raw features; a row's attributions add up to output - baseline_output.
Batch (default): the signature is run here, on the stable version's SavedModel. `--online`: each row is one
request to the running server (`mlops serve`), keyed by its ID, split between stable and canary as the
latest rollout says; `served_by` and `version` say who answered.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipelines.shared.importance import EXPLAIN_BATCH, EXPLAIN_SIGNATURE


@dataclass
class Explained:
    version: str
    output: str
    rows: int


def attribution_rows(answer: dict) -> list[dict]:
    """An explain signature's answer (output name -> array, one row per example) as table rows."""
    names = [n.decode() if isinstance(n, bytes) else str(n) for n in np.asarray(answer["feature_names"])[0]]
    rows = []
    for i in range(len(answer["output"])):
        explained = answer["explained_class"][i]
        row = {"explained_class": explained.decode() if isinstance(explained, bytes) else str(explained),
               "output": float(answer["output"][i]), "baseline_output": float(answer["baseline_output"][i])}
        row.update({f"attribution_{name}": float(value) for name, value in zip(names, answer["attributions"][i])})
        rows.append(row)
    return rows


def explain_batch(cfg, reader, files: list[str], output: str, file_format: str) -> Explained:
    import tensorflow as tf

    from pipelines.metadata.checks import model_value_types
    from pipelines.metadata.registry import stable_model
    from pipelines.serving.online import feature_tables
    from pipelines.shared.csv_tables import table_to_examples
    from pipelines.shared.prediction_tables import ROW_COLUMN, write_table

    version, _ = stable_model(reader, cfg.serving_dir)
    signatures = tf.saved_model.load(version.serving_path).signatures
    if EXPLAIN_SIGNATURE not in signatures:
        raise LookupError(f"version {version.version} has no `{EXPLAIN_SIGNATURE}` signature (it was trained before "
                          "the project exported one): run the pipeline to push a model that has")
    explain = signatures[EXPLAIN_SIGNATURE]
    id_column = cfg.batch_inference.id_column or ROW_COLUMN
    rows = []
    for ids, _, features in feature_tables(cfg, files, model_value_types(reader, version.model_id)):
        examples = table_to_examples(features)
        for start in range(0, len(examples), EXPLAIN_BATCH):
            stop = start + EXPLAIN_BATCH
            answer = {k: v.numpy() for k, v in explain(examples=tf.constant(examples[start:stop])).items()}
            rows += [{id_column: key, **row} for key, row in zip(ids[start:stop], attribution_rows(answer))]
    write_table(rows, output, file_format, cfg.batch_inference.raw_csv)
    return Explained(version.version, output, len(rows))


def explain_online(cfg, reader, files: list[str], output: str, file_format: str) -> Explained:
    from pipelines.metadata.checks import model_value_types
    from pipelines.metadata.registry import model_versions, stable_model
    from pipelines.serving.client import ServingClient, answering_server
    from pipelines.serving.online import feature_tables
    from pipelines.shared.csv_tables import table_to_examples
    from pipelines.shared.prediction_tables import ROW_COLUMN, write_table

    id_column = cfg.batch_inference.id_column or ROW_COLUMN
    names = {v.folder: v.version for v in model_versions(reader, cfg.serving_dir, with_metrics=False)}
    stable, _ = stable_model(reader, cfg.serving_dir)
    tables = list(feature_tables(cfg, files, model_value_types(reader, stable.model_id)))  # misfits fail first
    rows = []
    with answering_server(cfg), ServingClient.for_config(cfg, reader, signature=EXPLAIN_SIGNATURE) as client:
        for ids, keys, features in tables:
            for row_id, key, example in zip(ids, keys, table_to_examples(features)):
                answer = client.predict([example], key=str(key))
                (row,) = attribution_rows(answer.outputs)
                rows.append({id_column: row_id, "served_by": answer.label,
                             "version": names.get(answer.version, str(answer.version)), **row})
    write_table(rows, output, file_format, cfg.batch_inference.raw_csv)
    return Explained(stable.version, output, len(rows))
