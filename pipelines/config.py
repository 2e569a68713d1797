"""The pipeline config: pydantic models, loading and `--set` overrides.

Importing this module must stay cheap (no TensorFlow): `mlops validate` uses it alone.
Relative paths in a config are relative to the config file's own folder, so a config
means the same thing from any working directory (the `tfx` CLI runs from the caller's).
"""
from __future__ import annotations

import importlib.util
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Optional, Union, get_args

import yaml
from pydantic import (BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt, PrivateAttr, ValidationError,
                      field_validator, model_validator)

from pipelines.shared import data_files
from pipelines.shared import component_ids
from pipelines.shared.artifact_files import is_uri

PACKAGE_SCHEME = "package://"
# What `mlops` and the `tfx` CLI entry points run when no config is named.
DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "configs" / "taxi.yaml"
CONFIG_ENV = "MLOPS_CONFIG"  # the `tfx` CLI entry points take their config from this variable


class ConfigError(Exception):
    """A config that cannot be used; the message names the file and the field."""


INT32_MAX = 2 ** 31 - 1  # TFX's protos hold steps, counts and seconds as int32: a larger value fails the run


class _Strict(BaseModel):
    # NaN and infinity mean nothing in any field (a threshold, a learning rate): refused everywhere.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


# --- data -----------------------------------------------------------------


class SplitConfig(_Strict):
    """Hash-bucket ratio of the train and eval splits (TFX's output_config)."""

    train: int = Field(2, ge=1)
    eval: int = Field(1, ge=1)
    # Evaluator time grows with the eval rows (TFMA's combiners run per example and per slice) while its
    # precision stops mattering: at 100k rows the standard error of an accuracy is at most 0.0016, well under
    # the usual 0.01 threshold. At 1M taxi rows the run went from 0.90 to 0.50 of TFX's example (README).
    eval_max_rows: Optional[int] = Field(
        100_000, ge=1, description="about this many eval rows at most; the rest go to train (null: no cap)")


class DataConfig(_Strict):
    path: str = Field(description="CSV folder: a path, or package://<package>/<folder> inside an installed package")
    pattern: str = Field("*.csv", description="files under path; with {SPAN} (e.g. span-{SPAN}/*.csv) the data "
                                              "arrives in numbered spans and each run ingests the newest")
    span_window: int = Field(1, ge=1, description="spans trained on: the newest N (the newest alone is "
                                                  "validated, checked for drift and evaluated)")
    null_values: list[str] = Field(default_factory=lambda: [""], description="cell values read as missing")
    split: SplitConfig = Field(default_factory=SplitConfig)

    @field_validator("pattern")
    @classmethod
    def _one_span_at_most(cls, pattern: str) -> str:
        tokens = re.findall(r"\{[^}]*\}", pattern)
        if any(token != data_files.SPAN for token in tokens) or len(tokens) > 1:
            raise ValueError(f"{pattern!r}: the only placeholder is {data_files.SPAN}, at most once "
                             f"(found {', '.join(tokens)})")
        return pattern

    @model_validator(mode="after")
    def _window_needs_spans(self) -> "DataConfig":
        if self.span_window > 1 and not data_files.has_spans(self.pattern):
            raise ValueError(f"span_window is {self.span_window} but pattern {self.pattern!r} has no {data_files.SPAN}")
        return self


# --- label and features ---------------------------------------------------


# What the model outputs, by label: one sigmoid, a softmax over the classes, or one linear value.
BINARY, MULTICLASS, REGRESSION = "binary", "multiclass", "regression"

# TFMA/Keras metric class names that can be computed on each kind of output (tests/unit checks that
# TFMA resolves every one); the defaults are used when evaluation.metrics is omitted.
FITTING_METRICS = {
    BINARY: ("ExampleCount", "BinaryAccuracy", "AUC", "AUCPrecisionRecall", "Precision", "Recall",
             "BinaryCrossentropy", "MeanLabel", "MeanPrediction", "TruePositives", "FalsePositives",
             "TrueNegatives", "FalseNegatives", "Specificity", "CalibrationPlot", "ConfusionMatrixPlot"),
    MULTICLASS: ("ExampleCount", "SparseCategoricalAccuracy", "SparseCategoricalCrossentropy",
                 "SparseTopKCategoricalAccuracy", "MultiClassConfusionMatrixPlot"),
    REGRESSION: ("ExampleCount", "MeanSquaredError", "MeanAbsoluteError", "RootMeanSquaredError",
                 "MeanAbsolutePercentageError", "MeanSquaredLogarithmicError", "MeanLabel", "MeanPrediction"),
}
DEFAULT_METRICS = {
    BINARY: ["ExampleCount", "BinaryAccuracy", "AUC"],
    MULTICLASS: ["ExampleCount", "SparseCategoricalAccuracy"],
    REGRESSION: ["ExampleCount", "MeanSquaredError", "MeanAbsoluteError"],
}


# The label's key in the transformed examples, which TensorFlow uses in names: the raw column may be anything.
LABEL_NAME = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$", description="the label's name in the transformed data: "
                   "letters, digits and '_', starting with a letter, not ending in _xf")


class _LabelCommon(_Strict):
    @field_validator("name", check_fields=False)
    @classmethod
    def _not_a_transformed_name(cls, name: str) -> str:
        if name.endswith("_xf"):  # Transform's outputs would hold it twice: as the label and as a feature
            raise ValueError(f"{name!r} ends in _xf, the suffix of the transformed features: choose another name")
        return name

    max_missing_fraction: float = Field(
        0.1, ge=0, le=1, allow_inf_nan=False,
        description="rows whose label is missing are left out of training and evaluation and counted; above this "
                    "share of a split's rows the data gate stops the run (a broken join or export, most often)")


class BinaryThresholdLabel(_LabelCommon):
    """label = column > greater_than (* relative_to, when given); e.g. tips > 0.2 * fare."""

    kind: Literal["binary_threshold"]
    name: str = LABEL_NAME
    column: str
    greater_than: float
    relative_to: Optional[str] = None

    @property
    def source_columns(self) -> set[str]:
        return {self.column} | ({self.relative_to} if self.relative_to else set())

    @property
    def head(self) -> str:
        return BINARY


