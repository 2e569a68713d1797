"""What stops a wrong model or wrong data: evaluation thresholds, drift and skew comparators, infra validation."""
from __future__ import annotations

from typing import Annotated, Literal, Optional

from pydantic import Field, model_validator

from pipelines.config.base import INT32_MAX, _Strict


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


class ReferenceConfig(_Strict):
    """The reference model every run trains beside the pipeline's own: gradient-boosted trees on the raw
    columns of the same train split, scored on the same eval split (pipelines/shared/reference_model.py)."""

    enabled: bool = Field(True, description="train the reference model in every run (false: the summary shows "
                                            "the trivial model alone)")
    max_gap: Optional[float] = Field(
        None, ge=0, le=1, allow_inf_nan=False,
        description="the most the model's skill (0 trivial, 1 perfect, on AUC, accuracy or MAE by label kind) may "
                    "fall short of the reference's; null: shown, never judged")
    on_gap: Literal["warn", "stop"] = Field(
        "warn", description="past max_gap: warn in the summary, or stop (the model is not pushed)")
    max_train_rows: int = Field(100_000, ge=100, description="training rows it samples at most (its cost stays "
                                                             "small beside the Trainer's)")


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
    batched: bool = Field(True, description="TFMA's own metric classes computed on batches of examples "
                                            "(components/evaluator: the same metrics, several times faster); false: "
                                            "TFMA's per-example path. Keras metric classes always take that path")
    reference: ReferenceConfig = Field(default_factory=ReferenceConfig)
    suspects: dict[str, str] = Field(
        default_factory=dict, description="feature -> why it may be known only after the outcome (`mlops init` "
                                          "writes them): each run shows the share of the model's attribution it takes")


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
        if self.l_infinity is not None:
            return "l_infinity", self.l_infinity
        assert self.jensen_shannon is not None  # exactly one is given (validated above)
        return "jensen_shannon", self.jensen_shannon


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
    min_attribution_ndcg: Optional[float] = Field(
        0.9, ge=0, le=1, description="attribution drift: the served model's feature importance on the serving data "
        "against its training run's, as nDCG of the top 5 (SageMaker Clarify's measure and default alarm); below "
        "this, with at least min_examples serving examples, the check fails; null: shown, never judged")


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
