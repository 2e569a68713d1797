"""`mlops predict --online`: each row of a CSV file (or folder) sent to the running server as one request,
keyed by its ID, split between stable and canary as the latest rollout says; one output row per input row
with the label (`served_by`) and the version that answered."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional


@dataclass
class Written:
    rows: int = 0
    by_label: dict = field(default_factory=dict)


def predict_online(cfg, reader, files: list[str], output: str, file_format: str) -> Written:
    from pipelines.metadata.checks import model_value_types
    from pipelines.metadata.registry import model_versions, stable_model
    from pipelines.serving.client import ServingClient, answering_server
    from pipelines.shared.csv_tables import table_to_examples
    from pipelines.shared.prediction_tables import ROW_COLUMN, prediction_columns, write_table

    id_column = cfg.batch_inference.id_column or ROW_COLUMN
    names = {v.folder: v.version for v in model_versions(reader, cfg.serving_dir, with_metrics=False)}
    value_types = model_value_types(reader, stable_model(reader, cfg.serving_dir)[0].model_id)
    rows, written = [], Written()
    tables = list(feature_tables(cfg, files, value_types))  # every file read first: a misfit cell fails before a request
    with answering_server(cfg), ServingClient.for_config(cfg, reader) as client:
        for ids, keys, features in tables:
            for row_id, key, example in zip(ids, keys, table_to_examples(features)):
                answer = client.predict([example], key=str(key))
                one = {name: values[0] for name, values in answer.outputs.items()}
                rows.append({id_column: row_id, "served_by": answer.label,
                             "version": names.get(answer.version, str(answer.version)), **prediction_columns(one)})
                written.by_label[answer.label] = written.by_label.get(answer.label, 0) + 1
    write_table(rows, output, file_format, cfg.batch_inference.raw_csv)
    written.rows = len(rows)
    return written


def feature_tables(cfg, files: list[str], value_types: Optional[dict[str, str]]):
    """Each file's IDs as the input has them (what the output file joins back on), the keys requests carry, and
    a table of the model's features: what a request carries, as a client's would (and as the request log
    should). A pseudonymised ID column's key is its pseudonym, the same as ExampleGen's: the raw IDs reach no
    server and no log. Without an ID column, rows are numbered (1, 2, ... over the files in order)."""
    from pipelines.shared import pseudonyms
    from pipelines.shared.csv_tables import read_csv

    id_column = cfg.batch_inference.id_column
    key = cfg.pseudonym_key() if id_column and id_column in cfg.privacy.pseudonymize else None
    if key is not None:  # read as text, as ExampleGen reads it: "007" is not 7
        value_types = {**(value_types or {}), id_column: "BYTES"}
    numbered = 0
    for path in files:
        table = read_csv(path, cfg.data.null_values, value_types)  # a misfit cell fails here, naming its line
        features = table.select([f.name for f in cfg.features if f.name in table.column_names])
        if not id_column:
            ids = list(range(numbered + 1, numbered + 1 + table.num_rows))
            numbered += table.num_rows
            yield ids, [str(i) for i in ids], features
            continue
        column = table.column(id_column)
        keys = pseudonyms.pseudonymize_array(key, column).to_pylist() if key is not None else column.to_pylist()
        yield column.to_pylist(), keys, features