class ClassesLabel(_LabelCommon):
    """A column whose values are the classes, written as they appear in the data (strings, integers or
    booleans), in this order: the index is the class id. Two classes make a binary model."""

    kind: Literal["classes"]
    name: str = LABEL_NAME
    column: str
    classes: list[Union[bool, int, str]] = Field(min_length=2)

    @field_validator("classes")
    @classmethod
    def _unique(cls, classes: list) -> list:
        repeated = sorted({str(c) for c in classes if classes.count(c) > 1})
        if repeated:
            raise ValueError(f"each class once; repeated: {repeated}")
        return classes

    @property
    def source_columns(self) -> set[str]:
        return {self.column}

    @property
    def head(self) -> str:
        return BINARY if len(self.classes) == 2 else MULTICLASS


class RegressionLabel(_LabelCommon):
    """A numeric column predicted as a number (one linear output, mean squared error loss)."""

    kind: Literal["regression"]
    name: str = LABEL_NAME
    column: str

    @property
    def source_columns(self) -> set[str]:
        return {self.column}

    @property
    def head(self) -> str:
        return REGRESSION


Label = Annotated[Union[BinaryThresholdLabel, ClassesLabel, RegressionLabel], Field(discriminator="kind")]


class _FeatureKind(_Strict):
    """What every feature kind says about itself. A kind is a model below, listed in `Feature`;
    preprocessing.TRANSFORMS says how it is transformed (a test runs each kind through both)."""

    categorical: ClassVar[bool] = False  # categorical: an integer id, one-hot (wide) and embedded (deep)
    has_vocabulary: ClassVar[bool] = False  # its cardinality depends on the vocabulary Transform computed

    def cardinality(self, vocabulary_size: Optional[int] = None) -> int:
        """How many distinct ids the transformed value takes (categorical kinds only)."""
        raise ValueError(f"{self.name}: {self.kind} is not categorical")


class _Imputed(_FeatureKind):
    """A number whose missing cells are filled from the training data (or with a fixed value)."""

    impute: Literal["mean", "median"] = Field(
        "mean", description="what a missing cell becomes: the mean or the median of the training data's values, "
                            "computed by Transform (the same graph fills requests at serving)")
    default: Optional[float] = Field(None, allow_inf_nan=False,
                                     description="a fixed value for missing cells instead of `impute`")

    @property
    def filled_with(self) -> str:
        """How a missing cell is filled, in words: "mean", "median" or "0.0"."""
        return self.impute if self.default is None else f"{self.default:g}"


class NumericFeature(_Imputed):
    kind: Literal["numeric"]
    name: str
    scaling: Literal["z_score", "min_max"] = "z_score"
    missing_indicator: bool = Field(False, description="also give the model a 0/1 input saying the cell was missing "
                                                       "(worth it when a column's missing share is material)")


class BucketizedFeature(_Imputed):
    categorical: ClassVar[bool] = True

    kind: Literal["bucketized"]
    name: str
    buckets: int = Field(ge=2)

    def cardinality(self, vocabulary_size: Optional[int] = None) -> int:
        return self.buckets


class StringCategoricalFeature(_FeatureKind):
    categorical: ClassVar[bool] = True
    has_vocabulary: ClassVar[bool] = True

    kind: Literal["string_categorical"]
    name: str
    top_k: Optional[int] = Field(None, ge=1)
    oov_buckets: int = Field(1, ge=1)

    def cardinality(self, vocabulary_size: Optional[int] = None) -> int:
        if vocabulary_size is None:
            raise ValueError(f"{self.name}: the vocabulary size is needed for a string feature")
        return vocabulary_size + self.oov_buckets


class IntCategoricalFeature(_FeatureKind):
    """Integers in [min, max]; values outside the range share one extra id, missing cells have their own
    (or are `default`, when set)."""

    categorical: ClassVar[bool] = True

    kind: Literal["int_categorical"]
    name: str
    min: int
    max: int
    default: Optional[int] = None

    @model_validator(mode="after")
    def _range(self) -> "IntCategoricalFeature":
        if self.max < self.min:
            raise ValueError(f"max ({self.max}) must be >= min ({self.min})")
        return self

    @property
    def outside_id(self) -> int:
        """The id shared by values outside [min, max]; ids 0 .. max-min are the values in range."""
        return self.max - self.min + 1

    @property
    def missing_id(self) -> int:
        """The id of a missing cell: never a value's id, nor the id of values outside the range."""
        return self.outside_id + 1

    def cardinality(self, vocabulary_size: Optional[int] = None) -> int:
        return self.missing_id + 1


Feature = Annotated[
    Union[NumericFeature, BucketizedFeature, StringCategoricalFeature, IntCategoricalFeature],
    Field(discriminator="kind"),
]


def _kinds(union) -> tuple[str, ...]:
    """The `kind` tags of a discriminated union, in declaration order."""
    members = get_args(get_args(union)[0])
    return tuple(get_args(m.model_fields["kind"].annotation)[0] for m in members)


FEATURE_KINDS = _kinds(Feature)
NUMERIC_KINDS = ("numeric", "bucketized")  # compared on their raw numbers; the other kinds on their values
LABEL_KINDS = _kinds(Label)


# --- model and tuning -----------------------------------------------------


class ModelConfig(_Strict):
    """A wide & deep Keras model: categorical features one-hot in the wide part, all in the deep part."""

    hidden_units: list[PositiveInt] = Field(default_factory=lambda: [64, 32], min_length=1)
    embedding_dim: int = Field(8, ge=1)
    learning_rate: float = Field(1e-3, gt=0)
    batch_size: int = Field(64, ge=1, le=INT32_MAX)
    train_steps: int = Field(1000, ge=1, le=INT32_MAX)
    eval_steps: int = Field(100, ge=1, le=INT32_MAX)


class SearchSpace(_Strict):
    hidden_units: list[Annotated[list[PositiveInt], Field(min_length=1)]] = Field(
        default_factory=lambda: [[32], [64, 32]], min_length=1)
    learning_rate: list[PositiveFloat] = Field(default_factory=lambda: [1e-2, 1e-3], min_length=1)


class TuningConfig(_Strict):
    enabled: bool = False
    max_trials: int = Field(4, ge=1)
    train_steps: int = Field(200, ge=1, le=INT32_MAX, description="steps per trial")
    eval_steps: int = Field(50, ge=1, le=INT32_MAX)
    search_space: SearchSpace = Field(default_factory=SearchSpace)


