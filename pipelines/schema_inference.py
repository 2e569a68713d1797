"""`mlops schema`: a starting point for schemas/<name>/schema.pbtxt, inferred by TFDV from the config's data.

The data is read as the pipeline's ExampleGen reads it, so the types are the ones it will see; the
label's source columns are put out of the SERVING environment (requests do not carry them), and no float
column may hold NaN or infinity (one `inf` made a model answer NaN to everything, and it was pushed).
"""
from __future__ import annotations

from pathlib import Path

from pipelines.config import PipelineConfig


def write_inferred_schema(cfg: PipelineConfig, output: str):
    """Writes the schema to `output` and returns it; FileNotFoundError when no data file matches."""
    import pyarrow as pa
    import tensorflow_data_validation as tfdv
    from tensorflow_data_validation.statistics import stats_impl

    from components.modules.features import label_columns
    from pipelines.shared import csv_tables

    files = cfg.input_files()
    if not files:
        raise FileNotFoundError(f"no file matches {cfg.data.pattern!r} in {cfg.data_dir}")
    table = pa.concat_tables([csv_tables.read_csv(f, cfg.data.null_values) for f in files], promote=True)
    stats = stats_impl.generate_statistics_in_memory(csv_tables.table_to_record_batch(table))
    schema = tfdv.infer_schema(stats)
    disallow_non_finite(schema)
    keep_private_values_out(schema, cfg.privacy)
    schema.default_environment.extend(["TRAINING", "SERVING"])
    for column in label_columns(cfg):
        tfdv.get_feature(schema, column).not_in_environment.append("SERVING")
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    tfdv.write_schema_text(schema, output)
    return schema


def keep_private_values_out(schema, privacy) -> None:
    """The schema as ExampleGen's output is with privacy: no dropped column, pseudonymised columns as text,
    and no value of a hidden column in a domain (TFDV lists a string column's values there)."""
    from tensorflow_metadata.proto.v0 import schema_pb2

    unused_domains = {f.domain for f in schema.feature if f.name in privacy.drop and f.WhichOneof("domain_info") == "domain"}
    kept = [f for f in schema.feature if f.name not in privacy.drop]
    del schema.feature[:]
    schema.feature.extend(kept)
    for feature in schema.feature:
        if feature.name not in privacy.hidden:
            continue
        which = feature.WhichOneof("domain_info")
        if which == "domain":
            unused_domains.add(feature.domain)
        if feature.name in privacy.pseudonymize:  # a pseudonym is text whatever the value was
            feature.ClearField("domain_info")
            feature.type = schema_pb2.BYTES
        elif which in ("domain", "string_domain"):
            feature.ClearField("domain_info")
    in_use = {f.domain for f in schema.feature if f.WhichOneof("domain_info") == "domain"}
    domains = [d for d in schema.string_domain if d.name not in unused_domains - in_use]
    del schema.string_domain[:]
    schema.string_domain.extend(domains)


def disallow_non_finite(schema) -> None:
    """Every FLOAT feature of the schema refuses NaN and infinity (a value beyond float32's range is read as
    infinity), so the data gate stops such data before Transform, naming the column."""
    from tensorflow_metadata.proto.v0 import schema_pb2

    for feature in schema.feature:
        if feature.type == schema_pb2.FLOAT:
            feature.float_domain.disallow_nan = True
            feature.float_domain.disallow_inf = True
