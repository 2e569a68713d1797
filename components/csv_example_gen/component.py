"""CsvExampleGen with the pyarrow executor (no Beam): TFX's FileBasedExampleGen contract, outputs `examples`."""
from __future__ import annotations

from typing import Optional, Sequence

from tfx.components import FileBasedExampleGen
from tfx.dsl.components.base import executor_spec
from tfx.proto import example_gen_pb2

from components.csv_example_gen import executor
from pipelines.config.parts import ExampleGenPart, IngestionPrivacyPart
from pipelines.shared import data_files


def fast_csv_example_gen(input_base: str, pattern: str, null_values: list[str], train: int, eval: int,
                         eval_max_rows: Optional[int] = None, span_window: int = 1,
                         label_columns: Sequence[str] = (), value_types: Optional[dict[str, str]] = None,
                         privacy: Optional[IngestionPrivacyPart] = None, data_digest: Optional[str] = None):
    """`pattern` may hold {SPAN} (pipelines/shared/data_files.py): TFX's driver then ingests the newest span, and span_window > 1
    adds the spans before it as the `earlier_spans` split. Rows missing a label column are left out and
    counted; `value_types`: the schema's {column: FLOAT|INT|BYTES}; `privacy`: columns pseudonymised and
    dropped, and forgotten rows left out, before anything is written; `data_digest`: the files' content digest
    (in the cache key: TFX's driver fingerprints path, size and modification time only)."""
    part = ExampleGenPart(null_values=null_values, eval_max_rows=eval_max_rows,
                          span_pattern=pattern if data_files.has_spans(pattern) else None, span_window=span_window,
                          label_columns=sorted(label_columns), value_types=dict(sorted((value_types or {}).items())),
                          privacy=privacy, data_digest=data_digest)
    return _example_gen(input_base, pattern, {"train": train, "eval": eval}, executor.custom_config(part))


def one_split_csv_example_gen(input_base: str, pattern: str, null_values: list[str], split: str,
                              value_types: Optional[dict[str, str]] = None,
                              privacy: Optional[IngestionPrivacyPart] = None, row_column: Optional[str] = None):
    """Every row in one split: data to score, not to train on (`row_column`: each row numbered in it)."""
    part = ExampleGenPart(null_values=null_values, value_types=dict(sorted((value_types or {}).items())),
                          privacy=privacy, row_column=row_column)
    return _example_gen(input_base, pattern, {split: 1}, executor.custom_config(part))


def _example_gen(input_base: str, pattern: str, hash_buckets: dict[str, int], custom_config):
    return FileBasedExampleGen(
        input_base=input_base,
        input_config=example_gen_pb2.Input(splits=[example_gen_pb2.Input.Split(name="single_split", pattern=pattern)]),
        output_config=example_gen_pb2.Output(split_config=example_gen_pb2.SplitConfig(splits=[
            example_gen_pb2.SplitConfig.Split(name=name, hash_buckets=buckets) for name, buckets in hash_buckets.items()
        ])),
        custom_config=custom_config,
        custom_executor_spec=executor_spec.ExecutorClassSpec(executor.Executor),
    )