# --- evaluation and push --------------------------------------------------


class ChangeThreshold(_Strict):
    """Against the last blessed model (TFMA's GenericChangeThreshold)."""

    direction: Literal["higher_is_better", "lower_is_better"] = "higher_is_better"
    absolute: float = -1e-10


class Threshold(_Strict):
    metric: str
    lower_bound: Optional[float] = None
    upper_bound: Optional[float] = None
    change: Optional[ChangeThreshold] = None

    @model_validator(mode="after")
    def _something(self) -> "Threshold":
        if self.lower_bound is None and self.upper_bound is None and self.change is None:
            raise ValueError("set lower_bound, upper_bound or change")
        if self.lower_bound is not None and self.upper_bound is not None and self.lower_bound > self.upper_bound:
            raise ValueError(f"lower_bound ({self.lower_bound}) is above upper_bound ({self.upper_bound}): "
                             "no value can meet both")
        return self


class EvaluationConfig(_Strict):
    baseline: Literal["latest_blessed", "none"] = Field(
        "latest_blessed", description="what change thresholds compare with: the latest blessed model, or none (the "
                                      "thresholds' bounds alone judge: to start over from a model that should never "
                                      "have been blessed; `mlops run --no-baseline`)")
    metrics: Optional[list[str]] = Field(None, min_length=1, description="TFMA/Keras metric class names; "
                                         "default: DEFAULT_METRICS of the label's kind")
    slices: list[list[str]] = Field(default_factory=list, description="feature-key lists; the overall slice is always there")
    thresholds: list[Threshold] = Field(default_factory=list)
    # TFMA's default is 10000: AUC was then a third of the Evaluator's time at 250k rows (README).
    curve_thresholds: int = Field(200, ge=2, le=10000, description="thresholds of curve metrics such as AUC "
                                  "(200, as Keras's AUC; TFMA's default 10000 is slower and hardly more exact)")
    fairness_thresholds: list[Annotated[float, Field(gt=0, lt=1)]] = Field(
        [0.5], description="binary labels: decision thresholds at which false positive and false negative rates "
                           "are computed for every slice (the report's fairness view); [] for none")


# --- drift and skew ---------------------------------------------------------


class Comparator(_Strict):
    """One distance and the most it may be: l_infinity (categorical features: the largest change in any
    value's share) or jensen_shannon (numeric features, on quantile buckets; 0 same, 1 disjoint)."""

    l_infinity: Optional[float] = Field(None, gt=0, le=1)
    jensen_shannon: Optional[float] = Field(None, gt=0, le=1)

    @model_validator(mode="after")
    def _exactly_one(self) -> "Comparator":
        given = [name for name in ("l_infinity", "jensen_shannon") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of l_infinity, jensen_shannon (given: {given or 'none'})")
        return self

    def measure(self) -> tuple[str, float]:
        return ("l_infinity", self.l_infinity) if self.l_infinity is not None else ("jensen_shannon", self.jensen_shannon)


class DistributionCheck(_Strict):
    """Per-feature comparators: defaults by kind, and per-feature overrides (null: not compared).
    The defaults, from bench/drift_noise.py on the taxi data: two random samples of 1000 rows of the same
    data reach at most 0.053; trips one mile longer score 0.25 and a third of card payments turned to cash
    0.20 (README)."""

    categorical: Comparator = Field(default_factory=lambda: Comparator(l_infinity=0.1),
                                    description="string_categorical and int_categorical features")
    numeric: Comparator = Field(default_factory=lambda: Comparator(jensen_shannon=0.1),
                                description="numeric and bucketized features (compared on their raw values)")
    features: dict[str, Optional[Comparator]] = Field(default_factory=dict)


class DriftConfig(DistributionCheck):
    """Each run's new data against the data the served model was trained on (read from the served version)."""

    on_drift: Literal["stop", "warn", "skip"] = Field("stop", description="stop: nothing is trained or pushed; "
                                                     "warn: recorded and shown only; skip: not checked")
    min_examples_fraction: Optional[float] = Field(
        0.1, gt=0, description="fewer new examples than this fraction of the served model's training examples is "
                               "drift too (a partial upload); null: not checked")


class SkewConfig(DistributionCheck):
    """`mlops monitor`: serving data against the served model's training data."""

    serving_data: Optional[str] = Field(None, description="folder of serving data: request logs (TFRecord files "
                                        "of tf.Example or PredictionLog records) or CSV files; "
                                        "default: `mlops serve`'s request logs")
    format: Literal["auto", "csv", "tf_example", "prediction_log"] = Field(
        "auto", description="auto: CSV for *.csv files, else TFRecords, tf.Example or PredictionLog as the first record says")
    # Between two samples of the same taxi data the distances reach 0.15 at 300 rows, 0.05 at 1000
    # (bench/drift_noise.py): on fewer examples a 0.1 threshold would flag chance.
    min_examples: Optional[int] = Field(1000, ge=1, description="fewer serving examples than this: the distances "
                                        "are shown, and each feature is judged by a significance test instead "
                                        "(chi-square or Kolmogorov-Smirnov); null: always judged by distance")
    significance: float = Field(0.01, gt=0, lt=1, description="below min_examples: the chance of a false alarm "
                                "on the whole check (Bonferroni-corrected over the features)")


class InfraValidationConfig(_Strict):
    """Load the candidate in a model server (and query it) before Pusher may push it."""
    mode: Literal["load_and_query", "load_only"] = "load_and_query"
    num_examples: int = Field(10, ge=1, le=INT32_MAX, description="eval-split examples sent as requests (load_and_query)")
    max_loading_time_seconds: int = Field(120, ge=1, le=INT32_MAX)
    tries: int = Field(3, ge=1, le=INT32_MAX, description="attempts before the model is declared not blessed")
    platform: Literal["auto", "tf_serving_binary", "docker", "local_process"] = Field(
        "auto", description="auto: tensorflow_model_server if found, else Docker if an engine answers, else local_process")
    model_server_path: Optional[str] = Field(None, description="tensorflow_model_server; default: found on PATH")
    memory_limit_mb: int = Field(8192, ge=512, description="local_process: address-space limit of the server process")


class PushConfig(_Strict):
    serving_dir: Optional[str] = Field(None, description="default: <output_root>/serving_model")


class RequestLogConfig(_Strict):
    """Requests and responses logged by the server as PredictionLog TFRecords (what `mlops monitor` reads)."""
    dir: Optional[str] = Field(None, description="default: <output_root>/request_logs")
    sampling_rate: float = Field(1.0, ge=0, le=1, description="the share of requests logged; 0: none")
    max_file_mb: float = Field(64, gt=0, le=1 << 20, description="a new log file past this size")
    max_total_mb: float = Field(1024, gt=0, le=1 << 30, description="the oldest log files are deleted past this "
                                                                    "size of them all")


class ServingConfig(_Strict):
    """`mlops serve` and the rollout commands: one model server (TF Serving's gRPC API) for the serving directory."""
    host: str = Field("127.0.0.1", description="where the rollout commands and clients reach the server")
    port: int = Field(8500, ge=1, le=65535, description="gRPC port")
    rest_port: int = Field(8501, ge=0, le=65535, description="REST port of the TF Serving binary (0: none); "
                                                           "the stand-in has gRPC only")
    model_server: Literal["auto", "tf_serving_binary", "local_process"] = Field(
        "auto", description="auto: tensorflow_model_server if found (infra_validation.model_server_path or PATH), "
                            "else the project's stand-in")
    request_log: RequestLogConfig = Field(default_factory=RequestLogConfig)
    load_timeout_seconds: int = Field(300, ge=1, description="how long a rollout waits for a version to be AVAILABLE")


class BatchInferenceConfig(_Strict):
    """`mlops predict`: score a file or folder with the served (stable) version, one output row per input row."""
    data: Optional[str] = Field(None, description="CSV file, or folder of CSV files, to score (or the command's DATA)")
    id_column: Optional[str] = Field(None, description="a column of the data carried to the output, to join predictions "
                                                       "back (required by `mlops predict`: Beam does not keep row order)")
    format: Literal["csv", "parquet"] = "csv"
    output: Optional[str] = Field(None, description="the predictions file (or the command's -o)")


# --- metadata and runner --------------------------------------------------


class MySqlSslConfig(_Strict):
    key: Optional[str] = None
    cert: Optional[str] = None
    ca: Optional[str] = None
    capath: Optional[str] = None
    cipher: Optional[str] = None
    verify_server_cert: bool = False


class MySqlConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(3306, ge=1, le=65535)
    database: str = Field(pattern=r"^[A-Za-z0-9_]+$")
    user: str
    password_env: Optional[str] = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
                                        description="name of the environment variable holding the password "
                                                    "(letters, digits and '_'; never the password itself)")
    socket: Optional[str] = Field(None, description="unix socket path; used instead of host and port")
    ssl: Optional[MySqlSslConfig] = None

    @field_validator("host")
    @classmethod
    def _not_localhost(cls, host: str) -> str:
        if host == "localhost":
            raise ValueError("MySQL's client takes 'localhost' to mean its default unix socket, not TCP: "
                             "use 127.0.0.1, or set socket to the server's socket path")
        return host


