"""The model and tuning sections, and the parts of the config the module files receive (Transform's,
the Trainer's): each component gets only its part, so that editing another part keeps it cached."""
from __future__ import annotations

from typing import Annotated, Optional

from pydantic import Field, PositiveFloat, PositiveInt, field_validator

from pipelines.config.base import INT32_MAX, _Strict
from pipelines.config.data import Feature, Label


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
        by_case: dict[str, list[str]] = {}
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
