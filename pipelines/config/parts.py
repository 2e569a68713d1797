"""What each custom component receives: its part of the config, as one JSON string parameter made with
`model_dump_json()` and read back with `model_validate_json()` inside the component. One convention for all:
the component's cache key changes exactly when its part does, and nothing is lost on the way (a protobuf
Struct would turn integers into floats). Transform and the Trainer get theirs in custom_config the same way
(training.py: FeaturesConfig, TrainingConfig)."""
from __future__ import annotations

from typing import Optional

from pydantic import Field

from pipelines.config.base import _Strict


class IngestionPrivacyPart(_Strict):
    """What ExampleGen does for privacy. The key travels by name (variable or file), never by value; its
    identifier is here so that another key changes ExampleGen's cache key (old pseudonyms are not reused)."""

    pseudonymize: list[str] = Field(default_factory=list)
    drop: list[str] = Field(default_factory=list)
    key_env: str = ""
    key_file: Optional[str] = None
    key_id: Optional[str] = None
    id_column: Optional[str] = None            # pseudonymised: indexed per span, and its forgotten values left out
    forgotten: list[str] = Field(default_factory=list)  # ID pseudonyms of forgotten rows (mlops forget)
    quasi_identifiers: list[str] = Field(default_factory=list)
    small_group: int = 5                       # groups smaller than this are counted (min_k, when set)
    min_k: Optional[int] = None


class RawIdsPart(_Strict):
    """Where PredictionExport finds the input's own IDs when ExampleGen pseudonymised the ID column: the scored
    files and the key (by name). The output file is the user's, to join back on; the examples keep pseudonyms."""

    input_base: str
    pattern: str
    null_values: list[str] = Field(default_factory=lambda: [""])
    key_env: str = ""
    key_file: Optional[str] = None


class ExampleGenPart(_Strict):
    null_values: list[str] = Field(default_factory=lambda: [""])
    eval_max_rows: Optional[int] = None       # the eval split's cap (data.split.eval_max_rows)
    span_pattern: Optional[str] = None        # with {SPAN}: the pattern the earlier spans of a window are found by
    span_window: int = 1
    label_columns: list[str] = Field(default_factory=list)  # rows missing one are left out and counted
    value_types: dict[str, str] = Field(default_factory=dict)  # the schema's {column: FLOAT|INT|BYTES}
    privacy: Optional[IngestionPrivacyPart] = None
    row_column: Optional[str] = None          # data to score without an ID column: each row's number (1, 2, ...)
    data_digest: Optional[str] = None         # the files' content digest: ExampleGen's cache follows the content


class DriftCheckPart(_Strict):
    comparators: dict[str, tuple[str, float]]  # feature -> (measure, threshold)
    min_examples_fraction: Optional[float] = None
    served_version: Optional[str] = None       # the folder the latest rollout serves (else the highest is served)


class DataGatePart(_Strict):
    check_anomalies: bool = True   # false with on_anomalies: warn (the gate then checks drift only)
    label: str = ""                # the label's name, in the missing-label anomalies
    max_missing_labels: float = 1.0
    min_k: Optional[int] = None    # privacy.min_k: the smallest group of rows sharing their quasi-identifiers


class ModelServerPart(_Strict):
    """The InfraValidator's platform settings (TFX's own specs carry the rest)."""

    platform: str = "auto"
    model_server_path: Optional[str] = None
    memory_limit_mb: int = 8192


class FeatureImportancePart(_Strict):
    """What FeatureImportance explains: a sample of the eval split, the evaluation's slices, and partial
    dependence for the most important features."""

    slices: list[list[str]] = Field(default_factory=list)
    categorical: list[str] = Field(default_factory=list)  # features whose curve is drawn over their values
    hidden: list[str] = Field(default_factory=list)       # personal or pseudonymised: no curve shows their values
    label_kind: str = "binary"                              # binary | multiclass | regression (the head)
    label: str = ""                                         # the label's name in the transformed features
    classes: list[str] = Field(default_factory=list)        # a multiclass model's output columns
    max_rows: int = 1000
    dependence_features: int = 3
    dependence_points: int = 10
    dependence_rows: int = 200



class ReferenceModelPart(_Strict):
    """What the ReferenceModel component fits and scores: the features config Transform gets (label and raw
    columns), the rows it may sample, and init's suspects, recorded beside the scores for the summary."""

    features_config: str                     # FeaturesConfig JSON (PipelineConfig.features_json())
    max_train_rows: int = 100_000
    suspects: dict[str, str] = Field(default_factory=dict)
    max_gap: Optional[float] = None          # evaluation.reference.max_gap and on_gap, recorded for the summary
    on_gap: str = "warn"