class MetadataConfig(_Strict):
    backend: Literal["sqlite", "mysql"] = "sqlite"
    sqlite_path: Optional[str] = Field(None, description="default: <output_root>/metadata.sqlite")
    mysql: Optional[MySqlConfig] = None

    @model_validator(mode="after")
    def _mysql_needs_its_section(self) -> "MetadataConfig":
        if self.backend == "mysql" and self.mysql is None:
            raise ValueError("backend mysql needs a mysql section (host, port, database, user, password_env)")
        return self


BeamMode = Literal["auto", "in_memory", "multi_processing"]
SECRET_WORDS = ("password", "passwd", "secret", "token", "credential")


def no_secret_args(args: list[str]) -> list[str]:
    """Beam arguments end up in logs and in the compiled Kubeflow spec, which anyone who can read the
    cluster's pipelines can read: a flag that carries a secret is refused (its value is not repeated)."""
    for arg in args:
        flag = arg.split("=", 1)[0].lower()
        if any(word in flag for word in SECRET_WORDS):
            raise ValueError(f"{flag} looks like a secret: Beam arguments are written into logs and the compiled "
                             "spec; give credentials to the workers through their service account or environment")
    return args


def known_beam_components(per_component: dict) -> dict:
    unknown = sorted(set(per_component) - set(component_ids.WITH_BEAM))
    if unknown:
        raise ValueError(f"unknown components {unknown}; the Beam components are {', '.join(component_ids.WITH_BEAM)}")
    return per_component


# Measured with make bench-scale at 14, 28 and 112 MiB of CSV (README), two workers against one process:
# the Evaluator breaks even near 18 MiB, Transform near 40; StatisticsGen was faster in-process at every size.
MULTI_PROCESSING_ABOVE_MB = {component_ids.STATISTICS_GEN: None, component_ids.TRANSFORM: 40,
                             component_ids.EVALUATOR: 20, component_ids.BULK_INFERRER: None}  # the last: not measured


class BeamConfig(_Strict):
    """Beam's DirectRunner: `auto` runs in-process for small data, since start-up dominates there."""

    mode: BeamMode = "auto"
    modes: dict[str, BeamMode] = Field(default_factory=dict, description="per Beam component id, instead of mode")
    workers: Optional[int] = Field(None, ge=1, description="multi_processing workers; default: CPU count")
    multi_processing_above_mb: Union[PositiveFloat, dict[str, Optional[PositiveFloat]]] = Field(
        default_factory=lambda: dict(MULTI_PROCESSING_ABOVE_MB),
        description="auto: input size from which a component runs multi_processing (null: never); one number "
                    "for all, or per Beam component id (the others keep their measured defaults)")
    extra_args: list[str] = Field(default_factory=list, description="passed to Beam unchanged")

    @field_validator("modes")
    @classmethod
    def _beam_components(cls, modes: dict) -> dict:
        return known_beam_components(modes)

    @field_validator("multi_processing_above_mb")
    @classmethod
    def _per_component(cls, above) -> dict:
        if not isinstance(above, dict):
            return {node: above for node in component_ids.WITH_BEAM}
        return {**MULTI_PROCESSING_ABOVE_MB, **known_beam_components(above)}

    @field_validator("extra_args")
    @classmethod
    def _no_secrets(cls, args: list[str]) -> list[str]:
        return no_secret_args(args)


