"""The data section, the label and the features: what the pipeline reads and what it learns to predict."""
from __future__ import annotations

import re
from typing import Annotated, ClassVar, Literal, Optional, Union, get_args

from pydantic import Field, field_validator, model_validator

from pipelines.config.base import _Strict
from pipelines.shared import data_files


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
    def positive_class(self) -> str:
        return f"{self.column} > {self.greater_than:g}" + (f" * {self.relative_to}" if self.relative_to else "")

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
    positive: Optional[Union[bool, int, str]] = Field(
        None, description="two classes: the one the model's score is the probability of, which false negative "
                          "rates and 'actually positive' counts are about; listed last in classes (the default)")

    @field_validator("classes")
    @classmethod
    def _unique(cls, classes: list) -> list:
        repeated = sorted({str(c) for c in classes if classes.count(c) > 1})
        if repeated:
            raise ValueError(f"each class once; repeated: {repeated}")
        return classes

    @model_validator(mode="after")
    def _positive_is_last(self) -> "ClassesLabel":
        if self.positive is None:
            return self
        if len(self.classes) != 2:
            raise ValueError(f"positive: only a label of two classes has a positive one ({len(self.classes)} given)")
        if str(self.positive) not in map(str, self.classes):
            raise ValueError(f"positive: {self.positive!r} is not one of classes {self.classes!r}")
        if str(self.positive) != str(self.classes[-1]):
            raise ValueError(f"positive: {self.positive!r} must be listed last (the model's score is the probability "
                             f"of the last class): classes: {[self.classes[1], self.classes[0]]!r}")
        return self

    @property
    def positive_class(self) -> str:
        """What a binary model's score is the probability of."""
        return str(self.classes[-1])

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
        described = self.model_dump(include={"name", "kind"})
        raise ValueError(f"{described.get('name')}: {described.get('kind')} is not categorical")


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
