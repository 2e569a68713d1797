"""Names and sizes derived from the config's feature specs: shared by Transform, Tuner and Trainer.

Plain functions, no TensorFlow, so they are unit-tested directly.
"""
from __future__ import annotations

import hashlib
import re

from pipelines.config import Feature, FeaturesConfig
from pipelines.shared import importance

TRANSFORMED_SUFFIX = "_xf"
# The exported model's signatures: raw examples -> predictions (for clients; for TFMA), and raw
# examples -> transformed features (TFMA computes the label with the latter).
SERVING_SIGNATURE = "serving_default"
EVALUATION_SIGNATURE = "evaluation"
TRANSFORM_SIGNATURE = "transform_features"
EXPLAIN_SIGNATURE = importance.EXPLAIN_SIGNATURE  # raw examples -> per-feature attributions (attributions.py)


def safe_name(name: str) -> str:
    """A column's name as TensorFlow may use it in op, scope, layer and file names: the name itself when it is
    letters, digits and '_' (starting with a letter), else those characters kept, the rest '_', and a digest of
    the real name so that two names never meet ("Passenger Id" -> "Passenger_Id_3f2a9c"). Raw examples, the
    config, the schema, requests and predictions keep the real name."""
    if re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
        return name
    cleaned = re.sub(r"[^A-Za-z0-9_]", "_", name.encode("ascii", "replace").decode())
    return f"f_{cleaned}_{hashlib.sha1(name.encode()).hexdigest()[:6]}"


def transformed_name(name: str) -> str:
    return safe_name(name) + TRANSFORMED_SUFFIX


def missing_indicator_name(feature: Feature) -> str:
    """The model input that says a numeric feature's cell was missing (with `missing_indicator: true`)."""
    return safe_name(feature.name) + "_missing" + TRANSFORMED_SUFFIX


def vocabulary_name(feature: Feature) -> str:
    """The file name of a string feature's vocabulary inside the transform graph (and the served model's assets)."""
    return safe_name(feature.name)


def label_columns(cfg: FeaturesConfig) -> set[str]:
    """Raw columns read only to compute the label: absent from serving requests."""
    return cfg.label.source_columns - {f.name for f in cfg.features}


def hidden_units_to_choice(units: list[int]) -> str:
    """keras-tuner choices are scalars: [64, 32] <-> '64-32'."""
    return "-".join(str(u) for u in units)


def hidden_units_from_choice(choice: str) -> list[int]:
    return [int(u) for u in choice.split("-")]