class RetryConfig(_Strict):
    """A failed component is tried again: locally in a new run that reuses every completed execution from
    cache; on Kubeflow by each task's retry policy (the backoff doubles from backoff_seconds, up to an hour).
    A run the data gate stopped is never retried: the data would not change."""

    default: int = Field(0, ge=0, le=10, description="retries of any component")
    components: dict[str, Annotated[int, Field(ge=0, le=10)]] = Field(
        default_factory=dict, description="retries per component id, instead of default")
    backoff_seconds: float = Field(30, ge=0, le=3600)

    @field_validator("components")
    @classmethod
    def _known_components(cls, components: dict) -> dict:
        unknown = sorted(set(components) - set(component_ids.WITH_RESOURCES))
        if unknown:
            raise ValueError(f"unknown components {unknown}; components are {', '.join(component_ids.WITH_RESOURCES)}")
        return components

    def for_component(self, node: str) -> int:
        return self.components.get(node, self.default)


class RunnerConfig(_Strict):
    enable_cache: bool = True
    beam: BeamConfig = Field(default_factory=BeamConfig)
    retries: RetryConfig = Field(default_factory=RetryConfig)


# --- Kubeflow Pipelines ---------------------------------------------------

class ResourceConfig(_Strict):
    cpu: Optional[float] = Field(None, gt=0, description="vCPU limit")
    memory_gb: Optional[float] = Field(None, gt=0, description="memory limit in GB")
    gpu: int = Field(0, ge=0, description="GPUs (Trainer and Tuner only)")
    gpu_type: str = Field("nvidia.com/gpu", description="accelerator resource name")


MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
CRON_FIELDS = (("seconds", 0, 59, ()), ("minutes", 0, 59, ()), ("hours", 0, 23, ()), ("day of month", 1, 31, ()),
               ("month", 1, 12, MONTH_NAMES), ("day of week", 0, 6, DAY_NAMES))


DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def cron_values(text: str, low: int, high: int, names: tuple) -> set[int]:
    """The values a (valid) cron field matches: '*/15' -> {0, 15, 30, 45}, 'FEB' -> {2}."""
    def number(bound: str) -> int:
        return int(bound) if bound.isdigit() else names.index(bound.upper()) + (1 if low == 1 else 0)

    found = set()
    for part in text.split(","):
        base, _, step = part.partition("/")
        if base in ("*", "?"):
            first, last = low, high
        else:
            bounds = base.split("-")
            first, last = number(bounds[0]), number(bounds[-1])
            if step and len(bounds) == 1:
                last = high
        found.update(range(first, last + 1, int(step) if step else 1))
    return found


def cron_field_ok(text: str, low: int, high: int, names: tuple) -> bool:
    """One field of KFP's cron (robfig/cron): *, ?, values, names, ranges a-b, steps /n, lists a,b."""
    for part in text.split(","):
        base, slash, step = part.partition("/")
        if slash and not step.isdigit():
            return False
        if base in ("*", "?"):
            continue
        for bound in base.split("-"):
            if bound.isdigit():
                if not low <= int(bound) <= high:
                    return False
            elif bound.upper() not in names:
                return False
    return True


class ScheduleConfig(_Strict):
    cron: str = Field(description="6 fields, seconds first: '0 0 3 * * *' is every day at 03:00")
    max_concurrency: int = Field(1, ge=1)
    catchup: bool = Field(False, description="backfill the intervals missed while paused")

    @field_validator("cron")
    @classmethod
    def _six_fields(cls, cron: str) -> str:
        fields = cron.split()
        if len(fields) != 6:
            raise ValueError(f"Kubeflow's cron has 6 fields, seconds first (e.g. '0 0 3 * * *'); "
                             f"{cron!r} has {len(fields)}")
        for (what, low, high, names), text in zip(CRON_FIELDS, fields):
            if not cron_field_ok(text, low, high, names):
                raise ValueError(f"{cron!r}: the {what} field {text!r} is not a cron field ({what}: {low}-{high}"
                                 f"{', names ' + '/'.join(names[:2]) + '...' if names else ''}; *, ?, a-b, */n, a,b)")
        days, months = (cron_values(text, low, high, names) for (_, low, high, names), text in
                        zip(CRON_FIELDS[3:5], fields[3:5]))
        if fields[3] not in ("*", "?") and not any(day <= DAYS_IN_MONTH[month - 1] for day in days for month in months):
            raise ValueError(f"{cron!r} never fires: no month of {fields[4]!r} has a day {fields[3]!r}")
        return cron


class KubeflowConfig(_Strict):
    """Where and how the pipeline runs on Kubeflow Pipelines 2.x (ML Metadata is the cluster's)."""

    image: str = Field(description="built from docker/Dockerfile")
    pipeline_root: str = Field(pattern=r"^[a-z0-9]+://", description="object-store URI for artifacts, e.g. gs://bucket/root")
    data_path: str = Field(description="the CSV folder as the pods see it: an object-store URI or a path in the image")
    serving_dir: str = Field(description="where Pusher pushes, as the pods see it")
    beam_args: list[str] = Field(default_factory=list, description="for the Beam components, passed unchanged "
                                                                    "(e.g. --runner=DataflowRunner ...)")
    component_beam_args: dict[str, list[str]] = Field(
        default_factory=dict, description="per Beam component id, instead of beam_args (e.g. Dataflow for one)")
    resources: dict[str, ResourceConfig] = Field(default_factory=dict, description="per component id")
    schedule: Optional[ScheduleConfig] = None
    endpoint: Optional[str] = Field(None, description="KFP API endpoint, e.g. https://kfp.example.com")
    token_env: Optional[str] = Field(None, description="environment variable holding the bearer token")
    experiment: str = "Default"

    @field_validator("beam_args")
    @classmethod
    def _no_secrets(cls, args: list[str]) -> list[str]:
        return no_secret_args(args)

    @field_validator("component_beam_args")
    @classmethod
    def _beam_components(cls, per_component: dict) -> dict:
        for args in per_component.values():
            no_secret_args(args)
        return known_beam_components(per_component)

    def beam_args_for(self, node: str) -> list[str]:
        return self.component_beam_args.get(node, self.beam_args)

    @field_validator("resources")
    @classmethod
    def _known_components(cls, resources: dict) -> dict:
        for name, spec in resources.items():
            if name not in component_ids.WITH_RESOURCES:
                raise ValueError(f"resources: unknown component {name!r}; components are "
                                 f"{', '.join(component_ids.WITH_RESOURCES)}")
            if spec.gpu and name not in component_ids.WITH_GPU:
                raise ValueError(f"resources.{name}.gpu: GPUs are for {' and '.join(component_ids.WITH_GPU)} only")
        return resources


