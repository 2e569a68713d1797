"""Names and sizes derived from the config's feature specs: shared by Transform, Tuner and Trainer.

Plain functions, no TensorFlow, so they are unit-tested directly.
"""
from __future__ import annotations

from pipelines.config import Feature, FeaturesConfig

TRANSFORMED_SUFFIX = "_xf"
# The exported model's signatures: raw examples -> predictions, and raw examples -> transformed
# features (TFMA computes the label with the latter).
SERVING_SIGNATURE = "serving_default"
TRANSFORM_SIGNATURE = "transform_features"
CATEGORICAL_KINDS = ("bucketized", "string_categorical", "int_categorical")


def transformed_name(name: str) -> str:
    return name + TRANSFORMED_SUFFIX


def is_categorical(feature: Feature) -> bool:
    return feature.kind in CATEGORICAL_KINDS


def vocabulary_name(feature: Feature) -> str:
    """The file name of a string feature's vocabulary inside the transform graph."""
    return feature.name


def label_columns(cfg: FeaturesConfig) -> set[str]:
    """Raw columns read only to compute the label: absent from serving requests."""
    label = cfg.label
    used = {label.column} | ({label.relative_to} if getattr(label, "relative_to", None) else set())
    return used - {f.name for f in cfg.features}


def num_classes(cfg: FeaturesConfig) -> int:
    """2 for a binary label (one sigmoid output), else the number of classes (softmax)."""
    return len(cfg.label.classes) if cfg.label.kind == "classes" else 2


def int_categorical_buckets(feature) -> int:
    """[min, max] plus one bucket shared by every value outside the range (and missing ones)."""
    return feature.max - feature.min + 2


def cardinality(feature: Feature, vocabulary_size: int | None = None) -> int:
    """How many distinct ids a categorical feature's transformed value takes."""
    if feature.kind == "bucketized":
        return feature.buckets
    if feature.kind == "int_categorical":
        return int_categorical_buckets(feature)
    if feature.kind == "string_categorical":
        if vocabulary_size is None:
            raise ValueError(f"{feature.name}: the vocabulary size is needed for a string feature")
        return vocabulary_size + feature.oov_buckets
    raise ValueError(f"{feature.name}: {feature.kind} is not categorical")


def hidden_units_to_choice(units: list[int]) -> str:
    """keras-tuner choices are scalars: [64, 32] <-> '64-32'."""
    return "-".join(str(u) for u in units)


def hidden_units_from_choice(choice: str) -> list[int]:
    return [int(u) for u in choice.split("-")]
