"""`mlops monitor`: serving data against the data the served model was trained on (training/serving skew).

Serving data is a folder of request logs or CSV files. Open-source TF Serving cannot log requests by
itself and neither TFDV nor tfx_bsl decodes PredictionLogs, so the records are turned into tf.Examples
here: a PredictLog's `examples` input (the serialized tf.Examples this project's `serving_default`
takes), a ClassifyLog's or RegressLog's example list, or plain tf.Example records; CSV files are read
as ExampleGen reads them. Their statistics are compared with the served version's training statistics
(components/drift_check) in the schema's SERVING environment, on the model's features only (what a request
carries). The served model's feature importance on the serving data is compared with its training run's
(attribution drift: nDCG of the top features, as SageMaker Clarify measures it).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Optional

from pipelines.config import ConfigError, PipelineConfig
from pipelines.shared import data_files, private_statistics
from pipelines.shared.errors import MlopsError

CSV, TF_EXAMPLE, PREDICTION_LOG = "csv", "tf_example", "prediction_log"
SERVING = "SERVING"  # the schema environment of serving data
SERVING_SPLIT = "serving"


class NoServingData(MlopsError, LookupError):
    """No serving data folder, or no file in it."""


def serving_files(path: str) -> list[str]:
    files = data_files.files_under(path)
    if not files:
        raise NoServingData(f"no serving data file in {path}")
    return files


def data_format(files: list[str], configured: str) -> str:
    if configured != "auto":
        return configured
    if all(f.endswith(".csv") for f in files):
        return CSV
    return PREDICTION_LOG if _first_record_is_prediction_log(files[0]) else TF_EXAMPLE


def _records(path: str):
    """The file's records. A file whose last record is cut short (a server stopped or a disk filled mid-write)
    gives the records before it, with a warning; a file that is no TFRecord file at all is an error."""
    import sys

    import tensorflow as tf

    compression = "GZIP" if path.endswith(".gz") else ""
    read = 0
    try:
        for record in tf.data.TFRecordDataset(path, compression_type=compression):
            read += 1
            yield record.numpy()
    except tf.errors.OpError as error:  # not TFRecords (or not gzipped as named): said, not a traceback
        reason = error.message.split("}} ")[-1].split(" [Op:")[0]  # TensorFlow's words without its op names
        if read and isinstance(error, tf.errors.DataLossError) and "truncated" in reason.lower():
            print(f"warning: {path}: the last record is cut short ({reason}); the {read} before it are read",
                  file=sys.stderr)
            return
        raise ValueError(f"{path}: not a {'gzipped ' if compression else ''}TFRecord file ({reason})") from None


def _first_record_is_prediction_log(path: str) -> bool:
    from tensorflow_serving.apis import prediction_log_pb2

    record = next(_records(path), None)
    if record is None:
        return False
    log = prediction_log_pb2.PredictionLog()
    try:
        log.ParseFromString(record)
    except Exception:  # noqa: BLE001 - not a PredictionLog: protobuf raises DecodeError or others
        return False
    return log.WhichOneof("log_type") is not None


def examples_in_prediction_log(record: bytes) -> list[bytes]:
    """The serialized tf.Examples a logged request carried."""
    from google.protobuf.message import DecodeError
    from tensorflow_serving.apis import prediction_log_pb2

    try:
        log = prediction_log_pb2.PredictionLog.FromString(record)
    except DecodeError:
        raise ValueError("a record that is not a PredictionLog (set skew.format if the files hold tf.Examples)") from None
    kind = log.WhichOneof("log_type")
    if kind == "predict_log":
        inputs = log.predict_log.request.inputs
        tensor = inputs["examples"] if "examples" in inputs else next(iter(inputs.values()), None)
        return list(tensor.string_val) if tensor is not None else []
    if kind in ("classify_log", "regress_log"):
        examples = getattr(log, kind).request.input.example_list.examples
        return [e.SerializeToString() for e in examples]
    raise ValueError(f"a {kind or 'empty'} PredictionLog: only predict, classify and regress logs carry examples")


def serving_record_batch(files: list[str], kind: str, null_values: list[str], value_types=None):
    """The serving data as one Arrow record batch in tf.Example form (what TFDV's statistics read); CSV
    columns read as `value_types` ({column: FLOAT|INT|BYTES}, the schema's) type them."""
    import pyarrow as pa
    from tfx_bsl.coders import example_coder

    from pipelines.shared import csv_tables

    if kind == CSV:
        table = pa.concat_tables([csv_tables.read_csv(f, null_values, value_types) for f in files], promote=True)
        return csv_tables.table_to_record_batch(table)
    examples: list[bytes] = []
    for path in files:
        for record in _records(path):
            examples += examples_in_prediction_log(record) if kind == PREDICTION_LOG else [record]
    if not examples:
        raise NoServingData(f"the serving data ({len(files)} files) holds no example")
    try:
        return example_coder.ExamplesToRecordBatchDecoder().DecodeBatch(examples)
    except RuntimeError:  # tfx_bsl says only "Unable to parse example": find which, for the message
        from google.protobuf.message import DecodeError
        from tensorflow.core.example import example_pb2

        for number, example in enumerate(examples, start=1):
            try:
                example_pb2.Example.FromString(example)
            except DecodeError:
                raise ValueError(f"the serving data's example {number} of {len(examples)} is not a tf.Example "
                                 f"(first bytes {example[:16]!r}); set skew.format if the files hold something "
                                 "else") from None
        raise


def model_inputs(batch, schema, features):
    """The serving data and the schema cut to the model's raw features, which are all a request carries
    (model.export_signatures): an ID column, the label or any unused column is no anomaly, present or absent."""
    import pyarrow as pa
    from tensorflow_metadata.proto.v0 import schema_pb2

    wanted = {f.name for f in features}
    names = [name for name in batch.schema.names if name in wanted]
    cut = schema_pb2.Schema()
    cut.CopyFrom(schema)
    del cut.feature[:]
    cut.feature.extend(f for f in schema.feature if f.name in wanted)
    if SERVING not in cut.default_environment:  # SchemaGen's schemas name no environment; the features all serve
        cut.default_environment.append(SERVING)
    return pa.RecordBatch.from_arrays([batch.column(name) for name in names], names), cut


@dataclass
class SkewResult:
    served_version: str
    serving_path: str
    examples: int
    comparisons: list = field(default_factory=list)   # distances.Comparison
    anomalies: list[str] = field(default_factory=list)  # the serving data against the schema (SERVING)
    min_examples: Optional[int] = None                  # skew.min_examples: fewer, and a significance test judges
    recorded_as: Optional[int] = None                   # the MLMD execution id
    p_values: dict = field(default_factory=dict)        # feature -> p-value of the significance test
    significance: float = 0.01                          # skew.significance, for the whole check
    training_importance: dict = field(default_factory=dict)  # feature -> mean |attribution| in the training run
    serving_importance: dict = field(default_factory=dict)   # the same on (a sample of) the serving data
    attribution_ndcg: Optional[float] = None            # how far the second ranks as the first (1: the same top)
    min_attribution_ndcg: Optional[float] = None        # skew.min_attribution_ndcg
    unseen: Optional[dict] = None                       # feature -> rows holding a value never seen in training
    non_finite: dict = field(default_factory=dict)      # feature -> rows holding NaN or inf

    @property
    def attribution_drifted(self) -> bool:
        return (self.judged and self.attribution_ndcg is not None and self.min_attribution_ndcg is not None
                and self.attribution_ndcg < self.min_attribution_ndcg)

    @property
    def judged(self) -> bool:
        """Judged by distance (else, on fewer than min_examples, by the significance tests)."""
        return self.min_examples is None or self.examples >= self.min_examples

    @property
    def skewed(self) -> list:
        if self.judged:
            return [c for c in self.comparisons if c.exceeded]
        from pipelines.shared.significance import judged_skewed

        flagged = judged_skewed(self.p_values, self.significance)
        return [c for c in self.comparisons if c.feature in flagged]

    @property
    def failed(self) -> bool:
        return bool(self.skewed or self.anomalies or self.attribution_drifted)


def check_skew(cfg: PipelineConfig, serving_path: str, schema, version_dir: Optional[str] = None,
               training_importance: Optional[dict] = None) -> tuple[SkewResult, Any, Any]:
    """(the result, the serving statistics, TFDV's skew anomalies) against the training statistics pushed with
    `version_dir` (default: the highest version folder); LookupError when nothing is served. With
    `training_importance` (and `version_dir`), the model's importance on the serving data is compared too."""
    import tensorflow_data_validation as tfdv
    from tensorflow_data_validation.statistics import stats_impl

    from pipelines.shared import distances, serving_layout
    from pipelines.shared.anomalies import anomalies_in

    served = serving_layout.read_served_statistics(cfg.serving_dir, version_dir)
    if served is None:
        raise LookupError(f"nothing is served from {cfg.serving_dir}: push a model first (`mlops run`)")
    files = serving_files(serving_path)
    from pipelines.shared.artifact_files import schema_value_types

    batch = serving_record_batch(files, data_format(files, cfg.skew.format), cfg.data.null_values,
                                 schema_value_types(schema))
    missing = [f.name for f in cfg.features if f.name not in batch.schema.names]
    if missing:  # else the model's parsing fails deep in TensorFlow
        raise ConfigError(f"{serving_path}: the serving data lacks the model's features {', '.join(missing)} "
                          f"(columns found: {', '.join(batch.schema.names) or 'none'})")
    batch, schema = model_inputs(batch, schema, cfg.features)
    statistics = stats_impl.generate_statistics_in_memory(batch, distances.statistics_options(cfg.features))
    comparisons, skew_anomalies = distances.compare(statistics, served.statistics, schema, cfg.comparators("skew"),
                                                      distances.SKEW, environment=SERVING)
    serving_anomalies = tfdv.validate_statistics(statistics, schema, environment=SERVING)
    anomalies = [str(a) for a in anomalies_in(serving_anomalies, SERVING_SPLIT)]
    result = SkewResult(served.version, serving_path, batch.num_rows, comparisons, anomalies, cfg.skew.min_examples,
                        significance=cfg.skew.significance)
    if not result.judged:
        from pipelines.shared.significance import p_values

        result.p_values = p_values(distances.whole_dataset(served.statistics), distances.whole_dataset(statistics),
                                   batch, cfg.comparators("skew"))
    import pyarrow as pa

    from pipelines.shared.unseen_values import non_finite_counts, read_vocabularies, unseen_counts

    table = pa.Table.from_batches([batch])
    result.non_finite = non_finite_counts(cfg.features, table)
    if version_dir:
        result.unseen = unseen_counts(cfg.features, table, read_vocabularies(version_dir, cfg.features))
    if training_importance and version_dir:
        from pipelines.shared import importance

        result.training_importance = training_importance
        result.serving_importance = serving_importance(version_dir, batch)
        result.attribution_ndcg = importance.ndcg(training_importance, result.serving_importance)
        result.min_attribution_ndcg = cfg.skew.min_attribution_ndcg
    return result, statistics, skew_anomalies


ATTRIBUTION_ROWS = 1000  # serving rows explained: mean |attribution| settles well before (as in training runs)


def serving_importance(version_dir: str, batch, rows: int = ATTRIBUTION_ROWS) -> dict[str, float]:
    """The served version's feature importance (mean |attribution| from its `explain` signature) on the
    first `rows` serving examples; {} when the version has no such signature."""
    import tensorflow as tf
    from tfx_bsl.coders import example_coder

    from pipelines.shared import importance

    signatures = tf.saved_model.load(version_dir).signatures
    if importance.EXPLAIN_SIGNATURE not in signatures or not batch.num_rows:
        return {}
    examples = example_coder.RecordBatchToExamplesEncoder().encode(batch.slice(0, rows))  # in tf.Example form
    found = importance.explain_in_batches(signatures[importance.EXPLAIN_SIGNATURE], examples)
    return importance.mean_absolute(found["attributions"], found["feature_names"])


def format_p(p: Optional[float]) -> str:
    return f"{'-':>9}" if p is None else f"{p:9.2g}"


def format_result(result: SkewResult) -> str:
    from pipelines.shared.distances import format_comparisons

    if result.judged:
        verdict = f"{len(result.skewed)} of {len(result.comparisons)} features over their threshold"
        table = format_comparisons(result.comparisons, judged=True)
    else:
        level = result.significance / max(len(result.p_values), 1)
        verdict = (f"fewer than skew.min_examples ({result.min_examples}), so judged by significance tests, not "
                   f"distances: {len(result.skewed)} of {len(result.p_values)} features with p < {level:.2g} "
                   f"({result.significance:g} over {len(result.p_values)} features)")
        skewed = {c.feature for c in result.skewed}
        table = [f"{line}  {'p-value':>9}" if i == 0 else  # the distance's own verdict ("-") gives way to the test's
                 f"{line[:-1]}{format_p(result.p_values.get(c.feature))} {'SKEWED' if c.feature in skewed else 'ok'}"
                 for i, (line, c) in enumerate(zip(format_comparisons(result.comparisons, judged=False),
                                                   [None, *result.comparisons]))]
    lines = [f"Skew: {result.examples} serving examples from {result.serving_path} against the training data of "
             f"served version {result.served_version}: {verdict}",
             *[f"  {line}" for line in table]]
    if result.attribution_ndcg is not None:
        lines += attribution_lines(result)
    from pipelines.shared.unseen_values import non_finite_line, unseen_line

    if result.unseen is not None:
        lines.append(unseen_line(result.unseen, result.examples))
    if result.non_finite:
        lines.append(non_finite_line(result.non_finite, result.examples))
    if result.anomalies:
        lines += [f"Serving data anomalies ({len(result.anomalies)}):", *[f"  {a}" for a in result.anomalies]]
    if result.recorded_as is not None:
        lines.append(f"Recorded in ML Metadata as execution {result.recorded_as}")
    return "\n".join(lines)


def attribution_lines(result: SkewResult) -> list[str]:
    from pipelines.shared.importance import TOP_K, ranking

    judged = ("ATTRIBUTION DRIFT" if result.attribution_drifted else "ok") if result.judged and \
        result.min_attribution_ndcg is not None else "not judged"
    limit = f" (alarm below {result.min_attribution_ndcg:g})" if result.min_attribution_ndcg is not None else ""
    lines = [f"Attribution drift: nDCG@{TOP_K} {result.attribution_ndcg:.3f}{limit}: {judged}",
             f"  {'rank':<5} {'training':<28} {'serving':<28}"]
    training, serving = ranking(result.training_importance)[:TOP_K], ranking(result.serving_importance)[:TOP_K]
    for i in range(max(len(training), len(serving))):
        left = f"{training[i]} {result.training_importance[training[i]]:.3g}" if i < len(training) else ""
        right = f"{serving[i]} {result.serving_importance[serving[i]]:.3g}" if i < len(serving) else ""
        lines.append(f"  {i + 1:<5} {left:<28} {right:<28}")
    return lines


def monitor(cfg: PipelineConfig, serving_path: Optional[str] = None) -> SkewResult:
    """Checks the serving data for skew, writes the serving statistics and the skew record under
    <output_root>/monitoring/<time>/ and records the check in ML Metadata."""
    import datetime

    from tensorflow_metadata.proto.v0 import statistics_pb2

    from pipelines.metadata import checks
    from pipelines.metadata.store import open_reader
    from pipelines.shared import artifact_files, distances, importance

    path = serving_path or (cfg.resolve(cfg.skew.serving_data) if cfg.skew.serving_data else cfg.request_log_dir)
    if not os.path.isdir(path):
        raise NoServingData(f"no serving data in {path}: pass --serving PATH, set skew.serving_data, or log "
                            "requests with `mlops serve`")
    reader = open_reader(cfg)
    served = checks.served_model_version(reader, cfg.serving_dir)
    schema_uri = checks.training_schema_uri(reader, served.model_id) if served else None
    if schema_uri is None and cfg.schema_path:
        schema_uri = os.path.dirname(cfg.schema_path)
    if schema_uri is None:
        raise LookupError("no schema to check the serving data with: the served model's is not in ML Metadata")
    importance_uri = checks.model_importance_uri(reader, served.model_id) if served else None
    result, statistics, skew_anomalies = check_skew(cfg, path, artifact_files.load_schema(schema_uri),
                                                    served.serving_path if served else None,
                                                    importance.read(importance_uri)["importance"] if importance_uri else None)

    folder = os.path.join(cfg.output_dir, "monitoring", datetime.datetime.now(datetime.timezone.utc)
                          .strftime("%Y%m%dT%H%M%S.%fZ"))
    statistics_uri, skew_uri = os.path.join(folder, "statistics"), os.path.join(folder, "skew")
    os.makedirs(os.path.join(statistics_uri, f"Split-{SERVING_SPLIT}"))
    kept = statistics_pb2.DatasetFeatureStatisticsList(datasets=statistics.datasets)
    private_statistics.scrub(kept, cfg.privacy.hidden)  # serving data given as CSV may hold personal columns
    with open(os.path.join(statistics_uri, f"Split-{SERVING_SPLIT}", artifact_files.STATISTICS_FILE), "wb") as f:
        f.write(kept.SerializeToString())
    distances.write_result(skew_uri, result.comparisons, skew_anomalies if result.judged else None,
                             split=SERVING_SPLIT)
    result.recorded_as = checks.record_skew_check(reader, served, os.path.abspath(path), statistics_uri, skew_uri,
                                                  [c.feature for c in result.skewed], result.examples,
                                                  result.attribution_ndcg)
    return result