IMAGE_PROJECT_DIR = "/pipeline"  # docker/Dockerfile copies configs/ and schemas/ here


@dataclass(frozen=True)
class Locations:
    data_dir: str
    schema_path: Optional[str]
    pipeline_root: str
    serving_dir: str
    model_server_path: Optional[str]


# --- what the module files receive ----------------------------------------


# The data gate's share is not Transform's or the Trainer's business: changing it keeps their cache.
GATE_ONLY = {"label": {"max_missing_fraction"}}


class FeaturesConfig(_Strict):
    """Transform's part of the config. Components get only their part, so that editing, say, a
    threshold re-runs the Evaluator but reuses Transform and Trainer from cache."""

    label: Label
    features: list[Feature] = Field(min_length=1)

    @field_validator("features")
    @classmethod
    def _unique_names(cls, features: list) -> list:
        names = [f.name for f in features]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"feature names must be unique; repeated: {duplicates}")
        by_case = {}
        for name in names:  # "Age" and "age": one file on some disks, and one column to most readers
            by_case.setdefault(name.lower(), []).append(name)
        clashes = [found for found in by_case.values() if len(found) > 1]
        if clashes:
            raise ValueError(f"feature names must differ by more than case: {', '.join(' and '.join(c) for c in clashes)}")
        return features


class TrainingConfig(FeaturesConfig):
    """Trainer's part (with `tuning` for the Tuner)."""

    model: ModelConfig
    tuning: Optional[TuningConfig] = None


# --- the whole config -----------------------------------------------------


