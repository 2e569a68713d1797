"""Names and sizes derived from the config's feature specs: shared by Transform, Tuner and Trainer.

Plain functions, no TensorFlow, so they are unit-tested directly.
"""
from __future__ import annotations

from pipelines.config import Feature, FeaturesConfig
from pipelines.shared import importance
from pipelines.shared.feature_names import safe_name, vocabulary_name  # noqa: F401  (used as F.* by the modules)

TRANSFORMED_SUFFIX = "_xf"
# The exported model's signatures: raw examples -> predictions (for clients; for TFMA), and raw
# examples -> transformed features (TFMA computes the label with the latter).
SERVING_SIGNATURE = "serving_default"
EVALUATION_SIGNATURE = "evaluation"
TRANSFORM_SIGNATURE = "transform_features"
EXPLAIN_SIGNATURE = importance.EXPLAIN_SIGNATURE  # raw examples -> per-feature attributions (attributions.py)


def transformed_name(name: str) -> str:
    return safe_name(name) + TRANSFORMED_SUFFIX


def missing_indicator_name(feature: Feature) -> str:
    """The model input that says a numeric feature's cell was missing (with `missing_indicator: true`)."""
    return safe_name(feature.name) + "_missing" + TRANSFORMED_SUFFIX


def label_columns(cfg: FeaturesConfig) -> set[str]:
    """Raw columns read only to compute the label: absent from serving requests."""
    return cfg.label.source_columns - {f.name for f in cfg.features}


def hidden_units_to_choice(units: list[int]) -> str:
    """keras-tuner choices are scalars: [64, 32] <-> '64-32'."""
    return "-".join(str(u) for u in units)


def hidden_units_from_choice(choice: str) -> list[int]:
    return [int(u) for u in choice.split("-")]