class PipelineConfig(FeaturesConfig):
    name: str = Field(pattern=r"^[a-z][a-z0-9_-]*$", description="lower-case letters, digits, '-' and '_'")
    output_root: str
    schema_file: Optional[str] = Field(None, description="default: schemas/<name>/schema.pbtxt beside configs/, when present")
    on_anomalies: Literal["stop", "warn"] = "stop"
    data: DataConfig
    model: ModelConfig = Field(default_factory=ModelConfig)
    tuning: TuningConfig = Field(default_factory=TuningConfig)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    drift: DriftConfig = Field(default_factory=DriftConfig)
    skew: SkewConfig = Field(default_factory=SkewConfig)
    infra_validation: InfraValidationConfig = Field(default_factory=InfraValidationConfig)
    push: PushConfig = Field(default_factory=PushConfig)
    serving: ServingConfig = Field(default_factory=ServingConfig)
    batch_inference: BatchInferenceConfig = Field(default_factory=BatchInferenceConfig)
    metadata: MetadataConfig = Field(default_factory=MetadataConfig)
    runner: RunnerConfig = Field(default_factory=RunnerConfig)
    kubeflow: Optional[KubeflowConfig] = None

    # The file the config came from: set by load_config, never by the YAML.
    _source: Optional[str] = PrivateAttr(None)

    @property
    def source(self) -> Optional[str]:
        return self._source

    @model_validator(mode="after")
    def _label_is_not_a_feature(self) -> "PipelineConfig":
        names = {f.name for f in self.features}
        if self.label.name in names:
            raise ValueError(f"label.name {self.label.name!r} is also a feature name")
        if self.label.column in names:
            raise ValueError(f"label.column {self.label.column!r} is also a feature: the model would be "
                             "given its own answer")
        for i, slice_keys in enumerate(self.evaluation.slices):
            unknown = [k for k in slice_keys if k not in names]
            if unknown:
                raise ValueError(f"evaluation.slices[{i}] names unknown features {unknown}; features are {sorted(names)}")
        return self

    @model_validator(mode="after")
    def _scoring_in_the_pipeline_names_its_ids(self) -> "PipelineConfig":
        scoring = self.batch_inference
        if scoring.data and scoring.output and not scoring.id_column:
            raise ValueError("batch_inference.id_column: with data and output set, the pipeline scores the data "
                             "after each blessed model and needs the column that identifies a row")
        return self

    @model_validator(mode="after")
    def _compared_features_exist(self) -> "PipelineConfig":
        kinds = {f.name: f.kind for f in self.features}
        for section in ("drift", "skew"):
            check = getattr(self, section)
            fitting = [(f"{section}.numeric", True, check.numeric), (f"{section}.categorical", False, check.categorical)]
            for name, comparator in check.features.items():
                if name not in kinds:
                    raise ValueError(f"{section}.features.{name}: not a feature; features are {sorted(kinds)}")
                if comparator is not None:
                    fitting.append((f"{section}.features.{name}", kinds[name] in NUMERIC_KINDS, comparator))
            for field_path, numeric, comparator in fitting:
                if numeric and comparator.l_infinity is not None:
                    raise ValueError(f"{field_path}: l_infinity compares categorical values (TFDV measures 0 on "
                                     "numbers); use jensen_shannon")
                if not numeric and comparator.jensen_shannon is not None:
                    raise ValueError(f"{field_path}: jensen_shannon is measured on numbers (quantiles); "
                                     "categorical values use l_infinity")
        return self

    def comparators(self, section: str) -> dict[str, tuple[str, float]]:
        """{feature: (measure, threshold)} of the drift or skew check, overrides applied, in feature order."""
        check = getattr(self, section)
        result = {}
        for feature in self.features:
            comparator = check.features.get(feature.name, check.numeric if feature.kind in NUMERIC_KINDS
                                            else check.categorical)
            if comparator is not None:
                result[feature.name] = comparator.measure()
        return result

    @model_validator(mode="after")
    def _metrics_fit_the_label(self) -> "PipelineConfig":
        head, evaluation = self.label.head, self.evaluation
        if evaluation.metrics is None:
            evaluation.metrics = list(DEFAULT_METRICS[head])
        fitting = FITTING_METRICS[head]
        for i, metric in enumerate(evaluation.metrics):
            if metric not in fitting:
                known = any(metric in names for names in FITTING_METRICS.values())
                why = f"does not fit a {head} label ({self.label.kind})" if known else "is not a known metric"
                raise ValueError(f"evaluation.metrics[{i}]: {metric!r} {why}; metrics that fit: {', '.join(fitting)}")
        for i, threshold in enumerate(evaluation.thresholds):
            if threshold.metric not in evaluation.metrics:
                raise ValueError(f"evaluation.thresholds[{i}].metric {threshold.metric!r} is not in metrics "
                                 f"{evaluation.metrics}")
        return self

    # Paths, resolved against the config file's folder.

    def resolve(self, path: str) -> str:
        if path.startswith(PACKAGE_SCHEME):
            return resolve_package_path(path)
        if is_uri(path):  # an object-store URI (gs://, s3://): TFX's file I/O reads it as is
            return path
        base = Path(self.source).parent if self.source else Path.cwd()
        try:
            return str((base / os.path.expanduser(path)).resolve())
        except (RuntimeError, OSError, ValueError) as e:  # a symlink loop, a NUL byte
            raise ConfigError(f"{path!r}: not a usable path ({e})") from None

    @property
    def output_dir(self) -> str:
        return self.resolve(self.output_root)

    @property
    def pipeline_root(self) -> str:
        return os.path.join(self.output_dir, "pipeline_root")

    @property
    def serving_dir(self) -> str:
        return self.resolve(self.push.serving_dir) if self.push.serving_dir else os.path.join(self.output_dir, "serving_model")

    @property
    def request_log_dir(self) -> str:
        path = self.serving.request_log.dir
        return self.resolve(path) if path else os.path.join(self.output_dir, "request_logs")

    @property
    def sqlite_path(self) -> str:
        path = self.metadata.sqlite_path
        return self.resolve(path) if path else os.path.join(self.output_dir, "metadata.sqlite")

    @property
    def model_server_path(self) -> Optional[str]:
        path = self.infra_validation.model_server_path
        return self.resolve(path) if path else None

    @property
    def data_dir(self) -> str:
        return self.resolve(self.data.path)

    def input_files(self) -> list[str]:
        """The local files the next run ingests: the pattern's, or the newest span_window spans' files."""
        return data_files.input_files(self.data_dir, self.data.pattern, self.data.span_window)

    @property
    def schema_path(self) -> Optional[str]:
        """The curated schema, or None to infer one with SchemaGen."""
        if self.schema_file:
            return self.resolve(self.schema_file)
        if self.source:
            default = Path(self.source).resolve().parent.parent / "schemas" / self.name / "schema.pbtxt"
            if default.exists():
                return str(default)
        return None

    def locations(self, target: str = "local") -> "Locations":
        """Paths as the components will see them: here, or inside Kubeflow's pods (docker/Dockerfile)."""
        if target == "local":
            return Locations(self.data_dir, self.schema_path, self.pipeline_root, self.serving_dir, self.model_server_path)
        kubeflow = self.require_kubeflow()
        return Locations(kubeflow.data_path, self._schema_in_image(), kubeflow.pipeline_root,
                         kubeflow.serving_dir, self.infra_validation.model_server_path)

    def require_kubeflow(self) -> "KubeflowConfig":
        if self.kubeflow is None:
            raise ConfigError(f"{self.source}: kubeflow: this config has no kubeflow section (image, pipeline_root, ...)")
        return self.kubeflow

    def _schema_in_image(self) -> Optional[str]:
        schema = self.schema_path
        if schema is None or is_uri(schema):
            return schema
        project = Path(self.source).resolve().parent.parent if self.source else Path.cwd()
        try:
            return f"{IMAGE_PROJECT_DIR}/{Path(schema).relative_to(project)}"
        except ValueError:
            raise ConfigError(f"{self.source}: schema_file: {schema} is outside the project ({project}), so not in "
                              "the image docker/Dockerfile builds; put it under schemas/ or use an object-store URI") from None

    def features_json(self) -> str:
        return FeaturesConfig(label=self.label, features=self.features).model_dump_json(exclude=GATE_ONLY)

    def training_json(self, with_tuning: bool = False) -> str:
        return TrainingConfig(label=self.label, features=self.features, model=self.model,
                              tuning=self.tuning if with_tuning else None).model_dump_json(exclude=GATE_ONLY)


def resolve_package_path(path: str) -> str:
    """package://tfx/examples/x -> <site-packages>/tfx/examples/x, without importing the package."""
    package, _, rest = path[len(PACKAGE_SCHEME):].partition("/")
    try:
        spec = importlib.util.find_spec(package) if all(p.isidentifier() for p in package.split(".")) else None
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"{path}: package {package!r} is not installed")
    return os.path.join(list(spec.submodule_search_locations)[0], rest)


# --- loading --------------------------------------------------------------


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, except that a key given twice in one mapping is an error (not "the last wins")."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} is given twice in this mapping", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_config(path: str | os.PathLike, overrides: list[str] | None = None) -> PipelineConfig:
    """Reads, overrides (`key.path=value`) and validates a config; raises ConfigError naming file and field."""
    path = str(path)
    try:
        with open(path, encoding="utf-8") as f:
            raw = yaml.load(f, Loader=_UniqueKeyLoader)
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not a UTF-8 text file (byte {e.start}: {e.reason})") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to be a config") from None
    except ValueError as e:  # a NUL byte in the path, and the like
        raise ConfigError(f"{path!r}: cannot read: {e}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(raw).__name__}")
    for override in overrides or []:
        apply_override(raw, override, path)
    try:
        cfg = PipelineConfig.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(format_validation_error(path, e)) from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to be a config") from None
    cfg._source = str(Path(path).resolve())
    for field, value in (("output_root", cfg.output_root), ("data.path", cfg.data.path)):
        try:  # every path is resolved lazily later: a bad one is named here, before anything runs
            cfg.resolve(value)
        except ConfigError as e:
            raise ConfigError(f"{path}: {field}: {e}") from None
    return cfg


def check_data_columns(cfg: PipelineConfig) -> list[str]:
    """Checks the config against the data's CSV headers (no data row is read): every feature, the label's
    column and `relative_to` must be columns of every file. Returns the first file's columns; raises
    ConfigError naming the file, the fields and the columns found. Data in an object store is not read."""
    if is_uri(cfg.data_dir):
        return []
    files = cfg.input_files()
    if not files:
        raise ConfigError(f"{cfg.source}: data: no file matches {cfg.data.pattern!r} in {cfg.data_dir}")
    named = [(f"features[{i}].name", f.name) for i, f in enumerate(cfg.features)]
    named.append(("label.column", cfg.label.column))
    if getattr(cfg.label, "relative_to", None):
        named.append(("label.relative_to", cfg.label.relative_to))
    if cfg.schema_path:
        check_schema_file(cfg)
    first = None
    for path in files:
        try:
            columns = data_files.read_header(path)
        except OSError as e:
            raise ConfigError(f"{cfg.source}: data: cannot read the header of {path}: {e}") from None
        repeated = sorted({c for c in columns if columns.count(c) > 1})
        if repeated:
            raise ConfigError(f"{cfg.source}: data: {path} has the column name {', '.join(map(repr, repeated))} more "
                              "than once: a column must have one name of its own")
        missing = [f"  {field}: {name!r} is not a column" for field, name in named if name not in columns]
        if missing:
            raise ConfigError("\n".join([f"{cfg.source}: the config names columns that {path} does not have:",
                                         *missing, f"  columns found: {', '.join(columns) or '(none)'}"]))
        first = first or columns
    return first


def check_schema_file(cfg: "PipelineConfig") -> None:
    """ConfigError when the schema file is missing or not a TFDV schema in protobuf text."""
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    field = "schema_file" if cfg.schema_file else "the schema found by name"
    try:
        with open(cfg.schema_path, encoding="utf-8") as f:
            text_format.Parse(f.read(), schema_pb2.Schema())
    except OSError as e:
        raise ConfigError(f"{cfg.source}: {field}: cannot read {cfg.schema_path} ({e.strerror})") from None
    except (text_format.ParseError, UnicodeDecodeError) as e:
        raise ConfigError(f"{cfg.source}: {field}: {cfg.schema_path} is not a TFDV schema in text format "
                          f"({str(e).splitlines()[0]})") from None


def load_config_from_environment() -> PipelineConfig:
    """The config the `tfx` CLI entry points run: $MLOPS_CONFIG, else DEFAULT_CONFIG."""
    return load_config(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)


def features_config_from_json(text: str) -> FeaturesConfig:
    """Transform's part of the config as it arrives in custom_config, validated again."""
    return FeaturesConfig.model_validate_json(text)


def training_config_from_json(text: str) -> TrainingConfig:
    return TrainingConfig.model_validate_json(text)


def apply_override(raw: dict, override: str, path: str) -> None:
    """`model.train_steps=50` or `features.0.scaling=min_max`; the value is parsed as YAML."""
    key, sep, value_text = override.partition("=")
    if not sep or not key:
        raise ConfigError(f"{path}: --set {key if sep else '...'}: expected key.path=value")
    shown = f"{key}=..." if any(word in key.lower() for word in SECRET_WORDS) else override
    try:
        value = yaml.safe_load(value_text) if value_text else ""
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: --set {shown!r}: the value is not valid YAML "
                          f"({getattr(e, 'problem', None) or e}); quote it, e.g. --set '{key}=\"...\"'") from None
    node: Any = raw
    parts = key.split(".")
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        where = ".".join(parts[: depth + 1])
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ConfigError(f"{path}: --set {key}: {where} is not an index of a list of {len(node)}")
            part = int(part)
        elif isinstance(node, dict):
            if not last and part not in node:
                node[part] = {}
        else:
            raise ConfigError(f"{path}: --set {key}: {'.'.join(parts[:depth])} is not a mapping or list")
        if last:
            node[part] = value
        else:
            node = node[part]


def format_validation_error(path: str, error: ValidationError) -> str:
    lines = [f"{path}: invalid config ({error.error_count()} error{'s' if error.error_count() > 1 else ''})"]
    for item in error.errors():
        field = _field_path(item["loc"]) or "(top level)"
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown field"
        elif item["type"] == "missing":
            message = "required field is missing"
        got = item.get("input")
        secret = any(word in field.lower() for word in SECRET_WORDS)  # a password pasted in is never echoed
        shown = "" if item["type"] == "missing" or isinstance(got, (dict, list)) or secret else f" (got {got!r})"
        lines.append(f"  {field}: {message}{shown}")
    return "\n".join(lines)


def _field_path(loc: tuple) -> str:
    out, skipped = "", False
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in FEATURE_KINDS + LABEL_KINDS and out and not skipped:
            # pydantic puts the discriminator's value in the path (once); the YAML has no such key.
            skipped = True
            continue
        else:
            out += f".{part}" if out else str(part)
        skipped = False
    return out


def _thresholds(comparators: dict) -> dict:
    return {feature: f"{measure} <= {threshold:g}" for feature, (measure, threshold) in comparators.items()}


def describe(cfg: PipelineConfig) -> dict:
    """A short, JSON-friendly view for `mlops validate`."""
    return {
        "name": cfg.name,
        "data": cfg.data_dir,
        "label": cfg.label.name,
        "features": {kind: [f.name for f in cfg.features if f.kind == kind] for kind in FEATURE_KINDS},
        "schema": cfg.schema_path or "inferred by SchemaGen",
        "tuning": cfg.tuning.enabled,
        "infra_validation": f"{cfg.infra_validation.mode} on {cfg.infra_validation.platform}",
        "drift": cfg.drift.on_drift if cfg.drift.on_drift == "skip" else
        {"on_drift": cfg.drift.on_drift, "thresholds": _thresholds(cfg.comparators("drift"))},
        "skew": {"serving_data": cfg.resolve(cfg.skew.serving_data) if cfg.skew.serving_data else cfg.request_log_dir,
                 "thresholds": _thresholds(cfg.comparators("skew"))},
        "serving": {"endpoint": f"{cfg.serving.host}:{cfg.serving.port}", "model_server": cfg.serving.model_server,
                    "request_log": f"{cfg.request_log_dir} ({cfg.serving.request_log.sampling_rate:.0%})"},
        "batch_inference": cfg.batch_inference.model_dump() if cfg.batch_inference.data and cfg.batch_inference.output
        else "not in the pipeline (mlops predict DATA -o FILE)",
        "output_root": cfg.output_dir,
    }

